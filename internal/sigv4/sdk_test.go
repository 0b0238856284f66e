// Tests against outside truth: requests signed by aws-sdk-go-v2's own
// signer, sent over the wire to a real net/http server (HTTP/1.1 and HTTP/2),
// verified there, then tampered with one byte at a time.

package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"strongroom/internal/sigv4"
)

const (
	testAKID    = "AKIASTRONGROOMTEST01"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	otherSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ"
	testToken   = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN/+=="
)

// signTime is when the test requests are signed; the servers' clock is a
// minute later.
var signTime = time.Date(2026, 1, 1, 0, 15, 0, 0, time.UTC)

// sdkCase is a request signed with aws-sdk-go-v2's SignHTTP.
type sdkCase struct {
	name    string
	method  string
	target  string // path and query
	header  http.Header
	body    string
	service string
	token   string
	tamper  string // a signed header to flip a byte of
}

var sdkCases = []sdkCase{
	{
		name: "kms-encrypt", method: "POST", target: "/", service: "kms", tamper: "X-Amz-Target",
		header: http.Header{
			"Content-Type": {"application/x-amz-json-1.1"},
			"X-Amz-Target": {"TrentService.Encrypt"},
		},
		body: `{"KeyId":"alias/app","Plaintext":"aGVsbG8gd29ybGQ=","EncryptionContext":{"purpose":"test"}}`,
	},
	{
		name: "kms-session-token", method: "POST", target: "/", service: "kms", token: testToken, tamper: "X-Amz-Security-Token",
		header: http.Header{
			"Content-Type": {"application/x-amz-json-1.1"},
			"X-Amz-Target": {"TrentService.ListKeys"},
		},
		body: `{}`,
	},
	{
		name: "iam-form-with-query", method: "POST", target: "/?b=2&a=1&a=0&empty=&flag&sp=x%20y&plus=a+b&utf8=%E1%88%B4&slash=a%2Fb&tilde=~x", service: "iam", tamper: "Content-Type",
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
		body:   "Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fdivision_abc%2F",
	},
	{
		name: "sts-get", method: "GET", target: "/?Action=GetCallerIdentity&Version=2011-06-15", service: "sts", token: testToken, tamper: "X-Amz-Security-Token",
	},
	{
		name: "cloudtrail-odd-headers", method: "POST", target: "/", service: "cloudtrail", tamper: "X-Odd",
		header: http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"},
			"X-Odd":        {"  spaced   out    value  "},
			"X-Multi":      {"one", "two   three", " four "},
			"X-Tab":        {"a\t\tb c"},
		},
		body: "Action=LookupEvents&Version=2013-11-01",
	},
}

// newServer starts a server that verifies every request at time now,
// knowing testAKID's secret, and answers "OK" or "CODE\nMESSAGE" with the
// error's status.
func newServer(t *testing.T, http2 bool, now time.Time) *httptest.Server {
	t.Helper()
	v := sigv4.NewVerifier(0)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := verify(v, r, now)
		if err == nil {
			io.WriteString(w, "OK")
			return
		}
		var e *sigv4.Error
		if !errors.As(err, &e) {
			http.Error(w, "not a *sigv4.Error: "+err.Error(), 500)
			return
		}
		w.WriteHeader(e.Status)
		fmt.Fprintf(w, "%s\n%s", e.Code, e.Message)
	}))
	if http2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// verify is what a caller of sigv4 does.
func verify(v *sigv4.Verifier, r *http.Request, now time.Time) error {
	a, err := sigv4.Parse(r)
	if err != nil {
		return err
	}
	if a.AccessKeyID != testAKID {
		return sigv4.UnknownAccessKey()
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return v.Verify(a, r, body, []byte(testSecret), now)
}

// send sends r through srv and returns the status and answer.
func send(t *testing.T, srv *httptest.Server, r *http.Request) (int, string) {
	t.Helper()
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if srv.TLS != nil && resp.ProtoMajor != 2 {
		t.Fatalf("got %s, want HTTP/2", resp.Proto)
	}
	return resp.StatusCode, string(b)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// build returns c's request to srv, signed at signTime with secret.
func (c sdkCase) build(t *testing.T, baseURL, secret string) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r, err := http.NewRequest(c.method, baseURL+c.target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range c.header {
		r.Header[k] = append([]string(nil), vs...)
	}
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret, SessionToken: c.token}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, r, hashHex([]byte(c.body)), c.service, "us-east-1", signTime)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// flip returns s with the byte at i changed to another of the same kind.
func flip(s string, i int) string {
	b := []byte(s)
	switch c := b[i]; {
	case c == '9':
		b[i] = '8'
	case c == 'z' || c == 'Z' || c == 'f' || c == 'F':
		b[i]--
	default:
		b[i]++
	}
	return string(b)
}

// tamper is one change made to a signed request after signing, and the
// code it must fail with.
type tamper struct {
	name   string
	code   string
	msg    string // a substring of the message
	change func(c sdkCase, r *http.Request)
}

var tampers = []tamper{
	{"body", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		if c.body == "" {
			r.Method = "PUT" // nothing to flip: tamper with the method instead
			return
		}
		b := []byte(flip(c.body, len(c.body)/2))
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}},
	{"header", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		r.Header.Set(c.tamper, flip(r.Header.Get(c.tamper), 2))
	}},
	{"signature", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		h := r.Header.Get("Authorization")
		r.Header.Set("Authorization", flip(h, len(h)-1))
	}},
	{"region", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/us-east-2/", 1))
	}},
	{"service", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/"+c.service+"/", "/"+flip(c.service, 0)+"/", 1))
	}},
	{"date-second", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		r.Header.Set("X-Amz-Date", flip(r.Header.Get("X-Amz-Date"), 14)) // 20260101T001500Z → …001501Z
	}},
	{"scope-date", sigv4.CodeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260102' != '20260101', from '20260101T001500Z'.", func(c sdkCase, r *http.Request) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20260101/", "/20260102/", 1))
	}},
	{"path", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		r.URL.Path = "/a"
	}},
	{"query", sigv4.CodeInvalidSignature, "does not match the signature you provided", func(c sdkCase, r *http.Request) {
		if r.URL.RawQuery == "" {
			r.URL.RawQuery = "a=b"
		} else {
			r.URL.RawQuery = flip(r.URL.RawQuery, len(r.URL.RawQuery)-1)
		}
	}},
	{"unsigned-x-amz-header", sigv4.CodeIncompleteSignature, "There were headers present in the request which were not signed: x-amz-extra", func(c sdkCase, r *http.Request) {
		r.Header.Set("X-Amz-Extra", "1")
	}},
	{"access-key", sigv4.CodeUnrecognizedClient, "The security token included in the request is invalid.", func(c sdkCase, r *http.Request) {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAKID, flip(testAKID, 4), 1))
	}},
	{"no-auth", sigv4.CodeMissingAuthenticationToken, "Missing Authentication Token", func(c sdkCase, r *http.Request) {
		r.Header.Del("Authorization")
	}},
}

func TestSDKSignedRequests(t *testing.T) {
	for _, proto := range []string{"http1", "http2"} {
		srv := newServer(t, proto == "http2", signTime.Add(time.Minute))
		for _, c := range sdkCases {
			t.Run(proto+"/"+c.name, func(t *testing.T) {
				r := c.build(t, srv.URL, testSecret)
				if status, got := send(t, srv, r); status != 200 || got != "OK" {
					t.Fatalf("untampered request: %d %q", status, got)
				}
				signature := r.Header.Get("Authorization")[strings.LastIndex(r.Header.Get("Authorization"), "=")+1:]

				for _, tm := range tampers {
					t.Run(tm.name, func(t *testing.T) {
						r := c.build(t, srv.URL, testSecret)
						tm.change(c, r)
						status, got := send(t, srv, r)
						if status != http.StatusBadRequest || !strings.HasPrefix(got, tm.code+"\n") || !strings.Contains(got, tm.msg) {
							t.Fatalf("got %d %q, want 400 %s containing %q", status, got, tm.code, tm.msg)
						}
						if strings.Contains(got, signature) || strings.Contains(got, testSecret) {
							t.Fatalf("answer %q reveals the signature or the secret", got)
						}
					})
				}
				t.Run("secret", func(t *testing.T) {
					status, got := send(t, srv, c.build(t, srv.URL, otherSecret))
					if status != 400 || got != sigv4.CodeInvalidSignature+"\nThe request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details." {
						t.Fatalf("got %d %q", status, got)
					}
				})
			})
		}
	}
}

// TestSDKPresignedRequests sends URLs presigned by PresignHTTP.
func TestSDKPresignedRequests(t *testing.T) {
	presign := func(t *testing.T, srv *httptest.Server, expires time.Duration, token string) (string, http.Header) {
		t.Helper()
		target := srv.URL + "/?Action=GetCallerIdentity&Version=2011-06-15"
		if expires > 0 {
			target += "&X-Amz-Expires=" + strconv.Itoa(int(expires/time.Second))
		}
		r, err := http.NewRequest("GET", target, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Amz-Hoisted", "into the query") // the SDK moves most X-Amz-* headers into the query
		r.Header.Set("X-Custom", "kept as a signed header")
		creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: token}
		u, h, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hashHex(nil), "sts", "us-east-1", signTime)
		if err != nil {
			t.Fatal(err)
		}
		return u, h
	}
	get := func(t *testing.T, srv *httptest.Server, u string, h http.Header) (int, string) {
		t.Helper()
		r, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range h {
			if k != "Host" {
				r.Header[k] = vs
			}
		}
		return send(t, srv, r)
	}

	tests := []struct {
		name    string
		expires time.Duration
		token   string
		now     time.Time
		change  func(u string, h http.Header) string
		code    string // "" for success
		msg     string
	}{
		{name: "valid", expires: 900 * time.Second, now: signTime.Add(10 * time.Minute)},
		{name: "session-token", expires: time.Hour, token: testToken, now: signTime.Add(50 * time.Minute)},
		{name: "no-expires", now: signTime.Add(14 * time.Minute)},
		{name: "no-expires-skew", now: signTime.Add(16 * time.Minute),
			code: sigv4.CodeInvalidSignature, msg: "Signature expired: 20260101T001500Z is now earlier than 20260101T001600Z (20260101T003100Z - 15 min.)"},
		{name: "expired", expires: 900 * time.Second, now: signTime.Add(15*time.Minute + time.Second),
			code: sigv4.CodeRequestExpired, msg: "Request has expired"},
		{name: "not-yet-valid", expires: time.Hour, now: signTime.Add(-16 * time.Minute),
			code: sigv4.CodeInvalidSignature, msg: "Signature not yet current: 20260101T001500Z is still later than 20260101T001400Z (20251231T235900Z + 15 min.)"},
		{name: "signature", expires: time.Hour, now: signTime,
			change: func(u string, h http.Header) string {
				i := strings.Index(u, "X-Amz-Signature=") + len("X-Amz-Signature=") + 3
				return flip(u, i)
			},
			code: sigv4.CodeInvalidSignature, msg: "does not match the signature you provided"},
		{name: "query", expires: time.Hour, now: signTime,
			change: func(u string, h http.Header) string {
				return strings.Replace(u, "GetCallerIdentity", "GetCallerIdentitz", 1)
			},
			code: sigv4.CodeInvalidSignature, msg: "does not match the signature you provided"},
		{name: "expires", expires: time.Hour, now: signTime,
			change: func(u string, h http.Header) string {
				return strings.Replace(u, "X-Amz-Expires=3600", "X-Amz-Expires=3601", 1)
			},
			code: sigv4.CodeInvalidSignature, msg: "does not match the signature you provided"},
		{name: "signed-header", expires: time.Hour, now: signTime,
			change: func(u string, h http.Header) string { h.Set("X-Custom", "changed"); return u },
			code:   sigv4.CodeInvalidSignature, msg: "does not match the signature you provided"},
		{name: "both-mechanisms", expires: time.Hour, now: signTime,
			change: func(u string, h http.Header) string {
				h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
				return u
			},
			code: sigv4.CodeIncompleteSignature, msg: "Only one auth mechanism allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, false, tt.now)
			u, h := presign(t, srv, tt.expires, tt.token)
			if tt.change != nil {
				u = tt.change(u, h)
			}
			status, got := get(t, srv, u, h)
			if tt.code == "" {
				if status != 200 || got != "OK" {
					t.Fatalf("got %d %q", status, got)
				}
				return
			}
			if status != 400 || !strings.HasPrefix(got, tt.code+"\n") || !strings.Contains(got, tt.msg) {
				t.Fatalf("got %d %q, want 400 %s containing %q", status, got, tt.code, tt.msg)
			}
		})
	}
}

// TestClockSkew checks the 15-minute window both ways, with AWS's messages.
func TestClockSkew(t *testing.T) {
	tests := []struct {
		skew time.Duration // now - signing time
		msg  string        // "" for success
	}{
		{skew: 0},
		{skew: 14 * time.Minute},
		{skew: -14 * time.Minute},
		{skew: 15 * time.Minute},
		{skew: -15 * time.Minute},
		{skew: 20 * time.Minute, msg: "Signature expired: 20260101T001500Z is now earlier than 20260101T002000Z (20260101T003500Z - 15 min.)"},
		{skew: 16 * time.Minute, msg: "Signature expired: 20260101T001500Z is now earlier than 20260101T001600Z (20260101T003100Z - 15 min.)"},
		{skew: -16 * time.Minute, msg: "Signature not yet current: 20260101T001500Z is still later than 20260101T001400Z (20251231T235900Z + 15 min.)"},
	}
	c := sdkCases[0]
	v := sigv4.NewVerifier(15 * time.Minute)
	for _, tt := range tests {
		t.Run(tt.skew.String(), func(t *testing.T) {
			r := c.build(t, "http://kms.example.test", testSecret)
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			err = v.Verify(a, r, []byte(c.body), []byte(testSecret), signTime.Add(tt.skew))
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Code != sigv4.CodeInvalidSignature || e.Status != 400 || e.Message != tt.msg {
				t.Fatalf("got %v, want InvalidSignatureException %q", err, tt.msg)
			}
		})
	}
}

// TestPayloadHashHeader covers X-Amz-Content-Sha256, signed by the SDK.
func TestPayloadHashHeader(t *testing.T) {
	v := sigv4.NewVerifier(0)
	body := `{"KeyId":"alias/app"}`
	tests := []struct {
		name     string
		header   string // X-Amz-Content-Sha256
		sent     string // the body sent
		code     string
		msg      string
		unsigned bool
	}{
		{name: "hash", header: hashHex([]byte(body)), sent: body},
		{name: "hash-upper-case", header: strings.ToUpper(hashHex([]byte(body))), sent: body},
		{name: "hash-mismatch", header: hashHex([]byte(body)), sent: flip(body, 3),
			code: sigv4.CodeInvalidSignature, msg: "The provided 'x-amz-content-sha256' header does not match what was computed."},
		{name: "unsigned", header: "UNSIGNED-PAYLOAD", sent: body, unsigned: true},
		{name: "unsigned-other-body", header: "UNSIGNED-PAYLOAD", sent: flip(body, 3), unsigned: true},
		{name: "streaming", header: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", sent: body,
			code: sigv4.CodeIncompleteSignature, msg: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, or a valid sha256 value."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "http://kms.example.test/", strings.NewReader(body))
			r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
			r.Header.Set("X-Amz-Content-Sha256", tt.header)
			creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, tt.header, "kms", "us-east-1", signTime); err != nil {
				t.Fatal(err)
			}
			a, err := sigv4.Parse(r)
			if err == nil {
				if a.UnsignedPayload != tt.unsigned {
					t.Errorf("UnsignedPayload = %t", a.UnsignedPayload)
				}
				err = v.Verify(a, r, []byte(tt.sent), []byte(testSecret), signTime)
			}
			checkErr(t, err, tt.code, tt.msg)
		})
	}
}

// checkErr fails t unless err is nil and code is "", or err is an *Error
// with code and a message containing msg.
func checkErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var e *sigv4.Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("got %v, want %s containing %q", err, code, msg)
	}
	if !strings.HasPrefix(err.Error(), "sigv4: ") {
		t.Errorf("Error() = %q, want the sigv4: prefix", err.Error())
	}
}
