// Package awsapi speaks the AWS wire protocols on Strongroom's one endpoint:
// AWS JSON 1.1 for KMS (POST /, X-Amz-Target: TrentService.<Op>), and later
// the query protocol for IAM and STS. It authenticates every request with
// SigV4, decodes it, calls the kms core and encodes the answer or an
// AWS-shaped error. It knows nothing about keys: all KMS semantics live in
// package kms.
package awsapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"strongroom/internal/clock"
	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/quota"
	"strongroom/internal/sigv4"
	"strongroom/internal/uuid"
)

// Config configures a Handler.
type Config struct {
	// Dev accepts any credentials as the root of DevAccount, without
	// verifying signatures. Only `strongroom dev` sets it.
	Dev        bool
	DevAccount string
	// DefaultRegion is used in dev mode when a request carries no
	// credential scope.
	DefaultRegion string
	// MaxBodyBytes is the body limit of operations that carry bulk data
	// (Encrypt, Decrypt, ReEncrypt); others get smallBodyLimit.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Regions, when not empty, are the only regions served: a KMS request
	// signed for another is refused as AWS refuses an unknown region.
	Regions []string
	// Quota, when not nil, limits the rate of KMS requests per account and
	// region; a request over quota is refused with ThrottlingException
	// after authentication.
	Quota *quota.Limiter
}

// Handler serves the AWS APIs.
type Handler struct {
	svc      *kms.Service
	ids      *identity.Directory
	verifier *sigv4.Verifier
	// clock is the wall clock SigV4 checks request times against. It is
	// deliberately not the service clock: tests move the service clock by
	// days, while clients keep signing with the real time.
	clock clock.Clock
	cfg   Config
	log   *slog.Logger
}

// New returns a Handler serving svc, authenticating callers against ids.
func New(svc *kms.Service, ids *identity.Directory, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 2 << 20
	}
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "us-east-1"
	}
	return &Handler{svc: svc, ids: ids, verifier: sigv4.NewVerifier(15 * time.Minute), clock: clock.System{}, cfg: cfg, log: cfg.Logger}
}

const (
	smallBodyLimit = 256 << 10
	jsonContent    = "application/x-amz-json-1.1"
)

// jsonContentValue is the Content-Type of every JSON answer, as a header
// value: shared, never modified (net/http only reads it).
var jsonContentValue = []string{jsonContent}

// ServeHTTP routes a request to its protocol.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.New()
	w.Header()["X-Amzn-Requestid"] = []string{reqID} // http.CanonicalHeaderKey("x-amzn-RequestId"), not worked out per request
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "TrentService."):
		h.serveKMS(w, r, reqID, strings.TrimPrefix(target, "TrentService."))
	case isTrailTarget(target):
		h.serveTrail(w, r, reqID, target)
	case target == "" && isQueryRequest(r):
		h.serveQuery(w, r, reqID)
	case target == "" && r.URL.Path != "/":
		// The APIs live at "/" only: no debug, profiling or other path.
		h.refuse(w, r, reqID, kms.SourceKMS, "", scopeService(r), &apiError{http.StatusNotFound, "UnknownOperationException", "Not found."})
	case r.Method == http.MethodPost && target == "":
		h.refuse(w, r, reqID, kms.SourceKMS, "", scopeService(r), &apiError{http.StatusBadRequest, "UnknownOperationException", "Missing X-Amz-Target header"})
	default:
		h.refuse(w, r, reqID, kms.SourceKMS, sanitize(target), scopeService(r), &apiError{http.StatusBadRequest, "UnknownOperationException", "Unknown operation " + sanitize(target)})
	}
}

// sanitize keeps a client-supplied string printable and short for an error.
func sanitize(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// readBody reads at most limit bytes of r's body; a longer body is an error.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	if r.ContentLength >= 0 {
		// The length is known (the server refuses chunked bodies): one
		// read into a buffer of that size, then a check for more.
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, err
		}
		var one [1]byte
		if n, _ := r.Body.Read(one[:]); n > 0 {
			return nil, errTooLarge
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = errors.New("awsapi: request body too large")

// authenticate verifies r's SigV4 signature and returns the caller; then,
// for KMS, it checks that the region is served and the request within the
// caller's quota. With an error, the principal returned (if any) is only
// for the record of the refusal: see verify.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, body []byte, service string) (identity.Principal, string, error) {
	p, region, err := h.verify(ctx, r, body, service)
	if err != nil || service != "kms" {
		return p, region, err
	}
	if len(h.cfg.Regions) > 0 && !slices.Contains(h.cfg.Regions, region) {
		return p, "", &sigv4.Error{Code: sigv4.CodeInvalidSignature, Status: http.StatusBadRequest,
			Message: "Credential should be scoped to a valid region, not '" + sanitize(region) + "'."}
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if ok, _ := h.cfg.Quota.Allow(p.Account, region, op, body); !ok {
		return p, region, &kms.Error{Code: "ThrottlingException", Status: http.StatusBadRequest,
			Message: "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}
	}
	return p, region, nil
}

// verify verifies r's SigV4 signature and returns the caller. When the
// access key is known but the signature does not match, it returns the
// error with the principal the key belongs to, for the record of the
// refusal only (as CloudTrail records it): it proves nothing.
func (h *Handler) verify(ctx context.Context, r *http.Request, body []byte, service string) (identity.Principal, string, error) {
	a, err := sigv4.Parse(r)
	if h.cfg.Dev {
		region := h.cfg.DefaultRegion
		if err == nil && a.Region != "" {
			region = a.Region
		}
		return identity.Root(h.cfg.DevAccount), region, nil
	}
	if err != nil {
		return identity.Principal{}, "", err
	}
	if err := a.CheckScope("", service); err != nil {
		return identity.Principal{}, "", err
	}
	if a.UnsignedPayload {
		// The body carries the operation's parameters: it must be signed.
		return identity.Principal{}, "", &sigv4.Error{Code: sigv4.CodeInvalidSignature, Status: http.StatusBadRequest,
			Message: "UNSIGNED-PAYLOAD is not accepted: the request body must be signed."}
	}
	var p identity.Principal
	var secret []byte
	if a.SessionToken != "" {
		p, secret, err = h.ids.LookupSession(ctx, a.AccessKeyID, a.SessionToken)
	} else {
		p, secret, err = h.ids.Lookup(ctx, a.AccessKeyID)
	}
	switch {
	case errors.Is(err, identity.ErrUnknownKey) && a.SessionToken != "":
		return identity.Principal{}, "", sigv4.InvalidSessionToken()
	case errors.Is(err, identity.ErrUnknownKey):
		return identity.Principal{}, "", sigv4.UnknownAccessKey()
	case errors.Is(err, identity.ErrExpiredToken):
		return identity.Principal{}, "", errExpiredToken()
	case err != nil:
		return identity.Principal{}, "", err
	}
	if err := h.verifier.Verify(a, r, body, secret, h.clock.Now()); err != nil {
		return p, a.Region, err
	}
	return p, a.Region, nil
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
