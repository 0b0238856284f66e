package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/identity"
	strongkms "strongroom/internal/kms"
	"strongroom/internal/store"
	"strongroom/internal/testenv"
)

// Key rotation over the wire (EnableKeyRotation, DisableKeyRotation,
// GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations and the
// scheduler, run by hand after moving the fake clock) and deletion end to
// end for every kind of key.

// rotateDue runs the rotation scheduler once and returns the keys it
// rotated.
func rotateDue(t testing.TB, env *testenv.Env) []string {
	t.Helper()
	rotated, err := env.App.Service.RotateDueKeys(ctx)
	if err != nil {
		t.Fatalf("RotateDueKeys: %v", err)
	}
	return rotated
}

func rotationStatus(t testing.TB, c *kms.Client, keyID string) *kms.GetKeyRotationStatusOutput {
	t.Helper()
	return must[*kms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)}))
}

func currentMaterial(t testing.TB, c *kms.Client, keyID string) string {
	t.Helper()
	md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})).KeyMetadata
	return aws.ToString(md.CurrentKeyMaterialId)
}

// allRotations lists every entry of ListKeyRotations, page by page.
func allRotations(t testing.TB, c *kms.Client, keyID string, include types.IncludeKeyMaterial, limit int32) []types.RotationsListEntry {
	t.Helper()
	var out []types.RotationsListEntry
	var marker *string
	for range 100 {
		in := &kms.ListKeyRotationsInput{KeyId: aws.String(keyID), IncludeKeyMaterial: include, Marker: marker}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		page := must[*kms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, in))
		if limit > 0 && len(page.Rotations) > int(limit) {
			t.Fatalf("Limit %d returned %d rotations", limit, len(page.Rotations))
		}
		out = append(out, page.Rotations...)
		if page.Truncated != (page.NextMarker != nil) {
			t.Fatalf("Truncated %v with NextMarker %v", page.Truncated, aws.ToString(page.NextMarker))
		}
		if !page.Truncated {
			return out
		}
		marker = page.NextMarker
	}
	t.Fatal("ListKeyRotations never stopped paging")
	return nil
}

// TestRotatedKeyDecryptsEveryVersion: a key rotated three times (twice
// automatically, once on demand) still decrypts ciphertexts of each of its
// four material versions; new ciphertexts use the newest; KeyId, ARN,
// alias and policy do not change.
func TestRotatedKeyDecryptsEveryVersion(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	md := newKey(t, c, "rotating")
	id := aws.ToString(md.KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/rotating"), TargetKeyId: aws.String(id)}))
	policy := aws.ToString(must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})).Policy)
	ec := map[string]string{"purpose": "rotation"}

	type sealed struct {
		ct       []byte
		material string
		pt       string
	}
	var versions []sealed
	encryptNow := func(i int) {
		t.Helper()
		pt := fmt.Sprintf("version %d", i)
		ct := encrypt(t, c, "alias/rotating", []byte(pt), ec)
		versions = append(versions, sealed{ct, currentMaterial(t, c, id), pt})
	}

	encryptNow(0)
	enabledAt := env.Clock.Now()
	must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id)}))
	st := rotationStatus(t, c, id)
	if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 365 || st.NextRotationDate == nil ||
		!st.NextRotationDate.Equal(enabledAt.Add(365*day)) || aws.ToString(st.KeyId) != id {
		t.Fatalf("GetKeyRotationStatus after EnableKeyRotation = enabled %v, period %v, next %v (want %v), KeyId %s",
			st.KeyRotationEnabled, aws.ToInt32(st.RotationPeriodInDays), st.NextRotationDate, enabledAt.Add(365*day), aws.ToString(st.KeyId))
	}
	if st.OnDemandRotationStartDate != nil {
		t.Errorf("OnDemandRotationStartDate = %v with no rotation in progress", st.OnDemandRotationStartDate)
	}

	// Not due yet: nothing happens.
	env.Clock.Advance(365*day - time.Minute)
	if got := rotateDue(t, env); len(got) != 0 {
		t.Fatalf("RotateDueKeys a minute early rotated %v", got)
	}
	env.Clock.Advance(time.Minute)
	if got := rotateDue(t, env); !slices.Equal(got, []string{keyARN(testenv.Region, id)}) {
		t.Fatalf("RotateDueKeys at the due time rotated %v, want the key", got)
	}
	if got := rotateDue(t, env); len(got) != 0 {
		t.Fatalf("a second RotateDueKeys rotated %v again", got)
	}
	encryptNow(1)

	next := rotationStatus(t, c, id).NextRotationDate
	must[*kms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
	if got := rotationStatus(t, c, id).NextRotationDate; got == nil || !got.Equal(*next) {
		t.Errorf("on-demand rotation moved the automatic schedule from %v to %v", next, got)
	}
	encryptNow(2)

	env.Clock.Advance(366 * day)
	if got := rotateDue(t, env); len(got) != 1 {
		t.Fatalf("second automatic rotation: %v", got)
	}
	encryptNow(3)

	t.Run("four distinct material versions", func(t *testing.T) {
		seen := map[string]bool{}
		for _, v := range versions {
			if v.material == "" || seen[v.material] {
				t.Fatalf("material ids %v are not four distinct ids", versions)
			}
			seen[v.material] = true
		}
	})
	t.Run("every version still decrypts, with its own material", func(t *testing.T) {
		for i, v := range versions {
			out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: v.ct, EncryptionContext: ec})
			if err != nil {
				t.Fatalf("Decrypt of version %d: %v", i, err)
			}
			if string(out.Plaintext) != v.pt || aws.ToString(out.KeyMaterialId) != v.material || aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
				t.Errorf("version %d decrypts to %q with material %s, key %s", i, out.Plaintext, aws.ToString(out.KeyMaterialId), aws.ToString(out.KeyId))
			}
		}
	})
	t.Run("new ciphertexts use the newest material", func(t *testing.T) {
		gdk := must[*kms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256}))
		if aws.ToString(gdk.KeyMaterialId) != versions[3].material {
			t.Errorf("GenerateDataKey used material %s, want the newest %s", aws.ToString(gdk.KeyMaterialId), versions[3].material)
		}
		out := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: encrypt(t, c, id, []byte("x"), nil)}))
		if aws.ToString(out.KeyMaterialId) != versions[3].material {
			t.Errorf("a new Encrypt used material %s", aws.ToString(out.KeyMaterialId))
		}
		re := must[*kms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: versions[0].ct, SourceEncryptionContext: ec,
			DestinationKeyId: aws.String(id), DestinationEncryptionContext: ec}))
		if aws.ToString(re.SourceKeyMaterialId) != versions[0].material || aws.ToString(re.DestinationKeyMaterialId) != versions[3].material {
			t.Errorf("ReEncrypt after rotation: source material %s, destination %s", aws.ToString(re.SourceKeyMaterialId), aws.ToString(re.DestinationKeyMaterialId))
		}
	})
	t.Run("KeyId, ARN, alias and policy are unchanged", func(t *testing.T) {
		now := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/rotating")})).KeyMetadata
		if aws.ToString(now.KeyId) != id || aws.ToString(now.Arn) != aws.ToString(md.Arn) || now.KeyState != types.KeyStateEnabled {
			t.Errorf("after rotations: KeyId %s, Arn %s, state %s", aws.ToString(now.KeyId), aws.ToString(now.Arn), now.KeyState)
		}
		got := aws.ToString(must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})).Policy)
		if got != policy {
			t.Error("rotation changed the key policy")
		}
	})
	t.Run("ListKeyRotations", func(t *testing.T) {
		rot := allRotations(t, c, id, "", 0)
		wantTypes := []types.RotationType{types.RotationTypeAutomatic, types.RotationTypeOnDemand, types.RotationTypeAutomatic}
		if len(rot) != 3 {
			t.Fatalf("ListKeyRotations = %d entries, want 3", len(rot))
		}
		for i, r := range rot {
			if r.RotationType != wantTypes[i] || aws.ToString(r.KeyMaterialId) != versions[i+1].material || r.RotationDate == nil || aws.ToString(r.KeyId) != id {
				t.Errorf("rotation %d = type %s, material %s, date %v, key %s", i, r.RotationType, aws.ToString(r.KeyMaterialId), r.RotationDate, aws.ToString(r.KeyId))
			}
			wantState := types.KeyMaterialStateNonCurrent
			if i == 2 {
				wantState = types.KeyMaterialStateCurrent
			}
			if r.KeyMaterialState != wantState {
				t.Errorf("rotation %d KeyMaterialState = %s, want %s", i, r.KeyMaterialState, wantState)
			}
			if r.ImportState != "" || r.ExpirationModel != "" {
				t.Errorf("rotation %d of a generated key has import fields %s, %s", i, r.ImportState, r.ExpirationModel)
			}
		}
		if !rot[0].RotationDate.Equal(enabledAt.Add(365 * day)) {
			t.Errorf("the first automatic rotation is dated %v, want %v", rot[0].RotationDate, enabledAt.Add(365*day))
		}
		all := allRotations(t, c, id, types.IncludeKeyMaterialAllKeyMaterial, 1)
		if len(all) != 4 || aws.ToString(all[0].KeyMaterialId) != versions[0].material || all[0].RotationType != "" || all[0].RotationDate != nil {
			t.Fatalf("ALL_KEY_MATERIAL by pages of 1 = %d entries; the first %+v", len(all), all[0])
		}
		paged := allRotations(t, c, id, "", 2)
		if len(paged) != 3 {
			t.Errorf("paging by 2 found %d rotations", len(paged))
		}
	})
}

// TestRotationSchedulerOnceAcrossNodes: several nodes sharing a store (and
// a node restarted over it) perform each due rotation exactly once.
func TestRotationSchedulerOnceAcrossNodes(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	const n = 30
	var ids []string
	for range n {
		id := aws.ToString(newKey(t, c, "").KeyId)
		must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)}))
		ids = append(ids, id)
	}
	// Three more nodes: separate cores (no shared memory) over the same
	// store, root of trust and clock, as after a restart or in a cluster.
	nodes := []*strongkms.Service{env.App.Service}
	for range 3 {
		nodes = append(nodes, strongkms.New(env.Store, env.App.Service.Sealer(), env.Clock, strongkms.Config{}))
	}
	env.Clock.Advance(90 * day)
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for _, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				got, err := node.RotateDueKeys(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, a := range got {
					count[a]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if count[keyARN(testenv.Region, id)] != 1 {
			t.Errorf("key %s rotated %d times, want once", id, count[keyARN(testenv.Region, id)])
		}
		if rot := allRotations(t, c, id, "", 0); len(rot) != 1 {
			t.Errorf("key %s has %d rotations recorded", id, len(rot))
		}
	}
	// The next period is counted from the rotation, on any node.
	env.Clock.Advance(90 * day)
	got, err := nodes[3].RotateDueKeys(ctx)
	if err != nil || len(got) != n {
		t.Errorf("a restarted node's RotateDueKeys 90 days later rotated %d keys (%v), want %d", len(got), err, n)
	}
}

// TestRotationWaitsWhileDisabled: a rotation that comes due while the key
// is disabled or pending deletion happens once the key is enabled again;
// pending deletion reports rotation off, and cancelling brings it back.
func TestRotationWaitsWhileDisabled(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(100)}))
	first := currentMaterial(t, c, id)
	must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))
	if st := rotationStatus(t, c, id); !st.KeyRotationEnabled {
		t.Error("disabling the key turned its rotation status off")
	}
	env.Clock.Advance(101 * day)
	if got := rotateDue(t, env); len(got) != 0 {
		t.Fatalf("a disabled key was rotated: %v", got)
	}
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
	if st := rotationStatus(t, c, id); st.KeyRotationEnabled || st.NextRotationDate != nil {
		t.Errorf("pending deletion: rotation status %v, next %v; want false", st.KeyRotationEnabled, st.NextRotationDate)
	}
	must[*kms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}))
	if st := rotationStatus(t, c, id); !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 100 {
		t.Errorf("after cancelling the deletion: rotation status %v, period %d; want true, 100", st.KeyRotationEnabled, aws.ToInt32(st.RotationPeriodInDays))
	}
	if got := rotateDue(t, env); len(got) != 0 || currentMaterial(t, c, id) != first {
		t.Fatalf("the disabled key was rotated: %v", got)
	}
	must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}))
	if got := rotateDue(t, env); len(got) != 1 || currentMaterial(t, c, id) == first {
		t.Fatalf("once enabled, the overdue rotation did not happen: %v", got)
	}
	st := rotationStatus(t, c, id)
	if want := env.Clock.Now().Add(100 * day); st.NextRotationDate == nil || !st.NextRotationDate.Equal(want) {
		t.Errorf("after the overdue rotation the next one is %v, want %v", st.NextRotationDate, want)
	}
}

func TestRotationPeriods(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	for _, days := range []int32{0, 89, 2561, -1} {
		t.Run(fmt.Sprintf("%d days is refused", days), func(t *testing.T) {
			_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(days)})
			wantCode(t, err, "ValidationException")
			if rotationStatus(t, c, id).KeyRotationEnabled {
				t.Error("a refused EnableKeyRotation enabled rotation")
			}
		})
	}
	start := env.Clock.Now()
	for _, days := range []int32{90, 2560} {
		must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(days)}))
		st := rotationStatus(t, c, id)
		if aws.ToInt32(st.RotationPeriodInDays) != days || !st.NextRotationDate.Equal(start.Add(time.Duration(days)*day)) {
			t.Errorf("period %d: status period %d, next %v", days, aws.ToInt32(st.RotationPeriodInDays), st.NextRotationDate)
		}
	}
	t.Run("a shorter period already passed rotates at once", func(t *testing.T) {
		env.Clock.Advance(200 * day)
		must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)}))
		if got := rotateDue(t, env); len(got) != 1 {
			t.Errorf("RotateDueKeys = %v", got)
		}
	})
	t.Run("disable", func(t *testing.T) {
		must[*kms.DisableKeyRotationOutput](t)(c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(id)}))
		st := rotationStatus(t, c, id)
		if st.KeyRotationEnabled || st.RotationPeriodInDays != nil || st.NextRotationDate != nil {
			t.Errorf("after DisableKeyRotation: %v, %v, %v", st.KeyRotationEnabled, st.RotationPeriodInDays, st.NextRotationDate)
		}
		env.Clock.Advance(3000 * day)
		if got := rotateDue(t, env); len(got) != 0 {
			t.Errorf("a key with rotation disabled was rotated: %v", got)
		}
	})
}

// TestRotateKeyOnDemandLimits: 25 on-demand rotations per key, and none
// while an automatic rotation is due within 20 minutes.
func TestRotateKeyOnDemandLimits(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	ct := encrypt(t, c, id, []byte("before"), nil)
	for i := range 25 {
		if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
			t.Fatalf("on-demand rotation %d: %v", i+1, err)
		}
	}
	_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantCode(t, err, "LimitExceededException")
	if len(allRotations(t, c, id, "", 0)) != 25 {
		t.Error("ListKeyRotations does not list 25 rotations")
	}
	if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})).Plaintext; string(got) != "before" {
		t.Errorf("after 25 rotations the first ciphertext decrypts to %q", got)
	}

	other := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(other), RotationPeriodInDays: aws.Int32(90)}))
	env.Clock.Advance(90*day - 10*time.Minute)
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(other)})
	wantCode(t, err, "ConflictException")
	env.Clock.Advance(10 * time.Minute)
	rotateDue(t, env)
	must[*kms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(other)}))
}

// TestRotationRefusals: the errors AWS documents for keys that cannot
// rotate and for key states.
func TestRotationRefusals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	rotationOps := map[string]func(ref string) error{
		"EnableKeyRotation": func(ref string) error {
			_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(ref)})
			return err
		},
		"DisableKeyRotation": func(ref string) error {
			_, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(ref)})
			return err
		},
		"GetKeyRotationStatus": func(ref string) error {
			_, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(ref)})
			return err
		},
		"RotateKeyOnDemand": func(ref string) error {
			_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(ref)})
			return err
		},
		"ListKeyRotations": func(ref string) error {
			_, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(ref)})
			return err
		},
	}
	rsa := createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	ecc := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	hmacKey := createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	external := aws.ToString(must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})).KeyMetadata.KeyId)
	for _, k := range []struct{ name, id string }{{"asymmetric RSA", rsa}, {"asymmetric ECC", ecc}, {"HMAC", hmacKey}} {
		for op, call := range rotationOps {
			t.Run(op+" on an "+k.name+" key", func(t *testing.T) {
				wantCode(t, call(k.id), "UnsupportedOperationException")
			})
		}
	}
	for _, op := range []string{"EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus"} {
		t.Run(op+" on a key with imported material", func(t *testing.T) {
			wantCode(t, rotationOps[op](external), "UnsupportedOperationException")
		})
	}
	t.Run("RotateKeyOnDemand on a key pending import", func(t *testing.T) {
		wantCode(t, rotationOps["RotateKeyOnDemand"](external), "KMSInvalidStateException")
	})

	states := []struct {
		state string
		enter func(id string)
		want  map[string]string // op → error code; absent: succeeds
	}{
		{"Disabled", func(id string) {
			must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))
		}, map[string]string{"EnableKeyRotation": "DisabledException", "DisableKeyRotation": "DisabledException", "RotateKeyOnDemand": "DisabledException"}},
		{"PendingDeletion", func(id string) {
			must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
		}, map[string]string{"EnableKeyRotation": "KMSInvalidStateException", "DisableKeyRotation": "KMSInvalidStateException", "RotateKeyOnDemand": "KMSInvalidStateException"}},
	}
	for _, s := range states {
		for op, call := range rotationOps {
			want := s.want[op]
			name := fmt.Sprintf("%s on a %s key", op, s.state)
			t.Run(name, func(t *testing.T) {
				id := aws.ToString(newKey(t, c, "").KeyId)
				s.enter(id)
				err := call(id)
				if want == "" {
					if err != nil {
						t.Fatalf("want success, got %v", err)
					}
					return
				}
				wantCode(t, err, want)
			})
		}
	}
	t.Run("ListKeyRotations arguments", func(t *testing.T) {
		id := aws.ToString(newKey(t, c, "").KeyId)
		_, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), Marker: aws.String("not-a-marker")})
		wantCode(t, err, "InvalidMarkerException")
		_, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: "SOME"})
		wantCode(t, err, "ValidationException")
		_, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), Limit: aws.Int32(0)})
		wantCode(t, err, "ValidationException")
		_, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String("0b8c7d2e-1111-4222-8333-444455556666")})
		wantCode(t, err, "NotFoundException")
		out := must[*kms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)}))
		if len(out.Rotations) != 0 || out.Truncated {
			t.Errorf("a key never rotated lists %d rotations", len(out.Rotations))
		}
	})
}

// TestDeletionOfEveryKindOfKey: for every kind of key, a 7-day deletion can
// be cancelled (the key is usable once enabled again, or waits for its
// material), and a deletion left to run makes the key, its aliases and its
// sealed material disappear at day 7.
func TestDeletionOfEveryKindOfKey(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	type kind struct {
		name string
		make func(t *testing.T) string
		use  func(id string) error
		// afterCancel is the state CancelKeyDeletion leaves.
		afterCancel types.KeyState
	}
	encryptUse := func(id string) error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
		return err
	}
	kinds := []kind{
		{"symmetric", func(t *testing.T) string { return aws.ToString(newKey(t, c, "").KeyId) }, encryptUse, types.KeyStateDisabled},
		{"symmetric, rotated", func(t *testing.T) string {
			id := aws.ToString(newKey(t, c, "").KeyId)
			must[*kms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
			return id
		}, encryptUse, types.KeyStateDisabled},
		{"RSA encryption", func(t *testing.T) string {
			return createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
		}, func(id string) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		}, types.KeyStateDisabled},
		{"ECC signing", func(t *testing.T) string {
			return createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
		}, func(id string) error {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		}, types.KeyStateDisabled},
		{"HMAC", func(t *testing.T) string {
			return createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
		}, func(id string) error {
			_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(id), Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
			return err
		}, types.KeyStateDisabled},
		{"imported", func(t *testing.T) string {
			id := newExternalKey(t, c, "", "")
			importMaterial(t, c, id, bytes.Repeat([]byte{9}, 32), types.AlgorithmSpecRsaesOaepSha256, nil)
			return id
		}, encryptUse, types.KeyStateDisabled},
		{"pending import", func(t *testing.T) string { return newExternalKey(t, c, "", "") }, nil, types.KeyStatePendingImport},
	}
	var doomed []string
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			id := k.make(t)
			must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kind-" + id[len(id)-8:]), TargetKeyId: aws.String(id)}))
			must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
			if k.use != nil {
				wantCode(t, k.use(id), "KMSInvalidStateException")
			}
			must[*kms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}))
			if st := keyState(t, c, id); st != k.afterCancel {
				t.Fatalf("after CancelKeyDeletion the key is %s, want %s", st, k.afterCancel)
			}
			if k.use != nil {
				wantCode(t, k.use(id), "DisabledException")
				must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}))
				if err := k.use(id); err != nil {
					t.Fatalf("after cancel and EnableKey: %v", err)
				}
			} else {
				_, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
				wantCode(t, err, "KMSInvalidStateException")
			}
			must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
			doomed = append(doomed, id)
		})
	}
	survivor := aws.ToString(newKey(t, c, "survivor").KeyId)

	env.Clock.Advance(7*day - time.Minute)
	if deleted, err := env.App.Service.DeleteDueKeys(ctx); err != nil || len(deleted) != 0 {
		t.Fatalf("DeleteDueKeys before day 7 = %v, %v", deleted, err)
	}
	env.Clock.Advance(time.Minute)
	deleted, err := env.App.Service.DeleteDueKeys(ctx)
	if err != nil || len(deleted) != len(doomed) {
		t.Fatalf("DeleteDueKeys at day 7 deleted %d keys (%v), want %d", len(deleted), err, len(doomed))
	}
	for i, id := range doomed {
		t.Run(kinds[i].name+" is gone", func(t *testing.T) {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
			wantCode(t, err, "NotFoundException")
			_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/kind-" + id[len(id)-8:])})
			wantCode(t, err, "NotFoundException")
			err = env.Store.View(ctx, func(tx store.Tx) error {
				_, err := tx.Get(store.KindKey, testenv.Account+"/"+testenv.Region, id)
				return err
			})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the key record (with its sealed material) is still stored: %v", err)
			}
		})
	}
	if st := keyState(t, c, survivor); st != types.KeyStateEnabled {
		t.Errorf("an unrelated key is %s", st)
	}
	// The background work that follows a deletion (rotation, expiry) finds
	// nothing to do and does not fail on the missing keys.
	env.Clock.Advance(400 * day)
	if _, err := env.App.Service.RotateDueKeys(ctx); err != nil {
		t.Error(err)
	}
	if _, err := env.App.Service.ExpireImportedMaterial(ctx); err != nil {
		t.Error(err)
	}
}

// coreCall is a kms.Call of the bootstrap account's root, for tests that
// drive a second core directly.
func coreCall(region string) *strongkms.Call {
	return &strongkms.Call{Principal: identity.Root(testenv.Account), Region: region}
}

// TestBackgroundWorkRotatesAndExpires: the node's background loop runs the
// rotation scheduler and the expiry of imported material.
func TestBackgroundWorkRotatesAndExpires(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	rotating := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(rotating), RotationPeriodInDays: aws.Int32(90)}))
	imported := newExternalKey(t, c, "", "")
	validTo := env.Clock.Now().Add(30 * day)
	importMaterial(t, c, imported, bytes.Repeat([]byte{8}, 32), types.AlgorithmSpecRsaesOaepSha256, &validTo)
	env.Clock.Advance(91 * day)

	bg, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		env.App.RunBackground(bg, 10*time.Millisecond)
		close(done)
	}()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(allRotations(t, c, rotating, "", 0)) == 1 && keyState(t, c, imported) == types.KeyStatePendingImport {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after 10 s of background work: %d rotations, imported key %s", len(allRotations(t, c, rotating, "", 0)), keyState(t, c, imported))
}
