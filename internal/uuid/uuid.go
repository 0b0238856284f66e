// Package uuid makes the identifiers Strongroom hands out in the AWS form,
// lower-case UUIDs: random ones (version 4: request ids, CloudTrail event
// ids) and time-ordered ones (version 7: key ids, so that the keys a store
// is given go to the end of its B-tree instead of anywhere in it).
package uuid

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// New returns a random (version 4) UUID.
func New() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return format(&b)
}

// NewV7 returns a version 7 UUID (RFC 9562): the milliseconds of t since
// the Unix epoch in its first 48 bits, then 74 random bits. Ids made later
// sort later (to the millisecond), which keeps a B-tree that is given them
// appending at its end; they remain unguessable. They tell when they were
// made, as a key's CreationDate does.
func NewV7(t time.Time) string {
	var b [16]byte
	rand.Read(b[6:]) // never fails (crypto/rand)
	ms := uint64(max(t.UnixMilli(), 0))
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return format(&b)
}

// format writes b in the 8-4-4-4-12 hexadecimal form, in one allocation.
func format(b *[16]byte) string {
	var u [36]byte
	hex.Encode(u[0:8], b[0:4])
	hex.Encode(u[9:13], b[4:6])
	hex.Encode(u[14:18], b[6:8])
	hex.Encode(u[19:23], b[8:10])
	hex.Encode(u[24:36], b[10:16])
	u[8], u[13], u[18], u[23] = '-', '-', '-', '-'
	return string(u[:])
}
