package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// policyWithoutRoot is a key policy that names only bob directly for key
// administration, not the account root: IAM policies cannot grant access.
func policyWithoutRoot(account string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow",
	  "Principal":{"AWS":"arn:aws:iam::` + account + `:user/admin"},"Action":"kms:*","Resource":"*"}]}`
}

const allowEncryptIAM = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`

// TestChapterTrap is the chapter's lesson, word for word: a key whose policy
// does not allow the account root → an IAM user whose identity policy
// allows kms:Encrypt is still denied; with the root statement restored →
// allowed.
func TestChapterTrap(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	admin := newUserWithKey(t, env, "admin")
	bob := newUserWithKey(t, env, "bob")
	putUserPolicy(t, env, "bob", "encrypt", allowEncryptIAM)

	root := env.KMS()
	// Root creates a key whose policy names only the admin user, bypassing
	// the lockout check that would otherwise refuse it (root is not in it).
	k, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policyWithoutRoot(testenv.Account)), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	keyID := k.KeyMetadata.KeyId

	_, err = kmsAs(env, bob).Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("x")})
	msg := wantAPIError(t, err, "AccessDeniedException", 400)
	if !strings.Contains(msg, "user/bob") || !strings.Contains(msg, "kms:Encrypt") {
		t.Errorf("AccessDenied message %q does not name the principal and action", msg)
	}
	// Root is not exempt from the key policy either.
	_, err = root.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)

	// The admin named in the key policy restores the root statement.
	restored := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:user/admin"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := kmsAs(env, admin).PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: keyID, Policy: aws.String(restored)}); err != nil {
		t.Fatal(err)
	}
	enc, err := kmsAs(env, bob).Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("with the root statement restored, bob is still denied: %v", err)
	}
	// bob's identity policy does not allow GenerateDataKey: still denied.
	_, err = kmsAs(env, bob).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: keyID, KeySpec: types.DataKeySpecAes256})
	wantAPIError(t, err, "AccessDeniedException", 400)
	if _, err := kmsAs(env, bob).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	// A user with no identity policy gets nothing even with the root statement.
	carol := newUserWithKey(t, env, "carol")
	_, err = kmsAs(env, carol).Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)
	// ListKeys is authorized by identity policy alone.
	_, err = kmsAs(env, carol).ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "AccessDeniedException", 400)
}

func TestExplicitDenyWins(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	bob := newUserWithKey(t, env, "bob")
	putUserPolicy(t, env, "bob", "allow", allowEncryptIAM)
	putUserPolicy(t, env, "bob", "deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*",
	  "Condition":{"StringNotEquals":{"kms:EncryptionContext:team":"blue"}}}]}`)
	key := newKey(t, env.KMS(), "deny")
	b := kmsAs(env, bob)
	_, err := b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"team": "red"}})
	wantAPIError(t, err, "AccessDeniedException", 400)
	if _, err := b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"team": "blue"}}); err != nil {
		t.Fatalf("the condition is met, the deny does not apply: %v", err)
	}
	// A Deny in the key policy beats root's allow.
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"nodecrypt","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}`
	root := env.KMS()
	if _, err := root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	enc := encrypt(t, root, *key.KeyId, []byte("y"), nil)
	_, err = root.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc})
	wantAPIError(t, err, "AccessDeniedException", 400)
}

func TestLockoutSafetyCheck(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := env.KMS()
	key := newKey(t, root, "lockout")
	lockout := policyWithoutRoot(testenv.Account)
	_, err := root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(lockout)})
	wantAPIError(t, err, "MalformedPolicyDocumentException", 400)
	_, err = root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(lockout)})
	wantAPIError(t, err, "MalformedPolicyDocumentException", 400)
	// Malformed documents are refused with a reason.
	for _, doc := range []string{`{`, `{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, `{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}`} {
		_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(doc)})
		if msg := wantAPIError(t, err, "MalformedPolicyDocumentException", 400); msg == "" {
			t.Errorf("no reason given for %s", doc)
		}
	}
	// The stored policy is unchanged and still lets root in.
	if _, err := root.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(lockout), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	_, err = root.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId})
	wantAPIError(t, err, "AccessDeniedException", 400)
}

func TestGrants(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := env.KMS()
	key := newKey(t, root, "granted")
	bob := newUserWithKey(t, env, "bob")
	b := kmsAs(env, bob)
	bobARN := "arn:aws:iam::" + testenv.Account + ":user/bob"

	_, err := b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.Arn, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)

	g, err := root.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: key.KeyId, GranteePrincipal: aws.String(bobARN), RetiringPrincipal: aws.String(bobARN),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"Dept": "eng"}},
		Name:        aws.String("bob-eng"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Usable at once, with the grant token.
	enc, err := b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("secret"),
		EncryptionContext: map[string]string{"dept": "eng", "x": "y"}, GrantTokens: []string{*g.GrantToken}})
	if err != nil {
		t.Fatalf("grantee with a satisfied subset constraint: %v", err)
	}
	// Constraint keys compare case-insensitively, values exactly.
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"dept": "ENG"}})
	wantAPIError(t, err, "AccessDeniedException", 400)
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)
	dec, err := b.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"dept": "eng", "x": "y"}})
	if err != nil || !bytes.Equal(dec.Plaintext, []byte("secret")) {
		t.Fatalf("grantee decrypt: %v", err)
	}
	// Operations not in the grant are denied.
	_, err = b.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: map[string]string{"dept": "eng"}})
	wantAPIError(t, err, "AccessDeniedException", 400)
	// Name makes CreateGrant idempotent.
	g2, err := root.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: key.KeyId, GranteePrincipal: aws.String(bobARN), RetiringPrincipal: aws.String(bobARN),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"Dept": "eng"}},
		Name:        aws.String("bob-eng"),
	})
	if err != nil || *g2.GrantId != *g.GrantId {
		t.Fatalf("retry with the same name: %v, id %v vs %v", err, aws.ToString(g2.GrantId), *g.GrantId)
	}
	lg, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: key.KeyId})
	if err != nil || len(lg.Grants) != 1 || *lg.Grants[0].GranteePrincipal != bobARN || *lg.Grants[0].Name != "bob-eng" {
		t.Fatalf("ListGrants = %+v, %v", lg, err)
	}
	rg, err := b.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(bobARN)})
	if err == nil {
		t.Fatalf("bob has no identity policy for ListRetirableGrants, got %d grants", len(rg.Grants))
	}
	rg, err = root.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(bobARN)})
	if err != nil || len(rg.Grants) != 1 {
		t.Fatalf("ListRetirableGrants = %v, %v", rg, err)
	}
	// The retiring principal retires it with the token; then it is gone.
	if _, err := b.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken}); err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"dept": "eng"}})
	wantAPIError(t, err, "AccessDeniedException", 400)
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key.KeyId, GrantId: g.GrantId})
	wantAPIError(t, err, "NotFoundException", 400)

	// RevokeGrant by the key's owner.
	g3, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key.KeyId, GranteePrincipal: aws.String(bobARN),
		Operations: []types.GrantOperation{types.GrantOperationDescribeKey}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId}); err != nil {
		t.Fatalf("DescribeKey through a grant: %v", err)
	}
	if _, err := root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key.KeyId, GrantId: g3.GrantId}); err != nil {
		t.Fatal(err)
	}
	_, err = b.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId})
	wantAPIError(t, err, "AccessDeniedException", 400)

	// Bad inputs.
	_, err = root.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), GrantTokens: []string{"garbage"}})
	wantAPIError(t, err, "InvalidGrantTokenException", 400)
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key.KeyId, GranteePrincipal: aws.String(bobARN),
		Operations: []types.GrantOperation{types.GrantOperationSign}})
	wantAPIError(t, err, "ValidationException", 400)
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key.KeyId, GrantId: aws.String("nope")})
	wantAPIError(t, err, "InvalidGrantIdException", 400)
	// A user without kms:CreateGrant cannot create grants.
	_, err = b.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key.KeyId, GranteePrincipal: aws.String(bobARN),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	wantAPIError(t, err, "AccessDeniedException", 400)
}

// TestCrossAccount: a principal of another account may use a key exactly
// when the key policy allows that account and its own policies allow.
func TestCrossAccount(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	other, err := env.App.Directory.CreateAccount(context.Background(), "444455556666")
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := idCreds{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}
	root := env.KMS()
	key := newKey(t, root, "shared")
	keyArn := *key.Arn
	o := kmsAs(env, otherRoot)
	// By default the other account cannot use or even see the key.
	_, err = o.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyArn, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)
	// The other account cannot see it in its own ListKeys either.
	lk, err := o.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil || len(lk.Keys) != 0 {
		t.Fatalf("other account's ListKeys = %v, %v", lk, err)
	}
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"other","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`
	if _, err := root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyId, Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	enc, err := o.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyArn, Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("the other account's root, allowed by the key policy: %v", err)
	}
	if _, err := o.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("cross-account decrypt: %v", err)
	}
	_, err = o.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &keyArn})
	wantAPIError(t, err, "AccessDeniedException", 400)
}

// TestMultiRegionKeyTypeCondition: kms:MultiRegionKeyType is PRIMARY on a
// primary key and REPLICA on its replicas, so a policy can deny, say,
// encryption with replicas.
func TestMultiRegionKeyTypeCondition(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := env.KMS()
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"noreplica","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:MultiRegionKeyType":"REPLICA"}}}]}`
	k, err := root.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: k.KeyMetadata.KeyId, ReplicaRegion: aws.String("eu-west-1"), Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("the primary is not a replica: %v", err)
	}
	_, err = env.KMSAs(env.Root, "eu-west-1").Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)
}

// TestEncryptionAlgorithmCondition: kms:EncryptionAlgorithm is the
// algorithm of Encrypt, Decrypt and ReEncrypt (SYMMETRIC_DEFAULT when the
// request names none), so a policy can allow a key's use with one
// algorithm only.
func TestEncryptionAlgorithmCondition(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := env.KMS()
	pol := func(alg string) string {
		return `{"Version":"2012-10-17","Statement":[
	  {"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"alg","Effect":"Deny","Principal":"*","Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*"],"Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionAlgorithm":"` + alg + `"}}}]}`
	}
	k, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(pol("SYMMETRIC_DEFAULT")), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	enc, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("Encrypt with the allowed algorithm (by default): %v", err)
	}
	if _, err := root.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault}); err != nil {
		t.Fatalf("Decrypt with the allowed algorithm: %v", err)
	}
	if _, err := root.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: id}); err != nil {
		t.Fatalf("ReEncrypt with the allowed algorithm: %v", err)
	}
	if _, err := root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(pol("RSAES_OAEP_SHA_256")), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	_, err = root.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", 400)
	_, err = root.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError(t, err, "AccessDeniedException", 400)
}
