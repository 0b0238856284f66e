package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// CreateAlias, UpdateAlias, DeleteAlias and ListAliases over the wire.

// customerAliases lists every alias of the region that is not AWS's own
// (alias/aws/…), following NextMarker.
func customerAliases(t testing.TB, c *kms.Client, keyID *string) map[string]types.AliasListEntry {
	t.Helper()
	out := map[string]types.AliasListEntry{}
	p := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{KeyId: keyID})
	for p.HasMorePages() {
		page := must[*kms.ListAliasesOutput](t)(p.NextPage(ctx))
		for _, a := range page.Aliases {
			name := aws.ToString(a.AliasName)
			if strings.HasPrefix(name, "alias/aws/") {
				continue
			}
			if _, dup := out[name]; dup {
				t.Errorf("alias %s listed twice", name)
			}
			out[name] = a
		}
	}
	return out
}

func TestCreateAliasAndListAliases(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	now := env.Clock.Now()
	a := aws.ToString(newKey(t, c, "a").KeyId)
	b := aws.ToString(newKey(t, c, "b").KeyId)

	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app/a-1"), TargetKeyId: aws.String(a)}))
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/A_2"), TargetKeyId: aws.String(keyARN(testenv.Region, a))}))
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/b"), TargetKeyId: aws.String(b)}))

	all := customerAliases(t, c, nil)
	if len(all) != 3 {
		t.Fatalf("ListAliases: %d customer aliases, want 3: %v", len(all), all)
	}
	e := all["alias/app/a-1"]
	if aws.ToString(e.AliasArn) != aliasARN(testenv.Region, "alias/app/a-1") {
		t.Errorf("AliasArn = %s", aws.ToString(e.AliasArn))
	}
	if aws.ToString(e.TargetKeyId) != a {
		t.Errorf("TargetKeyId = %s, want the key id %s", aws.ToString(e.TargetKeyId), a)
	}
	if e.CreationDate == nil || e.CreationDate.Sub(now).Abs() > 2*time.Second || e.LastUpdatedDate == nil {
		t.Errorf("CreationDate %v, LastUpdatedDate %v; want the server clock's %v", e.CreationDate, e.LastUpdatedDate, now)
	}
	if got := aws.ToString(all["alias/A_2"].TargetKeyId); got != a {
		t.Errorf("alias created with a key ARN targets %q, want the key id", got)
	}

	byKey := customerAliases(t, c, aws.String(a))
	if len(byKey) != 2 || byKey["alias/b"].AliasName != nil {
		t.Errorf("ListAliases(KeyId a) = %v, want alias/app/a-1 and alias/A_2", byKey)
	}
	byARN := customerAliases(t, c, aws.String(keyARN(testenv.Region, b)))
	if len(byARN) != 1 || byARN["alias/b"].AliasName == nil {
		t.Errorf("ListAliases(KeyId ARN b) = %v, want alias/b", byARN)
	}
	_, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666")})
	wantCode(t, err, "NotFoundException")

	for _, ref := range []string{"alias/app/a-1", aliasARN(testenv.Region, "alias/A_2")} {
		if got := aws.ToString(must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ref), Plaintext: []byte("x")})).KeyId); got != keyARN(testenv.Region, a) {
			t.Errorf("Encrypt via %s used %s", ref, got)
		}
	}
}

var aliasNameCases = []struct {
	name  string
	alias string
	code  string // "" = accepted
}{
	{"letters digits slash underscore dash", "alias/Team_1/app-2", ""},
	{"256 characters", "alias/" + strings.Repeat("x", 250), ""},
	{"257 characters", "alias/" + strings.Repeat("x", 251), "ValidationException"},
	{"no alias/ prefix", "my-key", "ValidationException"},
	{"space", "alias/has space", "ValidationException"},
	{"non-ASCII letter", "alias/caf\u00e9", "ValidationException"},
	{"empty name after prefix", "alias/", "InvalidAliasNameException"},
	{"colon", "alias/a:b", "InvalidAliasNameException"},
	{"reserved alias/aws/ prefix", "alias/aws/mine", "InvalidAliasNameException"},
	{"reserved AWS managed alias", "alias/aws/s3", "InvalidAliasNameException"},
}

func TestAliasNameRules(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	for _, tc := range aliasNameCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(tc.alias), TargetKeyId: aws.String(id)})
			if tc.code == "" {
				if err != nil {
					t.Fatalf("CreateAlias(%s): %v", tc.alias, err)
				}
				if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(tc.alias)}); err != nil {
					t.Errorf("DescribeKey(%s) after creating it: %v", tc.alias, err)
				}
				return
			}
			wantCode(t, err, tc.code)
			if _, ok := customerAliases(t, c, nil)[tc.alias]; ok {
				t.Errorf("refused alias %q is listed", tc.alias)
			}
		})
	}
	t.Run("reserved prefix on UpdateAlias and DeleteAlias", func(t *testing.T) {
		_, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/aws/s3"), TargetKeyId: aws.String(id)})
		wantOneOf(t, err, "InvalidAliasNameException", "NotFoundException")
		_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/aws/s3")})
		wantOneOf(t, err, "InvalidAliasNameException", "NotFoundException")
	})
}

func TestCreateAliasErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	a := aws.ToString(newKey(t, c, "").KeyId)
	b := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: aws.String(a)}))

	t.Run("duplicate name, other key", func(t *testing.T) {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: aws.String(b)})
		wantCode(t, err, "AlreadyExistsException")
		if got := aws.ToString(customerAliases(t, c, nil)["alias/taken"].TargetKeyId); got != a {
			t.Errorf("the refused CreateAlias moved alias/taken to %s", got)
		}
	})
	t.Run("duplicate name, same key", func(t *testing.T) {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: aws.String(a)})
		wantCode(t, err, "AlreadyExistsException")
	})
	t.Run("unknown target key", func(t *testing.T) {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/new"), TargetKeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666")})
		wantCode(t, err, "NotFoundException")
	})
	t.Run("target in another region", func(t *testing.T) {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/new"), TargetKeyId: aws.String(keyARN("eu-west-1", a))})
		wantCode(t, err, "NotFoundException")
	})
	t.Run("disabled target is allowed", func(t *testing.T) {
		must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(b)}))
		must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/on-disabled"), TargetKeyId: aws.String(b)}))
	})
}

func TestUpdateAlias(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	a := aws.ToString(newKey(t, c, "").KeyId)
	b := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/current"), TargetKeyId: aws.String(a)}))
	created := *customerAliases(t, c, nil)["alias/current"].CreationDate

	env.Clock.Advance(time.Hour)
	must[*kms.UpdateAliasOutput](t)(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/current"), TargetKeyId: aws.String(b)}))
	e := customerAliases(t, c, nil)["alias/current"]
	if aws.ToString(e.TargetKeyId) != b {
		t.Fatalf("after UpdateAlias the alias targets %s, want %s", aws.ToString(e.TargetKeyId), b)
	}
	if !e.CreationDate.Equal(created) || e.LastUpdatedDate.Sub(env.Clock.Now()).Abs() > 2*time.Second {
		t.Errorf("CreationDate %v (was %v), LastUpdatedDate %v (want %v)", e.CreationDate, created, e.LastUpdatedDate, env.Clock.Now())
	}
	ct := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/current"), Plaintext: []byte("x")}))
	if aws.ToString(ct.KeyId) != keyARN(testenv.Region, b) {
		t.Errorf("Encrypt via the moved alias used %s", aws.ToString(ct.KeyId))
	}

	_, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/missing"), TargetKeyId: aws.String(a)})
	wantCode(t, err, "NotFoundException")
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/current"), TargetKeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666")})
	wantCode(t, err, "NotFoundException")
	if got := aws.ToString(customerAliases(t, c, nil)["alias/current"].TargetKeyId); got != b {
		t.Errorf("a refused UpdateAlias moved the alias to %s", got)
	}

	// AWS's key state table: the alias may leave a key pending deletion,
	// but not move onto one.
	pending := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(pending)}))
	t.Run("onto a key pending deletion", func(t *testing.T) {
		_, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/current"), TargetKeyId: aws.String(pending)})
		wantCode(t, err, "KMSInvalidStateException")
	})
	t.Run("away from a key pending deletion", func(t *testing.T) {
		must[*kms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(pending)}))
		must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/leaving"), TargetKeyId: aws.String(pending)}))
		must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(pending)}))
		must[*kms.UpdateAliasOutput](t)(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/leaving"), TargetKeyId: aws.String(a)}))
	})
}

func TestDeleteAlias(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/short-lived"), TargetKeyId: aws.String(id)}))
	must[*kms.DeleteAliasOutput](t)(c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/short-lived")}))

	if _, ok := customerAliases(t, c, nil)["alias/short-lived"]; ok {
		t.Error("deleted alias is still listed")
	}
	_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/short-lived")})
	wantCode(t, err, "NotFoundException")
	if st := keyState(t, c, id); st != types.KeyStateEnabled {
		t.Errorf("DeleteAlias changed its key's state to %s", st)
	}
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/short-lived")})
	wantCode(t, err, "NotFoundException")
	// The name is free again.
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/short-lived"), TargetKeyId: aws.String(id)}))

	t.Run("the alias of a key pending deletion can be deleted", func(t *testing.T) {
		must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)}))
		must[*kms.DeleteAliasOutput](t)(c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/short-lived")}))
	})
	t.Run("malformed names", func(t *testing.T) {
		_, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("short-lived")})
		wantCode(t, err, "ValidationException")
	})
}

func TestListAliasesPaging(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	names := []string{"alias/p1", "alias/p2", "alias/p3", "alias/p4", "alias/p5"}
	for _, n := range names {
		must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(n), TargetKeyId: aws.String(id)}))
	}
	seen := map[string]bool{}
	var marker *string
	pages := 0
	for ; pages < 10; pages++ {
		out := must[*kms.ListAliasesOutput](t)(c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(id), Limit: aws.Int32(2), Marker: marker}))
		if len(out.Aliases) > 2 {
			t.Fatalf("Limit 2 returned %d aliases", len(out.Aliases))
		}
		for _, a := range out.Aliases {
			if seen[aws.ToString(a.AliasName)] {
				t.Errorf("%s listed twice", aws.ToString(a.AliasName))
			}
			seen[aws.ToString(a.AliasName)] = true
		}
		if out.Truncated != (out.NextMarker != nil) {
			t.Fatalf("Truncated %v with NextMarker %v", out.Truncated, aws.ToString(out.NextMarker))
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if len(seen) != len(names) || pages+1 != 3 {
		t.Errorf("paging by 2 saw %d aliases in %d pages, want 5 in 3", len(seen), pages+1)
	}
	for _, limit := range []int32{0, -1, 1001} {
		t.Run(fmt.Sprintf("Limit %d is refused", limit), func(t *testing.T) {
			_, err := c.ListAliases(ctx, &kms.ListAliasesInput{Limit: aws.Int32(limit)})
			wantCode(t, err, "ValidationException")
		})
	}
}

// TestListAliasesPageSizes checks AWS's documented page sizes: 50 by
// default, at most 100 per page however large the Limit.
func TestListAliasesPageSizes(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	const n = 120
	for i := range n {
		must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/many-%03d", i)), TargetKeyId: aws.String(id)}))
	}
	sizes := []struct {
		name  string
		limit *int32
		want  int
	}{
		{"default", nil, 50},
		{"Limit 100", aws.Int32(100), 100},
		{"Limit 1000 gives at most 100", aws.Int32(1000), 100},
	}
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			out := must[*kms.ListAliasesOutput](t)(c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(id), Limit: sz.limit}))
			if len(out.Aliases) != sz.want || !out.Truncated {
				t.Errorf("%d aliases, Truncated %v; want %d, true", len(out.Aliases), out.Truncated, sz.want)
			}
		})
	}
	if got := len(customerAliases(t, c, aws.String(id))); got != n {
		t.Errorf("paging through all aliases found %d, want %d", got, n)
	}
}
