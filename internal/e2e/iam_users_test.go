package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"strongroom/internal/testenv"
)

func TestIAMCreateGetListDeleteUser(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := iamAs(env, rootCreds(env))

	before := env.Clock.Now()
	u := ok[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Bob"), Path: aws.String("/division_abc/")})).User
	if *u.UserName != "Bob" || *u.Path != "/division_abc/" || *u.Arn != "arn:aws:iam::"+testenv.Account+":user/division_abc/Bob" {
		t.Fatalf("CreateUser = %+v", u)
	}
	if !strings.HasPrefix(*u.UserId, "AIDA") || len(*u.UserId) != 21 {
		t.Fatalf("UserId = %q, want AIDA + 17 characters", *u.UserId)
	}
	if u.CreateDate.Before(before.Add(-time.Second)) || u.CreateDate.After(before.Add(time.Second)) {
		t.Fatalf("CreateDate = %v, want the service clock's %v", u.CreateDate, before)
	}

	// Names are unique regardless of case; lookups ignore case too.
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})
	if msg := wantAPIError(t, err, "EntityAlreadyExists", http.StatusConflict); msg != "User with name bob already exists." {
		t.Fatalf("message %q", msg)
	}
	g := ok[*iam.GetUserOutput](t)(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("BOB")})).User
	if *g.UserName != "Bob" || *g.UserId != *u.UserId || *g.Arn != *u.Arn {
		t.Fatalf("GetUser = %+v", g)
	}

	for _, n := range []string{"carol", "dave", "erin"} {
		ok[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(n)}))
	}
	all := ok[*iam.ListUsersOutput](t)(c.ListUsers(ctx, &iam.ListUsersInput{}))
	var names []string
	for _, u := range all.Users {
		names = append(names, *u.UserName)
	}
	if strings.Join(names, ",") != "Bob,carol,dave,erin" || all.IsTruncated {
		t.Fatalf("ListUsers = %v truncated %v", names, all.IsTruncated)
	}
	prefixed := ok[*iam.ListUsersOutput](t)(c.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/division")}))
	if len(prefixed.Users) != 1 || *prefixed.Users[0].UserName != "Bob" {
		t.Fatalf("ListUsers with PathPrefix = %+v", prefixed.Users)
	}
	// Paging with the SDK's paginator: MaxItems 3 then the rest.
	names = nil
	pages := 0
	for p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{MaxItems: aws.Int32(3)}); p.HasMorePages(); {
		out := ok[*iam.ListUsersOutput](t)(p.NextPage(ctx))
		pages++
		for _, u := range out.Users {
			names = append(names, *u.UserName)
		}
	}
	if pages != 2 || strings.Join(names, ",") != "Bob,carol,dave,erin" {
		t.Fatalf("paged ListUsers = %v in %d pages", names, pages)
	}

	ok[*iam.DeleteUserOutput](t)(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}))
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("Bob")})
	if msg := wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound); msg != "The user with name Bob cannot be found." {
		t.Fatalf("message %q", msg)
	}
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("Bob")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)

	// A new user of the same name is a new identity.
	u2 := ok[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Bob")})).User
	if *u2.UserId == *u.UserId || *u2.Path != "/" {
		t.Fatalf("recreated user = %+v", u2)
	}
}

func TestIAMGetUserWithoutName(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := iamAs(env, rootCreds(env))
	me := ok[*iam.GetUserOutput](t)(root.GetUser(ctx, &iam.GetUserInput{})).User
	if *me.Arn != "arn:aws:iam::"+testenv.Account+":root" || *me.UserId != testenv.Account {
		t.Fatalf("root GetUser = %+v", me)
	}

	alice := newUserWithKey(t, env, "alice")
	_, err := iamAs(env, alice).GetUser(ctx, &iam.GetUserInput{})
	msg := wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
	want := "User: arn:aws:iam::" + testenv.Account + ":user/alice is not authorized to perform: iam:GetUser on resource: arn:aws:iam::" + testenv.Account + ":user/alice because no identity-based policy allows the iam:GetUser action"
	if msg != want {
		t.Fatalf("message %q\nwant    %q", msg, want)
	}
	putUserPolicy(t, env, "alice", "self", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}]}`)
	me = ok[*iam.GetUserOutput](t)(iamAs(env, alice).GetUser(ctx, &iam.GetUserInput{})).User
	if *me.UserName != "alice" {
		t.Fatalf("alice GetUser = %+v", me)
	}
	_, err = iamAs(env, alice).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden) // not NoSuchEntity: the policy only covers alice
}

func TestIAMDeleteUserConflicts(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := iamAs(env, rootCreds(env))
	creds := newUserWithKey(t, env, "bob")
	putUserPolicy(t, env, "bob", "p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`)

	_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})
	if msg := wantAPIError(t, err, "DeleteConflict", http.StatusConflict); msg != "Cannot delete entity, must delete access keys first." {
		t.Fatalf("message %q", msg)
	}
	ok[*iam.DeleteAccessKeyOutput](t)(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(creds.AccessKeyID)}))
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")})
	if msg := wantAPIError(t, err, "DeleteConflict", http.StatusConflict); msg != "Cannot delete entity, must delete policies first." {
		t.Fatalf("message %q", msg)
	}
	ok[*iam.DeleteUserPolicyOutput](t)(c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("p")}))
	ok[*iam.DeleteUserOutput](t)(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}))
}

// iamValidationCases are requests the model refuses before any operation
// runs, with AWS's messages.
var iamValidationCases = []struct {
	name string
	call func(c *iam.Client) error
	want string
}{
	{"CreateUser without UserName", func(c *iam.Client) error {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("")})
		return err
	}, "2 validation errors detected: Value '' at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
	{"CreateUser with a space in UserName", func(c *iam.Client) error {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name")})
		return err
	}, "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
	{"CreateUser with a 65-character UserName", func(c *iam.Client) error {
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(strings.Repeat("a", 65))})
		return err
	}, "1 validation error detected: Value '" + strings.Repeat("a", 65) + "' at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"},
	{"ListUsers with MaxItems 0", func(c *iam.Client) error {
		_, err := c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(0)})
		return err
	}, "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	{"UpdateAccessKey with a bad Status", func(c *iam.Client) error {
		_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA"), Status: "Paused"})
		return err
	}, "1 validation error detected: Value 'Paused' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"},
}

func TestIAMValidation(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := iamAs(env, rootCreds(env))
	for _, tc := range iamValidationCases {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantAPIError(t, tc.call(c), "ValidationError", http.StatusBadRequest)
			if msg != tc.want {
				t.Fatalf("message %q\nwant    %q", msg, tc.want)
			}
		})
	}
}

// TestIAMAuthorizedByIdentityPolicy: an IAM user may call IAM only as its
// identity policies allow; an explicit Deny wins; the change applies at
// once.
func TestIAMAuthorizedByIdentityPolicy(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	admin := newUserWithKey(t, env, "admin")
	c := iamAs(env, admin)

	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	msg := wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
	if want := "User: arn:aws:iam::" + testenv.Account + ":user/admin is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::" + testenv.Account + ":user/x because no identity-based policy allows the iam:CreateUser action"; msg != want {
		t.Fatalf("message %q", msg)
	}

	putUserPolicy(t, env, "admin", "iam-admin", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iam:*","Resource":"*"},
		{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"arn:aws:iam::*:user/protected/*"}]}`)
	ok[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")}))
	ok[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("keep"), Path: aws.String("/protected/")}))
	ok[*iam.DeleteUserOutput](t)(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("x")}))
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("keep")})
	if msg := wantAPIError(t, err, "AccessDenied", http.StatusForbidden); !strings.HasSuffix(msg, "with an explicit deny in an identity-based policy") {
		t.Fatalf("message %q", msg)
	}

	// Taking the policy away takes the access away at once.
	ok[*iam.DeleteUserPolicyOutput](t)(iamAs(env, rootCreds(env)).DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("iam-admin")}))
	_, err = c.ListUsers(ctx, &iam.ListUsersInput{})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)

	// GetCallerIdentity needs no permission.
	id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, admin).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::"+testenv.Account+":user/admin" || *id.Account != testenv.Account || !strings.HasPrefix(*id.UserId, "AIDA") {
		t.Fatalf("GetCallerIdentity = %s %s %s", *id.Arn, *id.Account, *id.UserId)
	}
}
