package rootkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// sealVersion is the first byte of every sealed value made by aeadSealer.
const sealVersion = 0x01

// aeadSealer seals with AES-256-GCM under a key derived from a 256-bit root
// secret. The file and passphrase roots share it; they differ only in where
// the root secret comes from.
type aeadSealer struct {
	name  string
	aead  cipher.AEAD
	check string
}

func newAEADSealer(name string, root []byte) (*aeadSealer, error) {
	if len(root) != 32 {
		return nil, errors.New("rootkey: root secret must be 32 bytes")
	}
	k, err := hkdf.Key(sha256.New, root, nil, "strongroom/rootkey/seal/v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	clear(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, root)
	m.Write([]byte("strongroom/rootkey/check-value/v1"))
	return &aeadSealer{name: name, aead: aead, check: hex.EncodeToString(m.Sum(nil)[:16])}, nil
}

func (s *aeadSealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+12, 1+12+len(plaintext)+16)
	out[0] = sealVersion
	if _, err := rand.Read(out[1:13]); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[1:13], plaintext, append([]byte{sealVersion}, aad...)), nil
}

func (s *aeadSealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+12+16 || sealed[0] != sealVersion {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[1:13], sealed[13:], append([]byte{sealVersion}, aad...))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func (s *aeadSealer) CheckValue() string { return s.check }
func (s *aeadSealer) Name() string       { return s.name }
