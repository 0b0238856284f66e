// This file speaks the AWS query protocol that IAM and STS use on the same
// endpoint as KMS: a form-encoded POST (or a GET) carrying Action=…&
// Version=…, answered in XML. Requests are routed here by the service of
// their SigV4 credential scope; the per-service tables are in iam.go and
// sts.go, and every operation calls the identity core, which authorizes.
// Every request, allowed, denied or failed, leaves one record in the audit
// trail (kms.Service.RecordCall), with the parameters its action's
// whitelist names once the request is authenticated and valid.

package awsapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/shape"
	"strongroom/internal/sigv4"
)

// queryBodyLimit bounds a query request: a policy document may hold 131,072
// characters, three times as many once form-encoded.
const queryBodyLimit = 1 << 20

// queryService is one query-protocol service of the endpoint.
type queryService struct {
	name    string // the SigV4 service name: "iam", "sts"
	source  string // the event source of its records: kms.SourceIAM, kms.SourceSTS
	version string // the API version: "2010-05-08"
	xmlns   string
	model   *shape.Service
	// internalCode is the code of an internal failure.
	internalCode string
	ops          map[string]queryOp
}

// queryOp is one row of a query service's dispatch table.
type queryOp struct {
	// call runs the operation. It returns the value encoded as the
	// <ActionResult> element, or nil for an operation with no result.
	call func(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error)
	// unsupported lists parameters (or parameter prefixes, ending in ".")
	// that Strongroom does not implement; a request carrying one is
	// refused rather than half-served.
	unsupported []string
	// custom marks a Strongroom operation that the AWS model does not have:
	// it is validated by its call, not by package shape.
	custom bool
}

// queryServices are the query services by SigV4 service name.
var queryServices = map[string]*queryService{}

func registerQuery(s *queryService) { queryServices[s.name] = s }

// isQueryRequest reports whether r is in the query protocol's form: a
// form-encoded POST, or a GET carrying Action. Only requests without
// X-Amz-Target reach this test.
func isQueryRequest(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost:
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return mt == "application/x-www-form-urlencoded"
	case http.MethodGet:
		return strings.Contains(r.URL.RawQuery, "Action=")
	}
	return false
}

// scopeService returns the service of r's SigV4 credential scope, from the
// Authorization header or a presigned X-Amz-Credential, or "" if r carries
// none. It only routes: authenticate checks everything.
func scopeService(r *http.Request) string {
	parts := credentialParts(r)
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// queryServiceFor picks the query service of r: by its credential scope,
// or, for a request with no SigV4 at all, by its Action (so that it gets a
// query-protocol authentication error). It returns nil for a request signed
// for another service.
func queryServiceFor(r *http.Request, form url.Values) *queryService {
	if name := scopeService(r); name != "" {
		return queryServices[name]
	}
	if _, ok := shape.STS.Operation(form.Get("Action")); ok {
		return queryServices["sts"]
	}
	return queryServices["iam"]
}

// queryCall is what serving a query request learned, for its answer and
// its record.
type queryCall struct {
	svc    *queryService // nil: the request is signed for another service
	action string        // as recorded: "" when unknown
	p      identity.Principal
	region string
	// params are recorded (through the action's whitelist): set only once
	// the request is authenticated and valid.
	params url.Values
}

// serveQuery serves an IAM or STS request and records it, whatever its
// outcome: exactly one record per request. If the record cannot be
// written, the client gets an internal error instead.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, reqID string) {
	ctx := r.Context()
	var qc queryCall
	out, err := h.runQuery(ctx, r, &qc)
	if qc.svc == nil {
		h.refuseAs(w, r, reqID, kms.SourceKMS, "", qc.p, qc.region, err)
		return
	}
	p, region := h.caller(r, qc.p, qc.region)
	ev := &kms.Event{Source: qc.svc.source, Operation: qc.action, Call: callOf(r, reqID, p, region), Output: out}
	if qc.params != nil {
		ev.Input = qc.params
	}
	var status int
	var typ, code, msg string
	if err != nil {
		status, typ, code, msg = h.queryFailure(qc.svc, reqID, qc.action, err)
		ev.Err = &kms.Error{Code: code, Message: msg, Status: status}
	}
	if rerr := h.svc.RecordCall(ctx, ev); rerr != nil {
		err = rerr
		status, typ, code, msg = h.queryFailure(qc.svc, reqID, qc.action, rerr)
	}
	if err != nil {
		writeQueryError(w, qc.svc, reqID, status, typ, code, msg)
		return
	}
	writeQueryResult(w, qc.svc, reqID, qc.action, out)
}

// runQuery authenticates, validates and runs a query request, filling qc
// as it learns.
func (h *Handler) runQuery(ctx context.Context, r *http.Request, qc *queryCall) (any, error) {
	body, err := readBody(r, queryBodyLimit)
	if err != nil {
		qc.svc = queryServiceFor(r, nil)
		if qc.svc == nil {
			qc.svc = queryServices["iam"]
		}
		if errors.Is(err, errTooLarge) {
			return nil, &apiError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body is larger than the " + strconv.Itoa(queryBodyLimit) + "-byte limit."}
		}
		return nil, &apiError{http.StatusBadRequest, "MalformedInput", "Could not read the request body."}
	}
	form, formErr := queryForm(r, body)
	qc.svc = queryServiceFor(r, form)
	if qc.svc == nil {
		qc.p, qc.region, _ = h.verify(ctx, r, body, scopeService(r))
		return nil, &apiError{http.StatusBadRequest, "UnknownOperationException", "Missing X-Amz-Target header"}
	}
	svc := qc.svc
	action := form.Get("Action")
	if formErr == nil {
		qc.action = sanitize(action)
	}
	p, region, err := h.authenticate(ctx, r, body, svc.name)
	qc.p, qc.region = p, region
	if err != nil {
		return nil, err
	}
	if formErr != nil {
		return nil, &apiError{http.StatusBadRequest, "MalformedInput", "The request is not a valid form-encoded query."}
	}
	if action == "" {
		return nil, &apiError{http.StatusBadRequest, "MissingAction", "Missing Action"}
	}
	if v := form.Get("Version"); v != "" && v != svc.version {
		return nil, &apiError{http.StatusBadRequest, "InvalidAction", "Could not find operation " + sanitize(action) + " for version " + sanitize(v)}
	}
	op, ok := svc.ops[action]
	if !ok {
		msg := "Could not find operation " + sanitize(action) + " for version " + svc.version
		if _, inModel := svc.model.Operation(action); inModel {
			msg = "Strongroom does not implement the " + strings.ToUpper(svc.name) + " operation " + action + "."
		}
		return nil, &apiError{http.StatusBadRequest, "InvalidAction", msg}
	}
	if !op.custom {
		if err := shape.ValidateQuery(svc.model, action, form); err != nil {
			return nil, err
		}
	}
	for _, u := range op.unsupported {
		for k := range form {
			if k == u || (strings.HasSuffix(u, ".") && strings.HasPrefix(k, u)) {
				return nil, &apiError{http.StatusBadRequest, identity.CodeValidationError,
					"Strongroom does not support the parameter " + strings.TrimSuffix(u, ".") + " of " + action + "."}
			}
		}
	}
	qc.params = form
	c := identity.Caller{Principal: p, SourceIP: sourceIP(r), SecureTransport: r.TLS != nil}
	return op.call(ctx, h, c, form)
}

// queryForm returns the request's parameters: the form-encoded body of a
// POST, or the query string of a GET without its SigV4 parameters.
func queryForm(r *http.Request, body []byte) (url.Values, error) {
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		for k := range q {
			if strings.HasPrefix(k, "X-Amz-") {
				delete(q, k)
			}
		}
		return q, err
	}
	return url.ParseQuery(string(body))
}

// queryTime formats a timestamp as the query protocol does.
func queryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// queryInt reads an optional integer parameter that shape has already
// checked.
func queryInt(q url.Values, name string) int {
	n, _ := strconv.Atoi(q.Get(name))
	return n
}

// list encodes a query-protocol list: <Name><member>…</member>…</Name>,
// empty as <Name></Name>.
type list[T any] struct {
	Member []T `xml:"member"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// writeQueryResult writes <ActionResponse xmlns><ActionResult>out
// </ActionResult><ResponseMetadata/></ActionResponse>.
func writeQueryResult(w http.ResponseWriter, svc *queryService, reqID, action string, out any) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: svc.xmlns}}}
	enc.EncodeToken(start)
	if out != nil {
		if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			panic("awsapi: encoding " + action + ": " + err.Error()) // a programming error in a result type
		}
	}
	enc.EncodeElement(responseMetadata{RequestID: reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	enc.EncodeToken(start.End())
	enc.Flush()
	writeXML(w, http.StatusOK, buf.Bytes())
}

type queryErrorBody struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeQueryError(w http.ResponseWriter, svc *queryService, reqID string, status int, typ, code, msg string) {
	b, _ := xml.Marshal(queryErrorBody{Xmlns: svc.xmlns, Type: typ, Code: code, Message: msg, RequestID: reqID})
	writeXML(w, status, b)
}

func writeXML(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// queryFailure is the answer of err in the query protocol: a client error
// as is, anything else the service's generic internal failure, logged with
// the request id.
func (h *Handler) queryFailure(svc *queryService, reqID, action string, err error) (status int, typ, code, msg string) {
	if e, ok := identity.AsError(err); ok {
		return e.Status, "Sender", e.Code, e.Message
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status, "Sender", ae.Code, ae.Message
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		code, status := se.QueryProtocol()
		if se.Code == codeExpiredTokenJSON {
			code, status = "ExpiredToken", http.StatusForbidden
		}
		return status, "Sender", code, se.Message
	}
	var she *shape.Error
	if errors.As(err, &she) {
		return http.StatusBadRequest, "Sender", she.Code, she.Message
	}
	if errors.Is(err, context.Canceled) {
		return http.StatusBadRequest, "Sender", "RequestCanceled", "The request was canceled."
	}
	h.log.Error("internal error", "request_id", reqID, "service", svc.name, "operation", action, "err", err)
	return http.StatusInternalServerError, "Receiver", svc.internalCode,
		"The request processing has failed because of an unknown error, exception or failure. Request id " + reqID + "."
}
