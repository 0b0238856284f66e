package e2e

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/store"
	"strongroom/internal/testenv"
)

// The key lifecycle over the wire: ScheduleKeyDeletion, CancelKeyDeletion,
// the deletion itself at the end of the waiting period, and the errors each
// key state gives.

const day = 24 * time.Hour

func TestScheduleKeyDeletion(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()

	windows := []struct {
		name string
		days *int32
		want int32
	}{
		{"default is 30 days", nil, 30},
		{"7 days", aws.Int32(7), 7},
		{"30 days", aws.Int32(30), 30},
		{"15 days", aws.Int32(15), 15},
	}
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			id := aws.ToString(newKey(t, c, "").KeyId)
			now := env.Clock.Now()
			out, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: w.days})
			if err != nil {
				t.Fatal(err)
			}
			wantDate := now.Add(time.Duration(w.want) * day)
			if aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
				t.Errorf("KeyId = %s, want the key ARN", aws.ToString(out.KeyId))
			}
			if out.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(out.PendingWindowInDays) != w.want {
				t.Errorf("KeyState %s, PendingWindowInDays %d; want PendingDeletion, %d", out.KeyState, aws.ToInt32(out.PendingWindowInDays), w.want)
			}
			if out.DeletionDate == nil || out.DeletionDate.Sub(wantDate).Abs() > 2*time.Second {
				t.Errorf("DeletionDate = %v, want %v", out.DeletionDate, wantDate)
			}
			md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
			if md.KeyState != types.KeyStatePendingDeletion || md.Enabled ||
				md.DeletionDate == nil || !md.DeletionDate.Equal(*out.DeletionDate) ||
				aws.ToInt32(md.PendingDeletionWindowInDays) != w.want {
				t.Errorf("DescribeKey: state %s, Enabled %v, DeletionDate %v, PendingDeletionWindowInDays %v",
					md.KeyState, md.Enabled, md.DeletionDate, aws.ToInt32(md.PendingDeletionWindowInDays))
			}
		})
	}

	for _, days := range []int32{0, 1, 6, 31, 365} {
		t.Run(fmt.Sprintf("%d days is refused", days), func(t *testing.T) {
			id := aws.ToString(newKey(t, c, "").KeyId)
			_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(days)})
			wantCode(t, err, "ValidationException")
			if st := keyState(t, c, id); st != types.KeyStateEnabled {
				t.Errorf("refused ScheduleKeyDeletion left the key %s", st)
			}
		})
	}

	t.Run("a disabled key can be scheduled", func(t *testing.T) {
		id := aws.ToString(newKey(t, c, "").KeyId)
		must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))
		must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)}))
	})
	t.Run("by alias", func(t *testing.T) {
		id := aws.ToString(newKey(t, c, "").KeyId)
		must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: aws.String(id)}))
		out := must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String("alias/doomed"), PendingWindowInDays: aws.Int32(7)}))
		if aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
			t.Errorf("KeyId = %s", aws.ToString(out.KeyId))
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666")})
		wantCode(t, err, "NotFoundException")
	})
}

func TestCancelKeyDeletion(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	ct := encrypt(t, c, id, []byte("kept"), nil)
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))

	out := must[*kms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}))
	if aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
		t.Errorf("CancelKeyDeletion KeyId = %s, want the key ARN", aws.ToString(out.KeyId))
	}
	md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
	if md.KeyState != types.KeyStateDisabled || md.Enabled || md.DeletionDate != nil || md.PendingDeletionWindowInDays != nil {
		t.Errorf("after CancelKeyDeletion: state %s, Enabled %v, DeletionDate %v, window %v; want Disabled and no deletion fields",
			md.KeyState, md.Enabled, md.DeletionDate, md.PendingDeletionWindowInDays)
	}
	_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})
	wantCode(t, err, "DisabledException")

	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	wantCode(t, err, "KMSInvalidStateException")

	must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}))
	if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})).Plaintext; string(got) != "kept" {
		t.Errorf("Decrypt after cancel and enable = %q", got)
	}

	// The cancelled deletion must not happen later.
	env.Clock.Advance(31 * day)
	deleted, err := env.App.Service.DeleteDueKeys(ctx)
	if err != nil || len(deleted) != 0 {
		t.Fatalf("DeleteDueKeys after a cancelled deletion = %v, %v", deleted, err)
	}
	if st := keyState(t, c, id); st != types.KeyStateEnabled {
		t.Errorf("key state after the old window = %s", st)
	}

	enabled := aws.ToString(newKey(t, c, "").KeyId)
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(enabled)})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666")})
	wantCode(t, err, "NotFoundException")
}

func TestDeletionAtWindowEnd(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	doomed := aws.ToString(newKey(t, c, "doomed").KeyId)
	survivor := aws.ToString(newKey(t, c, "survivor").KeyId)
	later := aws.ToString(newKey(t, c, "deleted later").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed-1"), TargetKeyId: aws.String(doomed)}))
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed-2"), TargetKeyId: aws.String(doomed)}))
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/survivor"), TargetKeyId: aws.String(survivor)}))
	ct := encrypt(t, c, doomed, []byte("gone for good"), map[string]string{"k": "v"})
	gdk := must[*kms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(doomed), KeySpec: types.DataKeySpecAes256}))
	survivorCT := encrypt(t, c, survivor, []byte("still here"), nil)

	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(doomed), PendingWindowInDays: aws.Int32(7)}))
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(later), PendingWindowInDays: aws.Int32(30)}))

	// A minute before the end of the window nothing happens.
	env.Clock.Advance(7*day - time.Minute)
	deleted, err := env.App.Service.DeleteDueKeys(ctx)
	if err != nil || len(deleted) != 0 {
		t.Fatalf("DeleteDueKeys before the window ends = %v, %v", deleted, err)
	}
	if st := keyState(t, c, doomed); st != types.KeyStatePendingDeletion {
		t.Fatalf("before the window ends the key is %s", st)
	}

	env.Clock.Advance(2 * time.Minute)
	t.Run("once the window has passed the key is gone even before the sweep", func(t *testing.T) {
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(doomed)})
		wantCode(t, err, "NotFoundException")
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: map[string]string{"k": "v"}})
		wantCode(t, err, "InvalidCiphertextException")
		_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(doomed)})
		wantCode(t, err, "NotFoundException")
	})
	deleted, err = env.App.Service.DeleteDueKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{keyARN(testenv.Region, doomed)}) {
		t.Fatalf("DeleteDueKeys = %v, want only %s", deleted, doomed)
	}

	t.Run("DescribeKey", func(t *testing.T) {
		for _, ref := range []string{doomed, keyARN(testenv.Region, doomed), "alias/doomed-1"} {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
			wantCode(t, err, "NotFoundException")
		}
	})
	t.Run("old ciphertexts no longer decrypt", func(t *testing.T) {
		_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: map[string]string{"k": "v"}})
		wantCode(t, err, "InvalidCiphertextException")
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob})
		wantCode(t, err, "InvalidCiphertextException")
		_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: map[string]string{"k": "v"}, DestinationKeyId: aws.String(survivor)})
		wantCode(t, err, "InvalidCiphertextException")
	})
	t.Run("its aliases are gone and their names free", func(t *testing.T) {
		all := customerAliases(t, c, nil)
		if _, ok := all["alias/doomed-1"]; ok {
			t.Error("alias/doomed-1 still listed")
		}
		if _, ok := all["alias/doomed-2"]; ok {
			t.Error("alias/doomed-2 still listed")
		}
		if aws.ToString(all["alias/survivor"].TargetKeyId) != survivor {
			t.Error("alias/survivor was removed with another key")
		}
		must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed-1"), TargetKeyId: aws.String(survivor)}))
	})
	t.Run("ListKeys no longer lists it", func(t *testing.T) {
		out := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{}))
		var ids []string
		for _, k := range out.Keys {
			ids = append(ids, aws.ToString(k.KeyId))
		}
		slices.Sort(ids)
		want := []string{survivor, later}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("ListKeys = %v, want %v", ids, want)
		}
	})
	t.Run("its record and sealed material are gone from the store", func(t *testing.T) {
		err := env.Store.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(store.KindKey, testenv.Account+"/"+testenv.Region, doomed)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("store lookup of the deleted key: %v, want store.ErrNotFound", err)
		}
	})
	t.Run("other keys are untouched", func(t *testing.T) {
		if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: survivorCT})).Plaintext; string(got) != "still here" {
			t.Errorf("survivor decrypts to %q", got)
		}
		if st := keyState(t, c, later); st != types.KeyStatePendingDeletion {
			t.Errorf("key with a 30-day window is %s after 7 days", st)
		}
	})
	t.Run("a second sweep deletes nothing more", func(t *testing.T) {
		deleted, err := env.App.Service.DeleteDueKeys(ctx)
		if err != nil || len(deleted) != 0 {
			t.Errorf("second DeleteDueKeys = %v, %v", deleted, err)
		}
	})
	t.Run("the 30-day key goes at its own deadline", func(t *testing.T) {
		env.Clock.Advance(23 * day)
		deleted, err := env.App.Service.DeleteDueKeys(ctx)
		if err != nil || !slices.Equal(deleted, []string{keyARN(testenv.Region, later)}) {
			t.Errorf("DeleteDueKeys at day 30 = %v, %v", deleted, err)
		}
	})
}

// keyOps are the operations of the key state table, each run against the
// key named by ref. other is an enabled key in the same region.
type keyOp struct {
	name string
	call func(c *kms.Client, ref, other string, ct []byte) error
}

var keyOps = map[string]keyOp{}

func init() {
	ops := []keyOp{
		{"DescribeKey", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
			return err
		}},
		{"Encrypt", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ref), Plaintext: []byte("x")})
			return err
		}},
		{"Decrypt", func(c *kms.Client, _, _ string, ct []byte) error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})
			return err
		}},
		{"GenerateDataKey", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(ref), KeySpec: types.DataKeySpecAes256})
			return err
		}},
		{"GenerateDataKeyWithoutPlaintext", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(ref), NumberOfBytes: aws.Int32(16)})
			return err
		}},
		{"ReEncrypt from", func(c *kms.Client, _, other string, ct []byte) error {
			_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: ct, DestinationKeyId: aws.String(other)})
			return err
		}},
		{"ReEncrypt to", func(c *kms.Client, ref, other string, _ []byte) error {
			out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(other), Plaintext: []byte("x")})
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, DestinationKeyId: aws.String(ref)})
			return err
		}},
		{"EnableKey", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(ref)})
			return err
		}},
		{"DisableKey", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(ref)})
			return err
		}},
		{"UpdateKeyDescription", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(ref), Description: aws.String("d")})
			return err
		}},
		{"TagResource", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(ref), Tags: []types.Tag{tag("t", "v")}})
			return err
		}},
		{"UntagResource", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(ref), TagKeys: []string{"t"}})
			return err
		}},
		{"ListResourceTags", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(ref)})
			return err
		}},
		{"GetKeyPolicy", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(ref), PolicyName: aws.String("default")})
			return err
		}},
		{"ListKeyPolicies", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(ref)})
			return err
		}},
		{"CreateAlias", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/state-" + ref[len(ref)-8:]), TargetKeyId: aws.String(ref)})
			return err
		}},
		{"ListAliases", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(ref)})
			return err
		}},
		{"ScheduleKeyDeletion", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(ref), PendingWindowInDays: aws.Int32(7)})
			return err
		}},
		{"CancelKeyDeletion", func(c *kms.Client, ref, _ string, _ []byte) error {
			_, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(ref)})
			return err
		}},
	}
	for _, op := range ops {
		keyOps[op.name] = op
	}
}

// keyStateTable is AWS's key state table (developer guide, "Key states of
// AWS KMS keys") for the operations Strongroom has today: "" means the call
// succeeds, otherwise the error code.
var keyStateTable = []struct {
	op                        string
	disabled, pendingDeletion string
}{
	{"DescribeKey", "", ""},
	{"Encrypt", "DisabledException", "KMSInvalidStateException"},
	{"Decrypt", "DisabledException", "KMSInvalidStateException"},
	{"GenerateDataKey", "DisabledException", "KMSInvalidStateException"},
	{"GenerateDataKeyWithoutPlaintext", "DisabledException", "KMSInvalidStateException"},
	{"ReEncrypt from", "DisabledException", "KMSInvalidStateException"},
	{"ReEncrypt to", "DisabledException", "KMSInvalidStateException"},
	{"EnableKey", "", "KMSInvalidStateException"},
	{"DisableKey", "", "KMSInvalidStateException"},
	{"UpdateKeyDescription", "", "KMSInvalidStateException"},
	{"TagResource", "", "KMSInvalidStateException"},
	{"UntagResource", "", "KMSInvalidStateException"},
	{"ListResourceTags", "", ""},
	{"GetKeyPolicy", "", ""},
	{"ListKeyPolicies", "", ""},
	{"CreateAlias", "", "KMSInvalidStateException"},
	{"ListAliases", "", ""},
	{"ScheduleKeyDeletion", "", "KMSInvalidStateException"},
	{"CancelKeyDeletion", "KMSInvalidStateException", ""},
}

func TestKeyStateErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	other := aws.ToString(newKey(t, c, "other").KeyId)

	setups := []struct {
		state string
		enter func(t *testing.T, id string)
		want  func(row int) string
	}{
		{"Disabled", func(t *testing.T, id string) {
			must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))
		}, func(row int) string { return keyStateTable[row].disabled }},
		{"PendingDeletion", func(t *testing.T, id string) {
			must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
		}, func(row int) string { return keyStateTable[row].pendingDeletion }},
	}
	for _, s := range setups {
		for i, row := range keyStateTable {
			want := s.want(i)
			name := fmt.Sprintf("%s on a %s key", row.op, s.state)
			if want == "" {
				name += " succeeds"
			} else {
				name += " is " + want
			}
			t.Run(name, func(t *testing.T) {
				// A fresh key per case: some calls change the state.
				id := aws.ToString(newKey(t, c, "").KeyId)
				ct := encrypt(t, c, id, []byte("state"), nil)
				s.enter(t, id)
				err := keyOps[row.op].call(c, id, other, ct)
				if want == "" {
					if err != nil {
						t.Fatalf("want success, got %v", err)
					}
					return
				}
				wantCode(t, err, want)
				if st := keyState(t, c, id); string(st) != s.state {
					t.Errorf("the refused call moved the key from %s to %s", s.state, st)
				}
			})
		}
	}
	for name := range keyOps {
		found := false
		for _, row := range keyStateTable {
			found = found || row.op == name
		}
		if !found {
			t.Errorf("operation %s is missing from keyStateTable", name)
		}
	}
}

// TestDeletionSweepsEveryDueKey: one sweep deletes every due key, however
// many pages of the pending-deletion index they fill.
func TestDeletionSweepsEveryDueKey(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	const n = 130
	for range n {
		id := aws.ToString(newKey(t, c, "").KeyId)
		must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
	}
	env.Clock.Advance(7*day + time.Second)
	deleted, err := env.App.Service.DeleteDueKeys(ctx)
	if err != nil || len(deleted) != n {
		t.Fatalf("DeleteDueKeys deleted %d keys (%v), want %d", len(deleted), err, n)
	}
	err = env.Store.View(ctx, func(tx store.Tx) error {
		items, err := tx.List(store.KindKey, testenv.Account+"/"+testenv.Region, "", 0)
		if len(items) != 0 {
			t.Errorf("%d key records left in the store", len(items))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
