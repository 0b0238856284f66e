package keyspec

import (
	"bytes"
	"crypto/sha3"
	"crypto/x509/pkix"
	"encoding/asn1"

	"github.com/cloudflare/circl/sign"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// PKCS#8 and SubjectPublicKeyInfo for the key types crypto/x509 does not
// know: secp256k1 (RFC 5915 inside RFC 5208, as OpenSSL writes it) and
// ML-DSA (RFC 9881).

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidMLDSA44     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	oidMLDSA65     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	oidMLDSA87     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}
)

// oneAsymmetricKey is PKCS#8 PrivateKeyInfo (RFC 5208), read leniently
// enough to take RFC 5958 version 1 encodings too.
type oneAsymmetricKey struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
	PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
}

type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// ecPrivateKey is RFC 5915's ECPrivateKey.
type ecPrivateKey struct {
	Version       int
	PrivateKey    []byte
	NamedCurveOID asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey     asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// unmarshalStrict parses exactly one DER value filling v.
func unmarshalStrict(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return asn1.SyntaxError{Msg: "trailing data"}
	}
	return nil
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // only fixed, well-formed structures are marshalled
	}
	return b
}

func secp256k1AlgorithmIdentifier() pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{
		Algorithm:  oidECPublicKey,
		Parameters: asn1.RawValue{FullBytes: mustMarshal(oidSecp256k1)},
	}
}

func marshalSPKI(alg pkix.AlgorithmIdentifier, key []byte) []byte {
	return mustMarshal(subjectPublicKeyInfo{
		Algorithm: alg,
		PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)},
	})
}

// parseSPKI returns the algorithm and the key bits of a SubjectPublicKeyInfo.
func parseSPKI(der []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	var spki subjectPublicKeyInfo
	if err := unmarshalStrict(der, &spki); err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	if spki.PublicKey.BitLength != 8*len(spki.PublicKey.Bytes) {
		return pkix.AlgorithmIdentifier{}, nil, asn1.StructuralError{Msg: "public key is not a whole number of bytes"}
	}
	return spki.Algorithm, spki.PublicKey.Bytes, nil
}

func isSecp256k1Algorithm(alg pkix.AlgorithmIdentifier) bool {
	if !alg.Algorithm.Equal(oidECPublicKey) {
		return false
	}
	var curve asn1.ObjectIdentifier
	return unmarshalStrict(alg.Parameters.FullBytes, &curve) == nil && curve.Equal(oidSecp256k1)
}

func marshalSecp256k1PKCS8(k *secp256k1.PrivateKey) []byte {
	scalar := k.Key.Bytes()
	pub := k.PubKey().SerializeUncompressed()
	inner := mustMarshal(ecPrivateKey{
		Version:    1,
		PrivateKey: scalar[:],
		PublicKey:  asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)},
	})
	clear(scalar[:])
	return mustMarshal(oneAsymmetricKey{Algorithm: secp256k1AlgorithmIdentifier(), PrivateKey: inner})
}

func parseSecp256k1PKCS8(der []byte) (*secp256k1.PrivateKey, error) {
	var p8 oneAsymmetricKey
	if err := unmarshalStrict(der, &p8); err != nil {
		return nil, malformedf("not PKCS#8: %v", err)
	}
	if (p8.Version != 0 && p8.Version != 1) || !isSecp256k1Algorithm(p8.Algorithm) {
		return nil, malformedf("not a secp256k1 PKCS#8 key")
	}
	var ec ecPrivateKey
	if err := unmarshalStrict(p8.PrivateKey, &ec); err != nil {
		return nil, malformedf("not an RFC 5915 ECPrivateKey: %v", err)
	}
	if ec.Version != 1 || len(ec.PrivateKey) != 32 {
		return nil, malformedf("secp256k1 private key must be version 1 with 32 bytes")
	}
	if ec.NamedCurveOID != nil && !ec.NamedCurveOID.Equal(oidSecp256k1) {
		return nil, malformedf("ECPrivateKey names another curve")
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(ec.PrivateKey); overflow || s.IsZero() {
		return nil, malformedf("secp256k1 private scalar out of range")
	}
	k := secp256k1.NewPrivateKey(&s)
	if len(ec.PublicKey.Bytes) != 0 {
		pub, err := secp256k1.ParsePubKey(ec.PublicKey.Bytes)
		if err != nil || !pub.IsEqual(k.PubKey()) {
			return nil, malformedf("ECPrivateKey public key does not match the private key")
		}
	}
	return k, nil
}

func marshalSecp256k1SPKI(pub *secp256k1.PublicKey) []byte {
	return marshalSPKI(secp256k1AlgorithmIdentifier(), pub.SerializeUncompressed())
}

// marshalMLDSAPKCS8 encodes the seed form of RFC 9881:
// ML-DSA-PrivateKey ::= seed [0] IMPLICIT OCTET STRING (SIZE (32)).
func marshalMLDSAPKCS8(ml *mldsaScheme, seed []byte) []byte {
	inner := mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: seed})
	return mustMarshal(oneAsymmetricKey{
		Algorithm:  pkix.AlgorithmIdentifier{Algorithm: ml.oid},
		PrivateKey: inner,
	})
}

// parseMLDSAPKCS8 accepts the three private key forms of RFC 9881 (seed,
// expandedKey, both) and returns the seed, if present, and the expanded
// (FIPS 204 skEncode) key. For "both", the two must agree; for an expanded
// key alone, its tr must be the hash of the public key it implies.
func parseMLDSAPKCS8(ml *mldsaScheme, der []byte) (seed, expanded []byte, err error) {
	var p8 oneAsymmetricKey
	if err := unmarshalStrict(der, &p8); err != nil {
		return nil, nil, malformedf("not PKCS#8: %v", err)
	}
	if (p8.Version != 0 && p8.Version != 1) || !p8.Algorithm.Algorithm.Equal(ml.oid) || len(p8.Algorithm.Parameters.FullBytes) != 0 {
		return nil, nil, malformedf("not an %s PKCS#8 key", ml.params)
	}
	var choice asn1.RawValue
	if err := unmarshalStrict(p8.PrivateKey, &choice); err != nil {
		return nil, nil, malformedf("ML-DSA private key: %v", err)
	}
	switch {
	case choice.Class == asn1.ClassContextSpecific && choice.Tag == 0 && !choice.IsCompound:
		seed = choice.Bytes
	case choice.Class == asn1.ClassUniversal && choice.Tag == asn1.TagOctetString && !choice.IsCompound:
		expanded = choice.Bytes
	case choice.Class == asn1.ClassUniversal && choice.Tag == asn1.TagSequence:
		var both struct{ Seed, Expanded []byte }
		if err := unmarshalStrict(choice.FullBytes, &both); err != nil {
			return nil, nil, malformedf("ML-DSA private key: %v", err)
		}
		seed, expanded = both.Seed, both.Expanded
	default:
		return nil, nil, malformedf("ML-DSA private key is neither seed, expandedKey nor both")
	}
	if seed != nil && len(seed) != 32 {
		return nil, nil, malformedf("ML-DSA seed must be 32 bytes")
	}
	if expanded != nil && len(expanded) != ml.params.PrivateKeySize() {
		return nil, nil, malformedf("%s expanded key must be %d bytes", ml.params, ml.params.PrivateKeySize())
	}
	if seed != nil {
		_, sk := ml.scheme.DeriveKey(seed)
		derived, _ := sk.MarshalBinary()
		if expanded != nil && !bytes.Equal(derived, expanded) {
			return nil, nil, malformedf("ML-DSA seed and expanded key disagree")
		}
		return seed, derived, nil
	}
	sk, err := ml.scheme.UnmarshalBinaryPrivateKey(expanded)
	if err != nil {
		return nil, nil, malformedf("ML-DSA expanded key: %v", err)
	}
	repacked, _ := sk.MarshalBinary()
	pk, _ := sk.Public().(sign.PublicKey).MarshalBinary()
	if !bytes.Equal(repacked, expanded) || !bytes.Equal(sha3.SumSHAKE256(pk, 64), expanded[64:128]) {
		return nil, nil, malformedf("ML-DSA expanded key is inconsistent")
	}
	return nil, expanded, nil
}

// algorithmIdentifier is an AlgorithmIdentifier with absent parameters.
func algorithmIdentifier(oid asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid}
}
