// The public API in use: a handler that authenticates every request.

package sigv4_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"strongroom/internal/sigv4"
)

// Example shows the two phases of verification in an AWS JSON 1.1 (KMS)
// handler: Parse, look up the secret, Verify; and every *sigv4.Error sent
// to the client as is.
func Example() {
	secrets := map[string][]byte{"AKIDEXAMPLE": []byte("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")}
	verifier := sigv4.NewVerifier(sigv4.DefaultMaxSkew)
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 15, 0, 0, time.UTC) }

	authenticate := func(r *http.Request, body []byte) (*sigv4.Auth, error) {
		a, err := sigv4.Parse(r)
		if err != nil {
			return nil, err
		}
		if err := a.CheckScope("", "kms"); err != nil {
			return nil, err
		}
		secret, ok := secrets[a.AccessKeyID]
		if !ok {
			return nil, sigv4.UnknownAccessKey()
		}
		return a, verifier.Verify(a, r, body, secret, now())
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		a, err := authenticate(r, body)
		var e *sigv4.Error
		if errors.As(err, &e) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(e.Status)
			json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
			return
		}
		fmt.Fprintf(w, "hello %s\n", a.AccessKeyID)
	})

	r := httptest.NewRequest("POST", "https://kms.example.test/", strings.NewReader("{}"))
	r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())

	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	r.Header.Set("X-Amz-Date", "20260101T001500Z")
	w = httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 400 {"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}
	// 400 {"__type":"IncompleteSignatureException","message":"There were headers present in the request which were not signed: x-amz-target"}
}
