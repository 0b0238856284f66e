package keyspec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// TestGenerateLoad: generated material loads for every usage of its spec,
// and the public key round-trips through LoadPublic.
func TestGenerateLoad(t *testing.T) {
	for spec, rules := range wantRules {
		for usage := range rules {
			k := testKey(t, spec, usage)
			if k.Spec() != spec || k.Usage() != usage || k.Info() != mustLookup(spec) {
				t.Errorf("%s %s: Spec, Usage = %s, %s", spec, usage, k.Spec(), k.Usage())
			}
			if !mustLookup(spec).Asymmetric() {
				if k.Public() != nil {
					t.Errorf("%s: symmetric key has a public key", spec)
				}
				if _, err := k.PublicKeyDER(); code(err) != CodeUnsupportedOperation {
					t.Errorf("%s: PublicKeyDER = %v, want UnsupportedOperationException", spec, err)
				}
				continue
			}
			der := mustDER(t, k)
			p, err := LoadPublic(spec, usage, der)
			if err != nil {
				t.Fatalf("%s: LoadPublic: %v", spec, err)
			}
			if !bytes.Equal(p.DER(), der) || p.Usage() != usage || p.Info() != k.Info() {
				t.Errorf("%s: LoadPublic does not round-trip", spec)
			}
		}
	}
}

// TestGenerateIsStandard: what Generate writes parses with crypto/x509
// where x509 knows the key type, as the right kind of key.
func TestGenerateIsStandard(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		test func(any) bool
	}{
		{RSA2048, func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 }},
		{RSA3072, func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 3072 }},
		{RSA4096, func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 4096 }},
		{ECCNISTP256, func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve.Params().Name == "P-256" }},
		{ECCNISTP384, func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve.Params().Name == "P-384" }},
		{ECCNISTP521, func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve.Params().Name == "P-521" }},
		{ECCNISTEdwards25519, func(k any) bool { _, ok := k.(ed25519.PrivateKey); return ok }},
	} {
		k, err := x509.ParsePKCS8PrivateKey(testMaterial(t, tc.spec))
		if err != nil || !tc.test(k) {
			t.Errorf("%s: x509 parses %T, %v", tc.spec, k, err)
		}
	}
	if m := testMaterial(t, SymmetricDefault); len(m) != 32 {
		t.Errorf("SYMMETRIC_DEFAULT material has %d bytes", len(m))
	}
	a, b := testMaterial(t, HMAC256), mustGenerate(t, HMAC256)
	if bytes.Equal(a, b) {
		t.Error("two HMAC keys are equal")
	}
}

func mustGenerate(t *testing.T, spec Spec) []byte {
	m, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGenerateRejects(t *testing.T) {
	if _, err := Generate(SM2); code(err) != CodeUnsupportedOperation {
		t.Errorf("Generate(SM2) = %v", err)
	}
	if _, err := Generate("AES_256"); code(err) != CodeValidation {
		t.Errorf("Generate(AES_256) = %v", err)
	}
}

// TestLoadRejects: material of another spec, or damaged, is ErrMalformedKey;
// usages the spec refuses are the rules' ValidationException.
func TestLoadRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     Spec
		material []byte
	}{
		{"RSA_2048 as RSA_3072", RSA3072, testMaterial(t, RSA2048)},
		{"P-256 as P-384", ECCNISTP384, testMaterial(t, ECCNISTP256)},
		{"P-256 as secp256k1", ECCSECGP256K1, testMaterial(t, ECCNISTP256)},
		{"secp256k1 as P-256", ECCNISTP256, testMaterial(t, ECCSECGP256K1)},
		{"Ed25519 as RSA", RSA2048, testMaterial(t, ECCNISTEdwards25519)},
		{"RSA as Ed25519", ECCNISTEdwards25519, testMaterial(t, RSA2048)},
		{"ML-DSA-44 as ML-DSA-65", MLDSA65, testMaterial(t, MLDSA44)},
		{"P-256 as ML-DSA-44", MLDSA44, testMaterial(t, ECCNISTP256)},
		{"truncated RSA", RSA2048, testMaterial(t, RSA2048)[:100]},
		{"truncated secp256k1", ECCSECGP256K1, testMaterial(t, ECCSECGP256K1)[:40]},
		{"trailing byte, secp256k1", ECCSECGP256K1, append(bytes.Clone(testMaterial(t, ECCSECGP256K1)), 0)},
		{"trailing byte, ML-DSA", MLDSA65, append(bytes.Clone(testMaterial(t, MLDSA65)), 0)},
		{"garbage", ECCNISTP256, []byte("garbage")},
		{"empty", MLDSA87, nil},
		{"16-byte SYMMETRIC_DEFAULT", SymmetricDefault, make([]byte, 16)},
		{"33-byte SYMMETRIC_DEFAULT", SymmetricDefault, make([]byte, 33)},
		{"27-byte HMAC_224", HMAC224, make([]byte, 27)},
		{"63-byte HMAC_512", HMAC512, make([]byte, 63)},
		{"secp256k1 scalar 0", ECCSECGP256K1, k1PKCS8(make([]byte, 32), nil)},
		{"secp256k1 scalar n", ECCSECGP256K1, k1PKCS8(k1N.Bytes(), nil)},
		{"secp256k1 with another public key", ECCSECGP256K1, k1PKCS8(bytes.Repeat([]byte{1}, 32), secp256k1.PrivKeyFromBytes([]byte{2}).PubKey().SerializeUncompressed())},
	} {
		usage := mustLookup(tc.spec).Usages()[0]
		if _, err := Load(tc.spec, usage, tc.material); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("%s: Load = %v, want ErrMalformedKey", tc.name, err)
		}
	}
	if _, err := Load(ECCNISTP256, EncryptDecrypt, testMaterial(t, ECCNISTP256)); code(err) != CodeValidation {
		t.Errorf("P-256 for ENCRYPT_DECRYPT: %v", err)
	}
	if _, err := Load(SM2, SignVerify, nil); code(err) != CodeUnsupportedOperation {
		t.Errorf("SM2: %v", err)
	}
}

// k1PKCS8 writes a secp256k1 PKCS#8 with encoding/asn1 directly.
func k1PKCS8(scalar, pub []byte) []byte {
	type ecPriv struct {
		Version    int
		PrivateKey []byte
		PublicKey  asn1.BitString `asn1:"optional,explicit,tag:1"`
	}
	inner, _ := asn1.Marshal(ecPriv{1, scalar, asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	curve, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 10})
	der, _ := asn1.Marshal(struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, Parameters: asn1.RawValue{FullBytes: curve}}, inner})
	return der
}

// TestSecp256k1PKCS8Variants: OpenSSL-style encodings with or without the
// embedded public key and curve parameters load to the same key.
func TestSecp256k1PKCS8Variants(t *testing.T) {
	scalar := bytes.Repeat([]byte{7}, 32)
	want := secp256k1.PrivKeyFromBytes(scalar).PubKey()
	for name, der := range map[string][]byte{
		"bare":        k1PKCS8(scalar, nil),
		"with public": k1PKCS8(scalar, want.SerializeUncompressed()),
		"compressed":  k1PKCS8(scalar, want.SerializeCompressed()),
	} {
		k, err := Load(ECCSECGP256K1, SignVerify, der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, _, raw := testSPKI(t, mustDER(t, k))
		if !bytes.Equal(raw, want.SerializeUncompressed()) {
			t.Errorf("%s: wrong public key", name)
		}
	}
}

// TestMLDSAPKCS8Forms: the seed, expandedKey and both forms of RFC 9881
// load to the same key; inconsistent ones do not.
func TestMLDSAPKCS8Forms(t *testing.T) {
	seed := bytes.Repeat([]byte{9}, 32)
	ml := mldsa65Scheme
	_, sk := ml.scheme.DeriveKey(seed)
	expanded, _ := sk.MarshalBinary()
	wrap := func(inner []byte) []byte {
		der, _ := asn1.Marshal(struct {
			Version    int
			Algorithm  pkix.AlgorithmIdentifier
			PrivateKey []byte
		}{0, pkix.AlgorithmIdentifier{Algorithm: ml.oid}, inner})
		return der
	}
	octets := func(b []byte) []byte { d, _ := asn1.Marshal(b); return d }
	both := func(s, e []byte) []byte { d, _ := asn1.Marshal(struct{ S, E []byte }{s, e}); return d }
	badTr := bytes.Clone(expanded)
	badTr[70] ^= 1

	want := mustDER(t, mustLoad(t, MLDSA65, marshalMLDSAPKCS8(ml, seed)))
	for name, der := range map[string][]byte{
		"expanded": wrap(octets(expanded)),
		"both":     wrap(both(seed, expanded)),
	} {
		k, err := Load(MLDSA65, SignVerify, der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(mustDER(t, k), want) {
			t.Errorf("%s: another public key", name)
		}
		if _, err := k.Sign(MLDSASHAKE256, ExternalMu, make([]byte, 64)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	other := bytes.Clone(seed)
	other[0] ^= 1
	for name, der := range map[string][]byte{
		"both, seed and key disagree": wrap(both(other, expanded)),
		"expanded with a wrong tr":    wrap(octets(badTr)),
		"31-byte seed":                wrap(append([]byte{0x80, 31}, seed[:31]...)),
		"short expanded key":          wrap(octets(expanded[:100])),
		"seed as context tag 1":       wrap(append([]byte{0x81, 32}, seed...)),
	} {
		if _, err := Load(MLDSA65, SignVerify, der); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("%s: %v, want ErrMalformedKey", name, err)
		}
	}
}

func mustLoad(t *testing.T, spec Spec, material []byte) *Key {
	k, err := Load(spec, SignVerify, material)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadPublicRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		der  []byte
	}{
		{"RSA_2048 as RSA_4096", RSA4096, mustDER(t, testKey(t, RSA2048, SignVerify))},
		{"P-384 as P-256", ECCNISTP256, mustDER(t, testKey(t, ECCNISTP384, SignVerify))},
		{"secp256k1 as P-256", ECCNISTP256, mustDER(t, testKey(t, ECCSECGP256K1, SignVerify))},
		{"P-256 as secp256k1", ECCSECGP256K1, mustDER(t, testKey(t, ECCNISTP256, SignVerify))},
		{"ML-DSA-87 as ML-DSA-44", MLDSA44, mustDER(t, testKey(t, MLDSA87, SignVerify))},
		{"garbage", ECCNISTEdwards25519, []byte{1, 2, 3}},
	} {
		if _, err := LoadPublic(tc.spec, SignVerify, tc.der); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("%s: %v, want ErrMalformedKey", tc.name, err)
		}
	}
	if _, err := LoadPublic(HMAC256, GenerateVerifyMAC, []byte{1}); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("HMAC public key: %v", err)
	}
}

// TestLoadKeepsNoReference: clearing the material after Load changes
// nothing.
func TestLoadKeepsNoReference(t *testing.T) {
	material := bytes.Clone(testMaterial(t, HMAC256))
	k, err := Load(HMAC256, GenerateVerifyMAC, material)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := k.GenerateMac(HMACSHA256, []byte("m"))
	clear(material)
	after, _ := k.GenerateMac(HMACSHA256, []byte("m"))
	if !bytes.Equal(before, after) {
		t.Error("the key changed with the material it was loaded from")
	}
}

// TestKeyIsRedacted: no way of printing a Key shows its material.
func TestKeyIsRedacted(t *testing.T) {
	for _, spec := range []Spec{HMAC256, SymmetricDefault, ECCNISTEdwards25519} {
		usage := mustLookup(spec).Usages()[0]
		k := testKey(t, spec, usage)
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k)
		for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logged.String()} {
			secret := hex.EncodeToString(k.secret)
			if k.ed != nil {
				secret = hex.EncodeToString(k.ed.Seed())
			}
			if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), secret[:8]) {
				t.Errorf("%s: printed key shows its material: %s", spec, out)
			}
			if !strings.Contains(out, string(spec)) {
				t.Errorf("%s: printed key does not say its spec: %s", spec, out)
			}
		}
	}
}

func TestGenerateDataKeyPair(t *testing.T) {
	for _, s := range awsDataKeyPairSpecs {
		if s == "SM2" {
			if _, _, err := GenerateDataKeyPair(s); code(err) != CodeUnsupportedOperation {
				t.Errorf("SM2: %v", err)
			}
			continue
		}
		if s == "RSA_3072" || s == "RSA_4096" {
			continue // the same code path as RSA_2048, with slow key generation
		}
		priv, pub, err := GenerateDataKeyPair(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		k, err := Load(Spec(s), SignVerify, priv)
		if err != nil {
			t.Fatalf("%s: private key does not load: %v", s, err)
		}
		if !bytes.Equal(mustDER(t, k), pub) {
			t.Errorf("%s: public key does not match the private key", s)
		}
		// And it works: a signature by the private key verifies with the
		// public key outside this package.
		alg := k.Info().Algorithms(SignVerify).Signing[0]
		sig, err := k.Sign(alg, Raw, []byte("data key pair"))
		if err != nil || !outsideVerify(t, Spec(s), alg, pub, []byte("data key pair"), sig) {
			t.Errorf("%s: signature does not verify: %v", s, err)
		}
	}
	for _, s := range []string{"SYMMETRIC_DEFAULT", "HMAC_256", "ML_DSA_44", "", "RSA_1024", "AES_256"} {
		if _, _, err := GenerateDataKeyPair(s); code(err) != CodeValidation {
			t.Errorf("%q: %v, want ValidationException", s, err)
		}
	}
}
