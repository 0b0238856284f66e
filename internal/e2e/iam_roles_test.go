package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"strongroom/internal/testenv"
)

func roleARN(account, name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// trustAccount is a trust policy naming an account (its root): the
// account's identity policies decide who may assume the role.
func trustAccount(account string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}`
}

// trustPrincipal is a trust policy naming one principal directly.
func trustPrincipal(principalARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principalARN + `"},"Action":"sts:AssumeRole"}]}`
}

const assumeAnyRole = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`

func TestIAMRoles(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := iamAs(env, rootCreds(env))
	trust := trustAccount(testenv.Account)

	r := ok[*iam.CreateRoleOutput](t)(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("App"), Path: aws.String("/service/"),
		AssumeRolePolicyDocument: aws.String(trust), Description: aws.String("the app")})).Role
	if *r.RoleName != "App" || *r.Path != "/service/" || *r.Arn != "arn:aws:iam::"+testenv.Account+":role/service/App" ||
		!strings.HasPrefix(*r.RoleId, "AROA") || len(*r.RoleId) != 21 || *r.MaxSessionDuration != 3600 || *r.Description != "the app" {
		t.Fatalf("CreateRole = %+v", r)
	}
	if doc, err := url.QueryUnescape(*r.AssumeRolePolicyDocument); err != nil || doc != trust {
		t.Fatalf("AssumeRolePolicyDocument = %q", *r.AssumeRolePolicyDocument)
	}
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(trust)})
	if msg := wantAPIError(t, err, "EntityAlreadyExists", http.StatusConflict); msg != "Role with name app already exists." {
		t.Fatalf("message %q", msg)
	}
	g := ok[*iam.GetRoleOutput](t)(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})).Role
	if *g.RoleId != *r.RoleId || *g.Arn != *r.Arn {
		t.Fatalf("GetRole = %+v", g)
	}
	ok[*iam.CreateRoleOutput](t)(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("batch"), AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(43200)}))
	l := ok[*iam.ListRolesOutput](t)(c.ListRoles(ctx, &iam.ListRolesInput{}))
	if len(l.Roles) != 2 || *l.Roles[0].RoleName != "App" || *l.Roles[1].RoleName != "batch" || *l.Roles[1].MaxSessionDuration != 43200 {
		t.Fatalf("ListRoles = %+v", l.Roles)
	}

	// Role policies.
	ok[*iam.PutRolePolicyOutput](t)(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("encrypt"), PolicyDocument: aws.String(kmsEncryptPolicy)}))
	gp := ok[*iam.GetRolePolicyOutput](t)(c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("encrypt")}))
	if doc, _ := url.QueryUnescape(*gp.PolicyDocument); doc != kmsEncryptPolicy || *gp.RoleName != "App" {
		t.Fatalf("GetRolePolicy = %s %q", *gp.RoleName, doc)
	}
	lp := ok[*iam.ListRolePoliciesOutput](t)(c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("app")}))
	if !slices.Equal(lp.PolicyNames, []string{"encrypt"}) {
		t.Fatalf("ListRolePolicies = %v", lp.PolicyNames)
	}
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("bad"), PolicyDocument: aws.String(trust)})
	wantAPIError(t, err, "MalformedPolicyDocument", http.StatusBadRequest) // a principal in an identity policy
	_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("bad")})
	if msg := wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound); msg != "The role policy with name bad cannot be found." {
		t.Fatalf("message %q", msg)
	}

	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})
	if msg := wantAPIError(t, err, "DeleteConflict", http.StatusConflict); msg != "Cannot delete entity, must delete policies first." {
		t.Fatalf("message %q", msg)
	}
	ok[*iam.DeleteRolePolicyOutput](t)(c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("encrypt")}))
	ok[*iam.DeleteRoleOutput](t)(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")}))
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	if msg := wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound); msg != "The role with name app cannot be found." {
		t.Fatalf("message %q", msg)
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
}

var badTrustPolicies = []struct {
	name, doc, code, msg string
}{
	{"a Resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}}`,
		"MalformedPolicyDocument", "Has prohibited field Resource"},
	{"no principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, "MalformedPolicyDocument", ""},
	{"a bad principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}`, "MalformedPolicyDocument", ""},
	{"not JSON", `{"Statement":[`, "MalformedPolicyDocument", ""},
	{"a duplicate member", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}`, "MalformedPolicyDocument", ""},
	{"over 2048 characters", `{"Version":"2012-10-17","Statement":{"Sid":"` + strings.Repeat("s", 2048) + `","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}`,
		"LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048"},
}

func TestIAMTrustPolicyValidation(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := iamAs(env, rootCreds(env))
	for _, tc := range badTrustPolicies {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(tc.doc)})
			msg := wantAPIError(t, err, tc.code, 0)
			if tc.msg != "" && msg != tc.msg || msg == "" {
				t.Fatalf("message %q, want %q", msg, tc.msg)
			}
		})
	}
	l := ok[*iam.ListRolesOutput](t)(c.ListRoles(ctx, &iam.ListRolesInput{}))
	if len(l.Roles) != 0 {
		t.Fatalf("a role with a bad trust policy was created: %+v", l.Roles)
	}
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trustAccount(testenv.Account)), MaxSessionDuration: aws.Int32(100)})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
}
