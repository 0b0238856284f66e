// This file is IAM's role and role-policy operations.

package awsapi

import (
	"context"
	"net/url"

	"strongroom/internal/identity"
)

type xmlRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

func roleXML(r identity.Role) xmlRole {
	return xmlRole{Path: r.Path, RoleName: r.Name, RoleID: r.ID, Arn: r.ARN, CreateDate: queryTime(r.Created),
		AssumeRolePolicyDocument: policyEscape(r.TrustPolicy), Description: r.Description, MaxSessionDuration: r.MaxSessionDuration}
}

type xmlRoleResult struct {
	Role xmlRole `xml:"Role"`
}

func iamCreateRole(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	r, err := h.ids.CreateRole(ctx, c, identity.RoleInput{
		Name:               q.Get("RoleName"),
		Path:               q.Get("Path"),
		TrustPolicy:        q.Get("AssumeRolePolicyDocument"),
		Description:        q.Get("Description"),
		MaxSessionDuration: queryInt(q, "MaxSessionDuration"),
	})
	if err != nil {
		return nil, err
	}
	return xmlRoleResult{Role: roleXML(r)}, nil
}

func iamGetRole(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	r, err := h.ids.GetRole(ctx, c, q.Get("RoleName"))
	if err != nil {
		return nil, err
	}
	return xmlRoleResult{Role: roleXML(r)}, nil
}

type xmlListRoles struct {
	Roles       list[xmlRole] `xml:"Roles"`
	IsTruncated bool          `xml:"IsTruncated"`
	Marker      string        `xml:"Marker,omitempty"`
}

func iamListRoles(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	roles, next, err := h.ids.ListRoles(ctx, c, q.Get("PathPrefix"), q.Get("Marker"), queryInt(q, "MaxItems"))
	if err != nil {
		return nil, err
	}
	out := xmlListRoles{IsTruncated: next != "", Marker: next, Roles: list[xmlRole]{Member: []xmlRole{}}}
	for _, r := range roles {
		out.Roles.Member = append(out.Roles.Member, roleXML(r))
	}
	return out, nil
}

func iamDeleteRole(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.DeleteRole(ctx, c, q.Get("RoleName"))
}

func iamPutRolePolicy(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.PutRolePolicy(ctx, c, q.Get("RoleName"), q.Get("PolicyName"), q.Get("PolicyDocument"))
}

type xmlRolePolicy struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func iamGetRolePolicy(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	role, doc, err := h.ids.GetRolePolicy(ctx, c, q.Get("RoleName"), q.Get("PolicyName"))
	if err != nil {
		return nil, err
	}
	return xmlRolePolicy{RoleName: role, PolicyName: q.Get("PolicyName"), PolicyDocument: policyEscape(doc)}, nil
}

func iamDeleteRolePolicy(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.DeleteRolePolicy(ctx, c, q.Get("RoleName"), q.Get("PolicyName"))
}

func iamListRolePolicies(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	names, next, err := h.ids.ListRolePolicies(ctx, c, q.Get("RoleName"), q.Get("Marker"), queryInt(q, "MaxItems"))
	if err != nil {
		return nil, err
	}
	return policyNamesXML(names, next), nil
}
