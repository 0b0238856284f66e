package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	strongkms "strongroom/internal/kms"
	"strongroom/internal/testenv"
)

// AWS managed keys over the wire: created on the first use of their alias
// in an account and region, listed and described, with AWS's key policy,
// rotating on their own, and refusing every change the customer attempts.

// listAllAliases lists every alias of the region, following NextMarker.
func listAllAliases(t testing.TB, c *kms.Client, limit int32) []types.AliasListEntry {
	t.Helper()
	var out []types.AliasListEntry
	in := &kms.ListAliasesInput{}
	if limit > 0 {
		in.Limit = aws.Int32(limit)
	}
	p := kms.NewListAliasesPaginator(c, in)
	for p.HasMorePages() {
		out = append(out, must[*kms.ListAliasesOutput](t)(p.NextPage(ctx)).Aliases...)
	}
	return out
}

func findAlias(entries []types.AliasListEntry, name string) (types.AliasListEntry, bool) {
	for _, e := range entries {
		if aws.ToString(e.AliasName) == name {
			return e, true
		}
	}
	return types.AliasListEntry{}, false
}

func TestAWSManagedKeyCreatedOnFirstUse(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()

	t.Run("before first use: alias listed without a key", func(t *testing.T) {
		a, ok := findAlias(listAllAliases(t, c, 0), "alias/aws/s3")
		if !ok || a.TargetKeyId != nil || aws.ToString(a.AliasArn) != aliasARN(testenv.Region, "alias/aws/s3") {
			t.Fatalf("alias/aws/s3 before first use: listed %v, entry %+v", ok, a)
		}
		if keys := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{})).Keys; len(keys) != 0 {
			t.Errorf("ListKeys lists %d keys before any was created", len(keys))
		}
	})

	created := env.Clock.Now()
	md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")})).KeyMetadata
	id := aws.ToString(md.KeyId)
	t.Run("DescribeKey", func(t *testing.T) {
		if md.KeyManager != types.KeyManagerTypeAws || md.KeyState != types.KeyStateEnabled || !md.Enabled ||
			md.Origin != types.OriginTypeAwsKms || md.KeySpec != types.KeySpecSymmetricDefault || md.KeyUsage != types.KeyUsageTypeEncryptDecrypt ||
			!isUUID(id) || aws.ToString(md.Arn) != keyARN(testenv.Region, id) || !md.CreationDate.Equal(created) {
			t.Errorf("AWS managed key metadata: %+v", md)
		}
		if d := aws.ToString(md.Description); d != "Default key that protects my S3 objects when no other key is defined" {
			t.Errorf("Description = %q", d)
		}
		again := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")})).KeyMetadata
		if aws.ToString(again.KeyId) != id {
			t.Errorf("a second use created another key: %s, then %s", id, aws.ToString(again.KeyId))
		}
		byARN := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(aliasARN(testenv.Region, "alias/aws/s3"))})).KeyMetadata
		if aws.ToString(byARN.KeyId) != id {
			t.Errorf("the alias ARN names %s", aws.ToString(byARN.KeyId))
		}
	})
	t.Run("listed", func(t *testing.T) {
		a, ok := findAlias(listAllAliases(t, c, 3), "alias/aws/s3")
		if !ok || aws.ToString(a.TargetKeyId) != id || a.CreationDate == nil {
			t.Errorf("alias/aws/s3 after first use: %+v", a)
		}
		byKey := must[*kms.ListAliasesOutput](t)(c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(id)})).Aliases
		if len(byKey) != 1 || aws.ToString(byKey[0].AliasName) != "alias/aws/s3" {
			t.Errorf("ListAliases of the key = %+v", byKey)
		}
		keys := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{})).Keys
		if len(keys) != 1 || aws.ToString(keys[0].KeyId) != id {
			t.Errorf("ListKeys = %+v", keys)
		}
		// Every predefined alias is listed once, whichever page it lands on.
		seen := map[string]int{}
		for _, e := range listAllAliases(t, c, 2) {
			seen[aws.ToString(e.AliasName)]++
		}
		for _, name := range []string{"alias/aws/ebs", "alias/aws/rds", "alias/aws/lambda", "alias/aws/s3", "alias/aws/dynamodb"} {
			if seen[name] != 1 {
				t.Errorf("%s listed %d times", name, seen[name])
			}
		}
	})
	t.Run("AWS's key policy", func(t *testing.T) {
		doc := aws.ToString(must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})).Policy)
		var p struct {
			Statement []struct {
				Effect    string
				Principal map[string]string
				Action    []string
				Condition map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(doc), &p); err != nil || len(p.Statement) != 2 {
			t.Fatalf("policy does not decode into two statements (%v): %s", err, doc)
		}
		use, meta := p.Statement[0], p.Statement[1]
		cond := use.Condition["StringEquals"]
		if use.Principal["AWS"] != "*" || cond["kms:ViaService"] != "s3."+testenv.Region+".amazonaws.com" || cond["kms:CallerAccount"] != testenv.Account {
			t.Errorf("the use statement: principal %v, condition %v", use.Principal, cond)
		}
		if meta.Principal["AWS"] != "arn:aws:iam::"+testenv.Account+":root" || strings.Join(meta.Action, ",") != "kms:Describe*,kms:Get*,kms:List*,kms:RevokeGrant" {
			t.Errorf("the metadata statement: principal %v, actions %v", meta.Principal, meta.Action)
		}
	})
	t.Run("rotation is on, every 1095 days", func(t *testing.T) {
		st := rotationStatus(t, c, id)
		if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 1095 || !st.NextRotationDate.Equal(created.Add(1095*day)) {
			t.Errorf("GetKeyRotationStatus = %v, %d, %v", st.KeyRotationEnabled, aws.ToInt32(st.RotationPeriodInDays), st.NextRotationDate)
		}
	})
	t.Run("direct cryptographic use is refused by the key policy", func(t *testing.T) {
		// The key policy allows use only through the service
		// (kms:ViaService); a direct call is not through EBS.
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/ebs"), Plaintext: []byte("x")})
		wantCode(t, err, "AccessDeniedException")
		md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")})).KeyMetadata
		if md.KeyManager != types.KeyManagerTypeAws || aws.ToString(md.Description) != "Default key that protects my EBS volumes when no other key is defined" {
			t.Errorf("alias/aws/ebs: %+v", md)
		}
		doc := aws.ToString(must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId})).Policy)
		if !strings.Contains(doc, `"ec2.`+testenv.Region+`.amazonaws.com"`) {
			t.Errorf("the aws/ebs key policy does not name EC2 as the via service: %s", doc)
		}
	})
	t.Run("one key per region", func(t *testing.T) {
		west := env.KMSAs(env.Root, "us-west-2")
		wmd := must[*kms.DescribeKeyOutput](t)(west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")})).KeyMetadata
		if aws.ToString(wmd.KeyId) == id || !strings.Contains(aws.ToString(wmd.Arn), ":us-west-2:") {
			t.Errorf("alias/aws/s3 in us-west-2 = %s", aws.ToString(wmd.Arn))
		}
		doc := aws.ToString(must[*kms.GetKeyPolicyOutput](t)(west.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: wmd.KeyId})).Policy)
		if !strings.Contains(doc, `"s3.us-west-2.amazonaws.com"`) {
			t.Errorf("the us-west-2 key policy names another region: %s", doc)
		}
	})
	t.Run("unknown services have no AWS managed key", func(t *testing.T) {
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/no-such-service")})
		wantCode(t, err, "NotFoundException")
	})
	t.Run("another account cannot create one in ours", func(t *testing.T) {
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:" + testenv.Region + ":444455556666:alias/aws/rds")})
		if err == nil {
			t.Fatal("a foreign account's AWS managed key alias resolved")
		}
	})
}

// TestAWSManagedKeyForbiddenChanges: every change to an AWS managed key is
// refused with AWS's error, and leaves the key as it was.
func TestAWSManagedKeyForbiddenChanges(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/lambda")})).KeyMetadata
	id := aws.ToString(md.KeyId)
	policy := aws.ToString(must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})).Policy)
	customer := aws.ToString(newKey(t, c, "").KeyId)

	denied := map[string]func() error{
		"PutKeyPolicy": func() error {
			_, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(strongkms.DefaultKeyPolicy(testenv.Account))})
			return err
		},
		"EnableKey": func() error {
			_, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
			return err
		},
		"DisableKey": func() error {
			_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
			return err
		},
		"ScheduleKeyDeletion": func() error {
			_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
			return err
		},
		"CancelKeyDeletion": func() error {
			_, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
			return err
		},
		"EnableKeyRotation": func() error {
			_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)})
			return err
		},
		"DisableKeyRotation": func() error {
			_, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(id)})
			return err
		},
		"RotateKeyOnDemand": func() error {
			_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
			return err
		},
		"TagResource": func() error {
			_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{tag("k", "v")}})
			return err
		},
		"UntagResource": func() error {
			_, err := c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"k"}})
			return err
		},
		"UpdateKeyDescription": func() error {
			_, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String("mine now")})
			return err
		},
		"DeleteImportedKeyMaterial": func() error {
			_, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
			return err
		},
		"CreateGrant": func() error {
			_, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":root"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
			return err
		},
	}
	for op, call := range denied {
		t.Run(op+" is AccessDeniedException", func(t *testing.T) {
			wantCode(t, call(), "AccessDeniedException")
		})
	}
	reserved := map[string]func() error{
		"CreateAlias in alias/aws/": func() error {
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: aws.String(customer)})
			return err
		},
		"UpdateAlias of alias/aws/lambda": func() error {
			_, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/aws/lambda"), TargetKeyId: aws.String(customer)})
			return err
		},
		"DeleteAlias of alias/aws/lambda": func() error {
			_, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/aws/lambda")})
			return err
		},
	}
	t.Run("GetParametersForImport is UnsupportedOperationException", func(t *testing.T) {
		// kms:Get* lets the account call it; the key has no imported material.
		_, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		wantCode(t, err, "UnsupportedOperationException")
	})
	for op, call := range reserved {
		t.Run(op+" is InvalidAliasNameException", func(t *testing.T) {
			wantCode(t, call(), "InvalidAliasNameException")
		})
	}
	t.Run("CreateAlias pointing at it", func(t *testing.T) {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/to-managed"), TargetKeyId: aws.String(id)})
		wantOneOf(t, err, "AccessDeniedException", "UnsupportedOperationException")
	})
	t.Run("the key is unchanged", func(t *testing.T) {
		now := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
		if now.KeyState != types.KeyStateEnabled || aws.ToString(now.Description) != aws.ToString(md.Description) {
			t.Errorf("after the refused changes: state %s, description %q", now.KeyState, aws.ToString(now.Description))
		}
		if got := aws.ToString(must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})).Policy); got != policy {
			t.Error("the key policy changed")
		}
		if st := rotationStatus(t, c, id); !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 1095 {
			t.Errorf("rotation: %v every %d days", st.KeyRotationEnabled, aws.ToInt32(st.RotationPeriodInDays))
		}
		if tags := listTags(t, c, id); len(tags) != 0 {
			t.Errorf("tags: %v", tags)
		}
		if a, _ := findAlias(listAllAliases(t, c, 0), "alias/aws/lambda"); aws.ToString(a.TargetKeyId) != id {
			t.Errorf("alias/aws/lambda now points at %s", aws.ToString(a.TargetKeyId))
		}
	})
	t.Run("what the metadata statement allows still works", func(t *testing.T) {
		must[*kms.ListResourceTagsOutput](t)(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)}))
		must[*kms.ListKeyPoliciesOutput](t)(c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(id)}))
		must[*kms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)}))
		must[*kms.ListGrantsOutput](t)(c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(id)}))
	})
}

// TestAWSManagedKeyRotates: AWS managed keys rotate on their own, every
// 1095 days by default, and every 365 days with the AWS setting.
func TestAWSManagedKeyRotates(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/dynamodb")})).KeyMetadata.KeyId)
	first := currentMaterial(t, c, id)
	env.Clock.Advance(1094 * day)
	if got := rotateDue(t, env); len(got) != 0 {
		t.Fatalf("rotated before 1095 days: %v", got)
	}
	env.Clock.Advance(day)
	if got := rotateDue(t, env); len(got) != 1 || currentMaterial(t, c, id) == first {
		t.Fatalf("not rotated at 1095 days: %v", got)
	}
	rot := allRotations(t, c, id, "", 0)
	if len(rot) != 1 || rot[0].RotationType != types.RotationTypeAutomatic {
		t.Errorf("ListKeyRotations = %+v", rot)
	}

	// A core configured with AWS's yearly cadence, over the same store.
	yearly := strongkms.New(env.Store, env.App.Service.Sealer(), env.Clock, strongkms.Config{AWSManagedRotationDays: strongkms.AWSManagedRotationDaysToday})
	call := coreCall(testenv.Region)
	d, err := yearly.DescribeKey(ctx, call, &strongkms.KeyInput{KeyId: "alias/aws/sqs"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := yearly.GetKeyRotationStatus(ctx, call, &strongkms.KeyInput{KeyId: d.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	if !st.KeyRotationEnabled || st.RotationPeriodInDays == nil || *st.RotationPeriodInDays != 365 ||
		st.NextRotationDate == nil || !st.NextRotationDate.Equal(env.Clock.Now().Add(365*day)) {
		t.Errorf("with the yearly setting: %+v", st)
	}
	env.Clock.Advance(365*day + time.Second)
	got, err := yearly.RotateDueKeys(ctx)
	if err != nil || len(got) != 1 || got[0] != keyARN(testenv.Region, d.KeyMetadata.KeyId) {
		t.Errorf("yearly RotateDueKeys = %v, %v", got, err)
	}
}
