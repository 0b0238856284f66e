// Package rootkey owns Strongroom's root of trust: the one secret that seals
// every key's material (and every stored secret access key) before it reaches
// a store. Implementations: a root key file (the embedded default), a
// passphrase, and a PKCS#11 HSM. Sealed bytes are useless without the root.
package rootkey

import "errors"

// ErrOpen is returned when sealed bytes fail to authenticate: wrong root,
// wrong associated data, or tampering. It deliberately says nothing more.
var ErrOpen = errors.New("rootkey: sealed data failed to authenticate")

// Sealer seals and opens secrets under the root of trust. aad binds the
// sealed value to its context (e.g. the key id and material version), so a
// sealed value moved to another record does not open.
type Sealer interface {
	// Seal encrypts and authenticates plaintext bound to aad.
	Seal(plaintext, aad []byte) ([]byte, error)
	// Open reverses Seal, or returns ErrOpen.
	Open(sealed, aad []byte) ([]byte, error)
	// CheckValue returns a non-secret value that identifies the root: two
	// Sealers with the same root return the same value. Nodes of a cluster
	// compare it to refuse a mismatched root.
	CheckValue() string
	// Name says what kind of root this is ("file", "passphrase", "pkcs11").
	Name() string
}
