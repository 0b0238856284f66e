// This file is STS on the query protocol: GetCallerIdentity and
// AssumeRole.

package awsapi

import (
	"context"
	"net/http"
	"net/url"

	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/shape"
	"strongroom/internal/sigv4"
)

// codeExpiredTokenJSON is what AWS JSON services (KMS) answer for an
// expired session token; query services say ExpiredToken with 403.
const codeExpiredTokenJSON = "ExpiredTokenException"

// errExpiredToken is the authentication failure of an expired session.
func errExpiredToken() *sigv4.Error {
	return &sigv4.Error{Code: codeExpiredTokenJSON, Status: http.StatusBadRequest, Message: "The security token included in the request is expired"}
}

func init() {
	registerQuery(&queryService{
		name:         "sts",
		version:      "2011-06-15",
		source:       kms.SourceSTS,
		xmlns:        "https://sts.amazonaws.com/doc/2011-06-15/",
		model:        shape.STS,
		internalCode: "InternalFailure",
		ops: map[string]queryOp{
			"GetCallerIdentity": {call: stsGetCallerIdentity},
			"AssumeRole": {call: stsAssumeRole, unsupported: []string{
				// Session policies, tags, MFA and source identity would change
				// what the session may do or prove; they are refused rather
				// than ignored.
				"Policy", "PolicyArns.", "Tags.", "TransitiveTagKeys.", "SerialNumber", "TokenCode", "SourceIdentity", "ProvidedContexts.",
			}},
		},
	})
}

type xmlCallerIdentity struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// stsGetCallerIdentity needs no permission, as in AWS.
func stsGetCallerIdentity(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	p := c.Principal
	return xmlCallerIdentity{Arn: p.ARN, UserID: p.PrincipalID, Account: p.Account}, nil
}

type xmlAssumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
}

func stsAssumeRole(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	ar, err := h.ids.AssumeRole(ctx, c, identity.AssumeRoleInput{
		RoleARN:         q.Get("RoleArn"),
		SessionName:     q.Get("RoleSessionName"),
		DurationSeconds: queryInt(q, "DurationSeconds"),
		ExternalID:      q.Get("ExternalId"),
	})
	if err != nil {
		return nil, err
	}
	var out xmlAssumeRoleResult
	out.Credentials.AccessKeyID = ar.Credentials.AccessKeyID
	out.Credentials.SecretAccessKey = ar.Credentials.SecretAccessKey
	out.Credentials.SessionToken = ar.Credentials.SessionToken
	out.Credentials.Expiration = queryTime(ar.Credentials.Expiration)
	out.AssumedRoleUser.AssumedRoleID = ar.AssumedRoleID
	out.AssumedRoleUser.Arn = ar.ARN
	return out, nil
}
