package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"strongroom/internal/rootkey"
	"strongroom/internal/store/bolt"
	"strongroom/internal/testenv"
)

func createRole(t testing.TB, env *testenv.Env, name, trust string, maxSession int32) {
	t.Helper()
	in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}
	if maxSession != 0 {
		in.MaxSessionDuration = aws.Int32(maxSession)
	}
	ok[*iam.CreateRoleOutput](t)(iamAs(env, rootCreds(env)).CreateRole(ctx, in))
}

func assume(t testing.TB, env *testenv.Env, creds idCreds, role, session string, seconds int32) *sts.AssumeRoleOutput {
	t.Helper()
	in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session)}
	if seconds != 0 {
		in.DurationSeconds = aws.Int32(seconds)
	}
	return ok[*sts.AssumeRoleOutput](t)(stsAs(env, creds).AssumeRole(ctx, in))
}

func TestSTSAssumeRoleSameAccount(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	bob := newUserWithKey(t, env, "bob")
	bobARN := "arn:aws:iam::" + testenv.Account + ":user/bob"
	createRole(t, env, "direct", trustPrincipal(bobARN), 0)
	ok[*iam.PutRolePolicyOutput](t)(iamAs(env, rootCreds(env)).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("direct"),
		PolicyName: aws.String("kms"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`)}))
	role := ok[*iam.GetRoleOutput](t)(iamAs(env, rootCreds(env)).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("direct")})).Role

	// A trust policy naming the user directly is enough in its own account.
	now := env.Clock.Now()
	out := assume(t, env, bob, *role.Arn, "build-42", 0)
	cr, ru := out.Credentials, out.AssumedRoleUser
	if !strings.HasPrefix(*cr.AccessKeyId, "ASIA") || len(*cr.AccessKeyId) != 20 || len(*cr.SecretAccessKey) != 40 || len(*cr.SessionToken) < 64 {
		t.Fatalf("Credentials = %s / %d-character secret / %d-character token", *cr.AccessKeyId, len(*cr.SecretAccessKey), len(*cr.SessionToken))
	}
	if want := now.Add(time.Hour); cr.Expiration.Sub(want).Abs() > time.Second {
		t.Fatalf("Expiration = %v, want the service clock + 1h = %v", cr.Expiration, want)
	}
	if *ru.Arn != "arn:aws:sts::"+testenv.Account+":assumed-role/direct/build-42" || *ru.AssumedRoleId != *role.RoleId+":build-42" {
		t.Fatalf("AssumedRoleUser = %s %s", *ru.Arn, *ru.AssumedRoleId)
	}

	session := sessionCreds(cr)
	id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != *ru.Arn || *id.UserId != *ru.AssumedRoleId || *id.Account != testenv.Account {
		t.Fatalf("GetCallerIdentity = %s %s %s", *id.Arn, *id.UserId, *id.Account)
	}
	// The session works for KMS, with the role's policies.
	k := ok[*kms.CreateKeyOutput](t)(kmsAs(env, session).CreateKey(ctx, &kms.CreateKeyInput{}))
	ok[*kms.EncryptOutput](t)(kmsAs(env, session).Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}))
	// A session is not a user.
	_, err := iamAs(env, session).GetUser(ctx, &iam.GetUserInput{})
	if msg := wantAPIError(t, err, "ValidationError", http.StatusBadRequest); msg != "Must specify userName when calling with non-User credentials" {
		t.Fatalf("message %q", msg)
	}
	_, err = iamAs(env, session).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
	_, err = iamAs(env, session).ListUsers(ctx, &iam.ListUsersInput{})
	if msg := wantAPIError(t, err, "AccessDenied", http.StatusForbidden); !strings.HasPrefix(msg, "User: "+*ru.Arn+" is not authorized to perform: iam:ListUsers") {
		t.Fatalf("message %q", msg)
	}

	// A trust policy naming only the account delegates to identity
	// policies: carol needs one that allows sts:AssumeRole on the role.
	carol := newUserWithKey(t, env, "carol")
	createRole(t, env, "delegated", trustAccount(testenv.Account), 0)
	_, err = stsAs(env, carol).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "delegated")), RoleSessionName: aws.String("s1")})
	msg := wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
	if want := "User: arn:aws:iam::" + testenv.Account + ":user/carol is not authorized to perform: sts:AssumeRole on resource: " + roleARN(testenv.Account, "delegated"); !strings.HasPrefix(msg, want) {
		t.Fatalf("message %q\nwant    %q…", msg, want)
	}
	putUserPolicy(t, env, "carol", "assume", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"`+roleARN(testenv.Account, "delegated")+`"}}`)
	assume(t, env, carol, roleARN(testenv.Account, "delegated"), "s1", 0)
	// …but not the role that names only bob.
	_, err = stsAs(env, carol).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(*role.Arn), RoleSessionName: aws.String("s1")})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)

	// An explicit Deny in the caller's policies wins over the trust policy.
	putUserPolicy(t, env, "bob", "no-roles", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}}`)
	_, err = stsAs(env, bob).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(*role.Arn), RoleSessionName: aws.String("s1")})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)

	// Roots may not assume roles; a missing role is denied like any other.
	_, err = stsAs(env, rootCreds(env)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "delegated")), RoleSessionName: aws.String("s1")})
	if msg := wantAPIError(t, err, "AccessDenied", http.StatusForbidden); msg != "Roles may not be assumed by root accounts." {
		t.Fatalf("message %q", msg)
	}
	_, err = stsAs(env, carol).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "nothing")), RoleSessionName: aws.String("s1")})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
	_, err = stsAs(env, carol).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + testenv.Account + ":user/bob"), RoleSessionName: aws.String("s1")})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
	_, err = stsAs(env, carol).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "delegated")), RoleSessionName: aws.String("s1"),
		Policy: aws.String(kmsEncryptPolicy)})
	if msg := wantAPIError(t, err, "ValidationError", http.StatusBadRequest); !strings.Contains(msg, "Policy") {
		t.Fatalf("session policy: %q", msg)
	}
}

func TestSTSDurations(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	bob := newUserWithKey(t, env, "bob")
	putUserPolicy(t, env, "bob", "assume", assumeAnyRole)
	createRole(t, env, "short", trustAccount(testenv.Account), 0)
	createRole(t, env, "long", trustAccount(testenv.Account), 43200)
	s := stsAs(env, bob)

	_, err := s.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "short")), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(899)})
	if msg := wantAPIError(t, err, "ValidationError", http.StatusBadRequest); msg != "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900" {
		t.Fatalf("message %q", msg)
	}
	_, err = s.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "short")), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(3601)})
	if msg := wantAPIError(t, err, "ValidationError", http.StatusBadRequest); msg != "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." {
		t.Fatalf("message %q", msg)
	}
	_, err = s.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "short")), RoleSessionName: aws.String("bad name")})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
	_, err = s.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "short")), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(43201)})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)

	now := env.Clock.Now()
	out := assume(t, env, bob, roleARN(testenv.Account, "long"), "s1", 43200)
	if out.Credentials.Expiration.Sub(now.Add(12*time.Hour)).Abs() > time.Second {
		t.Fatalf("Expiration = %v, want now + 12h", out.Credentials.Expiration)
	}
	short := assume(t, env, bob, roleARN(testenv.Account, "short"), "s1", 900)
	if short.Credentials.Expiration.Sub(now.Add(15*time.Minute)).Abs() > time.Second {
		t.Fatalf("Expiration = %v, want now + 15m", short.Credentials.Expiration)
	}

	// Role chaining: a session assuming a role gets at most an hour.
	ok[*iam.PutRolePolicyOutput](t)(iamAs(env, rootCreds(env)).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("long"),
		PolicyName: aws.String("assume"), PolicyDocument: aws.String(assumeAnyRole)}))
	chained := stsAs(env, sessionCreds(out.Credentials))
	_, err = chained.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "long")), RoleSessionName: aws.String("cc"), DurationSeconds: aws.Int32(7200)})
	if msg := wantAPIError(t, err, "ValidationError", http.StatusBadRequest); msg != "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining." {
		t.Fatalf("message %q", msg)
	}
	c := ok[*sts.AssumeRoleOutput](t)(chained.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, "long")), RoleSessionName: aws.String("cc")}))
	if *c.AssumedRoleUser.Arn != "arn:aws:sts::"+testenv.Account+":assumed-role/long/cc" {
		t.Fatalf("chained session = %s", *c.AssumedRoleUser.Arn)
	}
}

// TestSTSSessionExpiry: a session works until its Expiration by the
// service clock, then is refused as expired (ExpiredToken on the query
// protocol, ExpiredTokenException on KMS), and once purged as unknown.
func TestSTSSessionExpiry(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	bob := newUserWithKey(t, env, "bob")
	putUserPolicy(t, env, "bob", "assume", assumeAnyRole)
	createRole(t, env, "r", trustAccount(testenv.Account), 0)
	ok[*iam.PutRolePolicyOutput](t)(iamAs(env, rootCreds(env)).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"),
		PolicyName: aws.String("kms"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`)}))
	session := sessionCreds(assume(t, env, bob, roleARN(testenv.Account, "r"), "s1", 900).Credentials)

	env.Clock.Advance(899 * time.Second)
	ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	ok[*kms.ListKeysOutput](t)(kmsAs(env, session).ListKeys(ctx, &kms.ListKeysInput{}))

	env.Clock.Advance(time.Second)
	_, err := stsAs(env, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if msg := wantAPIError(t, err, "ExpiredToken", http.StatusForbidden); msg != "The security token included in the request is expired" {
		t.Fatalf("message %q", msg)
	}
	_, err = iamAs(env, session).ListRoles(ctx, &iam.ListRolesInput{})
	wantAPIError(t, err, "ExpiredToken", http.StatusForbidden)
	_, err = kmsAs(env, session).ListKeys(ctx, &kms.ListKeysInput{})
	if msg := wantAPIError(t, err, "ExpiredTokenException", http.StatusBadRequest); msg != "The security token included in the request is expired" {
		t.Fatalf("message %q", msg)
	}

	// Expired sessions are purged after a day; then they are unknown.
	if n := ok[int](t)(env.App.Directory.PurgeExpiredSessions(ctx)); n != 0 {
		t.Fatalf("purged %d sessions that expired a second ago", n)
	}
	env.Clock.Advance(24 * time.Hour)
	if n := ok[int](t)(env.App.Directory.PurgeExpiredSessions(ctx)); n != 1 {
		t.Fatalf("purged %d sessions, want 1", n)
	}
	_, err = stsAs(env, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
}

// TestSTSSessionTokenChecks: the token must be the session's own.
func TestSTSSessionTokenChecks(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	bob := newUserWithKey(t, env, "bob")
	putUserPolicy(t, env, "bob", "assume", assumeAnyRole)
	createRole(t, env, "r", trustAccount(testenv.Account), 0)
	s1 := sessionCreds(assume(t, env, bob, roleARN(testenv.Account, "r"), "one", 0).Credentials)
	s2 := sessionCreds(assume(t, env, bob, roleARN(testenv.Account, "r"), "two", 0).Credentials)

	cases := map[string]idCreds{
		"another session's token":      {AccessKeyID: s1.AccessKeyID, SecretAccessKey: s1.SecretAccessKey, SessionToken: s2.SessionToken},
		"a token one byte off":         {AccessKeyID: s1.AccessKeyID, SecretAccessKey: s1.SecretAccessKey, SessionToken: s1.SessionToken[:10] + "A" + s1.SessionToken[11:]},
		"no token":                     {AccessKeyID: s1.AccessKeyID, SecretAccessKey: s1.SecretAccessKey},
		"a token with a long-term key": {AccessKeyID: bob.AccessKeyID, SecretAccessKey: bob.SecretAccessKey, SessionToken: s1.SessionToken},
	}
	if s1.SessionToken[10] == 'A' {
		cases["a token one byte off"] = idCreds{AccessKeyID: s1.AccessKeyID, SecretAccessKey: s1.SecretAccessKey, SessionToken: s1.SessionToken[:10] + "B" + s1.SessionToken[11:]}
	}
	for name, creds := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := stsAs(env, creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if msg := wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden); msg != "The security token included in the request is invalid." {
				t.Fatalf("message %q", msg)
			}
			_, err = kmsAs(env, creds).ListKeys(ctx, &kms.ListKeysInput{})
			wantAPIError(t, err, "UnrecognizedClientException", http.StatusBadRequest)
		})
	}
	wrongSecret := idCreds{AccessKeyID: s1.AccessKeyID, SecretAccessKey: s2.SecretAccessKey, SessionToken: s1.SessionToken}
	_, err := stsAs(env, wrongSecret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
}

// TestSTSCrossAccount: a principal of account B may assume a role of
// account A exactly when A's trust policy and B's identity policies both
// allow it.
func TestSTSCrossAccount(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	keyB, err := env.App.Directory.CreateAccount(ctx, "444455556666")
	if err != nil {
		t.Fatal(err)
	}
	rootB := idCreds{AccessKeyID: keyB.AccessKeyID, SecretAccessKey: keyB.SecretAccessKey}
	iamB := iamAs(env, rootB)
	ok[*iam.CreateUserOutput](t)(iamB.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")}))
	k := ok[*iam.CreateAccessKeyOutput](t)(iamB.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dev")})).AccessKey
	dev := idCreds{AccessKeyID: *k.AccessKeyId, SecretAccessKey: *k.SecretAccessKey}
	devARN := "arn:aws:iam::444455556666:user/dev"

	createRole(t, env, "by-account", trustAccount("444455556666"), 0)
	createRole(t, env, "by-user", trustPrincipal(devARN), 0)
	createRole(t, env, "not-trusting", trustAccount(testenv.Account), 0)
	assumeAs := func(role string) error {
		_, err := stsAs(env, dev).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(testenv.Account, role)), RoleSessionName: aws.String("xx")})
		return err
	}

	// Trusted, but B's policies allow nothing yet: denied, even when the
	// trust policy names the user itself.
	wantAPIError(t, assumeAs("by-account"), "AccessDenied", http.StatusForbidden)
	wantAPIError(t, assumeAs("by-user"), "AccessDenied", http.StatusForbidden)

	ok[*iam.PutUserPolicyOutput](t)(iamB.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("assume"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::` + testenv.Account + `:role/*"}}`)}))
	if err := assumeAs("by-account"); err != nil {
		t.Fatal(err)
	}
	if err := assumeAs("by-user"); err != nil {
		t.Fatal(err)
	}
	// Both sides must allow: B's policy alone does not open A's role.
	wantAPIError(t, assumeAs("not-trusting"), "AccessDenied", http.StatusForbidden)

	out := assume(t, env, dev, roleARN(testenv.Account, "by-account"), "xx", 0)
	id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, sessionCreds(out.Credentials)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Account != testenv.Account || *id.Arn != "arn:aws:sts::"+testenv.Account+":assumed-role/by-account/xx" {
		t.Fatalf("cross-account session = %s %s", *id.Account, *id.Arn)
	}

	// Accounts are separate: B's root sees none of A's users or roles.
	l := ok[*iam.ListRolesOutput](t)(iamB.ListRoles(ctx, &iam.ListRolesInput{}))
	if len(l.Roles) != 0 {
		t.Fatalf("account B lists A's roles: %+v", l.Roles)
	}
}

// TestSTSSessionsSharedAndDurable: sessions live in the store, so they
// work on every node that shares it and after a restart.
func TestSTSSessionsSharedAndDurable(t *testing.T) {
	dir := t.TempDir()
	sealer := rootkey.NewEphemeral()
	open := func(t *testing.T) *bolt.Store {
		st, err := bolt.Open(dir, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	var session idCreds
	var sessionARN string
	t.Run("first start, two nodes", func(t *testing.T) {
		st := open(t)
		node1 := testenv.Start(t, testenv.Options{Store: st, Sealer: sealer, AuditInStore: true})
		bob := newUserWithKey(t, node1, "bob")
		putUserPolicy(t, node1, "bob", "assume", assumeAnyRole)
		createRole(t, node1, "r", trustAccount(testenv.Account), 0)
		out := assume(t, node1, bob, roleARN(testenv.Account, "r"), "durable", 0)
		session, sessionARN = sessionCreds(out.Credentials), *out.AssumedRoleUser.Arn

		node2 := testenv.Start(t, testenv.Options{Store: st, Sealer: sealer, AuditInStore: true})
		id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(node2, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
		if *id.Arn != sessionARN {
			t.Fatalf("node 2 sees %s", *id.Arn)
		}
		// A key deactivated on node 1 stops working on node 2 within a second.
		ok[*sts.GetCallerIdentityOutput](t)(stsAs(node2, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
		ok[*iam.UpdateAccessKeyOutput](t)(iamAs(node1, rootCreds(node1)).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(bob.AccessKeyID), Status: "Inactive"}))
		deadline := time.Now().Add(3 * time.Second)
		for {
			_, err := stsAs(node2, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("node 2 still accepts the deactivated key")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("after a restart", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{Store: open(t), Sealer: sealer, AuditInStore: true})
		id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
		if *id.Arn != sessionARN {
			t.Fatalf("after restart: %s", *id.Arn)
		}
	})
}
