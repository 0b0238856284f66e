// This file records the requests the kms core does not see.
// kms.Service.Invoke records every call that reaches the core; everything
// else on the endpoint is recorded here, through kms.Service.RecordCall,
// so that every request leaves exactly one record:
//
//   - KMS, CloudTrail and admin requests refused before the core: an
//     unknown X-Amz-Target or path, a wrong method, a body too large or
//     unreadable, a failed authentication, throttling;
//   - every IAM and STS call, allowed, denied or failed (serveQuery).
//
// A record of a refusal carries no request parameters (the body is never
// decoded for it: it may hold plaintext), the error code and message the
// client got, and who sent the request as far as the handler knows: the
// verified caller; the principal an access key belongs to when the
// signature did not match (as CloudTrail, which does not prove it was
// them); or, for an unknown access key, only the access key id claimed.

package awsapi

import (
	"context"
	"net/http"
	"strings"

	"strongroom/internal/identity"
	"strongroom/internal/kms"
)

// apiError is a refusal of the protocol layer, answered as is.
type apiError struct {
	Status        int
	Code, Message string
}

func (e *apiError) Error() string { return "awsapi: " + e.Code + ": " + e.Message }

// callOf is the kms.Call of request r made by p, signed for region.
func callOf(r *http.Request, reqID string, p identity.Principal, region string) *kms.Call {
	return &kms.Call{
		Principal:       p,
		Region:          region,
		SourceIP:        sourceIP(r),
		UserAgent:       r.UserAgent(),
		RequestID:       reqID,
		SecureTransport: r.TLS != nil,
	}
}

// credentialParts returns the parts of r's SigV4 credential
// (AKID/date/region/service/aws4_request), from the Authorization header or
// a presigned X-Amz-Credential, unchecked; nil if r carries none.
func credentialParts(r *http.Request) []string {
	cred := ""
	if h := r.Header.Get("Authorization"); h != "" {
		if _, after, ok := strings.Cut(h, "Credential="); ok {
			cred, _, _ = strings.Cut(after, ",")
		}
	} else if strings.Contains(r.URL.RawQuery, "X-Amz-Credential=") {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return nil
	}
	return strings.Split(cred, "/")
}

// claimed returns the access key id and region that r's credential names,
// unverified: for the record of a request whose caller is unknown. Values
// that cannot be an access key id or a region are left out.
func claimed(r *http.Request) (akid, region string) {
	parts := credentialParts(r)
	if len(parts) > 0 && isToken(parts[0]) {
		akid = parts[0]
	}
	if len(parts) == 5 && isToken(parts[2]) {
		region = parts[2]
	}
	return akid, region
}

// isToken reports whether s is a short run of letters, digits and dashes.
func isToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// caller completes what a record says of who sent r: p (possibly empty),
// else the access key id r claims; region, else the claimed one, else the
// default.
func (h *Handler) caller(r *http.Request, p identity.Principal, region string) (identity.Principal, string) {
	akid, cregion := claimed(r)
	if p.ARN == "" && p.AccessKeyID == "" {
		p = identity.Principal{AccessKeyID: akid}
	}
	if region == "" {
		region = cregion
	}
	if region == "" {
		region = h.cfg.DefaultRegion
	}
	return p, region
}

// identify returns who sent r, refused before its body was read: it reads
// the body (within the small limit) only to check the signature for
// service, never to decode it.
func (h *Handler) identify(ctx context.Context, r *http.Request, service string) (identity.Principal, string) {
	body, err := readBody(r, smallBodyLimit)
	if err != nil {
		return h.caller(r, identity.Principal{}, "")
	}
	p, region, _ := h.verify(ctx, r, body, service)
	return h.caller(r, p, region)
}

// refuse answers err to a JSON-protocol request (KMS, CloudTrail, admin)
// refused before its body was read, and records it under source and op;
// service is the SigV4 service its signature is checked for, to name the
// caller.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, reqID, source, op, service string, err error) {
	p, region := h.identify(r.Context(), r, service)
	h.refuseAs(w, r, reqID, source, op, p, region, err)
}

// refuseAs answers err to a JSON-protocol request that did not reach the
// core, and records it as sent by p (possibly empty: see caller) for
// region. If the record cannot be written, the client gets an internal
// error instead: nothing is answered without its record.
func (h *Handler) refuseAs(w http.ResponseWriter, r *http.Request, reqID, source, op string, p identity.Principal, region string, err error) {
	p, region = h.caller(r, p, region)
	status, code, msg := h.jsonFailure(reqID, op, err)
	ev := &kms.Event{Source: source, Operation: op, Call: callOf(r, reqID, p, region), Err: &kms.Error{Code: code, Message: msg, Status: status}}
	if rerr := h.svc.RecordCall(r.Context(), ev); rerr != nil {
		status, code, msg = h.jsonFailure(reqID, op, rerr)
	}
	writeJSONError(w, status, code, msg)
}
