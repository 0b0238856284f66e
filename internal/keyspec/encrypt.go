package keyspec

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
)

// errSymmetric is returned when Encrypt or Decrypt is asked for
// SYMMETRIC_DEFAULT: that is the ciphertext blob's job, not this package's.
var errSymmetric = errors.New("keyspec: SYMMETRIC_DEFAULT encryption is done by the ciphertext format, not keyspec")

// Encrypt encrypts plaintext with RSAES-OAEP (MGF1 with the same hash, no
// label), as the Encrypt operation does with an RSA key. The plaintext must
// have 1 to Info.MaxPlaintext(alg) bytes, or it is a ValidationException.
// An algorithm outside AWS's enumeration is a ValidationException; a key
// whose usage is not ENCRYPT_DECRYPT, or an algorithm its spec does not
// support, an InvalidKeyUsageException. For SYMMETRIC_DEFAULT keys Encrypt
// returns an error without an AWS code: their ciphertext is made elsewhere.
func (k *Key) Encrypt(alg Algorithm, plaintext []byte) ([]byte, error) {
	if k.pub == nil {
		if _, err := k.info.checkAlgorithm(k.usage, EncryptDecrypt, classEncrypt, alg); err != nil {
			return nil, err
		}
		return nil, errSymmetric
	}
	return k.pub.Encrypt(alg, plaintext)
}

// Encrypt is Key.Encrypt with the public key alone.
func (p *PublicKey) Encrypt(alg Algorithm, plaintext []byte) ([]byte, error) {
	ai, err := p.info.checkAlgorithm(p.usage, EncryptDecrypt, classEncrypt, alg)
	if err != nil {
		return nil, err
	}
	if limit := p.info.MaxPlaintext(alg); len(plaintext) < 1 || len(plaintext) > limit {
		return nil, validationf("the plaintext for %s with %s must have 1 to %d bytes; it has %d", alg, p.info.spec, limit, len(plaintext))
	}
	return rsa.EncryptOAEP(ai.hash.New(), rand.Reader, p.rsa, plaintext, nil)
}

// Decrypt reverses Encrypt (or any RSAES-OAEP encryption with the public
// key, such as OpenSSL's or Go's). The algorithm is checked as for Encrypt;
// then a ciphertext that does not decrypt, for whatever reason, returns
// ErrInvalidCiphertext and nothing else.
func (k *Key) Decrypt(alg Algorithm, ciphertext []byte) ([]byte, error) {
	ai, err := k.info.checkAlgorithm(k.usage, EncryptDecrypt, classEncrypt, alg)
	if err != nil {
		return nil, err
	}
	if k.rsa == nil {
		return nil, errSymmetric
	}
	plaintext, err := rsa.DecryptOAEP(ai.hash.New(), nil, k.rsa, ciphertext, nil)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return plaintext, nil
}
