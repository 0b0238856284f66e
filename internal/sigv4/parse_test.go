// Tests of Parse on malformed and incomplete authentication, of the
// signing-key cache seen from outside, and of what the package lets print.

package sigv4_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"strongroom/internal/sigv4"
)

const goodCredential = "Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request"

// parseCases are requests Parse must refuse, or accept (code "").
var parseCases = []struct {
	name   string
	query  string
	header http.Header
	code   string
	msg    string
}{
	{name: "no-auth", code: sigv4.CodeMissingAuthenticationToken, msg: "Missing Authentication Token"},
	{name: "empty-authorization", header: http.Header{"Authorization": {" "}},
		code: sigv4.CodeMissingAuthenticationToken, msg: "Missing Authentication Token"},
	{name: "other-scheme", header: http.Header{"Authorization": {"Bearer abc.def"}},
		code: sigv4.CodeIncompleteSignature, msg: "Unsupported AWS 'algorithm': 'Bearer'"},
	{name: "sigv4a", header: http.Header{"Authorization": {"AWS4-ECDSA-P256-SHA256 " + goodCredential}},
		code: sigv4.CodeIncompleteSignature, msg: "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'"},
	{name: "only-credential", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential}},
		code: sigv4.CodeIncompleteSignature, msg: "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
	{name: "missing-equal-sign", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "'Credential AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header"},
	{name: "duplicate-parameter", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", " + goodCredential + ", SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "more than one 'Credential' parameter"},
	{name: "two-authorization-headers", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 a", "AWS4-HMAC-SHA256 b"}},
		code: sigv4.CodeIncompleteSignature, msg: "Only one Authorization header"},
	{name: "host-not-signed", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
	{name: "x-amz-date-not-signed", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
	{name: "date-not-signed", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host, Signature=00"}, "Date": {"Thu, 01 Jan 2026 00:15:00 GMT"}},
		code: sigv4.CodeIncompleteSignature, msg: "'Date' must be a 'SignedHeader' in the AWS Authorization."},
	{name: "empty-signed-header", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host;;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "SignedHeaders must be a ';'-separated list"},
	{name: "too-many-signed-headers", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host;x-amz-date" + strings.Repeat(";a", 127) + ", Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "SignedHeaders lists 129 headers, more than the 128 allowed"},
	{name: "bad-x-amz-date", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"2026-01-01T00:15:00Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "Date must be in ISO-8601 'basic format'. Got '2026-01-01T00:15:00Z'."},
	{name: "bad-date", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=date;host, Signature=00"}, "Date": {"yesterday"}},
		code: sigv4.CodeIncompleteSignature, msg: "Date must be in RFC 1123 format. Got 'yesterday'."},
	{name: "short-credential", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "Credential is malformed"},
	{name: "long-credential", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request/x, SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "Credential is malformed"},
	{name: "empty-service", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1//aws4_request, SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "Credential is malformed"},
	{name: "empty-access-key", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "Credential is malformed"},
	{name: "terminator", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_requests, SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}},
		code: sigv4.CodeIncompleteSignature, msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requests'."},
	{name: "scope-date", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260102T000000Z"}},
		code: sigv4.CodeInvalidSignature, msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260101' != '20260102', from '20260102T000000Z'."},
	{name: "unsigned-target", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}, "X-Amz-Target": {"TrentService.Decrypt"}},
		code: sigv4.CodeIncompleteSignature, msg: "There were headers present in the request which were not signed: x-amz-target"},
	{name: "unsigned-token", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}, "X-Amz-Security-Token": {"t"}},
		code: sigv4.CodeIncompleteSignature, msg: "There were headers present in the request which were not signed: x-amz-security-token"},
	{name: "two-content-hashes", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00"}, "X-Amz-Date": {"20260101T001500Z"}, "X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"}},
		code: sigv4.CodeIncompleteSignature, msg: "Only one X-Amz-Content-Sha256"},
	{name: "presigned-incomplete", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T001500Z",
		code: sigv4.CodeIncompleteSignature, msg: "AWS query-string parameters must include 'X-Amz-Signature', 'X-Amz-SignedHeaders'."},
	{name: "presigned-no-algorithm", query: "X-Amz-Signature=00",
		code: sigv4.CodeIncompleteSignature, msg: "must include 'X-Amz-Algorithm'"},
	{name: "presigned-expires", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T001500Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604801",
		code: sigv4.CodeIncompleteSignature, msg: "X-Amz-Expires must be a whole number of seconds from 1 to 604800, not '604801'"},
	{name: "presigned-twice", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256",
		code: sigv4.CodeIncompleteSignature, msg: "Only one 'X-Amz-Algorithm' query parameter"},
	{name: "valid-header", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ",SignedHeaders=host;x-amz-date;x-amz-security-token,Signature=" + strings.Repeat("ab", 32)}, "X-Amz-Date": {"20260101T001500Z"}, "X-Amz-Security-Token": {"t"}}},
	{name: "valid-date-header", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 " + goodCredential + ", SignedHeaders=date;host, Signature=" + strings.Repeat("ab", 32)}, "Date": {"Thu, 01 Jan 2026 00:15:00 GMT"}}},
	{name: "valid-presigned", query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fkms%2Faws4_request&X-Amz-Date=20260101T001500Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=60&X-Amz-Security-Token=t"},
}

func TestParse(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest("POST", "http://kms.example.test/?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.header {
				r.Header[k] = vs
			}
			a, err := sigv4.Parse(r)
			checkErr(t, err, tt.code, tt.msg)
			if err != nil {
				if e := err.(*sigv4.Error); e.Status != http.StatusBadRequest {
					t.Errorf("status %d, want 400", e.Status)
				}
				return
			}
			want := sigv4.Auth{AccessKeyID: "AKIDEXAMPLE", Date: "20260101", Region: "us-east-1", Service: "kms",
				Time: time.Date(2026, 1, 1, 0, 15, 0, 0, time.UTC)}
			if a.AccessKeyID != want.AccessKeyID || a.Date != want.Date || a.Region != want.Region || a.Service != want.Service || !a.Time.Equal(want.Time) {
				t.Errorf("got %v", a)
			}
			wantToken := tt.header.Get("X-Amz-Security-Token")
			if strings.Contains(tt.query, "X-Amz-Security-Token=t") {
				wantToken = "t"
			}
			if a.SessionToken != wantToken {
				t.Errorf("SessionToken = %q", a.SessionToken)
			}
			if a.Presigned != (tt.query != "") || a.Presigned && a.Expires != time.Minute {
				t.Errorf("Presigned = %t, Expires = %v", a.Presigned, a.Expires)
			}
		})
	}
}

func TestCheckScope(t *testing.T) {
	a := &sigv4.Auth{Region: "eu-west-1", Service: "kms"}
	checkErr(t, a.CheckScope("eu-west-1", "kms"), "", "")
	checkErr(t, a.CheckScope("", "kms"), "", "")
	checkErr(t, a.CheckScope("us-east-1", "kms"), sigv4.CodeInvalidSignature, "Credential should be scoped to a valid region, not 'eu-west-1'.")
	checkErr(t, a.CheckScope("eu-west-1", "iam"), sigv4.CodeInvalidSignature, "Credential should be scoped to correct service: 'iam'.")
}

func TestQueryProtocol(t *testing.T) {
	tests := []struct {
		err    *sigv4.Error
		code   string
		status int
	}{
		{sigv4.UnknownAccessKey(), "InvalidClientTokenId", 403},
		{sigv4.InvalidSessionToken(), "InvalidClientTokenId", 403},
		{&sigv4.Error{Code: sigv4.CodeInvalidSignature, Status: 400}, "SignatureDoesNotMatch", 403},
		{&sigv4.Error{Code: sigv4.CodeIncompleteSignature, Status: 400}, "IncompleteSignature", 400},
		{&sigv4.Error{Code: sigv4.CodeMissingAuthenticationToken, Status: 400}, "MissingAuthenticationToken", 403},
		{&sigv4.Error{Code: sigv4.CodeRequestExpired, Status: 400}, "RequestExpired", 400},
	}
	for _, tt := range tests {
		if code, status := tt.err.QueryProtocol(); code != tt.code || status != tt.status {
			t.Errorf("%s: got %s %d, want %s %d", tt.err.Code, code, status, tt.code, tt.status)
		}
	}
	if e := sigv4.UnknownAccessKey(); e.Code != sigv4.CodeUnrecognizedClient || e.Status != 400 || e.Message != "The security token included in the request is invalid." {
		t.Errorf("UnknownAccessKey() = %+v", e)
	}
}

// TestRotatedSecret: the cache must never verify with a key derived from
// another secret for the same access key id, scope and day.
func TestRotatedSecret(t *testing.T) {
	c := sdkCases[0]
	r1 := c.build(t, "http://kms.example.test", testSecret)
	r2 := c.build(t, "http://kms.example.test", otherSecret)
	v := sigv4.NewVerifier(0)
	steps := []struct {
		r      *http.Request
		secret string
		ok     bool
	}{
		{r1, testSecret, true},
		{r2, otherSecret, true}, // rotated: the cached key is for testSecret
		{r1, otherSecret, false},
		{r2, testSecret, false},
		{r1, testSecret, true},
		{r1, otherSecret, false},
	}
	for i, s := range steps {
		a, err := sigv4.Parse(s.r)
		if err != nil {
			t.Fatal(err)
		}
		err = v.Verify(a, s.r, []byte(c.body), []byte(s.secret), signTime)
		if (err == nil) != s.ok {
			t.Fatalf("step %d: got %v, want ok=%t", i, err, s.ok)
		}
	}
}

// TestConcurrentVerify verifies from several goroutines with two secrets
// for the same access key (run with -race).
func TestConcurrentVerify(t *testing.T) {
	c := sdkCases[0]
	reqs := map[string]*http.Request{
		testSecret:  c.build(t, "http://kms.example.test", testSecret),
		otherSecret: c.build(t, "http://kms.example.test", otherSecret),
	}
	v := sigv4.NewVerifier(0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				rs, ss := testSecret, otherSecret
				if (g+i)%2 == 0 {
					rs, ss = ss, rs
				}
				for _, secret := range []string{rs, ss} {
					a, err := sigv4.Parse(reqs[rs])
					if err != nil {
						errs <- err
						return
					}
					err = v.Verify(a, reqs[rs], []byte(c.body), []byte(secret), signTime)
					if (err == nil) != (secret == rs) {
						errs <- fmt.Errorf("request signed with %q, verified with %q: %v", rs, secret, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestNothingSecretPrints: an Auth, printed or logged in any way, shows
// neither the session token nor the signature.
func TestNothingSecretPrints(t *testing.T) {
	c := sdkCases[1]
	r := c.build(t, "http://kms.example.test", testSecret)
	a, err := sigv4.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	authz := r.Header.Get("Authorization")
	sig := authz[strings.LastIndex(authz, "=")+1:]
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("request", "auth", a)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("request", "auth", *a)
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s", *a, *a, *a, a), buf.String()} {
		if strings.Contains(s, testToken) || strings.Contains(s, sig) || !strings.Contains(s, testAKID) {
			t.Errorf("printed: %s", s)
		}
	}
}

// refSign signs r as the AWS documentation describes, the way botocore and
// the JS SDKs treat header values (every run of whitespace, tabs included,
// is one space), with the Date header as the request time: the oracle for
// what aws-sdk-go-v2 cannot produce.
func refSign(r *http.Request, body, secret string, signed []string, t time.Time) {
	var canonHeaders strings.Builder
	for _, h := range signed {
		v := r.Host
		if h != "host" {
			var vs []string
			for _, s := range r.Header.Values(h) {
				vs = append(vs, strings.Join(strings.Fields(s), " "))
			}
			v = strings.Join(vs, ",")
		}
		fmt.Fprintf(&canonHeaders, "%s:%s\n", h, v)
	}
	canonical := strings.Join([]string{r.Method, "/", "", canonHeaders.String(), strings.Join(signed, ";"), hashHex([]byte(body))}, "\n")
	scope := t.Format("20060102") + "/us-east-1/kms/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + t.Format("20060102T150405Z") + "\n" + scope + "\n" + hashHex([]byte(canonical))
	key := []byte("AWS4" + secret)
	for _, s := range []string{t.Format("20060102"), "us-east-1", "kms", "aws4_request", toSign} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		key = m.Sum(nil)
	}
	r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		testAKID, scope, strings.Join(signed, ";"), hex.EncodeToString(key)))
}

// TestReferenceSigner covers the Date header and botocore's treatment of
// tabs, against refSign; and aws-sdk-go-v2's treatment of tabs, against it.
func TestReferenceSigner(t *testing.T) {
	body := `{"KeyId":"alias/app"}`
	newRequest := func() *http.Request {
		r, _ := http.NewRequest("POST", "http://kms.example.test/", strings.NewReader(body))
		r.Header.Set("Date", signTime.Format(http.TimeFormat))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
		r.Header["X-Tabbed"] = []string{"a\t b\t\tc", "\td  e "}
		return r
	}
	v := sigv4.NewVerifier(0)
	verify := func(r *http.Request) error {
		a, err := sigv4.Parse(r)
		if err != nil {
			return err
		}
		return v.Verify(a, r, []byte(body), []byte(testSecret), signTime)
	}

	r := newRequest()
	refSign(r, body, testSecret, []string{"content-type", "date", "host", "x-amz-target", "x-tabbed"}, signTime)
	checkErr(t, verify(r), "", "")
	r.Header["X-Tabbed"][0] = "a b c d"
	checkErr(t, verify(r), sigv4.CodeInvalidSignature, "does not match")

	r = newRequest()
	r.Header.Del("Date")
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hashHex([]byte(body)), "kms", "us-east-1", signTime); err != nil {
		t.Fatal(err)
	}
	checkErr(t, verify(r), "", "")
	r.Header["X-Tabbed"][0] = "a b c"
	checkErr(t, verify(r), sigv4.CodeInvalidSignature, "does not match")
}

func TestVerifyMisuse(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://kms.example.test/", nil)
	for name, f := range map[string]func(){
		"nil-auth":     func() { sigv4.NewVerifier(0).Verify(nil, r, nil, []byte("s"), signTime) },
		"empty-secret": func() { sigv4.NewVerifier(0).Verify(&sigv4.Auth{}, r, nil, nil, signTime) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}
