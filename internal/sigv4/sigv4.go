// Package sigv4 owns the verification of AWS Signature Version 4
// (AWS4-HMAC-SHA256) on incoming HTTP requests, as the unmodified AWS CLI,
// boto3, aws-sdk-go-v2 and the JavaScript SDKs send them: the Authorization
// header form and the presigned query-string form (X-Amz-Algorithm, …).
//
// Verification has two phases, so that the caller can look up the secret
// access key in between:
//
//	a, err := sigv4.Parse(r)                       // structure, scope, what must be signed
//	secret, ok := lookup(a.AccessKeyID)            // the caller's: unknown → sigv4.UnknownAccessKey()
//	err = verifier.Verify(a, r, body, secret, now) // time window, payload hash, signature
//
// Every failure is an [*Error] carrying the AWS error code, HTTP status and
// AWS's own message, to be sent to the client as is.
//
// Guarantees: a request passes only if its signature, computed with the
// given secret over the canonical request AWS defines, matches in constant
// time; its time is within the allowed skew (or, presigned, within its
// X-Amz-Expires); the Host header and the date header in use are signed;
// every X-Amz-* header present (X-Amz-Target, X-Amz-Security-Token, …) is
// signed; the credential scope date is the request's date; and an
// X-Amz-Content-Sha256 hash, if sent, is the body's. The signing-key cache
// never answers for a different secret than the one given.
//
// Not supported: SigV4a (AWS4-ECDSA-P256-SHA256), S3 streaming payloads
// (STREAMING-*), SigV2, and authentication parameters in a form body. The
// canonical URI is the request's escaped path encoded once more, as every
// AWS service other than S3 defines it (and as every SDK signs it), without
// dot-segment normalization.
package sigv4

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Algorithm is the only signing algorithm sigv4 verifies.
const Algorithm = "AWS4-HMAC-SHA256"

const (
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	scopeTerminator = "aws4_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"

	// maxPresignExpires is the longest X-Amz-Expires AWS accepts: a week.
	maxPresignExpires = 7 * 24 * time.Hour
	// maxSignedHeaders bounds the work a request can ask for; the SDKs
	// sign a dozen headers or so.
	maxSignedHeaders = 128
)

// Auth is the SigV4 authentication parsed from a request by [Parse]. Its
// fields are what the client claims; nothing is proven until
// [Verifier.Verify] returns nil.
type Auth struct {
	// AccessKeyID is the access key id from the credential.
	AccessKeyID string
	// Date, Region and Service are the credential scope. Date (YYYYMMDD)
	// is always Time's UTC date.
	Date, Region, Service string
	// SessionToken is X-Amz-Security-Token, or "" if the request has none.
	// The caller must validate it against the access key (see
	// [InvalidSessionToken]). String and LogValue never print it.
	SessionToken string
	// Time is the request time from X-Amz-Date (or the Date header), UTC.
	Time time.Time
	// SignedHeaders are the signed header names, in the client's order.
	SignedHeaders []string
	// Presigned tells whether the authentication came in the query string.
	Presigned bool
	// Expires is X-Amz-Expires of a presigned request, or 0.
	Expires time.Duration
	// UnsignedPayload tells that the client sent X-Amz-Content-Sha256:
	// UNSIGNED-PAYLOAD, so the signature does not cover the body. A caller
	// that needs an authenticated body (KMS) should refuse such requests.
	UnsignedPayload bool

	amzDate          string     // the request time as signed, ISO 8601 basic
	contentSHA256    string     // X-Amz-Content-Sha256 as sent: "", UNSIGNED-PAYLOAD or hex
	scope            string     // "date/region/service/aws4_request"
	signedHeadersRaw string     // the SignedHeaders list as sent
	signature        [32]byte   // the client's signature, decoded
	signatureOK      bool       // the client's signature was 64 hex digits
	headers          [12]string // SignedHeaders' storage when it fits (an SDK signs 5 to 8)
}

// String describes a without its session token or signature. Its value
// receiver keeps fmt from printing the fields of an Auth value directly.
func (a Auth) String() string {
	return fmt.Sprintf("sigv4.Auth{AccessKeyID:%s Scope:%s Time:%s SignedHeaders:%s Presigned:%t SessionToken:%s}",
		a.AccessKeyID, a.scope, a.amzDate, a.signedHeadersRaw, a.Presigned, redacted(a.SessionToken))
}

// GoString is String, so that %#v does not print the session token either.
func (a Auth) GoString() string { return a.String() }

// LogValue implements slog.LogValuer: the access key id and scope, never the
// session token or signature.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_key_id", a.AccessKeyID),
		slog.String("region", a.Region),
		slog.String("service", a.Service),
		slog.String("time", a.amzDate),
		slog.Bool("presigned", a.Presigned),
		slog.Bool("session_token", a.SessionToken != ""),
	)
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "REDACTED"
}

// CheckScope returns an InvalidSignatureException unless a's credential is
// scoped to service and, if region is not empty, to region.
func (a *Auth) CheckScope(region, service string) error {
	if region != "" && a.Region != region {
		return invalid("Credential should be scoped to a valid region, not '%s'.", a.Region)
	}
	if a.Service != service {
		return invalid("Credential should be scoped to correct service: '%s'.", service)
	}
	return nil
}

// Parse extracts the SigV4 authentication from r, from the Authorization
// header or from the presigned query parameters, and checks everything that
// does not need the secret: the structure, the credential scope (its date
// must be the request's date), and that Host, the date header in use, and
// every X-Amz-* header present are signed.
//
// It returns MissingAuthenticationTokenException when r carries no SigV4
// authentication at all, IncompleteSignatureException when it is malformed
// or incomplete, and InvalidSignatureException when the scope date is wrong.
func Parse(r *http.Request) (*Auth, error) {
	authz := r.Header["Authorization"]
	presigned := strings.Contains(r.URL.RawQuery, "X-Amz-")
	var q url.Values
	if presigned {
		q, _ = url.ParseQuery(r.URL.RawQuery) // a malformed pair is dropped, as the SDKs do when signing
		presigned = q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	}
	switch {
	case len(authz) > 0 && presigned:
		return nil, incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
	case presigned:
		return parseQuery(r, q)
	case len(authz) > 1:
		return nil, incomplete("Only one Authorization header is allowed")
	case len(authz) == 0 || strings.TrimSpace(authz[0]) == "":
		return nil, newError(CodeMissingAuthenticationToken, msgMissingAuthenticationToken)
	}
	return parseHeader(r, authz[0])
}

// parseHeader parses "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
func parseHeader(r *http.Request, authz string) (*Auth, error) {
	alg, params, _ := strings.Cut(strings.TrimSpace(authz), " ")
	if alg != Algorithm {
		return nil, incomplete("Unsupported AWS 'algorithm': '%s'", truncate(alg))
	}
	var cred, signed, sig string
	var seen [3]bool
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ",")
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header", truncate(p))
		}
		var i int
		switch k {
		case "Credential":
			i, cred = 0, v
		case "SignedHeaders":
			i, signed = 1, v
		case "Signature":
			i, sig = 2, v
		default:
			continue
		}
		if seen[i] {
			return nil, incomplete("Authorization header has more than one '%s' parameter", k)
		}
		seen[i] = true
	}

	amzDate, dateHeader := singleHeader(r, "X-Amz-Date"), "x-amz-date"
	if amzDate == "" {
		amzDate, dateHeader = singleHeader(r, "Date"), "date"
	}
	var missing []string
	if cred == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if sig == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if signed == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if amzDate == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if missing != nil {
		return nil, incomplete("%s", strings.Join(missing, " "))
	}

	a := &Auth{SessionToken: singleHeader(r, "X-Amz-Security-Token")}
	if len(r.Header["X-Amz-Security-Token"]) > 1 {
		return nil, incomplete("Only one X-Amz-Security-Token header is allowed")
	}
	if err := a.parseTime(amzDate, dateHeader == "date"); err != nil {
		return nil, err
	}
	if err := a.setContentSHA256(r.Header["X-Amz-Content-Sha256"]); err != nil {
		return nil, err
	}
	if err := a.finish(cred, signed, sig); err != nil {
		return nil, err
	}
	if !a.signs(dateHeader) {
		name := "X-Amz-Date"
		if dateHeader == "date" {
			name = "Date"
		}
		return nil, incomplete("'%s' must be a 'SignedHeader' in the AWS Authorization.", name)
	}
	if err := a.checkUnsigned(r); err != nil {
		return nil, err
	}
	return a, nil
}

// parseQuery parses the presigned form: X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature and optional
// X-Amz-Expires and X-Amz-Security-Token.
func parseQuery(r *http.Request, q url.Values) (*Auth, error) {
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires", "X-Amz-Security-Token"} {
		if len(q[k]) > 1 {
			return nil, incomplete("Only one '%s' query parameter is allowed", k)
		}
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != Algorithm {
		if alg == "" {
			return nil, incomplete("AWS query-string parameters must include 'X-Amz-Algorithm'. Re-examine the query-string parameters.")
		}
		return nil, incomplete("Unsupported AWS 'algorithm': '%s'", truncate(alg))
	}
	var missing []string
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(k) == "" {
			missing = append(missing, "'"+k+"'")
		}
	}
	if missing != nil {
		return nil, incomplete("AWS query-string parameters must include %s. Re-examine the query-string parameters.", strings.Join(missing, ", "))
	}

	a := &Auth{Presigned: true, SessionToken: q.Get("X-Amz-Security-Token")}
	if s := q.Get("X-Amz-Expires"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > int64(maxPresignExpires/time.Second) {
			return nil, incomplete("X-Amz-Expires must be a whole number of seconds from 1 to %d, not '%s'", int64(maxPresignExpires/time.Second), truncate(s))
		}
		a.Expires = time.Duration(n) * time.Second
	}
	if err := a.parseTime(q.Get("X-Amz-Date"), false); err != nil {
		return nil, err
	}
	hash := q["X-Amz-Content-Sha256"]
	if h := r.Header["X-Amz-Content-Sha256"]; h != nil {
		hash = append(hash[:len(hash):len(hash)], h...)
	}
	if err := a.setContentSHA256(hash); err != nil {
		return nil, err
	}
	if err := a.finish(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")); err != nil {
		return nil, err
	}
	if h := r.Header["X-Amz-Security-Token"]; h != nil {
		if a.SessionToken != "" || len(h) > 1 {
			return nil, incomplete("Only one X-Amz-Security-Token is allowed, in the query string or in a header")
		}
		a.SessionToken = strings.TrimSpace(h[0])
	}
	if err := a.checkUnsigned(r); err != nil {
		return nil, err
	}
	return a, nil
}

// parseTime sets a.Time and a.amzDate from an X-Amz-Date value or, if
// httpDate, from a Date header value.
func (a *Auth) parseTime(s string, httpDate bool) error {
	if httpDate {
		t, err := http.ParseTime(s)
		if err != nil {
			return incomplete("Date must be in RFC 1123 format. Got '%s'.", truncate(s))
		}
		a.Time = t.UTC()
		a.amzDate = a.Time.Format(amzDateLayout)
		return nil
	}
	t, err := time.Parse(amzDateLayout, s)
	if err != nil {
		return incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", truncate(s))
	}
	a.Time, a.amzDate = t, s
	return nil
}

// setContentSHA256 checks and records the X-Amz-Content-Sha256 values.
func (a *Auth) setContentSHA256(values []string) error {
	switch {
	case len(values) == 0:
		return nil
	case len(values) > 1:
		return incomplete("Only one X-Amz-Content-Sha256 is allowed")
	}
	v := strings.TrimSpace(values[0])
	if v == unsignedPayload {
		a.contentSHA256, a.UnsignedPayload = v, true
		return nil
	}
	var sum [32]byte
	if !decodeHex(sum[:], v) {
		return incomplete("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, or a valid sha256 value.")
	}
	a.contentSHA256 = v
	return nil
}

// finish parses the credential, signed headers and signature, and checks
// the scope date and that Host is signed. a.Time must be set.
func (a *Auth) finish(cred, signed, sig string) error {
	akid, scope, _ := strings.Cut(cred, "/")
	// date/region/service/terminator: exactly three slashes.
	date, rest, _ := strings.Cut(scope, "/")
	region, rest, _ := strings.Cut(rest, "/")
	service, term, _ := strings.Cut(rest, "/")
	if akid == "" || strings.Count(scope, "/") != 3 || date == "" || region == "" || service == "" {
		return incomplete(`Credential is malformed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"`)
	}
	if term != scopeTerminator {
		return incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", truncate(term))
	}
	a.AccessKeyID, a.Date, a.Region, a.Service, a.scope = akid, date, region, service, scope
	var db [16]byte
	if day := a.Time.AppendFormat(db[:0], scopeDateLayout); a.Date != string(day) {
		return invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", truncate(a.Date), day, a.amzDate)
	}

	a.signedHeadersRaw = signed
	if n := strings.Count(signed, ";") + 1; n > maxSignedHeaders {
		return incomplete("SignedHeaders lists %d headers, more than the %d allowed", n, maxSignedHeaders)
	}
	a.SignedHeaders = a.headers[:0]
	for h := range strings.SplitSeq(signed, ";") {
		a.SignedHeaders = append(a.SignedHeaders, h)
	}
	for _, h := range a.SignedHeaders {
		if h == "" {
			return incomplete("SignedHeaders must be a ';'-separated list of header names, not '%s'", truncate(signed))
		}
	}
	if !a.signs("host") {
		return incomplete("%s", msgHostNotSigned)
	}

	a.signatureOK = decodeHex(a.signature[:], sig)
	return nil
}

// decodeHex decodes the hex string s into dst, and tells whether s was
// exactly len(dst) bytes of hex.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// signs tells whether the lowercase header name is signed.
func (a *Auth) signs(name string) bool {
	for _, h := range a.SignedHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// checkUnsigned returns an IncompleteSignatureException if r has an X-Amz-*
// header that is not signed: unsigned, X-Amz-Target could switch a KMS
// operation and X-Amz-Content-Sha256 could switch off the payload hash.
func (a *Auth) checkUnsigned(r *http.Request) error {
	for k := range r.Header {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") {
			continue
		}
		found := false
		for _, h := range a.SignedHeaders {
			if strings.EqualFold(h, k) {
				found = true
				break
			}
		}
		if !found {
			return incomplete("There were headers present in the request which were not signed: %s", truncate(strings.ToLower(k)))
		}
	}
	return nil
}

// singleHeader returns the first value of the canonical header key.
func singleHeader(r *http.Request, key string) string {
	if v := r.Header[key]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// truncate shortens client input quoted in an error message, on a rune
// boundary.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
