package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"strongroom/internal/testenv"
)

func TestIAMAccessKeyLifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := iamAs(env, rootCreds(env))
	ok[*iam.CreateUserOutput](t)(root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}))

	k := ok[*iam.CreateAccessKeyOutput](t)(root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})).AccessKey
	if !strings.HasPrefix(*k.AccessKeyId, "AKIA") || len(*k.AccessKeyId) != 20 || len(*k.SecretAccessKey) != 40 ||
		k.Status != iamtypes.StatusTypeActive || *k.UserName != "bob" || k.CreateDate == nil {
		t.Fatalf("CreateAccessKey = %+v", k)
	}
	bob := idCreds{AccessKeyID: *k.AccessKeyId, SecretAccessKey: *k.SecretAccessKey}
	putUserPolicy(t, env, "bob", "kms", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`)

	// The key works at once, for STS and for KMS.
	id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::"+testenv.Account+":user/bob" {
		t.Fatalf("GetCallerIdentity = %s", *id.Arn)
	}
	ok[*kms.ListKeysOutput](t)(kmsAs(env, bob).ListKeys(ctx, &kms.ListKeysInput{}))

	// ListAccessKeys never shows a secret (the SDK shape has no field
	// for it: check the wire).
	l := ok[*iam.ListAccessKeysOutput](t)(root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")}))
	if len(l.AccessKeyMetadata) != 1 || *l.AccessKeyMetadata[0].AccessKeyId != bob.AccessKeyID || *l.AccessKeyMetadata[0].UserName != "bob" ||
		l.AccessKeyMetadata[0].Status != iamtypes.StatusTypeActive {
		t.Fatalf("ListAccessKeys = %+v", l.AccessKeyMetadata)
	}
	rc := rootCreds(env)
	raw := rawQuery(t, env, &rc, "iam", map[string][]string{"Action": {"ListAccessKeys"}, "Version": {"2010-05-08"}, "UserName": {"bob"}})
	if raw.Status != 200 || strings.Contains(raw.Body, bob.SecretAccessKey) || strings.Contains(raw.Body, "Secret") {
		t.Fatalf("ListAccessKeys on the wire: %d %s", raw.Status, raw.Body)
	}

	// Inactive: refused at once, on every protocol; active again: accepted.
	ok[*iam.UpdateAccessKeyOutput](t)(root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(bob.AccessKeyID), Status: iamtypes.StatusTypeInactive}))
	_, err := stsAs(env, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if msg := wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden); msg != "The security token included in the request is invalid." {
		t.Fatalf("message %q", msg)
	}
	_, err = kmsAs(env, bob).ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "UnrecognizedClientException", http.StatusBadRequest)
	l = ok[*iam.ListAccessKeysOutput](t)(root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")}))
	if l.AccessKeyMetadata[0].Status != iamtypes.StatusTypeInactive {
		t.Fatalf("status after UpdateAccessKey = %s", l.AccessKeyMetadata[0].Status)
	}
	ok[*iam.UpdateAccessKeyOutput](t)(root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(bob.AccessKeyID), Status: iamtypes.StatusTypeActive}))
	ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))

	// Quota: two keys per user.
	ok[*iam.DeleteUserPolicyOutput](t)(root.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("kms")}))
	ok[*iam.CreateAccessKeyOutput](t)(root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if msg := wantAPIError(t, err, "LimitExceeded", http.StatusConflict); msg != "Cannot exceed quota for AccessKeysPerUser: 2" {
		t.Fatalf("message %q", msg)
	}

	// Deleted: refused at once; deleting again is NoSuchEntity.
	ok[*iam.DeleteAccessKeyOutput](t)(root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(bob.AccessKeyID)}))
	_, err = stsAs(env, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
	_, err = root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(bob.AccessKeyID)})
	if msg := wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound); msg != "The Access Key with id "+bob.AccessKeyID+" cannot be found." {
		t.Fatalf("message %q", msg)
	}
	_, err = root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nobody")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
}

// TestIAMAccessKeysOfTheCaller: without UserName, the key operations act
// on the caller's own keys; a root creates root keys; a key of another
// user cannot be reached through one's own name.
func TestIAMAccessKeysOfTheCaller(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := iamAs(env, rootCreds(env))

	rk := ok[*iam.CreateAccessKeyOutput](t)(root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})).AccessKey
	if rk.UserName != nil {
		t.Fatalf("root key has UserName %q", *rk.UserName)
	}
	second := idCreds{AccessKeyID: *rk.AccessKeyId, SecretAccessKey: *rk.SecretAccessKey}
	id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, second).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::"+testenv.Account+":root" || *id.UserId != testenv.Account {
		t.Fatalf("second root key is %s / %s", *id.Arn, *id.UserId)
	}
	l := ok[*iam.ListAccessKeysOutput](t)(root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{}))
	if len(l.AccessKeyMetadata) != 2 {
		t.Fatalf("root keys = %+v, want the bootstrap key and the new one", l.AccessKeyMetadata)
	}
	_, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantAPIError(t, err, "LimitExceeded", http.StatusConflict)

	alice := newUserWithKey(t, env, "alice")
	carol := newUserWithKey(t, env, "carol")
	putUserPolicy(t, env, "alice", "own-keys", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:*AccessKey*"],"Resource":"arn:aws:iam::*:user/${aws:username}"}}`)
	a := iamAs(env, alice)
	mine := ok[*iam.ListAccessKeysOutput](t)(a.ListAccessKeys(ctx, &iam.ListAccessKeysInput{}))
	if len(mine.AccessKeyMetadata) != 1 || *mine.AccessKeyMetadata[0].AccessKeyId != alice.AccessKeyID {
		t.Fatalf("alice's keys = %+v", mine.AccessKeyMetadata)
	}
	k2 := ok[*iam.CreateAccessKeyOutput](t)(a.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})).AccessKey
	if *k2.UserName != "alice" {
		t.Fatalf("alice's new key belongs to %q", *k2.UserName)
	}
	_, err = a.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(carol.AccessKeyID)})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
	_, err = a.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(env.Root.AccessKeyID), Status: iamtypes.StatusTypeInactive})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
	_, err = a.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("carol")})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
	ok[*iam.DeleteAccessKeyOutput](t)(a.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: k2.AccessKeyId}))
	ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, carol).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
}

// TestIAMUserCallsKMS: a user's own key pair authenticates to KMS, and
// acts there as the user (with an identity policy that allows KMS, so that
// it passes whether or not KMS enforces identity policies yet).
func TestIAMUserCallsKMS(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	bob := newUserWithKey(t, env, "bob")
	putUserPolicy(t, env, "bob", "kms", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`)
	c := kmsAs(env, bob)
	key := ok[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{}))
	enc := ok[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("hello")}))
	dec := ok[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))
	if string(dec.Plaintext) != "hello" || *key.KeyMetadata.AWSAccountId != testenv.Account {
		t.Fatalf("round trip = %q, key account %s", dec.Plaintext, *key.KeyMetadata.AWSAccountId)
	}
	id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::"+testenv.Account+":user/bob" {
		t.Fatalf("GetCallerIdentity = %s", *id.Arn)
	}
}
