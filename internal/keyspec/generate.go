package keyspec

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Generate creates new key material for a spec, in the formats Load takes:
//   - SYMMETRIC_DEFAULT: 32 random bytes (AES-256; the ciphertext format
//     that uses them lives elsewhere);
//   - HMAC_224, HMAC_256, HMAC_384, HMAC_512: 28, 32, 48 or 64 random bytes,
//     the key length AWS documents (equal to the hash's output);
//   - RSA, NIST curves, Ed25519: PKCS#8 DER as crypto/x509 writes it
//     (Ed25519 per RFC 8410, holding the 32-byte seed);
//   - ECC_SECG_P256K1: PKCS#8 DER holding an RFC 5915 ECPrivateKey with its
//     public key, as OpenSSL writes it;
//   - ML-DSA: PKCS#8 DER in the seed form of RFC 9881 (the 32-byte seed
//     ξ of FIPS 204 key generation).
func Generate(spec Spec) ([]byte, error) {
	info, err := Lookup(string(spec))
	if err != nil {
		return nil, err
	}
	switch info.kind {
	case kindSymmetric, kindHMAC:
		return randomBytes(info.bits / 8), nil
	case kindRSA:
		priv, err := rsa.GenerateKey(rand.Reader, info.bits)
		if err != nil {
			return nil, fmt.Errorf("keyspec: generating %s: %w", spec, err)
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	case kindNIST:
		priv, err := ecdsa.GenerateKey(info.curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keyspec: generating %s: %w", spec, err)
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	case kindSecp256k1:
		priv, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return nil, fmt.Errorf("keyspec: generating %s: %w", spec, err)
		}
		defer priv.Zero()
		return marshalSecp256k1PKCS8(priv), nil
	case kindEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keyspec: generating %s: %w", spec, err)
		}
		defer clear(priv)
		return x509.MarshalPKCS8PrivateKey(priv)
	case kindMLDSA:
		seed := randomBytes(32)
		defer clear(seed)
		return marshalMLDSAPKCS8(info.ml, seed), nil
	}
	panic("keyspec: no generator for " + string(spec))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

// dataKeyPairSpecs are the values of GenerateDataKeyPair's KeyPairSpec
// (DataKeyPairSpec) served here.
var dataKeyPairSpecs = map[Spec]bool{
	RSA2048: true, RSA3072: true, RSA4096: true,
	ECCNISTP256: true, ECCNISTP384: true, ECCNISTP521: true,
	ECCSECGP256K1: true, ECCNISTEdwards25519: true,
}

// GenerateDataKeyPair creates a data key pair for GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext: the private key as PKCS#8 DER and
// the public key as SubjectPublicKeyInfo DER, as AWS returns them. pairSpec
// is a DataKeyPairSpec: RSA_2048/3072/4096, ECC_NIST_P256/384/521,
// ECC_SECG_P256K1 or ECC_NIST_EDWARDS25519. SM2 is an
// UnsupportedOperationException; anything else a ValidationException.
func GenerateDataKeyPair(pairSpec string) (private, public []byte, err error) {
	spec := Spec(pairSpec)
	if spec == SM2 {
		return nil, nil, &Error{CodeUnsupportedOperation, "KeyPairSpec SM2 is not supported in this Region"}
	}
	if !dataKeyPairSpecs[spec] {
		return nil, nil, validationf("unknown KeyPairSpec %q", pairSpec)
	}
	private, err = Generate(spec)
	if err != nil {
		return nil, nil, err
	}
	k, err := parsePrivate(specTable[spec], private)
	if err != nil {
		return nil, nil, err
	}
	return private, k.pub.DER(), nil
}
