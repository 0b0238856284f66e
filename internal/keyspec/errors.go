package keyspec

import (
	"errors"
	"fmt"
)

// AWS error codes that this package's errors carry.
const (
	CodeValidation           = "ValidationException"
	CodeInvalidKeyUsage      = "InvalidKeyUsageException"
	CodeInvalidCiphertext    = "InvalidCiphertextException"
	CodeUnsupportedOperation = "UnsupportedOperationException"
)

// Error is a caller's mistake that maps to one AWS error code. Code returns
// the code exactly as it goes on the wire ("__type"); Message returns the
// text for the response body, without the "keyspec: " prefix that Error
// adds. Compare with errors.Is against the Err* values, which match any
// Error with the same code.
type Error struct {
	code string
	msg  string
}

// Code returns the AWS error code, such as "InvalidKeyUsageException".
func (e *Error) Code() string { return e.code }

// Message returns the message for the AWS error response.
func (e *Error) Message() string { return e.msg }

func (e *Error) Error() string { return "keyspec: " + e.msg }

// Is makes errors.Is(err, ErrValidation) true for every validation error,
// and so on for each code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.code == e.code
}

// Sentinels, one per code, for errors.Is. Each is also returned as is where
// nothing more specific can be said.
var (
	// ErrValidation: a malformed or out-of-range parameter (unknown key spec
	// or algorithm, a key usage the key spec does not allow at creation, a
	// DIGEST of the wrong length, a message or plaintext too long, a message
	// type the algorithm does not take, a malformed peer public key).
	ErrValidation = &Error{CodeValidation, "invalid parameter"}
	// ErrInvalidKeyUsage: the operation or algorithm does not fit the key's
	// usage or key spec.
	ErrInvalidKeyUsage = &Error{CodeInvalidKeyUsage, "the key usage or key spec does not allow this operation or algorithm"}
	// ErrInvalidCiphertext is the only error Decrypt returns for a
	// ciphertext it cannot decrypt, whatever the reason.
	ErrInvalidCiphertext = &Error{CodeInvalidCiphertext, "the ciphertext is invalid"}
	// ErrUnsupported: a known value this service does not offer (SM2, which
	// AWS only offers in China regions; public keys of symmetric keys).
	ErrUnsupported = &Error{CodeUnsupportedOperation, "unsupported operation"}
)

// ErrMalformedKey is returned, wrapped with detail, by Load and LoadPublic
// for key material that does not parse or does not fit its key spec. It
// carries no AWS code: stored material that fails to load is an internal
// error, and imported material needs the importer's own error.
var ErrMalformedKey = errors.New("keyspec: malformed key material")

func validationf(format string, a ...any) error {
	return &Error{CodeValidation, fmt.Sprintf(format, a...)}
}

func usagef(format string, a ...any) error {
	return &Error{CodeInvalidKeyUsage, fmt.Sprintf(format, a...)}
}

func malformedf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedKey, fmt.Sprintf(format, a...))
}
