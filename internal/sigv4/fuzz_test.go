// Fuzz and internal tests: Parse never panics and keeps its promises on any
// input; the signing-key cache stays bounded.

package sigv4

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzParse feeds Parse arbitrary Authorization headers, dates and query
// strings. Parse must not panic, must fail only with an *Error, and an Auth
// it accepts must keep the promises Verify relies on; Verify must not panic
// on it either.
func FuzzParse(f *testing.F) {
	const cred = "Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request"
	f.Add("AWS4-HMAC-SHA256 "+cred+", SignedHeaders=host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "20260101T001500Z", "")
	f.Add("AWS4-HMAC-SHA256 "+cred+",SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-target,Signature=00", "20260101T001500Z", "a=b&c")
	f.Add("AWS4-HMAC-SHA256 Credential=/a//b/, SignedHeaders=;;, Signature==", "20260101T001500Z", "")
	f.Add("AWS4-HMAC-SHA256 ,,,=,Credential", "", "")
	f.Add("", "20260101T001500Z", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T001500Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=60")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%zz&X-Amz-Expires=-1")

	v := NewVerifier(0)
	f.Fuzz(func(t *testing.T, authz, date, query string) {
		r, err := http.NewRequest("POST", "http://kms.example.test/", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.RawQuery = query
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
		a, err := Parse(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code == "" || e.Message == "" {
				t.Fatalf("Parse error %#v", err)
			}
			return
		}
		switch {
		case a.AccessKeyID == "" || a.Region == "" || a.Service == "":
			t.Fatalf("accepted an empty credential part: %v", a)
		case a.Date != a.Time.Format(scopeDateLayout):
			t.Fatalf("scope date %q for time %v", a.Date, a.Time)
		case !a.signs("host"):
			t.Fatalf("accepted unsigned host: %v", a)
		case !a.Presigned && !a.signs("x-amz-target"):
			t.Fatalf("accepted unsigned X-Amz-Target: %v", a)
		case a.Expires < 0 || a.Expires > maxPresignExpires:
			t.Fatalf("Expires %v", a.Expires)
		case a.scope != a.Date+"/"+a.Region+"/"+a.Service+"/"+scopeTerminator:
			t.Fatalf("scope %q for %v", a.scope, a)
		}
		if err := v.Verify(a, r, nil, []byte("secret"), a.Time); err == nil && a.signatureOK {
			t.Logf("a fuzzed signature verified: %v", a) // possible only with the fuzzer computing HMACs
		}
	})
}

// TestCacheBounded: the cache never holds more than cacheSize keys.
func TestCacheBounded(t *testing.T) {
	v := NewVerifier(0)
	a := &Auth{Date: "20260101", Region: "us-east-1", Service: "kms", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var buf []byte
	for i := range cacheSize + 100 {
		a.AccessKeyID = "AKID" + strconv.Itoa(i)
		_, buf = v.signingKey(a, []byte("secret"), buf)
		if n := len(v.keys); n > cacheSize {
			t.Fatalf("%d keys cached after %d access keys", n, i+1)
		}
	}
	if len(v.keys) != cacheSize {
		t.Errorf("%d keys cached, want %d", len(v.keys), cacheSize)
	}
}

// TestHMAC: hmacSHA256Append is crypto/hmac's HMAC-SHA256, including when
// the message lives in the buffer it appends to, with or without room.
func TestHMAC(t *testing.T) {
	for n := range 300 {
		var key [32]byte
		rand.Read(key[:])
		msg := make([]byte, n)
		rand.Read(msg)
		want := hmacSHA256(key[:], msg)

		if got := hmacSHA256Append(nil, &key, msg); got != want {
			t.Fatalf("len %d: got %x, want %x", n, got, want)
		}
		for _, spare := range []int{0, 10, 64 + n} {
			b := make([]byte, 0, 7+n+spare)
			b = append(append(b, "prefix\n"...), msg...)
			if got := hmacSHA256Append(b, &key, b[7:]); got != want {
				t.Fatalf("len %d, spare %d, message in the buffer: got %x, want %x", n, spare, got, want)
			}
			if !bytes.Equal(b[7:], msg) {
				t.Fatalf("len %d: message changed", n)
			}
		}
	}
}
