package keyspec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"slices"
	"testing"

	"github.com/cloudflare/circl/sign"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// signingSpecs are the specs with usage SIGN_VERIFY.
var signingSpecs = []Spec{RSA2048, RSA3072, RSA4096, ECCNISTP256, ECCNISTP384, ECCNISTP521,
	ECCSECGP256K1, ECCNISTEdwards25519, MLDSA44, MLDSA65, MLDSA87}

// acceptedTypes is AWS's rule on message types, written independently of
// prepare.
func acceptedTypes(alg Algorithm) []MessageType {
	switch alg {
	case Ed25519SHA512:
		return []MessageType{Raw}
	case Ed25519PHSHA512:
		return []MessageType{Digest}
	case MLDSASHAKE256:
		return []MessageType{Raw, ExternalMu}
	}
	return []MessageType{Raw, Digest}
}

var hashOf = map[Algorithm]crypto.Hash{
	RSASSAPSSSHA256: crypto.SHA256, RSASSAPSSSHA384: crypto.SHA384, RSASSAPSSSHA512: crypto.SHA512,
	RSASSAPKCS1v15SHA256: crypto.SHA256, RSASSAPKCS1v15SHA384: crypto.SHA384, RSASSAPKCS1v15SHA512: crypto.SHA512,
	ECDSASHA256: crypto.SHA256, ECDSASHA384: crypto.SHA384, ECDSASHA512: crypto.SHA512,
	Ed25519PHSHA512: crypto.SHA512,
}

func digest(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

// pureMLDSAMu computes μ for pure ML-DSA with an empty context from the
// SubjectPublicKeyInfo, as a client preparing EXTERNAL_MU does (FIPS 204,
// algorithm 7 line 6 with M′ = 0 ‖ 0 ‖ M).
func pureMLDSAMu(t testing.TB, spki, msg []byte) []byte {
	_, _, pk := testSPKI(t, spki)
	h := sha3.NewSHAKE256()
	h.Write(sha3.SumSHAKE256(pk, 64))
	h.Write([]byte{0, 0})
	h.Write(msg)
	mu := make([]byte, 64)
	h.Read(mu)
	return mu
}

// input returns what a client passes as Message for the message type. For
// ED25519_PH_SHA_512, msg already is the client's 64-byte DIGEST.
func input(t testing.TB, alg Algorithm, mt MessageType, spki, msg []byte) []byte {
	switch {
	case alg == Ed25519PHSHA512:
		return msg
	case mt == Digest:
		return digest(hashOf[alg], msg)
	case mt == ExternalMu:
		return pureMLDSAMu(t, spki, msg)
	}
	return msg
}

// outsideVerify checks sig with the public key DER alone, using Go's
// crypto (or the reference library of the curve or scheme), never this
// package. msg is the raw message (for ED25519_PH_SHA_512: the 64-byte
// DIGEST that the client passed).
func outsideVerify(t *testing.T, spec Spec, alg Algorithm, spki, msg, sig []byte) bool {
	t.Helper()
	switch spec {
	case ECCSECGP256K1:
		oid, params, raw := testSPKI(t, spki)
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(params.FullBytes, &curve); err != nil ||
			!oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}) || !curve.Equal(asn1.ObjectIdentifier{1, 3, 132, 0, 10}) {
			t.Fatalf("secp256k1 SPKI has algorithm %v %v", oid, curve)
		}
		pub, err := secp256k1.ParsePubKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		s, err := k1ecdsa.ParseDERSignature(sig)
		return err == nil && s.Verify(digest(crypto.SHA256, msg), pub)
	case MLDSA44, MLDSA65, MLDSA87:
		oid, params, raw := testSPKI(t, spki)
		wantOID := map[Spec]asn1.ObjectIdentifier{
			MLDSA44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
			MLDSA65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
			MLDSA87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
		}[spec]
		if !oid.Equal(wantOID) || len(params.FullBytes) != 0 {
			t.Fatalf("ML-DSA SPKI has algorithm %v, parameters %x", oid, params.FullBytes)
		}
		scheme := map[Spec]sign.Scheme{MLDSA44: mldsa44Scheme.scheme, MLDSA65: mldsa65Scheme.scheme, MLDSA87: mldsa87Scheme.scheme}[spec]
		pub, err := scheme.UnmarshalBinaryPublicKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		return scheme.Verify(pub, msg, sig, nil)
	}
	parsed, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	switch pub := parsed.(type) {
	case *rsa.PublicKey:
		h := hashOf[alg]
		if slices.Contains([]Algorithm{RSASSAPSSSHA256, RSASSAPSSSHA384, RSASSAPSSSHA512}, alg) {
			return rsa.VerifyPSS(pub, h, digest(h, msg), sig, &rsa.PSSOptions{SaltLength: h.Size()}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, h, digest(h, msg), sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest(hashOf[alg], msg), sig)
	case ed25519.PublicKey:
		if alg == Ed25519PHSHA512 {
			ph := sha512.Sum512(msg)
			return ed25519.VerifyWithOptions(pub, ph[:], sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
		}
		return ed25519.Verify(pub, msg, sig)
	}
	t.Fatalf("unexpected public key %T", parsed)
	return false
}

// TestSignVerify covers every signing spec × algorithm × message type: the
// signature verifies with the public key DER alone outside this package,
// with Key.Verify and PublicKey.Verify under every accepted message type,
// and fails once the signature or the message changes.
func TestSignVerify(t *testing.T) {
	for _, spec := range signingSpecs {
		k := testKey(t, spec, SignVerify)
		spki := mustDER(t, k)
		pub, err := LoadPublic(spec, SignVerify, spki)
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range k.Info().Algorithms(SignVerify).Signing {
			for _, mt := range acceptedTypes(alg) {
				t.Run(string(spec)+"/"+string(alg)+"/"+string(mt), func(t *testing.T) {
					msg := randBytes(200)
					if alg == Ed25519PHSHA512 {
						msg = randBytes(64) // the client's DIGEST is the message Ed25519ph signs
					}
					in := input(t, alg, mt, spki, msg)
					sig, err := k.Sign(alg, mt, in)
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if !outsideVerify(t, spec, alg, spki, msg, sig) {
						t.Fatal("signature does not verify outside keyspec")
					}
					if outsideVerify(t, spec, alg, spki, flipBit(msg, 3), sig) {
						t.Fatal("signature verifies outside keyspec for another message")
					}
					for _, vt := range acceptedTypes(alg) {
						vin := input(t, alg, vt, spki, msg)
						for _, v := range []interface {
							Verify(Algorithm, MessageType, []byte, []byte) (bool, error)
						}{k, pub} {
							if ok, err := v.Verify(alg, vt, vin, sig); !ok || err != nil {
								t.Errorf("Verify(%s) = %v, %v; want true", vt, ok, err)
							}
							if ok, err := v.Verify(alg, vt, vin, flipBit(sig, len(sig)/2)); ok || err != nil {
								t.Errorf("Verify(%s) of a tampered signature = %v, %v; want false", vt, ok, err)
							}
							if ok, err := v.Verify(alg, vt, flipBit(vin, 0), sig); ok || err != nil {
								t.Errorf("Verify(%s) of a tampered message = %v, %v; want false", vt, ok, err)
							}
							if ok, err := v.Verify(alg, vt, vin, sig[:len(sig)-1]); ok || err != nil {
								t.Errorf("Verify(%s) of a truncated signature = %v, %v; want false", vt, ok, err)
							}
						}
					}
				})
			}
		}
	}
}

// TestSignRejects covers the errors of Sign and Verify for every signing
// spec: algorithms of other keys, unknown algorithms, message types the
// algorithm does not take, DIGESTs of the wrong length, oversize messages.
func TestSignRejects(t *testing.T) {
	for _, spec := range signingSpecs {
		k := testKey(t, spec, SignVerify)
		own := k.Info().Algorithms(SignVerify).Signing
		t.Run(string(spec), func(t *testing.T) {
			check := func(what string, alg Algorithm, mt MessageType, msg []byte, want string) {
				t.Helper()
				_, err := k.Sign(alg, mt, msg)
				if code(err) != want {
					t.Errorf("%s: Sign = %v, want %s", what, err, want)
				}
				ok, err := k.Verify(alg, mt, msg, make([]byte, 64))
				if ok || code(err) != want {
					t.Errorf("%s: Verify = %v, %v, want %s", what, ok, err, want)
				}
			}
			for _, alg := range awsSigningAlgorithms {
				if !slices.Contains(own, alg) {
					check("algorithm "+string(alg), alg, Raw, []byte("m"), CodeInvalidKeyUsage)
				}
			}
			for _, alg := range []Algorithm{"ECDSA_SHA_224", "ecdsa_sha_256", "", RSAESOAEPSHA256, HMACSHA256, ECDH} {
				check("unknown algorithm "+string(alg), alg, Raw, []byte("m"), CodeValidation)
			}
			for _, alg := range own {
				for _, mt := range awsMessageTypes {
					if !slices.Contains(acceptedTypes(alg), mt) {
						check(string(alg)+" with "+string(mt), alg, mt, make([]byte, 64), CodeValidation)
					}
				}
				check(string(alg)+" with message type raw", alg, "raw", []byte("m"), CodeValidation)
				if slices.Contains(acceptedTypes(alg), Raw) {
					check(string(alg)+" with 4097 bytes", alg, Raw, make([]byte, 4097), CodeValidation)
					check(string(alg)+" with an empty message", alg, Raw, nil, CodeValidation)
					if _, err := k.Sign(alg, "", make([]byte, 4096)); err != nil {
						t.Errorf("%s: 4096-byte message with the default message type: %v", alg, err)
					}
				}
				if slices.Contains(acceptedTypes(alg), Digest) {
					size := hashOf[alg].Size()
					check(string(alg)+" with a short DIGEST", alg, Digest, make([]byte, size-1), CodeValidation)
					check(string(alg)+" with a long DIGEST", alg, Digest, make([]byte, size+1), CodeValidation)
				}
				if slices.Contains(acceptedTypes(alg), ExternalMu) {
					check(string(alg)+" with a 32-byte μ", alg, ExternalMu, make([]byte, 32), CodeValidation)
				}
			}
		})
	}
}

// TestDigestEqualsRaw: for RSA and ECDSA, signing the DIGEST of a message
// is signing the message.
func TestDigestEqualsRaw(t *testing.T) {
	for _, spec := range []Spec{RSA2048, ECCNISTP384, ECCSECGP256K1} {
		k := testKey(t, spec, SignVerify)
		for _, alg := range k.Info().Algorithms(SignVerify).Signing {
			msg := []byte("the same message")
			sig, err := k.Sign(alg, Raw, msg)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := k.Verify(alg, Digest, digest(hashOf[alg], msg), sig); !ok || err != nil {
				t.Errorf("%s %s: RAW signature fails as DIGEST: %v, %v", spec, alg, ok, err)
			}
			// A DIGEST sent as RAW is hashed again: a different message.
			if ok, _ := k.Verify(alg, Raw, digest(hashOf[alg], msg), sig); ok {
				t.Errorf("%s %s: DIGEST sent as RAW verified", spec, alg)
			}
		}
	}
}

// TestEd25519PHHashesTwice: for ED25519_PH_SHA_512 with a DIGEST d, AWS
// signs Ed25519ph of the message d, whose prehash is SHA-512(d).
func TestEd25519PHHashesTwice(t *testing.T) {
	k := testKey(t, ECCNISTEdwards25519, SignVerify)
	priv, err := x509.ParsePKCS8PrivateKey(testMaterial(t, ECCNISTEdwards25519))
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum512([]byte("document"))
	sig, err := k.Sign(Ed25519PHSHA512, Digest, d[:])
	if err != nil {
		t.Fatal(err)
	}
	ph := sha512.Sum512(d[:])
	want, err := priv.(ed25519.PrivateKey).Sign(nil, ph[:], &ed25519.Options{Hash: crypto.SHA512})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sig, want) { // Ed25519ph is deterministic
		t.Error("ED25519_PH_SHA_512 signature is not Ed25519ph of the DIGEST")
	}
}

// TestMLDSAExternalMuMatchesRaw: a signature made from μ verifies as a
// signature of the message, and the other way round.
func TestMLDSAExternalMuMatchesRaw(t *testing.T) {
	for _, spec := range []Spec{MLDSA44, MLDSA65, MLDSA87} {
		k := testKey(t, spec, SignVerify)
		spki := mustDER(t, k)
		msg := randBytes(5000) // longer than RAW allows: the point of EXTERNAL_MU
		mu := pureMLDSAMu(t, spki, msg)
		sig, err := k.Sign(MLDSASHAKE256, ExternalMu, mu)
		if err != nil {
			t.Fatal(err)
		}
		if !outsideVerify(t, spec, MLDSASHAKE256, spki, msg, sig) {
			t.Errorf("%s: EXTERNAL_MU signature does not verify as a signature of the message", spec)
		}
		if _, err := k.Sign(MLDSASHAKE256, Raw, msg); code(err) != CodeValidation {
			t.Errorf("%s: RAW message of 5000 bytes: %v, want ValidationException", spec, err)
		}
	}
}

// TestSecp256k1LowS: signatures are canonical (S ≤ n/2) and DER.
func TestSecp256k1LowS(t *testing.T) {
	k := testKey(t, ECCSECGP256K1, SignVerify)
	half := new(big.Int).Rsh(k1N, 1)
	for i := range 20 {
		sig, err := k.Sign(ECDSASHA256, Raw, []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 {
			t.Fatalf("not DER: %v", err)
		}
		if rs.S.Cmp(half) > 0 {
			t.Fatal("high S")
		}
	}
}

// TestSecp256k1VerifyAcceptsHighS: a valid signature with S > n/2, as other
// signers may produce, still verifies (AWS does not demand low S).
func TestSecp256k1VerifyAcceptsHighS(t *testing.T) {
	k := testKey(t, ECCSECGP256K1, SignVerify)
	sig, _ := k.Sign(ECDSASHA256, Raw, []byte("m"))
	var rs struct{ R, S *big.Int }
	asn1.Unmarshal(sig, &rs)
	rs.S.Sub(k1N, rs.S)
	high, _ := asn1.Marshal(rs)
	if ok, err := k.Verify(ECDSASHA256, Raw, []byte("m"), high); !ok || err != nil {
		t.Errorf("high-S signature: %v, %v", ok, err)
	}
}

func TestWrongUsage(t *testing.T) {
	for _, tc := range []struct {
		spec  Spec
		usage Usage
	}{
		{RSA2048, EncryptDecrypt}, {ECCNISTP256, KeyAgreement}, {HMAC256, GenerateVerifyMAC}, {SymmetricDefault, EncryptDecrypt},
	} {
		k := testKey(t, tc.spec, tc.usage)
		alg := Algorithm(RSASSAPSSSHA256)
		if tc.spec == ECCNISTP256 {
			alg = ECDSASHA256
		}
		if _, err := k.Sign(alg, Raw, []byte("m")); code(err) != CodeInvalidKeyUsage {
			t.Errorf("%s %s: Sign = %v, want InvalidKeyUsageException", tc.spec, tc.usage, err)
		}
		if _, err := k.Verify(alg, Raw, []byte("m"), []byte("s")); code(err) != CodeInvalidKeyUsage {
			t.Errorf("%s %s: Verify = %v, want InvalidKeyUsageException", tc.spec, tc.usage, err)
		}
	}
}
