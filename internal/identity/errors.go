package identity

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrExpiredToken is returned by LookupSession for a session whose
// expiration has passed (by the service clock). The API answers it as AWS
// does: ExpiredToken (query protocol), ExpiredTokenException (JSON).
var ErrExpiredToken = errors.New("identity: the session token is expired")

// Error codes of the IAM and STS query APIs, with the HTTP status AWS gives
// them (see newError).
const (
	CodeNoSuchEntity            = "NoSuchEntity"            // 404
	CodeEntityAlreadyExists     = "EntityAlreadyExists"     // 409
	CodeDeleteConflict          = "DeleteConflict"          // 409
	CodeLimitExceeded           = "LimitExceeded"           // 409
	CodeMalformedPolicyDocument = "MalformedPolicyDocument" // 400
	CodeInvalidInput            = "InvalidInput"            // 400
	CodeValidationError         = "ValidationError"         // 400
	CodeAccessDenied            = "AccessDenied"            // 403
)

// Error is an IAM or STS error that goes to the client as is: the AWS
// query-protocol code, the HTTP status AWS uses for it, and a message that
// never contains a secret. Any other error from this package is an
// internal fault.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return "identity: " + e.Code + ": " + e.Message }

// AsError reports whether err is (or wraps) a client-facing *Error.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func newError(code, format string, args ...any) *Error {
	status := http.StatusBadRequest
	switch code {
	case CodeNoSuchEntity:
		status = http.StatusNotFound
	case CodeEntityAlreadyExists, CodeDeleteConflict, CodeLimitExceeded:
		status = http.StatusConflict
	case CodeAccessDenied:
		status = http.StatusForbidden
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Status: status, Message: msg}
}

func errNoSuchUser(name string) *Error {
	return newError(CodeNoSuchEntity, "The user with name %s cannot be found.", name)
}

func errNoSuchRole(name string) *Error {
	return newError(CodeNoSuchEntity, "The role with name %s cannot be found.", name)
}

func errNoSuchAccessKey(akid string) *Error {
	return newError(CodeNoSuchEntity, "The Access Key with id %s cannot be found.", akid)
}

func errNonUserCredentials() *Error {
	return newError(CodeValidationError, "Must specify userName when calling with non-User credentials")
}
