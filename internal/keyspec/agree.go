package keyspec

import (
	"crypto/ecdsa"
	"crypto/x509"
)

// DeriveSharedSecret runs ECDH between the key and the peer's public key,
// given as DER SubjectPublicKeyInfo, and returns the raw shared secret: the
// x-coordinate of the shared point, as long as a field element (32, 48 or 66
// bytes), as the DeriveSharedSecret operation does. The only algorithm is
// ECDH; the key's usage must be KEY_AGREEMENT (otherwise an
// InvalidKeyUsageException). A peer key that does not parse, is not an EC
// key, or lies on another curve is a ValidationException.
func (k *Key) DeriveSharedSecret(alg Algorithm, peerPublicKey []byte) ([]byte, error) {
	if _, err := k.info.checkAlgorithm(k.usage, KeyAgreement, classAgree, alg); err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKIXPublicKey(peerPublicKey)
	if err != nil {
		return nil, validationf("the peer PublicKey is not a DER SubjectPublicKeyInfo of a supported key")
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok || pub.Curve != k.ec.Curve {
		return nil, validationf("the peer PublicKey must be on the curve of KeySpec %s", k.info.spec)
	}
	peer, err := pub.ECDH()
	if err != nil {
		return nil, validationf("the peer PublicKey is not a valid point")
	}
	return k.ecdh.ECDH(peer)
}
