package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"strongroom/internal/identity"
	"strongroom/internal/policy"
	"strongroom/internal/testenv"
)

const kmsEncryptPolicy = `{
  "Version": "2012-10-17",
  "Statement": [{"Sid": "Use+Keys", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]
}`

func TestIAMUserPolicies(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := iamAs(env, rootCreds(env))
	ok[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}))

	ok[*iam.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("encrypt"), PolicyDocument: aws.String(kmsEncryptPolicy)}))
	ok[*iam.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("another"), PolicyDocument: aws.String(kmsEncryptPolicy)}))

	g := ok[*iam.GetUserPolicyOutput](t)(c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("encrypt")}))
	// IAM returns the document URL-encoded, exactly as it was put.
	if *g.UserName != "bob" || *g.PolicyName != "encrypt" || strings.ContainsAny(*g.PolicyDocument, "{\" +") {
		t.Fatalf("GetUserPolicy = %s %s %q", *g.UserName, *g.PolicyName, *g.PolicyDocument)
	}
	if doc, err := url.QueryUnescape(*g.PolicyDocument); err != nil || doc != kmsEncryptPolicy {
		t.Fatalf("decoded document %q (%v), want %q", doc, err, kmsEncryptPolicy)
	}

	l := ok[*iam.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("bob")}))
	if !slices.Equal(l.PolicyNames, []string{"another", "encrypt"}) || l.IsTruncated {
		t.Fatalf("ListUserPolicies = %v", l.PolicyNames)
	}
	p1 := ok[*iam.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("bob"), MaxItems: aws.Int32(1)}))
	p2 := ok[*iam.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("bob"), MaxItems: aws.Int32(1), Marker: p1.Marker}))
	if !p1.IsTruncated || p2.IsTruncated || !slices.Equal(append(p1.PolicyNames, p2.PolicyNames...), []string{"another", "encrypt"}) {
		t.Fatalf("paged ListUserPolicies = %v %v", p1.PolicyNames, p2.PolicyNames)
	}

	ok[*iam.DeleteUserPolicyOutput](t)(c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("another")}))
	_, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("another")})
	if msg := wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound); msg != "The user policy with name another cannot be found." {
		t.Fatalf("message %q", msg)
	}
	_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("another")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("nobody"), PolicyName: aws.String("p"), PolicyDocument: aws.String(kmsEncryptPolicy)})
	if msg := wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound); msg != "The user with name nobody cannot be found." {
		t.Fatalf("message %q", msg)
	}
}

var malformedIdentityPolicies = []struct {
	name, doc string
}{
	{"not JSON", `{"Version":`},
	{"a principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`},
	{"no Resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*"}}`},
	{"bad Effect", `{"Version":"2012-10-17","Statement":{"Effect":"Maybe","Action":"kms:*","Resource":"*"}}`},
	{"bad Version", `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`},
	{"duplicate member", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Effect":"Deny","Action":"kms:*","Resource":"*"}}`},
}

func TestIAMMalformedPolicies(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := iamAs(env, rootCreds(env))
	ok[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}))
	for _, tc := range malformedIdentityPolicies {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("p"), PolicyDocument: aws.String(tc.doc)})
			if msg := wantAPIError(t, err, "MalformedPolicyDocument", http.StatusBadRequest); msg == "" {
				t.Fatal("no reason given")
			}
		})
	}
	l := ok[*iam.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("bob")}))
	if len(l.PolicyNames) != 0 {
		t.Fatalf("a malformed policy was stored: %v", l.PolicyNames)
	}

	// The aggregate size of a user's inline policies is capped at 2048
	// characters other than white space.
	big := `{"Version":"2012-10-17","Statement":{"Sid":"` + strings.Repeat("a", 1000) + `","Effect":"Allow","Action":"kms:*","Resource":"*"}}`
	ok[*iam.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("one"), PolicyDocument: aws.String(big)}))
	ok[*iam.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("one"), PolicyDocument: aws.String(big)})) // replacing does not add up
	_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("two"), PolicyDocument: aws.String(big)})
	if msg := wantAPIError(t, err, "LimitExceeded", http.StatusConflict); msg != "Maximum policy size of 2048 bytes exceeded for user bob" {
		t.Fatalf("message %q", msg)
	}
}

// TestIdentityPoliciesForKMS checks the Go API the kms core reads: the
// documents that apply to each kind of principal, changed at once.
func TestIdentityPoliciesForKMS(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	dir := env.App.Directory
	bob := newUserWithKey(t, env, "bob")
	p, _, err := dir.Lookup(ctx, bob.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	docs := ok[[]string](t)(dir.IdentityPolicies(ctx, p))
	if len(docs) != 0 {
		t.Fatalf("new user has %v", docs)
	}
	putUserPolicy(t, env, "bob", "encrypt", kmsEncryptPolicy)
	if docs := ok[[]string](t)(dir.IdentityPolicies(ctx, p)); !slices.Equal(docs, []string{kmsEncryptPolicy}) {
		t.Fatalf("after PutUserPolicy: %v", docs)
	}
	parsed := ok[[]*policy.Policy](t)(dir.ParsedIdentityPolicies(ctx, p))
	if len(parsed) != 1 {
		t.Fatalf("ParsedIdentityPolicies = %d policies", len(parsed))
	}
	if docs := ok[[]string](t)(dir.IdentityPolicies(ctx, identity.Root(testenv.Account))); len(docs) != 0 {
		t.Fatalf("root has %v", docs)
	}

	// Deleting the user and creating another of the same name: the old
	// principal no longer has the new user's policies.
	root := iamAs(env, rootCreds(env))
	ok[*iam.DeleteUserPolicyOutput](t)(root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("encrypt")}))
	if docs := ok[[]string](t)(dir.IdentityPolicies(ctx, p)); len(docs) != 0 {
		t.Fatalf("after DeleteUserPolicy: %v", docs)
	}
	ok[*iam.DeleteAccessKeyOutput](t)(root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(bob.AccessKeyID)}))
	ok[*iam.DeleteUserOutput](t)(root.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}))
	ok[*iam.CreateUserOutput](t)(root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}))
	putUserPolicy(t, env, "bob", "encrypt", kmsEncryptPolicy)
	if docs := ok[[]string](t)(dir.IdentityPolicies(ctx, p)); len(docs) != 0 {
		t.Fatalf("the deleted user's principal has the new user's policies: %v", docs)
	}

	// A session has its role's policies.
	ok[*iam.CreateRoleOutput](t)(root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(trustAccount(testenv.Account))}))
	ok[*iam.PutRolePolicyOutput](t)(root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("encrypt"), PolicyDocument: aws.String(kmsEncryptPolicy)}))
	carol := newUserWithKey(t, env, "carol")
	putUserPolicy(t, env, "carol", "assume", assumeAnyRole)
	ar := ok[*sts.AssumeRoleOutput](t)(stsAs(env, carol).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "app")), RoleSessionName: aws.String("s1")}))
	sp, _, err := dir.LookupSession(ctx, *ar.Credentials.AccessKeyId, *ar.Credentials.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Type != identity.TypeAssumedRole || sp.RoleARN != roleARN(testenv.Account, "app") || sp.ARN != *ar.AssumedRoleUser.Arn {
		t.Fatalf("session principal = %+v", sp)
	}
	if docs := ok[[]string](t)(dir.IdentityPolicies(ctx, sp)); !slices.Equal(docs, []string{kmsEncryptPolicy}) {
		t.Fatalf("session policies = %v", docs)
	}
	ok[*iam.DeleteRolePolicyOutput](t)(root.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("encrypt")}))
	if docs := ok[[]string](t)(dir.IdentityPolicies(ctx, sp)); len(docs) != 0 {
		t.Fatalf("session policies after DeleteRolePolicy = %v", docs)
	}
}
