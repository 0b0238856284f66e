// Package ciphertext owns the format of the ciphertext blobs that Encrypt,
// GenerateDataKey and ReEncrypt return and Decrypt accepts. A blob is
// self-describing: it names the account, key id and key-material version that
// sealed it, so Decrypt needs no KeyId. The format is versioned, canonical
// (Marshal(Parse(b)) == b for every accepted b) and fuzzed.
//
// Layout of version 1 (all integers big-endian), documented in
// docs/ciphertext-format.md:
//
//	offset  size  field
//	0       1     format version, 0x01
//	1       12    account id, 12 ASCII digits
//	13      1     key id length n (1..64)
//	14      n     key id, ASCII
//	14+n    4     key-material version (uint32)
//	18+n    16    salt for the per-message key derivation
//	34+n    12    AES-GCM nonce
//	46+n    m     AES-256-GCM ciphertext and 16-byte tag (m >= 16)
//
// The per-message key is HKDF-SHA256(material, salt, "strongroom/blob/v1"),
// so a key's material never meets AES-GCM's random-nonce limit. The GCM
// additional data is the header (bytes 0 .. 46+n) followed by the canonical
// encoding of the encryption context, so neither can be changed without
// Open failing.
package ciphertext

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
)

// Version1 is the current format version.
const Version1 = 0x01

const (
	accountLen = 12
	saltLen    = 16
	nonceLen   = 12
	tagLen     = 16
	maxKeyID   = 64
	// Overhead is the blob size minus the plaintext size, for a key id of
	// length n: Overhead + n.
	Overhead = 1 + accountLen + 1 + 4 + saltLen + nonceLen + tagLen
)

// ErrMalformed is returned for any blob that does not parse. ErrOpen is
// returned when a well-formed blob fails to authenticate. Callers answer both
// with the same opaque InvalidCiphertextException.
var (
	ErrMalformed = errors.New("ciphertext: malformed blob")
	ErrOpen      = errors.New("ciphertext: blob failed to authenticate")
)

// Blob is a parsed ciphertext blob.
type Blob struct {
	Account         string
	KeyID           string
	MaterialVersion uint32
	Salt            [saltLen]byte
	Nonce           [nonceLen]byte
	Sealed          []byte // GCM ciphertext || tag
}

// Parse parses b. The returned Blob aliases b.
func Parse(b []byte) (*Blob, error) {
	if len(b) < 14 || b[0] != Version1 {
		return nil, ErrMalformed
	}
	account := b[1 : 1+accountLen]
	for _, c := range account {
		if c < '0' || c > '9' {
			return nil, ErrMalformed
		}
	}
	n := int(b[13])
	if n == 0 || n > maxKeyID || len(b) < 46+n+tagLen {
		return nil, ErrMalformed
	}
	keyID := b[14 : 14+n]
	for _, c := range keyID {
		if c <= ' ' || c > '~' {
			return nil, ErrMalformed
		}
	}
	bl := &Blob{
		Account:         string(account),
		KeyID:           string(keyID),
		MaterialVersion: binary.BigEndian.Uint32(b[14+n:]),
		Sealed:          b[46+n:],
	}
	copy(bl.Salt[:], b[18+n:])
	copy(bl.Nonce[:], b[34+n:])
	return bl, nil
}

// header appends the header bytes of bl to dst.
func (bl *Blob) header(dst []byte) []byte {
	dst = append(dst, Version1)
	dst = append(dst, bl.Account...)
	dst = append(dst, byte(len(bl.KeyID)))
	dst = append(dst, bl.KeyID...)
	dst = binary.BigEndian.AppendUint32(dst, bl.MaterialVersion)
	dst = append(dst, bl.Salt[:]...)
	dst = append(dst, bl.Nonce[:]...)
	return dst
}

// Marshal encodes bl.
func (bl *Blob) Marshal() []byte {
	out := make([]byte, 0, 46+len(bl.KeyID)+len(bl.Sealed))
	return append(bl.header(out), bl.Sealed...)
}

// CanonicalContext returns the unambiguous encoding of an encryption
// context: the pair count, then each pair sorted by key (byte-wise) as
// length-prefixed key and value (uint32 lengths). {"a":"bc"} and {"ab":"c"}
// encode differently. A nil or empty context encodes as four zero bytes.
func CanonicalContext(ec map[string]string) []byte {
	return appendCanonicalContext(make([]byte, 0, canonicalContextLen(ec)), ec)
}

func canonicalContextLen(ec map[string]string) int {
	n := 4
	for k, v := range ec {
		n += 8 + len(k) + len(v)
	}
	return n
}

// appendCanonicalContext appends CanonicalContext(ec) to dst.
func appendCanonicalContext(dst []byte, ec map[string]string) []byte {
	var stack [8]string
	keys := stack[:0]
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(k)))
		dst = append(dst, k...)
		v := ec[k]
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// aad returns the GCM additional data of bl: its header, then the
// canonical encryption context.
func (bl *Blob) aad(ec map[string]string) []byte {
	b := make([]byte, 0, 46+len(bl.KeyID)+canonicalContextLen(ec))
	return appendCanonicalContext(bl.header(b), ec)
}

// hkdfInfo is the HKDF info of the per-message key.
const hkdfInfo = "strongroom/blob/v1"

func gcmFor(material []byte, salt []byte) (cipher.AEAD, error) {
	var key [32]byte
	if len(material) > hmacBlock || len(salt) > hmacBlock {
		k, err := hkdf.Key(sha256.New, material, salt, hkdfInfo, 32)
		if err != nil {
			return nil, err
		}
		copy(key[:], k)
		clear(k)
	} else {
		key = messageKey(material, salt)
	}
	block, err := aes.NewCipher(key[:])
	clear(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

const hmacBlock = 64

// messageKey is HKDF-SHA256(material, salt, hkdfInfo) for a 32-byte key,
// that is one HMAC for Extract and one for Expand's single block, computed
// on the stack (crypto/hkdf allocates a dozen times a call; this runs for
// every blob). material and salt are at most one SHA-256 block long.
// TestMessageKey checks it against crypto/hkdf.
func messageKey(material, salt []byte) [32]byte {
	prk := hmacSHA256(salt, material)
	var msg [len(hkdfInfo) + 1]byte
	copy(msg[:], hkdfInfo)
	msg[len(hkdfInfo)] = 1
	okm := hmacSHA256(prk[:], msg[:])
	clear(prk[:])
	return okm
}

// hmacSHA256 is HMAC-SHA256 of a message of at most one block under a key
// of at most one block, without allocating.
func hmacSHA256(key, msg []byte) [32]byte {
	const ipad, opad = 0x36, 0x5c
	var buf [2 * hmacBlock]byte
	for i := range hmacBlock {
		k := byte(0)
		if i < len(key) {
			k = key[i]
		}
		buf[i] = k ^ ipad
	}
	n := copy(buf[hmacBlock:], msg)
	inner := sha256.Sum256(buf[:hmacBlock+n])
	for i := range hmacBlock {
		k := byte(0)
		if i < len(key) {
			k = key[i]
		}
		buf[i] = k ^ opad
	}
	copy(buf[hmacBlock:], inner[:])
	sum := sha256.Sum256(buf[:hmacBlock+sha256.Size])
	clear(buf[:])
	clear(inner[:])
	return sum
}

// Seal encrypts plaintext under material (a 32-byte symmetric key) and
// returns the blob bytes naming account, keyID and materialVersion.
func Seal(material []byte, account, keyID string, materialVersion uint32, plaintext []byte, ec map[string]string) ([]byte, error) {
	if len(account) != accountLen || len(keyID) == 0 || len(keyID) > maxKeyID {
		return nil, errors.New("ciphertext: invalid key reference")
	}
	bl := &Blob{Account: account, KeyID: keyID, MaterialVersion: materialVersion}
	var rnd [saltLen + nonceLen]byte // one read for both
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	copy(bl.Salt[:], rnd[:saltLen])
	copy(bl.Nonce[:], rnd[saltLen:])
	aead, err := gcmFor(material, bl.Salt[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 46+len(keyID)+len(plaintext)+tagLen)
	out = bl.header(out)
	return aead.Seal(out, bl.Nonce[:], plaintext, bl.aad(ec)), nil
}

// Open authenticates and decrypts bl under material with the encryption
// context ec. Any failure is ErrOpen.
func Open(material []byte, bl *Blob, ec map[string]string) ([]byte, error) {
	aead, err := gcmFor(material, bl.Salt[:])
	if err != nil {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, bl.Nonce[:], bl.Sealed, bl.aad(ec))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
