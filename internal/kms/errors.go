package kms

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a KMS error that goes to the client as-is: an AWS error code, the
// HTTP status AWS uses for it, and a message that never contains a secret.
// Anything that is not an *Error is an internal fault and reaches the client
// only as a generic KMSInternalException.
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newErr(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// AsError reports whether err is (or wraps) a client-facing *Error.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func errValidation(format string, args ...any) *Error {
	return newErr("ValidationException", http.StatusBadRequest, format, args...)
}

func errNotFound(format string, args ...any) *Error {
	return newErr("NotFoundException", http.StatusBadRequest, format, args...)
}

func errInvalidArn(format string, args ...any) *Error {
	return newErr("InvalidArnException", http.StatusBadRequest, format, args...)
}

func errDisabled(keyARN string) *Error {
	return newErr("DisabledException", http.StatusBadRequest, "%s is disabled.", keyARN)
}

func errInvalidState(format string, args ...any) *Error {
	return newErr("KMSInvalidStateException", http.StatusBadRequest, format, args...)
}

func errInvalidCiphertext() *Error {
	return newErr("InvalidCiphertextException", http.StatusBadRequest, "The ciphertext refers to a KMS key that does not exist, is not in the caller's region, or is not accessible, or the ciphertext or its encryption context is invalid.")
}

func errIncorrectKey() *Error {
	return newErr("IncorrectKeyException", http.StatusBadRequest, "The key ID in the request does not identify a KMS key that can perform this operation.")
}

func errInvalidKeyUsage(format string, args ...any) *Error {
	return newErr("InvalidKeyUsageException", http.StatusBadRequest, format, args...)
}

func errAlreadyExists(format string, args ...any) *Error {
	return newErr("AlreadyExistsException", http.StatusBadRequest, format, args...)
}

func errUnsupported(format string, args ...any) *Error {
	return newErr("UnsupportedOperationException", http.StatusBadRequest, format, args...)
}

func errInvalidMarker() *Error {
	return newErr("InvalidMarkerException", http.StatusBadRequest, "Invalid marker")
}

func errMalformedPolicy(format string, args ...any) *Error {
	return newErr("MalformedPolicyDocumentException", http.StatusBadRequest, format, args...)
}

func errTag(format string, args ...any) *Error {
	return newErr("TagException", http.StatusBadRequest, format, args...)
}

func errLimit(format string, args ...any) *Error {
	return newErr("LimitExceededException", http.StatusBadRequest, format, args...)
}

// ErrDryRun is returned by an operation that would have succeeded when its
// DryRun flag was set.
func errDryRun() *Error {
	return newErr("DryRunOperationException", http.StatusPreconditionFailed, "The request would have succeeded, but the DryRun option is set.")
}

func errAccessDenied(msg string) *Error {
	return newErr("AccessDeniedException", http.StatusBadRequest, "%s", msg)
}
