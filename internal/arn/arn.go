// Package arn is the single place that parses and formats Amazon Resource
// Names, KMS key ids and alias names. It is pure: no I/O.
package arn

import (
	"errors"
	"strings"
)

// Partition is the only partition Strongroom serves.
const Partition = "aws"

// ARN is a parsed Amazon Resource Name:
// arn:partition:service:region:account:resource.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string
}

// ErrMalformed is returned by Parse for anything that is not an ARN.
var ErrMalformed = errors.New("arn: malformed ARN")

// Parse splits s into its six parts.
func Parse(s string) (ARN, error) {
	if !strings.HasPrefix(s, "arn:") {
		return ARN{}, ErrMalformed
	}
	// "arn:" partition:service:region:account:resource, the resource
	// keeping any further colons (strings.SplitN(s, ":", 6), without its
	// slice).
	var parts [5]string
	rest := s[len("arn:"):]
	for i := range 4 {
		var ok bool
		if parts[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return ARN{}, ErrMalformed
		}
	}
	parts[4] = rest
	if parts[0] == "" || parts[1] == "" {
		return ARN{}, ErrMalformed
	}
	return ARN{Partition: parts[0], Service: parts[1], Region: parts[2], Account: parts[3], Resource: parts[4]}, nil
}

// String formats a.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// Key formats a KMS key ARN.
func Key(region, account, keyID string) string {
	return "arn:aws:kms:" + region + ":" + account + ":key/" + keyID
}

// Alias formats a KMS alias ARN. name includes the "alias/" prefix.
func Alias(region, account, name string) string {
	return "arn:aws:kms:" + region + ":" + account + ":" + name
}

// Root formats the ARN of an account's root principal.
func Root(account string) string { return "arn:aws:iam::" + account + ":root" }

// User formats an IAM user ARN (path "/" assumed when empty).
func User(account, path, name string) string {
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + account + ":user" + path + name
}

// Role formats an IAM role ARN.
func Role(account, path, name string) string {
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + account + ":role" + path + name
}

// AssumedRole formats an STS assumed-role session ARN.
func AssumedRole(account, roleName, session string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + session
}

// IsAccountID reports whether s is a 12-digit AWS account id.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsKeyID reports whether s has the shape of a KMS key id: a lowercase UUID
// (8-4-4-4-12 hex) or a multi-Region key id "mrk-" followed by 32 hex digits.
func IsKeyID(s string) bool {
	if strings.HasPrefix(s, "mrk-") {
		return len(s) == 36 && isHex(s[4:])
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHexChar(c) {
				return false
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexChar(s[i]) {
			return false
		}
	}
	return true
}

func isHexChar(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// KeyRef is a parsed key reference as KMS operations accept it in KeyId:
// a key id, a key ARN, an alias name, or an alias ARN.
type KeyRef struct {
	// Exactly one of KeyID and AliasName is set.
	KeyID     string
	AliasName string // with the "alias/" prefix
	// Region and Account are set when the reference was an ARN.
	Region  string
	Account string
}

// ErrInvalidKeyRef is returned by ParseKeyRef for a string that is none of
// the four accepted forms.
var ErrInvalidKeyRef = errors.New("arn: invalid key reference")

// ParseKeyRef parses the KeyId parameter of a KMS operation.
func ParseKeyRef(s string) (KeyRef, error) {
	switch {
	case strings.HasPrefix(s, "alias/"):
		return KeyRef{AliasName: s}, nil
	case strings.HasPrefix(s, "arn:"):
		a, err := Parse(s)
		if err != nil || a.Partition != Partition || a.Service != "kms" || !IsAccountID(a.Account) || a.Region == "" {
			return KeyRef{}, ErrInvalidKeyRef
		}
		switch {
		case strings.HasPrefix(a.Resource, "key/"):
			return KeyRef{KeyID: a.Resource[len("key/"):], Region: a.Region, Account: a.Account}, nil
		case strings.HasPrefix(a.Resource, "alias/"):
			return KeyRef{AliasName: a.Resource, Region: a.Region, Account: a.Account}, nil
		}
		return KeyRef{}, ErrInvalidKeyRef
	case s == "":
		return KeyRef{}, ErrInvalidKeyRef
	}
	return KeyRef{KeyID: s}, nil
}

// ValidAliasName reports whether name follows AWS's alias rules: it starts
// with "alias/", is at most 256 characters, and the rest is non-empty and
// made of letters, digits, '/', '_' and '-'.
func ValidAliasName(name string) bool {
	if !strings.HasPrefix(name, "alias/") || len(name) > 256 || len(name) == len("alias/") {
		return false
	}
	for i := len("alias/"); i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '/', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// IsReservedAlias reports whether name is in the AWS-reserved namespace
// "alias/aws/" that customers cannot create, update or delete.
func IsReservedAlias(name string) bool { return strings.HasPrefix(name, "alias/aws/") }
