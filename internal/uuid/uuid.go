// Package uuid makes the random identifiers Strongroom hands out in the
// AWS form: version 4 UUIDs, lower case (request ids, CloudTrail event
// ids).
package uuid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a random (version 4, RFC 9562 variant) UUID in one
// allocation.
func New() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var u [36]byte
	hex.Encode(u[0:8], b[0:4])
	hex.Encode(u[9:13], b[4:6])
	hex.Encode(u[14:18], b[6:8])
	hex.Encode(u[19:23], b[8:10])
	hex.Encode(u[24:36], b[10:16])
	u[8], u[13], u[18], u[23] = '-', '-', '-', '-'
	return string(u[:])
}
