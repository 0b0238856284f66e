// This file holds the one error type that sigv4 hands to clients, its AWS
// codes, and the constructors for the failures only the caller can detect.

package sigv4

import (
	"fmt"
	"net/http"
)

// AWS error codes, as the AWS JSON 1.1 protocol (KMS) names them in
// "__type". [Error.QueryProtocol] gives the names the query protocol (IAM,
// STS, CloudTrail) uses for the same failures.
const (
	// CodeMissingAuthenticationToken: the request carries no SigV4
	// authentication at all.
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeIncompleteSignature: the authentication is there but malformed or
	// incomplete (missing parameter, unsigned Host, bad date format, …).
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeInvalidSignature: the signature does not match, the request time
	// is outside the allowed skew, or the credential scope is wrong.
	CodeInvalidSignature = "InvalidSignatureException"
	// CodeUnrecognizedClient: unknown access key id or invalid session
	// token. Only the caller can tell; see [UnknownAccessKey] and
	// [InvalidSessionToken].
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeRequestExpired: a presigned URL used after its X-Amz-Expires.
	CodeRequestExpired = "RequestExpired"
)

// Messages AWS uses, word for word, for the failures they name.
const (
	msgMissingAuthenticationToken = "Missing Authentication Token"
	msgSignatureMismatch          = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgUnrecognizedClient         = "The security token included in the request is invalid."
	msgHostNotSigned              = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgRequestExpired             = "Request has expired"
)

// Error is an authentication failure to be sent to the client as is: Code is
// the AWS error code (the "__type" of an AWS JSON error), Status the HTTP
// status and Message the AWS-facing message. Messages never contain the
// secret access key, the session token or the signature the server computed.
//
// Every Error is the client's fault: sigv4 has no internal failures.
type Error struct {
	Code    string
	Status  int
	Message string
}

// Error returns "sigv4: CODE: MESSAGE".
func (e *Error) Error() string { return "sigv4: " + e.Code + ": " + e.Message }

// QueryProtocol returns the error code and HTTP status that AWS query
// protocol services (IAM, STS, CloudTrail) use for e: for instance
// SignatureDoesNotMatch with 403 where KMS says InvalidSignatureException
// with 400. The message stays the same.
func (e *Error) QueryProtocol() (code string, status int) {
	switch e.Code {
	case CodeMissingAuthenticationToken:
		return "MissingAuthenticationToken", http.StatusForbidden
	case CodeIncompleteSignature:
		return "IncompleteSignature", http.StatusBadRequest
	case CodeInvalidSignature:
		return "SignatureDoesNotMatch", http.StatusForbidden
	case CodeUnrecognizedClient:
		return "InvalidClientTokenId", http.StatusForbidden
	}
	return e.Code, e.Status
}

// UnknownAccessKey returns the error for a request whose access key id the
// caller does not know (never existed, deleted, or deactivated). AWS does
// not tell these cases apart, and neither should the caller.
func UnknownAccessKey() *Error {
	return newError(CodeUnrecognizedClient, msgUnrecognizedClient)
}

// InvalidSessionToken returns the error for a request whose session token
// (X-Amz-Security-Token) is unknown, malformed, or not issued for its access
// key id. AWS gives it the same code and message as [UnknownAccessKey].
func InvalidSessionToken() *Error {
	return newError(CodeUnrecognizedClient, msgUnrecognizedClient)
}

// newError returns an Error with status 400, which AWS JSON services use
// for every authentication failure.
func newError(code, msg string) *Error {
	return &Error{Code: code, Status: http.StatusBadRequest, Message: msg}
}

func incomplete(format string, args ...any) *Error {
	return newError(CodeIncompleteSignature, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) *Error {
	return newError(CodeInvalidSignature, fmt.Sprintf(format, args...))
}

func mismatch() *Error { return newError(CodeInvalidSignature, msgSignatureMismatch) }
