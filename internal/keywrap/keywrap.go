// Package keywrap implements AES Key Wrap with Padding (RFC 5649, NIST SP
// 800-38F "KWP"), the symmetric half of AWS KMS's RSA_AES_KEY_WRAP_SHA_1 and
// RSA_AES_KEY_WRAP_SHA_256 import wrapping algorithms (PKCS #11
// CKM_RSA_AES_KEY_WRAP): the key material is wrapped under a fresh AES key,
// and that AES key is encrypted with RSAES-OAEP.
//
// It is pure: no I/O, no randomness. Wrap is deterministic, as RFC 5649
// specifies. Unwrap fails with the one error ErrUnwrap whatever is wrong
// (length, integrity check, padding), and returns no partial output.
package keywrap

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrUnwrap is returned by Unwrap for any input that does not unwrap under
// the key: wrong key, corrupted or truncated ciphertext, bad padding.
var ErrUnwrap = errors.New("keywrap: ciphertext does not unwrap")

// aivPrefix is RFC 5649's Alternative Initial Value constant (section 3).
const aivPrefix = 0xA65959A6

// maxPlaintext is RFC 5649's limit: the message length indicator is 32 bits.
const maxPlaintext = 1<<32 - 1

// Wrap wraps plaintext (1 to 2^32-1 bytes) under kek, an AES key of 16, 24
// or 32 bytes. The output is 8 bytes longer than plaintext rounded up to a
// multiple of 8.
func Wrap(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keywrap: %w", err)
	}
	n := len(plaintext)
	if n == 0 || uint64(n) > maxPlaintext {
		return nil, fmt.Errorf("keywrap: plaintext length %d is outside 1 to 2^32-1 bytes", n)
	}
	padded := (n + 7) / 8 * 8
	out := make([]byte, 8+padded)
	binary.BigEndian.PutUint32(out[0:4], aivPrefix)
	binary.BigEndian.PutUint32(out[4:8], uint32(n))
	copy(out[8:], plaintext) // the padding stays zero
	if padded == 8 {
		// One 64-bit block: a single AES encryption of AIV || P (section 4.1).
		block.Encrypt(out, out)
		return out, nil
	}
	// RFC 3394's wrapping process W with the AIV as its initial value.
	var b [16]byte
	blocks := padded / 8
	for j := range 6 {
		for i := 1; i <= blocks; i++ {
			copy(b[0:8], out[0:8])
			copy(b[8:16], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(blocks*j + i)
			binary.BigEndian.PutUint64(out[0:8], binary.BigEndian.Uint64(b[0:8])^t)
			copy(out[8*i:8*i+8], b[8:16])
		}
	}
	return out, nil
}

// Unwrap reverses Wrap. Any failure is ErrUnwrap, except a kek of the wrong
// size, which is a caller's mistake and described as such.
func Unwrap(kek, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keywrap: %w", err)
	}
	if len(ciphertext) < 16 || len(ciphertext)%8 != 0 {
		return nil, ErrUnwrap
	}
	buf := make([]byte, len(ciphertext))
	copy(buf, ciphertext)
	blocks := len(buf)/8 - 1
	if blocks == 1 {
		block.Decrypt(buf, buf)
	} else {
		// RFC 3394's unwrapping process W^-1.
		var b [16]byte
		for j := 5; j >= 0; j-- {
			for i := blocks; i >= 1; i-- {
				t := uint64(blocks*j + i)
				binary.BigEndian.PutUint64(b[0:8], binary.BigEndian.Uint64(buf[0:8])^t)
				copy(b[8:16], buf[8*i:8*i+8])
				block.Decrypt(b[:], b[:])
				copy(buf[0:8], b[0:8])
				copy(buf[8*i:8*i+8], b[8:16])
			}
		}
	}
	// Section 3: check the AIV, the length indicator and the zero padding,
	// and only then say whether it failed.
	ok := subtle.ConstantTimeCompare(buf[0:4], []byte{0xA6, 0x59, 0x59, 0xA6})
	mli := uint64(binary.BigEndian.Uint32(buf[4:8]))
	padded := uint64(8 * blocks)
	n := int(min(mli, padded))
	if mli+8 <= padded || mli > padded {
		ok = 0
	}
	var pad byte
	for _, c := range buf[8+n:] {
		pad |= c
	}
	ok &= subtle.ConstantTimeByteEq(pad, 0)
	if ok != 1 {
		clear(buf)
		return nil, ErrUnwrap
	}
	out := make([]byte, n)
	copy(out, buf[8:8+n])
	clear(buf)
	return out, nil
}
