package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Helpers of the asymmetric and HMAC wire tests (asym_*_test.go). Whatever
// the service signs or publishes is checked here with implementations that
// share no code with the service's keyspec package's decisions: Go's
// crypto, circl's ML-DSA, decred's secp256k1, and hand-written ASN.1.

// createKeyOf creates a key of spec and usage and returns its id.
func createKeyOf(t testing.TB, c *kms.Client, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// publicKeyDER returns GetPublicKey's DER SubjectPublicKeyInfo of a key.
func publicKeyDER(t testing.TB, c *kms.Client, keyID string) []byte {
	t.Helper()
	out, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatalf("GetPublicKey %s: %v", keyID, err)
	}
	return out.PublicKey
}

// subjectPublicKeyInfo is RFC 5280's SubjectPublicKeyInfo, parsed by hand
// for the keys crypto/x509 does not know (secp256k1, ML-DSA).
type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	// ML-DSA, FIPS 204, as NIST registered them (RFC 9881).
	oidMLDSA = map[types.KeySpec]asn1.ObjectIdentifier{
		types.KeySpecMlDsa44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
		types.KeySpecMlDsa65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
		types.KeySpecMlDsa87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
	}
	mldsaSchemes = map[types.KeySpec]sign.Scheme{
		types.KeySpecMlDsa44: mldsa44.Scheme(),
		types.KeySpecMlDsa65: mldsa65.Scheme(),
		types.KeySpecMlDsa87: mldsa87.Scheme(),
	}
)

func parseSPKI(der []byte) (subjectPublicKeyInfo, error) {
	var s subjectPublicKeyInfo
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil {
		return s, err
	}
	if len(rest) != 0 {
		return s, errors.New("trailing data after SubjectPublicKeyInfo")
	}
	return s, nil
}

// secp256k1Public parses a secp256k1 SubjectPublicKeyInfo: id-ecPublicKey
// with the secp256k1 named curve.
func secp256k1Public(der []byte) (*secp256k1.PublicKey, error) {
	s, err := parseSPKI(der)
	if err != nil {
		return nil, err
	}
	var curve asn1.ObjectIdentifier
	if !s.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("algorithm %v, want id-ecPublicKey", s.Algorithm.Algorithm)
	}
	if _, err := asn1.Unmarshal(s.Algorithm.Parameters.FullBytes, &curve); err != nil || !curve.Equal(oidSecp256k1) {
		return nil, fmt.Errorf("curve %v, want secp256k1 (%v)", curve, err)
	}
	return secp256k1.ParsePubKey(s.PublicKey.Bytes)
}

// mldsaPublic parses an ML-DSA SubjectPublicKeyInfo (RFC 9881: the OID,
// absent parameters, the raw FIPS 204 public key).
func mldsaPublic(spec types.KeySpec, der []byte) (sign.PublicKey, error) {
	s, err := parseSPKI(der)
	if err != nil {
		return nil, err
	}
	if !s.Algorithm.Algorithm.Equal(oidMLDSA[spec]) || len(s.Algorithm.Parameters.FullBytes) != 0 {
		return nil, fmt.Errorf("algorithm %v with parameters %x, want %v without", s.Algorithm.Algorithm, s.Algorithm.Parameters.FullBytes, oidMLDSA[spec])
	}
	return mldsaSchemes[spec].UnmarshalBinaryPublicKey(s.PublicKey.Bytes)
}

// hashOf returns the hash of an RSA, ECDSA or Ed25519 signing algorithm.
func hashOf(alg types.SigningAlgorithmSpec) crypto.Hash {
	switch alg {
	case types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.SigningAlgorithmSpecEcdsaSha256:
		return crypto.SHA256
	case types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.SigningAlgorithmSpecEcdsaSha384:
		return crypto.SHA384
	case types.SigningAlgorithmSpecRsassaPssSha512, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512, types.SigningAlgorithmSpecEcdsaSha512,
		types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512:
		return crypto.SHA512
	}
	return 0
}

func digestOf(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

// mlDSAMu computes FIPS 204's μ for a message signed with an empty
// context: SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || msg, 64).
func mlDSAMu(pk sign.PublicKey, msg []byte) []byte {
	raw, _ := pk.MarshalBinary()
	tr := sha3.SumSHAKE256(raw, 64)
	h := sha3.NewSHAKE256()
	h.Write(tr)
	h.Write([]byte{0, 0})
	h.Write(msg)
	mu := make([]byte, 64)
	h.Read(mu)
	return mu
}

// signedMessage returns what to send as Message for a message type: the
// message itself (RAW), its hash (DIGEST) or ML-DSA's μ (EXTERNAL_MU).
func signedMessage(t testing.TB, spec types.KeySpec, der []byte, alg types.SigningAlgorithmSpec, mt types.MessageType, msg []byte) []byte {
	t.Helper()
	switch mt {
	case types.MessageTypeDigest:
		return digestOf(hashOf(alg), msg)
	case types.MessageTypeExternalMu:
		pk, err := mldsaPublic(spec, der)
		if err != nil {
			t.Fatal(err)
		}
		return mlDSAMu(pk, msg)
	}
	return msg
}

// verifyLocally verifies a signature of msg (the original message, whatever
// the message type it was signed as) made by a key of spec whose public key
// is der, without the service.
func verifyLocally(spec types.KeySpec, der []byte, alg types.SigningAlgorithmSpec, msg, sig []byte) error {
	h := hashOf(alg)
	switch spec {
	case types.KeySpecEccSecgP256k1:
		pub, err := secp256k1Public(der)
		if err != nil {
			return err
		}
		s, err := k1ecdsa.ParseDERSignature(sig)
		if err != nil {
			return err
		}
		if !s.Verify(digestOf(h, msg), pub) {
			return errors.New("secp256k1 signature does not verify")
		}
		return nil
	case types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87:
		pk, err := mldsaPublic(spec, der)
		if err != nil {
			return err
		}
		if !mldsaSchemes[spec].Verify(pk, msg, sig, nil) {
			return errors.New("ML-DSA signature does not verify")
		}
		return nil
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return err
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPssSha512:
			// AWS's PSS salt is as long as the hash; insist on it.
			return rsa.VerifyPSS(pub, h, digestOf(h, msg), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.VerifyPKCS1v15(pub, h, digestOf(h, msg), sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digestOf(h, msg), sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case ed25519.PublicKey:
		if alg == types.SigningAlgorithmSpecEd25519PhSha512 {
			// Ed25519ph (RFC 8032) of the 64-byte SHA-512 digest that
			// was sent as the DIGEST message: the prehash is its
			// SHA-512.
			d := sha512.Sum512(msg)
			ph := sha512.Sum512(d[:])
			return ed25519.VerifyWithOptions(pub, ph[:], sig, &ed25519.Options{Hash: crypto.SHA512})
		}
		if !ed25519.Verify(pub, msg, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unexpected public key type %T", pub)
}

// pkcs8 and ecPrivateKey parse a secp256k1 PKCS#8 private key (RFC 5208,
// RFC 5915), which crypto/x509 does not read.
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// publicOfPrivate derives the SubjectPublicKeyInfo of a PKCS#8 private key
// of a data key pair spec.
func publicOfPrivate(spec types.DataKeyPairSpec, private []byte) ([]byte, error) {
	if spec == types.DataKeyPairSpecEccSecgP256k1 {
		var p pkcs8
		if _, err := asn1.Unmarshal(private, &p); err != nil {
			return nil, err
		}
		var ec ecPrivateKey
		if _, err := asn1.Unmarshal(p.PrivateKey, &ec); err != nil {
			return nil, err
		}
		pub := secp256k1.PrivKeyFromBytes(ec.PrivateKey).PubKey()
		params, _ := asn1.Marshal(oidSecp256k1)
		return asn1.Marshal(subjectPublicKeyInfo{
			Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
			PublicKey: asn1.BitString{Bytes: pub.SerializeUncompressed(), BitLength: 65 * 8},
		})
	}
	priv, err := x509.ParsePKCS8PrivateKey(private)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T is not a signer", priv)
	}
	return x509.MarshalPKIXPublicKey(signer.Public())
}
