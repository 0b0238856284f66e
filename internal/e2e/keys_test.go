package e2e

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// Key management over the wire: CreateKey, DescribeKey, ListKeys,
// EnableKey, DisableKey, UpdateKeyDescription, GetKeyPolicy,
// ListKeyPolicies, and the regional scoping of keys.

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
	}
	return true
}

func TestCreateKeyDefaults(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	now := env.Clock.Now()
	md := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{})).KeyMetadata

	if !isUUID(aws.ToString(md.KeyId)) {
		t.Errorf("KeyId = %q, want a lowercase UUID", aws.ToString(md.KeyId))
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"AWSAccountId", aws.ToString(md.AWSAccountId), testenv.Account},
		{"Arn", aws.ToString(md.Arn), keyARN(testenv.Region, aws.ToString(md.KeyId))},
		{"Enabled", md.Enabled, true},
		{"KeyState", md.KeyState, types.KeyStateEnabled},
		{"KeyUsage", md.KeyUsage, types.KeyUsageTypeEncryptDecrypt},
		{"KeySpec", md.KeySpec, types.KeySpecSymmetricDefault},
		//lint:ignore SA1019 AWS still returns the deprecated field; clients read it
		{"CustomerMasterKeySpec", md.CustomerMasterKeySpec, types.CustomerMasterKeySpecSymmetricDefault},
		{"Origin", md.Origin, types.OriginTypeAwsKms},
		{"KeyManager", md.KeyManager, types.KeyManagerTypeCustomer},
		{"MultiRegion", aws.ToBool(md.MultiRegion), false},
		{"Description", aws.ToString(md.Description), ""},
		{"EncryptionAlgorithms", md.EncryptionAlgorithms, []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecSymmetricDefault}},
		{"DeletionDate", md.DeletionDate, (*time.Time)(nil)},
		{"PendingDeletionWindowInDays", md.PendingDeletionWindowInDays, (*int32)(nil)},
	}
	for _, ck := range checks {
		if !equalAny(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.field, ck.got, ck.want)
		}
	}
	if md.CreationDate == nil || md.CreationDate.Sub(now).Abs() > 2*time.Second {
		t.Errorf("CreationDate = %v, want the server clock's %v", md.CreationDate, now)
	}
	if len(md.SigningAlgorithms)+len(md.MacAlgorithms)+len(md.KeyAgreementAlgorithms) != 0 {
		t.Errorf("symmetric key reports signing/MAC/agreement algorithms: %+v", md)
	}

	other := newKey(t, c, "")
	if aws.ToString(other.KeyId) == aws.ToString(md.KeyId) {
		t.Error("two CreateKey calls returned the same KeyId")
	}
}

// TestKeyIDsAreTimeOrdered: a key id is a version 7 UUID whose first 48
// bits are its creation time in milliseconds, so a key created later has
// a greater id (the store appends it at the end of its B-tree), while the
// rest of the id is random.
func TestKeyIDsAreTimeOrdered(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	var prev string
	for i := range 5 {
		env.Clock.Advance(time.Millisecond)
		want := env.Clock.Now().UnixMilli()
		md := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{})).KeyMetadata
		id := aws.ToString(md.KeyId)
		if !isUUID(id) || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("KeyId = %q, want a version 7 UUID", id)
		}
		ms, err := strconv.ParseInt(id[:8]+id[9:13], 16, 64)
		if err != nil || ms != want {
			t.Errorf("KeyId %q carries %d ms, want the creation time %d", id, ms, want)
		}
		if i > 0 && id <= prev {
			t.Errorf("key created after %q got %q, which does not sort after it", prev, id)
		}
		prev = id
	}
	// Two keys of the same millisecond still differ.
	a := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{})).KeyMetadata
	b := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{})).KeyMetadata
	if aws.ToString(a.KeyId) == aws.ToString(b.KeyId) {
		t.Errorf("two keys got the id %q", aws.ToString(a.KeyId))
	}
}

func equalAny(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestCreateKeyStoresDescriptionTagsPolicy(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"custom","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	tags := []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("crypto")}, {TagKey: aws.String("env"), TagValue: aws.String("")}}
	md := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("payroll key"),
		Tags:        tags,
		Policy:      aws.String(policy),
	})).KeyMetadata
	id := aws.ToString(md.KeyId)

	if got := aws.ToString(md.Description); got != "payroll key" {
		t.Errorf("CreateKey Description = %q", got)
	}
	d := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId}))
	if got := aws.ToString(d.KeyMetadata.Description); got != "payroll key" {
		t.Errorf("DescribeKey Description = %q", got)
	}
	lt := must[*kms.ListResourceTagsOutput](t)(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId}))
	if got, want := tagMap(lt.Tags), tagMap(tags); !maps.Equal(got, want) {
		t.Errorf("ListResourceTags = %v, want %v", got, want)
	}
	gp := must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")}))
	if aws.ToString(gp.Policy) != policy {
		t.Errorf("GetKeyPolicy = %s, want the policy given to CreateKey verbatim", aws.ToString(gp.Policy))
	}
}

var createKeyErrorCases = []struct {
	name string
	in   kms.CreateKeyInput
	code string
}{
	{"policy that is not JSON", kms.CreateKeyInput{Policy: aws.String(`{"Version": "2012-10-17",`)}, "MalformedPolicyDocumentException"},
	{"tag key with reserved aws: prefix", kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("aws:owner"), TagValue: aws.String("x")}}}, "TagException"},
	{"duplicate tag keys", kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("1")}, {TagKey: aws.String("k"), TagValue: aws.String("2")}}}, "TagException"},
}

func TestCreateKeyErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, tc := range createKeyErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateKey(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
	// None of the refused calls may have left a key behind.
	lk := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{}))
	if len(lk.Keys) != 0 {
		t.Errorf("refused CreateKey calls left %d keys", len(lk.Keys))
	}
}

// TestDescribeKeyWireFields checks the raw JSON of DescribeKey: every field
// AWS returns for a symmetric customer managed key, with AWS's JSON types.
func TestDescribeKeyWireFields(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	md := newKey(t, c, "")
	resp := rawJSON(t, env, "DescribeKey", map[string]string{"KeyId": aws.ToString(md.KeyId)})
	if resp.Status != 200 {
		t.Fatalf("DescribeKey status %d: %s", resp.Status, resp.Body)
	}
	var out struct{ KeyMetadata map[string]any }
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatal(err)
	}
	m := out.KeyMetadata
	types := map[string]string{
		"AWSAccountId": "string", "KeyId": "string", "Arn": "string", "CreationDate": "number",
		"Enabled": "bool", "Description": "string", "KeyUsage": "string", "KeyState": "string",
		"Origin": "string", "KeyManager": "string", "CustomerMasterKeySpec": "string", "KeySpec": "string",
		"EncryptionAlgorithms": "array", "MultiRegion": "bool",
	}
	for field, typ := range types {
		v, ok := m[field]
		if !ok {
			t.Errorf("KeyMetadata has no %s", field)
			continue
		}
		var got string
		switch v.(type) {
		case string:
			got = "string"
		case float64:
			got = "number"
		case bool:
			got = "bool"
		case []any:
			got = "array"
		}
		if got != typ {
			t.Errorf("KeyMetadata.%s = %v (%T), want a JSON %s", field, v, v, typ)
		}
	}
	for _, absent := range []string{"DeletionDate", "PendingDeletionWindowInDays", "ValidTo", "ExpirationModel", "MultiRegionConfiguration", "SigningAlgorithms", "MacAlgorithms"} {
		if _, ok := m[absent]; ok {
			t.Errorf("KeyMetadata of an enabled AWS_KMS symmetric key has %s = %v", absent, m[absent])
		}
	}
	// CreationDate is epoch seconds.
	if cd, _ := m["CreationDate"].(float64); time.Unix(int64(cd), 0).Sub(env.Clock.Now()).Abs() > 2*time.Second {
		t.Errorf("CreationDate = %v, want epoch seconds near %v", m["CreationDate"], env.Clock.Now().Unix())
	}
}

func TestDescribeKeyReferences(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	md := newKey(t, c, "")
	id := aws.ToString(md.KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/describe-me"), TargetKeyId: md.KeyId}))

	refs := []struct{ name, ref string }{
		{"key id", id},
		{"key ARN", keyARN(testenv.Region, id)},
		{"alias name", "alias/describe-me"},
		{"alias ARN", aliasARN(testenv.Region, "alias/describe-me")},
	}
	for _, r := range refs {
		t.Run(r.name, func(t *testing.T) {
			out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.ref)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.KeyMetadata.KeyId) != id || aws.ToString(out.KeyMetadata.Arn) != keyARN(testenv.Region, id) {
				t.Errorf("DescribeKey(%s) = %s / %s, want %s", r.ref, aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn), id)
			}
		})
	}

	notFound := []struct{ name, ref string }{
		{"unknown key id", "0b8c7d2e-1111-4222-8333-444455556666"},
		{"not a key id", "my-key"},
		{"unknown alias", "alias/nope"},
		{"unknown alias ARN", aliasARN(testenv.Region, "alias/nope")},
		{"key ARN naming another region", keyARN("eu-west-1", id)},
		{"alias ARN naming another region", aliasARN("eu-west-1", "alias/describe-me")},
		{"key ARN naming another account", "arn:aws:kms:us-east-1:444455556666:key/" + id},
	}
	for _, r := range notFound {
		t.Run(r.name, func(t *testing.T) {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.ref)})
			wantCode(t, err, "NotFoundException")
		})
	}
}

func TestListKeysPaging(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	const n = 250
	want := map[string]bool{}
	for range n {
		want[aws.ToString(newKey(t, c, "").KeyId)] = true
	}

	t.Run("pages of 100 cover every key once", func(t *testing.T) {
		seen := map[string]bool{}
		var sizes []int
		var marker *string
		for page := 0; ; page++ {
			out, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(100), Marker: marker})
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(out.Keys))
			for _, k := range out.Keys {
				id := aws.ToString(k.KeyId)
				if seen[id] {
					t.Errorf("key %s listed twice", id)
				}
				seen[id] = true
				if aws.ToString(k.KeyArn) != keyARN(testenv.Region, id) {
					t.Errorf("KeyArn = %s for %s", aws.ToString(k.KeyArn), id)
				}
			}
			if out.Truncated != (out.NextMarker != nil) {
				t.Fatalf("page %d: Truncated = %v but NextMarker = %v", page, out.Truncated, aws.ToString(out.NextMarker))
			}
			if !out.Truncated {
				break
			}
			if page > n {
				t.Fatal("ListKeys never stops")
			}
			marker = out.NextMarker
		}
		if !slices.Equal(sizes, []int{100, 100, 50}) {
			t.Errorf("page sizes = %v, want [100 100 50]", sizes)
		}
		if !maps.Equal(seen, want) {
			t.Errorf("listed %d keys, want the %d created", len(seen), len(want))
		}
	})

	t.Run("SDK paginator with Limit 1", func(t *testing.T) {
		// Only the first pages: a paginator over Limit 1 must advance.
		p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(1)})
		seen := map[string]bool{}
		for i := 0; i < 5 && p.HasMorePages(); i++ {
			out := must[*kms.ListKeysOutput](t)(p.NextPage(ctx))
			if len(out.Keys) != 1 || !out.Truncated {
				t.Fatalf("Limit 1 page: %d keys, Truncated %v", len(out.Keys), out.Truncated)
			}
			seen[aws.ToString(out.Keys[0].KeyId)] = true
		}
		if len(seen) != 5 {
			t.Errorf("5 pages of Limit 1 gave %d distinct keys", len(seen))
		}
	})

	t.Run("default limit is 100", func(t *testing.T) {
		out := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{}))
		if len(out.Keys) != 100 || !out.Truncated {
			t.Errorf("ListKeys without Limit: %d keys, Truncated %v; want 100, true", len(out.Keys), out.Truncated)
		}
	})

	t.Run("Limit 1000 returns everything", func(t *testing.T) {
		out := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1000)}))
		if len(out.Keys) != n || out.Truncated || out.NextMarker != nil {
			t.Errorf("Limit 1000: %d keys, Truncated %v, NextMarker %v", len(out.Keys), out.Truncated, aws.ToString(out.NextMarker))
		}
	})

	for _, limit := range []int32{0, -1, 1001} {
		t.Run("Limit "+itoa(int(limit))+" is refused", func(t *testing.T) {
			_, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(limit)})
			wantCode(t, err, "ValidationException")
		})
	}

	t.Run("a marker that was never issued", func(t *testing.T) {
		_, err := c.ListKeys(ctx, &kms.ListKeysInput{Marker: aws.String("not-a-marker")})
		wantCode(t, err, "InvalidMarkerException")
	})
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestEnableDisableKey(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	md := newKey(t, c, "")
	id := aws.ToString(md.KeyId)
	ct := encrypt(t, c, id, []byte("secret"), nil)

	must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))
	d := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}))
	if d.KeyMetadata.KeyState != types.KeyStateDisabled || d.KeyMetadata.Enabled {
		t.Fatalf("after DisableKey: KeyState %s, Enabled %v", d.KeyMetadata.KeyState, d.KeyMetadata.Enabled)
	}
	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})
	wantCode(t, err, "DisabledException")

	// Disabling twice is allowed, as AWS does.
	must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))

	// By alias, too.
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/toggle"), TargetKeyId: aws.String(id)}))
	must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN(testenv.Region, id))}))
	d = must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}))
	if d.KeyMetadata.KeyState != types.KeyStateEnabled || !d.KeyMetadata.Enabled {
		t.Fatalf("after EnableKey: KeyState %s, Enabled %v", d.KeyMetadata.KeyState, d.KeyMetadata.Enabled)
	}
	dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct}))
	if string(dec.Plaintext) != "secret" {
		t.Errorf("Decrypt after re-enabling = %q", dec.Plaintext)
	}
	must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}))

	for _, op := range []struct {
		name string
		call func(ref string) error
	}{
		{"EnableKey", func(ref string) error {
			_, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(ref)})
			return err
		}},
		{"DisableKey", func(ref string) error {
			_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(ref)})
			return err
		}},
	} {
		t.Run(op.name+" of an unknown key", func(t *testing.T) {
			wantCode(t, op.call("0b8c7d2e-1111-4222-8333-444455556666"), "NotFoundException")
		})
	}
}

func TestUpdateKeyDescription(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "first").KeyId)
	for _, desc := range []string{"second", "", strings.Repeat("d", 8192)} {
		must[*kms.UpdateKeyDescriptionOutput](t)(c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String(desc)}))
		d := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}))
		if got := aws.ToString(d.KeyMetadata.Description); got != desc {
			t.Errorf("after UpdateKeyDescription(%.20q) DescribeKey says %.20q", desc, got)
		}
	}
	_, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666"), Description: aws.String("x")})
	wantCode(t, err, "NotFoundException")
}

func TestDefaultKeyPolicy(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)

	for _, name := range []*string{aws.String("default"), nil} {
		gp, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: name})
		if err != nil {
			t.Fatalf("GetKeyPolicy(PolicyName %v): %v", aws.ToString(name), err)
		}
		if aws.ToString(gp.PolicyName) != "default" {
			t.Errorf("PolicyName = %q, want default", aws.ToString(gp.PolicyName))
		}
		var doc struct {
			Version   string
			Statement []struct {
				Effect    string
				Principal struct{ AWS any }
				Action    any
				Resource  any
			}
		}
		if err := json.Unmarshal([]byte(aws.ToString(gp.Policy)), &doc); err != nil {
			t.Fatalf("default policy is not JSON: %v", err)
		}
		rootAllowed := false
		for _, s := range doc.Statement {
			if s.Effect == "Allow" && s.Principal.AWS == "arn:aws:iam::"+testenv.Account+":root" && s.Action == "kms:*" && s.Resource == "*" {
				rootAllowed = true
			}
		}
		if doc.Version != "2012-10-17" || !rootAllowed {
			t.Errorf("default policy does not give the account root kms:* on *: %s", aws.ToString(gp.Policy))
		}
	}

	_, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("other")})
	wantCode(t, err, "NotFoundException")
	_, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String("alias/none")})
	wantCode(t, err, "NotFoundException")

	lp := must[*kms.ListKeyPoliciesOutput](t)(c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(id)}))
	if !slices.Equal(lp.PolicyNames, []string{"default"}) || lp.Truncated {
		t.Errorf("ListKeyPolicies = %v (Truncated %v), want [default]", lp.PolicyNames, lp.Truncated)
	}
	_, err = c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666")})
	wantCode(t, err, "NotFoundException")
}

func TestKeysAreRegional(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	east := env.KMS()
	west := env.KMSAs(env.Root, "eu-west-1")
	md := newKey(t, east, "")
	id := aws.ToString(md.KeyId)
	must[*kms.CreateAliasOutput](t)(east.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/regional"), TargetKeyId: md.KeyId}))
	ct := encrypt(t, east, id, []byte("stays in us-east-1"), nil)

	for _, ref := range []struct{ name, ref string }{
		{"key id", id},
		{"key ARN", keyARN(testenv.Region, id)},
		{"alias name", "alias/regional"},
	} {
		t.Run("DescribeKey by "+ref.name+" from eu-west-1", func(t *testing.T) {
			_, err := west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref.ref)})
			wantCode(t, err, "NotFoundException")
		})
	}
	t.Run("Encrypt from eu-west-1", func(t *testing.T) {
		_, err := west.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
		wantCode(t, err, "NotFoundException")
	})
	t.Run("Decrypt of a us-east-1 ciphertext from eu-west-1", func(t *testing.T) {
		_, err := west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})
		wantCode(t, err, "InvalidCiphertextException")
	})
	t.Run("ListKeys in eu-west-1", func(t *testing.T) {
		out := must[*kms.ListKeysOutput](t)(west.ListKeys(ctx, &kms.ListKeysInput{}))
		if len(out.Keys) != 0 {
			t.Errorf("eu-west-1 lists %d keys, want none", len(out.Keys))
		}
	})
	t.Run("the same alias name in another region is another alias", func(t *testing.T) {
		wmd := newKey(t, west, "")
		must[*kms.CreateAliasOutput](t)(west.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/regional"), TargetKeyId: wmd.KeyId}))
		d := must[*kms.DescribeKeyOutput](t)(west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/regional")}))
		if aws.ToString(d.KeyMetadata.Arn) != keyARN("eu-west-1", aws.ToString(wmd.KeyId)) {
			t.Errorf("alias/regional in eu-west-1 -> %s", aws.ToString(d.KeyMetadata.Arn))
		}
		d = must[*kms.DescribeKeyOutput](t)(east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/regional")}))
		if aws.ToString(d.KeyMetadata.KeyId) != id {
			t.Errorf("alias/regional in us-east-1 moved to %s", aws.ToString(d.KeyMetadata.KeyId))
		}
	})
	t.Run("a us-east-1 client naming a eu-west-1 key ARN", func(t *testing.T) {
		wid := aws.ToString(newKey(t, west, "").KeyId)
		_, err := east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN("eu-west-1", wid))})
		wantCode(t, err, "NotFoundException")
		_, err = east.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN("eu-west-1", wid)), Plaintext: []byte("x")})
		wantCode(t, err, "NotFoundException")
	})
}

// TestResponseMembers checks, on the raw JSON, that each operation's
// response carries the members AWS returns (the AWS Encryption SDK, for
// one, reads KeyId as a key ARN and EncryptionAlgorithm).
func TestResponseMembers(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	other := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/members"), TargetKeyId: aws.String(id)}))
	ct := encrypt(t, c, id, []byte("members"), nil)
	arn := keyARN(testenv.Region, id)

	cases := []struct {
		op   string
		in   map[string]any
		want []string
		arns []string // members that must equal the key ARN
	}{
		{"Encrypt", map[string]any{"KeyId": "alias/members", "Plaintext": []byte("x")}, []string{"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}, []string{"KeyId"}},
		{"Decrypt", map[string]any{"CiphertextBlob": ct}, []string{"KeyId", "Plaintext", "EncryptionAlgorithm"}, []string{"KeyId"}},
		{"ReEncrypt", map[string]any{"CiphertextBlob": ct, "DestinationKeyId": id}, []string{"CiphertextBlob", "SourceKeyId", "KeyId", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"}, []string{"KeyId", "SourceKeyId"}},
		{"GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256"}, []string{"CiphertextBlob", "Plaintext", "KeyId"}, []string{"KeyId"}},
		{"GenerateDataKeyWithoutPlaintext", map[string]any{"KeyId": id, "KeySpec": "AES_256"}, []string{"CiphertextBlob", "KeyId"}, []string{"KeyId"}},
		{"GenerateRandom", map[string]any{"NumberOfBytes": 8}, []string{"Plaintext"}, nil},
		{"ListKeys", map[string]any{}, []string{"Keys", "Truncated"}, nil},
		{"ListAliases", map[string]any{}, []string{"Aliases", "Truncated"}, nil},
		{"ListResourceTags", map[string]any{"KeyId": id}, []string{"Tags", "Truncated"}, nil},
		{"GetKeyPolicy", map[string]any{"KeyId": id, "PolicyName": "default"}, []string{"Policy", "PolicyName"}, nil},
		{"ListKeyPolicies", map[string]any{"KeyId": id}, []string{"PolicyNames", "Truncated"}, nil},
		{"ScheduleKeyDeletion", map[string]any{"KeyId": other}, []string{"KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"}, nil},
		{"CancelKeyDeletion", map[string]any{"KeyId": other}, []string{"KeyId"}, nil},
		{"CreateKey", map[string]any{}, []string{"KeyMetadata"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			resp := rawJSON(t, env, tc.op, tc.in)
			if resp.Status != 200 {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type = %q", ct)
			}
			var m map[string]any
			if err := json.Unmarshal(resp.Body, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.want {
				if _, ok := m[k]; !ok {
					t.Errorf("response has no %s: %s", k, resp.Body)
				}
			}
			for _, k := range tc.arns {
				if m[k] != arn {
					t.Errorf("%s = %v, want the key ARN %s", k, m[k], arn)
				}
			}
		})
	}
}
