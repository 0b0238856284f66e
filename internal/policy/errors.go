package policy

import (
	"errors"
	"strconv"
)

// Sentinels a caller can test with errors.Is. Every error ParseKeyPolicy and
// ParseIdentityPolicy return is an *Error that matches ErrMalformed; an
// oversized key policy also matches ErrTooLarge.
var (
	// ErrMalformed: the document is not a valid policy of its kind. The
	// API answers MalformedPolicyDocumentException with (*Error).Message.
	ErrMalformed = errors.New("policy: malformed policy document")
	// ErrTooLarge: the key policy is longer than MaxKeyPolicySize bytes.
	ErrTooLarge = errors.New("policy: key policy exceeds 32768 bytes")
)

// Error describes what is wrong with a policy document, in words meant for
// the client: the API returns Message() as the text of
// MalformedPolicyDocumentException. It never includes request data.
type Error struct {
	// Statement is the 1-based position of the offending statement, or 0
	// when the problem is with the document as a whole.
	Statement int
	// Sid is the offending statement's Sid, if it has one.
	Sid string
	// Reason is one sentence saying what is wrong.
	Reason string

	tooLarge bool
}

// Message returns the reason with the statement it concerns, without the
// "policy: " prefix: the text for MalformedPolicyDocumentException.
func (e *Error) Message() string {
	if e.Statement == 0 {
		return e.Reason
	}
	loc := "statement " + strconv.Itoa(e.Statement)
	if e.Sid != "" {
		loc += ", Sid " + strconv.Quote(e.Sid)
	}
	return e.Reason + " (" + loc + ")"
}

func (e *Error) Error() string { return "policy: " + e.Message() }

// Is reports whether target is ErrMalformed, or ErrTooLarge for an oversized
// key policy.
func (e *Error) Is(target error) bool {
	return target == ErrMalformed || (e.tooLarge && target == ErrTooLarge)
}
