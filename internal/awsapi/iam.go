// This file is IAM on the query protocol: its dispatch table, and the user
// and user-policy operations. Every operation calls the identity core,
// which authorizes the caller (an account's root may do anything in its
// account; anyone else needs an identity policy's Allow).

package awsapi

import (
	"context"
	"net/url"

	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/shape"
)

func init() {
	registerQuery(&queryService{
		name:         "iam",
		version:      "2010-05-08",
		source:       kms.SourceIAM,
		xmlns:        "https://iam.amazonaws.com/doc/2010-05-08/",
		model:        shape.IAM,
		internalCode: "ServiceFailure",
		ops: map[string]queryOp{
			"CreateUser":       {call: iamCreateUser, unsupported: []string{"Tags.", "PermissionsBoundary"}},
			"GetUser":          {call: iamGetUser},
			"ListUsers":        {call: iamListUsers},
			"DeleteUser":       {call: iamDeleteUser},
			"PutUserPolicy":    {call: iamPutUserPolicy},
			"GetUserPolicy":    {call: iamGetUserPolicy},
			"DeleteUserPolicy": {call: iamDeleteUserPolicy},
			"ListUserPolicies": {call: iamListUserPolicies},
			"CreateAccessKey":  {call: iamCreateAccessKey},
			"ListAccessKeys":   {call: iamListAccessKeys},
			"UpdateAccessKey":  {call: iamUpdateAccessKey},
			"DeleteAccessKey":  {call: iamDeleteAccessKey},
			"CreateRole":       {call: iamCreateRole, unsupported: []string{"Tags.", "PermissionsBoundary"}},
			"GetRole":          {call: iamGetRole},
			"ListRoles":        {call: iamListRoles},
			"DeleteRole":       {call: iamDeleteRole},
			"PutRolePolicy":    {call: iamPutRolePolicy},
			"GetRolePolicy":    {call: iamGetRolePolicy},
			"DeleteRolePolicy": {call: iamDeleteRolePolicy},
			"ListRolePolicies": {call: iamListRolePolicies},
			"CreateAccount":    {call: iamCreateAccount, custom: true},
		},
	})
}

type xmlUser struct {
	Path       string `xml:"Path,omitempty"`
	UserName   string `xml:"UserName,omitempty"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

func userXML(u identity.User) xmlUser {
	return xmlUser{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: queryTime(u.Created)}
}

type xmlUserResult struct {
	User xmlUser `xml:"User"`
}

func iamCreateUser(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	u, err := h.ids.CreateUser(ctx, c, q.Get("UserName"), q.Get("Path"))
	if err != nil {
		return nil, err
	}
	return xmlUserResult{User: userXML(u)}, nil
}

func iamGetUser(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	u, err := h.ids.GetUser(ctx, c, q.Get("UserName"))
	if err != nil {
		return nil, err
	}
	return xmlUserResult{User: userXML(u)}, nil
}

type xmlListUsers struct {
	Users       list[xmlUser] `xml:"Users"`
	IsTruncated bool          `xml:"IsTruncated"`
	Marker      string        `xml:"Marker,omitempty"`
}

func iamListUsers(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	users, next, err := h.ids.ListUsers(ctx, c, q.Get("PathPrefix"), q.Get("Marker"), queryInt(q, "MaxItems"))
	if err != nil {
		return nil, err
	}
	out := xmlListUsers{IsTruncated: next != "", Marker: next, Users: list[xmlUser]{Member: []xmlUser{}}}
	for _, u := range users {
		out.Users.Member = append(out.Users.Member, userXML(u))
	}
	return out, nil
}

func iamDeleteUser(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.DeleteUser(ctx, c, q.Get("UserName"))
}

func iamPutUserPolicy(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.PutUserPolicy(ctx, c, q.Get("UserName"), q.Get("PolicyName"), q.Get("PolicyDocument"))
}

type xmlUserPolicy struct {
	UserName       string `xml:"UserName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func iamGetUserPolicy(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	user, doc, err := h.ids.GetUserPolicy(ctx, c, q.Get("UserName"), q.Get("PolicyName"))
	if err != nil {
		return nil, err
	}
	return xmlUserPolicy{UserName: user, PolicyName: q.Get("PolicyName"), PolicyDocument: policyEscape(doc)}, nil
}

func iamDeleteUserPolicy(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.DeleteUserPolicy(ctx, c, q.Get("UserName"), q.Get("PolicyName"))
}

type xmlPolicyNames struct {
	PolicyNames list[string] `xml:"PolicyNames"`
	IsTruncated bool         `xml:"IsTruncated"`
	Marker      string       `xml:"Marker,omitempty"`
}

func policyNamesXML(names []string, next string) xmlPolicyNames {
	if names == nil {
		names = []string{}
	}
	return xmlPolicyNames{PolicyNames: list[string]{Member: names}, IsTruncated: next != "", Marker: next}
}

func iamListUserPolicies(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	names, next, err := h.ids.ListUserPolicies(ctx, c, q.Get("UserName"), q.Get("Marker"), queryInt(q, "MaxItems"))
	if err != nil {
		return nil, err
	}
	return policyNamesXML(names, next), nil
}

// policyEscape encodes a policy document as IAM returns it: every byte
// but the RFC 3986 unreserved characters percent-encoded (a space is %20,
// a plus %2B), so that both url.QueryUnescape and Python's unquote
// recover it.
func policyEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)*3/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}
