package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// On-demand rotation of a multi-Region key with imported key material, as
// AWS does it: new material goes into the primary key (ImportType
// NEW_KEY_MATERIAL), then the same into every replica (EXISTING_KEY_MATERIAL);
// until the last replica has it, the primary lists it as
// PENDING_MULTI_REGION_IMPORT_AND_ROTATION and RotateKeyOnDemand is refused;
// then RotateKeyOnDemand on the primary makes it current in every member.

// materialStates returns the KeyMaterialState of every material of id in
// the client's Region, by KeyMaterialId (ALL_KEY_MATERIAL).
func materialStates(t *testing.T, c *kms.Client, id string) map[string]types.KeyMaterialState {
	t.Helper()
	out := map[string]types.KeyMaterialState{}
	for _, e := range allRotations(t, c, id, types.IncludeKeyMaterialAllKeyMaterial, 0) {
		out[aws.ToString(e.KeyMaterialId)] = e.KeyMaterialState
	}
	return out
}

func rotateOnDemand(c *kms.Client, id string) error {
	_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	return err
}

// wantMaterial checks, in each of regions, the member's current material
// and key state.
func (m *mrkEnv) wantMaterial(t *testing.T, id, current string, state types.KeyState, regions ...string) {
	t.Helper()
	for _, r := range regions {
		md := m.describe(t, r, id)
		if got := aws.ToString(md.CurrentKeyMaterialId); got != current {
			t.Errorf("%s: CurrentKeyMaterialId %s, want %s", r, got, current)
		}
		if md.KeyState != state {
			t.Errorf("%s: KeyState %s, want %s", r, md.KeyState, state)
		}
	}
}

// importedFamily creates a multi-Region key with imported material in
// us-east-1, replicates it to replicas and imports the same material into
// each, and returns the key id, the material and its id.
func (m *mrkEnv) importedFamily(t *testing.T, replicas ...string) (id string, material []byte, materialID string) {
	t.Helper()
	id = m.newExternalMRK(t)
	material = randomMaterial()
	materialID = aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, material, "")).KeyMaterialId)
	for _, r := range replicas {
		m.replicate(t, id, r)
	}
	for _, r := range replicas {
		must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[r], id, material, ""))
	}
	return id, material, materialID
}

func TestMultiRegionImportedRotateOnDemand(t *testing.T) {
	m := newMRKEnv(t)
	id, a, idA := m.importedFamily(t, euWest, apSE)
	before := map[string][]byte{}
	for _, r := range []string{usEast, euWest, apSE} {
		before[r] = encrypt(t, m.c[r], id, []byte("before the rotation, in "+r), nil)
	}

	// Nothing to rotate to yet.
	wantCode(t, rotateOnDemand(m.c[usEast], id), "KMSInvalidStateException")

	// New material in the primary: pending for the whole family, and not
	// rotatable while a replica lacks it.
	c := randomMaterial()
	idC := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, c, types.ImportTypeNewKeyMaterial)).KeyMaterialId)
	if st := materialStates(t, m.c[usEast], id); st[idC] != types.KeyMaterialStatePendingMultiRegionImportAndRotation || st[idA] != types.KeyMaterialStateCurrent {
		t.Fatalf("primary after the new import: %v", st)
	}
	err := rotateOnDemand(m.c[usEast], id)
	wantCode(t, err, "KMSInvalidStateException")
	if msg := apiMessage(err); !containsAll(msg, euWest, apSE) {
		t.Errorf("the refusal does not name the replicas lacking the material: %q", msg)
	}

	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, c, types.ImportTypeExistingKeyMaterial))
	if st := materialStates(t, m.c[euWest], id); st[idC] != types.KeyMaterialStatePendingRotation || st[idA] != types.KeyMaterialStateCurrent {
		t.Fatalf("replica holding the new material: %v", st)
	}
	if st := materialStates(t, m.c[usEast], id); st[idC] != types.KeyMaterialStatePendingMultiRegionImportAndRotation {
		t.Fatalf("primary with one replica of two holding the new material: %v", st)
	}
	err = rotateOnDemand(m.c[usEast], id)
	wantCode(t, err, "KMSInvalidStateException")
	if msg := apiMessage(err); !containsAll(msg, apSE) || containsAll(msg, euWest) {
		t.Errorf("the refusal should name %s alone: %q", apSE, msg)
	}
	// A replica never rotates on its own.
	wantCode(t, rotateOnDemand(m.c[euWest], id), "UnsupportedOperationException")

	// The last replica takes it: PENDING_ROTATION on the primary.
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[apSE], id, c, types.ImportTypeExistingKeyMaterial))
	if st := materialStates(t, m.c[usEast], id); st[idC] != types.KeyMaterialStatePendingRotation {
		t.Fatalf("primary with every replica holding the new material: %v", st)
	}
	// A replica's copy deleted: pending for the family again, the others
	// unchanged.
	must[*kms.DeleteImportedKeyMaterialOutput](t)(m.c[apSE].DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: aws.String(idC)}))
	if st := materialStates(t, m.c[usEast], id); st[idC] != types.KeyMaterialStatePendingMultiRegionImportAndRotation {
		t.Fatalf("primary after a replica's copy was deleted: %v", st)
	}
	if st := materialStates(t, m.c[euWest], id); st[idC] != types.KeyMaterialStatePendingRotation {
		t.Fatalf("the other replica after a replica's copy was deleted: %v", st)
	}
	wantCode(t, rotateOnDemand(m.c[usEast], id), "KMSInvalidStateException")
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[apSE], id, c, types.ImportTypeExistingKeyMaterial))
	m.wantMaterial(t, id, idA, types.KeyStateEnabled, usEast, euWest, apSE)

	// A disabled replica rotates with its family.
	must[*kms.DisableKeyOutput](t)(m.c[apSE].DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))
	must[*kms.RotateKeyOnDemandOutput](t)(m.c[usEast].RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
	m.wantMaterial(t, id, idC, types.KeyStateEnabled, usEast, euWest)
	m.wantMaterial(t, id, idC, types.KeyStateDisabled, apSE)
	must[*kms.EnableKeyOutput](t)(m.c[apSE].EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}))

	for _, r := range []string{usEast, euWest, apSE} {
		st := materialStates(t, m.c[r], id)
		if len(st) != 2 || st[idC] != types.KeyMaterialStateCurrent || st[idA] != types.KeyMaterialStateNonCurrent {
			t.Errorf("%s after the rotation: %v", r, st)
		}
		rot := allRotations(t, m.c[r], id, "", 0)
		if len(rot) != 1 || aws.ToString(rot[0].KeyMaterialId) != idC || rot[0].RotationType != types.RotationTypeOnDemand || rot[0].RotationDate == nil {
			t.Errorf("%s: ListKeyRotations = %+v", r, rot)
		}
	}
	// New ciphertexts are under the new material in every Region and
	// decrypt in every other; the old ones still decrypt everywhere.
	m.crossDecrypt(t, id, c, usEast, euWest, apSE)
	for from, blob := range before {
		if got := openLocally(t, a, blob, nil); string(got) != "before the rotation, in "+from {
			t.Fatalf("a ciphertext made in %s before the rotation opens locally to %q", from, got)
		}
		for _, to := range []string{usEast, euWest, apSE} {
			out, err := m.c[to].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
			if err != nil || string(out.Plaintext) != "before the rotation, in "+from {
				t.Fatalf("made in %s before the rotation, decrypted in %s: %v", from, to, err)
			}
		}
	}

	// Nothing pending any more; new material for the next rotation again
	// goes to the primary first.
	wantCode(t, rotateOnDemand(m.c[usEast], id), "KMSInvalidStateException")
	_, err = importAs(t, m.c[euWest], id, randomMaterial(), types.ImportTypeNewKeyMaterial)
	wantCode(t, err, "IncorrectKeyMaterialException")
}

// TestMultiRegionImportedPendingDeletedFromPrimary: deleting the primary's
// material pending rotation deletes the replicas' copies too.
func TestMultiRegionImportedPendingDeletedFromPrimary(t *testing.T) {
	m := newMRKEnv(t)
	id, _, idA := m.importedFamily(t, euWest)
	d := randomMaterial()
	idD := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, d, types.ImportTypeNewKeyMaterial)).KeyMaterialId)
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, d, types.ImportTypeExistingKeyMaterial))

	must[*kms.DeleteImportedKeyMaterialOutput](t)(m.c[usEast].DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: aws.String(idD)}))
	for _, r := range []string{usEast, euWest} {
		if st := materialStates(t, m.c[r], id); len(st) != 1 || st[idA] != types.KeyMaterialStateCurrent {
			t.Errorf("%s after the primary's pending material was deleted: %v", r, st)
		}
	}
	m.wantMaterial(t, id, idA, types.KeyStateEnabled, usEast, euWest)
	wantCode(t, rotateOnDemand(m.c[usEast], id), "KMSInvalidStateException")
	// The family no longer has it: the replica refuses it.
	_, err := importAs(t, m.c[euWest], id, d, types.ImportTypeExistingKeyMaterial)
	wantCode(t, err, "IncorrectKeyMaterialException")

	// Other new material goes through the whole cycle.
	e := randomMaterial()
	idE := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, e, types.ImportTypeNewKeyMaterial)).KeyMaterialId)
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, e, types.ImportTypeExistingKeyMaterial))
	must[*kms.RotateKeyOnDemandOutput](t)(m.c[usEast].RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
	m.wantMaterial(t, id, idE, types.KeyStateEnabled, usEast, euWest)
	m.crossDecrypt(t, id, e, usEast, euWest)
}

// TestMultiRegionImportedRotateAfterPrimaryMoves: after UpdatePrimaryRegion
// the new primary takes new material first and rotates the family; the
// former primary, a replica now, cannot rotate.
func TestMultiRegionImportedRotateAfterPrimaryMoves(t *testing.T) {
	m := newMRKEnv(t)
	id, _, _ := m.importedFamily(t, euWest)
	if _, err := m.c[usEast].UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(euWest)}); err != nil {
		t.Fatal(err)
	}
	b := randomMaterial()
	_, err := importAs(t, m.c[usEast], id, b, types.ImportTypeNewKeyMaterial)
	wantCode(t, err, "IncorrectKeyMaterialException")
	idB := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, b, types.ImportTypeNewKeyMaterial)).KeyMaterialId)
	if st := materialStates(t, m.c[euWest], id); st[idB] != types.KeyMaterialStatePendingMultiRegionImportAndRotation {
		t.Fatalf("new primary: %v", st)
	}
	wantCode(t, rotateOnDemand(m.c[euWest], id), "KMSInvalidStateException")
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, b, types.ImportTypeExistingKeyMaterial))
	wantCode(t, rotateOnDemand(m.c[usEast], id), "UnsupportedOperationException")
	must[*kms.RotateKeyOnDemandOutput](t)(m.c[euWest].RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
	m.wantMaterial(t, id, idB, types.KeyStateEnabled, usEast, euWest)
	m.crossDecrypt(t, id, b, usEast, euWest)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestMultiRegionImportedPendingExpires: the primary's material pending
// rotation expiring is its deletion: the replicas' copies go too, in the
// same sweep, even when their own copies are due in it (after the
// primary's: their index entries are gone when the sweep reaches them).
func TestMultiRegionImportedPendingExpires(t *testing.T) {
	m := newMRKEnv(t)
	id, _, idA := m.importedFamily(t, euWest, apSE)
	d := randomMaterial()
	validTo := m.env.Clock.Now().Add(time.Hour)
	importExpiring := func(region string, it types.ImportType, validTo time.Time) {
		t.Helper()
		c := m.c[region]
		const alg = types.AlgorithmSpecRsaesOaepSha256
		p := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
			KeyId: aws.String(id), WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048}))
		must[*kms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
			EncryptedKeyMaterial: wrapLocally(t, alg, p.PublicKey, d), ValidTo: aws.Time(validTo), ImportType: it}))
	}
	importExpiring(usEast, types.ImportTypeNewKeyMaterial, validTo)
	importExpiring(euWest, types.ImportTypeExistingKeyMaterial, validTo.Add(time.Minute))
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[apSE], id, d, types.ImportTypeExistingKeyMaterial))

	m.env.Clock.Advance(2 * time.Hour)
	if _, err := m.env.App.Service.ExpireImportedMaterial(ctx); err != nil {
		t.Fatalf("ExpireImportedMaterial: %v", err)
	}
	for _, r := range []string{usEast, euWest, apSE} {
		if st := materialStates(t, m.c[r], id); len(st) != 1 || st[idA] != types.KeyMaterialStateCurrent {
			t.Errorf("%s after the primary's pending material expired: %v", r, st)
		}
	}
	m.wantMaterial(t, id, idA, types.KeyStateEnabled, usEast, euWest, apSE)
	wantCode(t, rotateOnDemand(m.c[usEast], id), "KMSInvalidStateException")
}
