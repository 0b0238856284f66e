package keyspec

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"
)

// Generating RSA_4096 keys is slow on a small machine: each spec's material
// is generated once per test binary.
var (
	materialMu    sync.Mutex
	materialCache = map[Spec][]byte{}
)

func testMaterial(t testing.TB, spec Spec) []byte {
	t.Helper()
	materialMu.Lock()
	defer materialMu.Unlock()
	if m, ok := materialCache[spec]; ok {
		return m
	}
	m, err := Generate(spec)
	if err != nil {
		t.Fatalf("Generate(%s): %v", spec, err)
	}
	materialCache[spec] = m
	return m
}

func testKey(t testing.TB, spec Spec, usage Usage) *Key {
	t.Helper()
	k, err := Load(spec, usage, testMaterial(t, spec))
	if err != nil {
		t.Fatalf("Load(%s, %s): %v", spec, usage, err)
	}
	return k
}

func mustDER(t testing.TB, k *Key) []byte {
	t.Helper()
	der, err := k.PublicKeyDER()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i%len(c)] ^= 0x01
	return c
}

// testSPKI parses a SubjectPublicKeyInfo with encoding/asn1 alone, for the
// key types crypto/x509 does not know, independently of encoding.go.
func testSPKI(t testing.TB, der []byte) (alg asn1.ObjectIdentifier, params asn1.RawValue, key []byte) {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil || len(rest) != 0 {
		t.Fatalf("not a SubjectPublicKeyInfo: %v", err)
	}
	return spki.Algorithm.Algorithm, spki.Algorithm.Parameters, spki.PublicKey.RightAlign()
}

// k1N is the order of the secp256k1 group.
var k1N, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
