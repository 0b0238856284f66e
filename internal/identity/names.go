package identity

import (
	"crypto/rand"
	"strings"
	"time"

	"strongroom/internal/store"
)

// Store kinds of this package, beside store.KindAccount and
// store.KindAccessKey. Scopes are noted per kind; ids that are IAM names are
// lowercased, because IAM names are unique regardless of case.
const (
	kindUser       store.Kind = "iam-user"              // scope account, id lower(user name): userRecord
	kindRole       store.Kind = "iam-role"              // scope account, id lower(role name): roleRecord
	kindOwnedKey   store.Kind = "iam-owned-key"         // scope account + "/" + owner, id access key id: empty
	kindSession    store.Kind = "sts-session"           // scope "", id session access key id: sessionRecord
	kindSessionExp store.Kind = "sts-session-by-expiry" // scope "", id expiry (20 digits) + "/" + access key id: empty
)

// Alphabets of AWS identifiers.
const (
	idAlphabet     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// Prefixes of AWS unique ids and access key ids.
const (
	prefixUser       = "AIDA" // IAM user id
	prefixRole       = "AROA" // IAM role id
	prefixAccessKey  = "AKIA" // long-term access key id
	prefixSessionKey = "ASIA" // temporary (STS) access key id
)

// NewAccessKeyID returns a fresh long-term access key id ("AKIA" + 16 characters).
func NewAccessKeyID() string { return prefixAccessKey + randomString(16, idAlphabet) }

// newSessionKeyID returns a fresh temporary access key id ("ASIA" + 16 characters).
func newSessionKeyID() string { return prefixSessionKey + randomString(16, idAlphabet) }

// newUniqueID returns a fresh IAM unique id: prefix + 17 characters.
func newUniqueID(prefix string) string { return prefix + randomString(17, idAlphabet) }

// NewSecret returns a fresh 40-character secret access key.
func NewSecret() string { return randomString(40, secretAlphabet) }

// randomString returns n characters of alphabet, uniformly (alphabet's
// length divides 256).
func randomString(n int, alphabet string) string {
	if 256%len(alphabet) != 0 {
		panic("identity: alphabet length must divide 256")
	}
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// fold is the store id of an IAM name.
func fold(name string) string { return strings.ToLower(name) }

// validName reports whether s is an IAM user, role or policy name: 1 to max
// characters of [A-Za-z0-9_+=,.@-]. The API checks the same with AWS's
// messages; the core re-checks because store ids and ARNs rely on it.
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@-", c) >= 0) {
			return false
		}
	}
	return true
}

// validPath reports whether s is an IAM path: "/" or "/" + printable
// ASCII + "/", at most 512 characters.
func validPath(s string) bool {
	if s == "/" {
		return true
	}
	if len(s) < 3 || len(s) > 512 || s[0] != '/' || s[len(s)-1] != '/' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func checkName(what, s string, max int) error {
	if !validName(s, max) {
		return newError(CodeValidationError, "The specified value for %s is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_-", what)
	}
	return nil
}

func normPath(path string) (string, error) {
	if path == "" {
		return "/", nil
	}
	if !validPath(path) {
		return "", newError(CodeValidationError, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return path, nil
}

// ownerRoot and ownerUser name the owner of a long-term access key in the
// kindOwnedKey scope.
const ownerRoot = "root"

func ownerUser(name string) string { return "user/" + fold(name) }

func ownedScope(account, owner string) string { return account + "/" + owner }

// ownerOf returns the owner of a key held by p, or "" if p cannot hold
// long-term keys.
func ownerOf(p Principal) string {
	switch p.Type {
	case TypeRoot:
		return ownerRoot
	case TypeIAMUser:
		return ownerUser(p.Name)
	}
	return ""
}

func unix(t int64) time.Time { return time.Unix(t, 0).UTC() }
