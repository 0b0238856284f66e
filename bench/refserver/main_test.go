package main

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSignRSAIsReal: the reference answers a Sign with RSASSA_PSS_SHA_256
// with a signature that verifies (it pays rsa.SignPSS's cost, the floor
// issue 7 measures Sign RSA-2048 against), and other Signs with a fixed
// answer.
func TestSignRSAIsReal(t *testing.T) {
	sign := func(body string) (sig []byte, alg string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body))
		r.Header.Set("X-Amz-Target", "TrentService.Sign")
		w := httptest.NewRecorder()
		handle(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var out struct {
			Signature        []byte
			SigningAlgorithm string
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out.Signature, out.SigningAlgorithm
	}
	msg := []byte("a message of the usual size for a benchmark")
	m, _ := json.Marshal(msg)
	sig, alg := sign(`{"KeyId":"k","Message":` + string(m) + `,"MessageType":"RAW","SigningAlgorithm":"RSASSA_PSS_SHA_256"}`)
	digest := sha256.Sum256(msg)
	if err := rsa.VerifyPSS(&rsaKey().PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		t.Errorf("the RSASSA_PSS_SHA_256 signature does not verify: %v", err)
	}
	if alg != "RSASSA_PSS_SHA_256" || len(sig) != 256 {
		t.Errorf("algorithm %q, %d-byte signature; want RSASSA_PSS_SHA_256, 256 bytes", alg, len(sig))
	}
	again, _ := sign(`{"KeyId":"k","Message":` + string(m) + `,"MessageType":"RAW","SigningAlgorithm":"RSASSA_PSS_SHA_256"}`)
	if bytes.Equal(sig, again) {
		t.Error("two PSS signatures are equal: the salt is not random, or nothing was signed")
	}
	if sig, alg := sign(`{"KeyId":"k","Message":"bQ==","SigningAlgorithm":"ECDSA_SHA_256"}`); alg != "ECDSA_SHA_256" || len(sig) != 71 {
		t.Errorf("ECDSA: algorithm %q, %d-byte signature; want the fixed answer", alg, len(sig))
	}
}
