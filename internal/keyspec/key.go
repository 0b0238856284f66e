package keyspec

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"log/slog"

	"github.com/cloudflare/circl/sign"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Key is parsed key material of one spec and usage, ready for every
// operation its usage allows. Parsing (PKCS#8, RSA precomputation, ML-DSA
// expansion) happens once in Load, so a caller caching unsealed keys should
// cache the *Key. A Key is immutable and safe for concurrent use.
//
// A Key holds secrets. It prints as REDACTED; but Go cannot promise to erase
// memory, so the aim is only few copies with short lives: Load copies what it
// keeps, and the caller may clear the material it passed in.
type Key struct {
	info  *Info
	usage Usage
	pub   *PublicKey // nil for SYMMETRIC_DEFAULT and HMAC keys

	rsa        *rsa.PrivateKey
	ec         *ecdsa.PrivateKey
	ecdh       *ecdh.PrivateKey // NIST keys with usage KEY_AGREEMENT
	k1         *secp256k1.PrivateKey
	ed         ed25519.PrivateKey
	ml         sign.PrivateKey
	mlExpanded []byte // FIPS 204 skEncode, for EXTERNAL_MU
	secret     []byte // HMAC and SYMMETRIC_DEFAULT
}

// PublicKey is the public half of an asymmetric key: enough to verify
// signatures and to encrypt, as Verify and Encrypt (and anyone holding the
// GetPublicKey output) can. Immutable and safe for concurrent use.
type PublicKey struct {
	info  *Info
	usage Usage
	der   []byte // SubjectPublicKeyInfo

	rsa   *rsa.PublicKey
	ec    *ecdsa.PublicKey
	k1    *secp256k1.PublicKey
	ed    ed25519.PublicKey
	ml    sign.PublicKey
	mlRaw []byte // FIPS 204 pkEncode
}

// Load parses key material of the given spec for a key with the given
// usage. The material is what Generate returns (or, for imported keys, the
// same formats): PKCS#8 DER for asymmetric specs; the raw key for HMAC specs,
// at least as long as a generated one (28, 32, 48, 64 bytes; longer keys are
// hashed by HMAC, as RFC 2104 says); 32 bytes for SYMMETRIC_DEFAULT. Load
// keeps no reference to material.
//
// A spec or usage the rules refuse returns their error (see Lookup and
// Info.CheckUsage); material that does not parse or does not fit the spec
// returns an error wrapping ErrMalformedKey.
func Load(spec Spec, usage Usage, material []byte) (*Key, error) {
	info, err := Lookup(string(spec))
	if err != nil {
		return nil, err
	}
	if err := info.CheckUsage(usage); err != nil {
		return nil, err
	}
	k, err := parsePrivate(info, material)
	if err != nil {
		return nil, err
	}
	k.usage = usage
	if k.pub != nil {
		k.pub.usage = usage
	}
	if info.kind == kindNIST && usage == KeyAgreement {
		if k.ecdh, err = k.ec.ECDH(); err != nil {
			return nil, malformedf("%v", err)
		}
	}
	return k, nil
}

func parsePrivate(info *Info, material []byte) (*Key, error) {
	k := &Key{info: info}
	switch info.kind {
	case kindSymmetric:
		if len(material) != info.bits/8 {
			return nil, malformedf("%s key must be %d bytes", info.spec, info.bits/8)
		}
		k.secret = bytes.Clone(material)
		return k, nil
	case kindHMAC:
		if len(material) < info.bits/8 {
			return nil, malformedf("%s key must have at least %d bytes", info.spec, info.bits/8)
		}
		k.secret = bytes.Clone(material)
		return k, nil
	case kindSecp256k1:
		priv, err := parseSecp256k1PKCS8(material)
		if err != nil {
			return nil, err
		}
		k.k1 = priv
		pub := priv.PubKey()
		k.pub = &PublicKey{info: info, k1: pub, der: marshalSecp256k1SPKI(pub)}
		return k, nil
	case kindMLDSA:
		_, expanded, err := parseMLDSAPKCS8(info.ml, material)
		if err != nil {
			return nil, err
		}
		sk, err := info.ml.scheme.UnmarshalBinaryPrivateKey(expanded)
		if err != nil {
			return nil, malformedf("%v", err)
		}
		pk := sk.Public().(sign.PublicKey)
		raw, _ := pk.MarshalBinary()
		k.ml, k.mlExpanded = sk, expanded
		k.pub = &PublicKey{info: info, ml: pk, mlRaw: raw,
			der: marshalSPKI(algorithmIdentifier(info.ml.oid), raw)}
		return k, nil
	}

	parsed, err := x509.ParsePKCS8PrivateKey(material)
	if err != nil {
		return nil, malformedf("%v", err)
	}
	switch priv := parsed.(type) {
	case *rsa.PrivateKey:
		if info.kind != kindRSA || priv.N.BitLen() != info.bits {
			break
		}
		k.rsa = priv
		return k, k.setPublic(&priv.PublicKey)
	case *ecdsa.PrivateKey:
		if info.kind != kindNIST || priv.Curve != info.curve {
			break
		}
		k.ec = priv
		return k, k.setPublic(&priv.PublicKey)
	case ed25519.PrivateKey:
		if info.kind != kindEd25519 {
			break
		}
		k.ed = priv
		return k, k.setPublic(priv.Public())
	}
	return nil, malformedf("PKCS#8 key (%T) does not fit key spec %s", parsed, info.spec)
}

func (k *Key) setPublic(pub any) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return malformedf("%v", err)
	}
	p := &PublicKey{info: k.info, der: der}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		p.rsa = pub
	case *ecdsa.PublicKey:
		p.ec = pub
	case ed25519.PublicKey:
		p.ed = pub
	}
	k.pub = p
	return nil
}

// LoadPublic parses a SubjectPublicKeyInfo DER public key of the given spec
// for a key with the given usage, as GetPublicKey returns it. Errors are as
// for Load.
func LoadPublic(spec Spec, usage Usage, der []byte) (*PublicKey, error) {
	info, err := Lookup(string(spec))
	if err != nil {
		return nil, err
	}
	if err := info.CheckUsage(usage); err != nil {
		return nil, err
	}
	if !info.Asymmetric() {
		return nil, malformedf("key spec %s has no public key", spec)
	}
	p, err := parsePublic(info, der)
	if err != nil {
		return nil, err
	}
	p.usage = usage
	return p, nil
}

func parsePublic(info *Info, der []byte) (*PublicKey, error) {
	p := &PublicKey{info: info, der: bytes.Clone(der)}
	switch info.kind {
	case kindSecp256k1, kindMLDSA:
		alg, raw, err := parseSPKI(der)
		if err != nil {
			return nil, malformedf("not a SubjectPublicKeyInfo: %v", err)
		}
		if info.kind == kindSecp256k1 {
			if !isSecp256k1Algorithm(alg) {
				return nil, malformedf("not a secp256k1 public key")
			}
			if p.k1, err = secp256k1.ParsePubKey(raw); err != nil {
				return nil, malformedf("%v", err)
			}
			p.der = marshalSecp256k1SPKI(p.k1) // canonical: uncompressed
			return p, nil
		}
		if !alg.Algorithm.Equal(info.ml.oid) || len(alg.Parameters.FullBytes) != 0 {
			return nil, malformedf("not an %s public key", info.ml.params)
		}
		if p.ml, err = info.ml.scheme.UnmarshalBinaryPublicKey(raw); err != nil {
			return nil, malformedf("%v", err)
		}
		p.mlRaw = bytes.Clone(raw)
		return p, nil
	}
	parsed, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, malformedf("%v", err)
	}
	switch pub := parsed.(type) {
	case *rsa.PublicKey:
		if info.kind == kindRSA && pub.N.BitLen() == info.bits {
			p.rsa = pub
			return p, nil
		}
	case *ecdsa.PublicKey:
		if info.kind == kindNIST && pub.Curve == info.curve {
			p.ec = pub
			return p, nil
		}
	case ed25519.PublicKey:
		if info.kind == kindEd25519 {
			p.ed = pub
			return p, nil
		}
	}
	return nil, malformedf("public key (%T) does not fit key spec %s", parsed, info.spec)
}

// Info returns the rules of the key's spec.
func (k *Key) Info() *Info { return k.info }

// Spec returns the key's spec.
func (k *Key) Spec() Spec { return k.info.spec }

// Usage returns the key's usage.
func (k *Key) Usage() Usage { return k.usage }

// Public returns the key's public half, or nil for SYMMETRIC_DEFAULT and
// HMAC keys.
func (k *Key) Public() *PublicKey { return k.pub }

// PublicKeyDER returns the public key as DER SubjectPublicKeyInfo, exactly
// what GetPublicKey returns: RSA and NIST curves as crypto/x509 writes them,
// secp256k1 as id-ecPublicKey with the secp256k1 named curve and an
// uncompressed point, Ed25519 per RFC 8410, ML-DSA per RFC 9881. Symmetric
// keys have none: UnsupportedOperationException, as AWS answers.
func (k *Key) PublicKeyDER() ([]byte, error) {
	if k.pub == nil {
		return nil, &Error{CodeUnsupportedOperation, fmt.Sprintf("GetPublicKey is not supported for %s keys", k.info.spec)}
	}
	return k.pub.DER(), nil
}

// String prints the spec and usage, never the key.
func (k *Key) String() string {
	return fmt.Sprintf("keyspec.Key{%s %s REDACTED}", k.info.spec, k.usage)
}

// GoString is String, so that %#v does not print the key either.
func (k *Key) GoString() string { return k.String() }

// LogValue logs the spec and usage only.
func (k *Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("spec", string(k.info.spec)), slog.String("usage", string(k.usage)))
}

// Info returns the rules of the key's spec.
func (p *PublicKey) Info() *Info { return p.info }

// Usage returns the key's usage.
func (p *PublicKey) Usage() Usage { return p.usage }

// DER returns the SubjectPublicKeyInfo DER encoding (a copy).
func (p *PublicKey) DER() []byte { return bytes.Clone(p.der) }
