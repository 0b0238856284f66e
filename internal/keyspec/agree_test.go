package keyspec

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"testing"
)

var ecdhCurves = map[Spec]ecdh.Curve{ECCNISTP256: ecdh.P256(), ECCNISTP384: ecdh.P384(), ECCNISTP521: ecdh.P521()}

// TestDeriveSharedSecret: the secret equals what crypto/ecdh computes on
// the peer's side from the GetPublicKey DER: the raw x-coordinate.
func TestDeriveSharedSecret(t *testing.T) {
	for spec, curve := range ecdhCurves {
		t.Run(string(spec), func(t *testing.T) {
			k := testKey(t, spec, KeyAgreement)
			peer, err := curve.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			secret, err := k.DeriveSharedSecret(ECDH, peerDER)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := x509.ParsePKIXPublicKey(mustDER(t, k))
			if err != nil {
				t.Fatal(err)
			}
			oursECDH, err := ours.(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			want, err := peer.ECDH(oursECDH)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(secret, want) {
				t.Fatal("shared secret differs from crypto/ecdh's")
			}
			if len(secret) != map[Spec]int{ECCNISTP256: 32, ECCNISTP384: 48, ECCNISTP521: 66}[spec] {
				t.Errorf("secret has %d bytes", len(secret))
			}
		})
	}
}

func TestDeriveSharedSecretRejects(t *testing.T) {
	k := testKey(t, ECCNISTP256, KeyAgreement)
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	der := func(pub any) []byte {
		b, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p256DER := der(mustPeer(t).PublicKey())
	for name, peer := range map[string][]byte{
		"P-384 key":            der(p384.PublicKey()),
		"X25519 key":           der(x25519.PublicKey()),
		"Ed25519 key":          der(edPub),
		"RSA key":              mustDER(t, testKey(t, RSA2048, EncryptDecrypt)),
		"secp256k1 key":        mustDER(t, testKey(t, ECCSECGP256K1, SignVerify)),
		"ML-DSA key":           mustDER(t, testKey(t, MLDSA44, SignVerify)),
		"garbage":              []byte("not a key"),
		"empty":                nil,
		"truncated P-256 key":  p256DER[:len(p256DER)-1],
		"P-256 key, bad point": flipBit(p256DER, len(p256DER)-1),
		"trailing data":        append(bytes.Clone(p256DER), 0),
	} {
		if _, err := k.DeriveSharedSecret(ECDH, peer); code(err) != CodeValidation {
			t.Errorf("%s: %v, want ValidationException", name, err)
		}
	}
	if _, err := k.DeriveSharedSecret("ECDH_COFACTOR", p256DER); code(err) != CodeValidation {
		t.Errorf("unknown algorithm: %v", err)
	}
	for _, other := range []*Key{testKey(t, ECCNISTP256, SignVerify), testKey(t, RSA2048, EncryptDecrypt), testKey(t, SymmetricDefault, EncryptDecrypt)} {
		if _, err := other.DeriveSharedSecret(ECDH, p256DER); code(err) != CodeInvalidKeyUsage {
			t.Errorf("%v: %v, want InvalidKeyUsageException", other, err)
		}
	}
}

func mustPeer(t *testing.T) *ecdh.PrivateKey {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
