package keyspec

import (
	"encoding/asn1"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"strongroom/internal/keyspec/internal/mldsa"
)

// mldsaScheme ties one ML-DSA parameter set to its OID (RFC 9881), to
// circl (key generation, RAW signing and verification) and to the internal
// μ-based implementation (EXTERNAL_MU).
type mldsaScheme struct {
	oid    asn1.ObjectIdentifier
	params *mldsa.Params
	scheme sign.Scheme
	// signTo writes a hedged (randomized) pure ML-DSA signature of msg with
	// an empty context string into sig.
	signTo func(sk sign.PrivateKey, msg, sig []byte) error
}

var (
	mldsa44Scheme = &mldsaScheme{oidMLDSA44, mldsa.MLDSA44, mldsa44.Scheme(),
		func(sk sign.PrivateKey, msg, sig []byte) error {
			return mldsa44.SignTo(sk.(*mldsa44.PrivateKey), msg, nil, true, sig)
		}}
	mldsa65Scheme = &mldsaScheme{oidMLDSA65, mldsa.MLDSA65, mldsa65.Scheme(),
		func(sk sign.PrivateKey, msg, sig []byte) error {
			return mldsa65.SignTo(sk.(*mldsa65.PrivateKey), msg, nil, true, sig)
		}}
	mldsa87Scheme = &mldsaScheme{oidMLDSA87, mldsa.MLDSA87, mldsa87.Scheme(),
		func(sk sign.PrivateKey, msg, sig []byte) error {
			return mldsa87.SignTo(sk.(*mldsa87.PrivateKey), msg, nil, true, sig)
		}}
)
