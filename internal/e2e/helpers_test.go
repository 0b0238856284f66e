package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/app"
	"strongroom/internal/testenv"
)

// Shared helpers of the wire tests. Every test drives a real server
// (testenv.Start: loopback HTTP, SigV4) with aws-sdk-go-v2 or, for protocol
// errors the SDK cannot produce, with net/http and the SDK's v4 signer.

// httpStatus returns the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// apiMessage returns the message of an SDK API error.
func apiMessage(err error) string {
	var ae interface{ ErrorMessage() string }
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

// wantCode fails the test unless err is an AWS error with code and a 4xx
// status (every client mistake is 4xx; 5xx is only for our own faults).
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want %s", code)
	}
	if got := apiCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
	if s := httpStatus(err); s < 400 || s > 499 {
		t.Fatalf("%s came with HTTP status %d, want 4xx", code, s)
	}
}

// wantOneOf is wantCode for cases where AWS's exact code is not documented
// and more than one answer is defensible.
func wantOneOf(t testing.TB, err error, codes ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want one of %v", codes)
	}
	got := apiCode(err)
	for _, c := range codes {
		if got == c {
			if s := httpStatus(err); s < 400 || s > 499 {
				t.Fatalf("%s came with HTTP status %d, want 4xx", got, s)
			}
			return
		}
	}
	t.Fatalf("error code = %q, want one of %v (err: %v)", got, codes, err)
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// newKey creates a symmetric key with the given description and returns its
// metadata.
func newKey(t testing.TB, c *kms.Client, description string) *types.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(description)})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

func keyState(t testing.TB, c *kms.Client, keyID string) types.KeyState {
	t.Helper()
	out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatalf("DescribeKey %s: %v", keyID, err)
	}
	return out.KeyMetadata.KeyState
}

func encrypt(t testing.TB, c *kms.Client, keyID string, plaintext []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: plaintext, EncryptionContext: ec})
	if err != nil {
		t.Fatalf("Encrypt under %s: %v", keyID, err)
	}
	return out.CiphertextBlob
}

func keyARN(region, keyID string) string {
	return "arn:aws:kms:" + region + ":" + testenv.Account + ":key/" + keyID
}

func aliasARN(region, name string) string {
	return "arn:aws:kms:" + region + ":" + testenv.Account + ":" + name
}

// rawResponse is a response to a hand-made request.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorBody decodes an AWS JSON error body, failing the test unless it is
// exactly {"__type": string, "message": string}.
func (r rawResponse) errorBody(t testing.TB) (code, message string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body is not JSON: %q", r.Body)
	}
	typ, ok1 := m["__type"].(string)
	msg, ok2 := m["message"].(string)
	if !ok1 || !ok2 || len(m) != 2 {
		t.Fatalf("error body = %s, want exactly {\"__type\": string, \"message\": string}", r.Body)
	}
	return typ, msg
}

// rawRequest describes a request built by hand.
type rawRequest struct {
	Method string // default POST
	Target string // X-Amz-Target; "" sends none
	Body   []byte
	// Unsigned sends no SigV4 authentication.
	Unsigned bool
	// Creds signs with these instead of the bootstrap root's.
	Creds *app.Credentials
	// Region is the credential scope's region (default testenv.Region).
	Region string
	// SigningTime is the time the request is signed at (default now).
	SigningTime time.Time
	// ContentType overrides application/x-amz-json-1.1.
	ContentType string
	// Mutate changes the request after signing.
	Mutate func(*http.Request)
}

// raw sends r to env with net/http, signed with the SDK's own v4 signer.
func raw(t testing.TB, env *testenv.Env, r rawRequest) rawResponse {
	t.Helper()
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, env.Endpoint+"/", bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	ct := r.ContentType
	if ct == "" {
		ct = "application/x-amz-json-1.1"
	}
	req.Header.Set("Content-Type", ct)
	if r.Target != "" {
		req.Header.Set("X-Amz-Target", r.Target)
	}
	if !r.Unsigned {
		creds := env.Root
		if r.Creds != nil {
			creds = *r.Creds
		}
		region := r.Region
		if region == "" {
			region = testenv.Region
		}
		when := r.SigningTime
		if when.IsZero() {
			when = time.Now()
		}
		sum := sha256.Sum256(r.Body)
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), "kms", region, when)
		if err != nil {
			t.Fatal(err)
		}
	}
	if r.Mutate != nil {
		r.Mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, r.Target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
	checkEnvelope(t, out)
	return out
}

// checkEnvelope checks what every KMS response must carry: a request id,
// the JSON 1.1 content type, never a 5xx, and on error an AWS-shaped body.
func checkEnvelope(t testing.TB, r rawResponse) {
	t.Helper()
	if r.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("response (status %d) has no x-amzn-RequestId header", r.Status)
	}
	if r.Status >= 500 {
		t.Errorf("status %d: a client mistake must never be a 5xx (body %s)", r.Status, r.Body)
	}
	if r.Status >= 400 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.1") {
			t.Errorf("error Content-Type = %q, want application/x-amz-json-1.1", ct)
		}
		r.errorBody(t)
	}
}

// rawJSON is raw with a JSON body built from v.
func rawJSON(t testing.TB, env *testenv.Env, op string, v any) rawResponse {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw(t, env, rawRequest{Target: "TrentService." + op, Body: b})
}
