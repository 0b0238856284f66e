package e2e

import (
	"bytes"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// Multi-Region keys over the wire: CreateKey MultiRegion, ReplicateKey,
// UpdatePrimaryRegion, DescribeKey's MultiRegionConfiguration, deletion of
// a primary with replicas, and ciphertexts that cross Regions.

const (
	usEast = "us-east-1"
	euWest = "eu-west-1"
	apSE   = "ap-southeast-2"
)

var mrkID = regexp.MustCompile(`^mrk-[0-9a-f]{32}$`)

// mrkEnv is a server and a root client per Region.
type mrkEnv struct {
	env *testenv.Env
	c   map[string]*kms.Client
}

func newMRKEnv(t *testing.T) *mrkEnv {
	env := testenv.Start(t, testenv.Options{})
	m := &mrkEnv{env: env, c: map[string]*kms.Client{}}
	for _, r := range []string{usEast, euWest, apSE} {
		m.c[r] = env.KMSAs(env.Root, r)
	}
	return m
}

func (m *mrkEnv) primary(t *testing.T) string {
	t.Helper()
	out, err := m.c[usEast].CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("primary")})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

func (m *mrkEnv) replicate(t *testing.T, id, region string) *kms.ReplicateKeyOutput {
	t.Helper()
	out, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(region)})
	if err != nil {
		t.Fatalf("ReplicateKey %s to %s: %v", id, region, err)
	}
	return out
}

func (m *mrkEnv) describe(t *testing.T, region, id string) *types.KeyMetadata {
	t.Helper()
	out, err := m.c[region].DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeKey %s in %s: %v", id, region, err)
	}
	return out.KeyMetadata
}

// wantFamily checks a member's MultiRegionConfiguration.
func wantFamily(t *testing.T, md *types.KeyMetadata, typ types.MultiRegionKeyType, primary string, replicas ...string) {
	t.Helper()
	if !aws.ToBool(md.MultiRegion) || md.MultiRegionConfiguration == nil {
		t.Fatalf("%s: MultiRegion %v, configuration %v", aws.ToString(md.Arn), md.MultiRegion, md.MultiRegionConfiguration)
	}
	cfg := md.MultiRegionConfiguration
	if cfg.MultiRegionKeyType != typ {
		t.Errorf("%s: MultiRegionKeyType %s, want %s", aws.ToString(md.Arn), cfg.MultiRegionKeyType, typ)
	}
	if aws.ToString(cfg.PrimaryKey.Region) != primary || aws.ToString(cfg.PrimaryKey.Arn) != keyARN(primary, *md.KeyId) {
		t.Errorf("%s: primary %s %s, want %s", aws.ToString(md.Arn), aws.ToString(cfg.PrimaryKey.Region), aws.ToString(cfg.PrimaryKey.Arn), primary)
	}
	var got []string
	for _, r := range cfg.ReplicaKeys {
		got = append(got, aws.ToString(r.Region))
		if aws.ToString(r.Arn) != keyARN(aws.ToString(r.Region), *md.KeyId) {
			t.Errorf("replica ARN %s in %s", aws.ToString(r.Arn), aws.ToString(r.Region))
		}
	}
	slices.Sort(got)
	replicas = slices.Clone(replicas)
	slices.Sort(replicas)
	if !slices.Equal(got, replicas) {
		t.Errorf("%s: replicas %v, want %v", aws.ToString(md.Arn), got, replicas)
	}
}

func TestMultiRegionCreateKey(t *testing.T) {
	m := newMRKEnv(t)
	out, err := m.c[usEast].CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	md := out.KeyMetadata
	if !mrkID.MatchString(*md.KeyId) {
		t.Fatalf("KeyId %q, want mrk- and 32 hex digits", *md.KeyId)
	}
	if *md.Arn != keyARN(usEast, *md.KeyId) {
		t.Errorf("Arn %s", *md.Arn)
	}
	wantFamily(t, md, types.MultiRegionKeyTypePrimary, usEast)
	wantFamily(t, m.describe(t, usEast, *md.KeyId), types.MultiRegionKeyTypePrimary, usEast)

	single := newKey(t, m.c[usEast], "single")
	if aws.ToBool(single.MultiRegion) || single.MultiRegionConfiguration != nil || mrkID.MatchString(*single.KeyId) {
		t.Errorf("single-Region key: MultiRegion %v, configuration %v, id %s", single.MultiRegion, single.MultiRegionConfiguration, *single.KeyId)
	}
	// Asymmetric and HMAC keys can be multi-Region too.
	for _, spec := range []types.KeySpec{types.KeySpecEccNistP256, types.KeySpecHmac256} {
		usage := types.KeyUsageTypeSignVerify
		if spec == types.KeySpecHmac256 {
			usage = types.KeyUsageTypeGenerateVerifyMac
		}
		out, err := m.c[usEast].CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), KeySpec: spec, KeyUsage: usage})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if !mrkID.MatchString(*out.KeyMetadata.KeyId) {
			t.Errorf("%s: KeyId %s", spec, *out.KeyMetadata.KeyId)
		}
	}
}

func TestMultiRegionReplicateKey(t *testing.T) {
	m := newMRKEnv(t)
	id := m.primary(t)
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"replica","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	out, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{
		KeyId:         aws.String(keyARN(usEast, id)),
		ReplicaRegion: aws.String(euWest),
		Description:   aws.String("the replica"),
		Policy:        aws.String(policy),
		Tags:          []types.Tag{{TagKey: aws.String("site"), TagValue: aws.String("dublin")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rmd := out.ReplicaKeyMetadata
	if *rmd.KeyId != id || *rmd.Arn != keyARN(euWest, id) || rmd.KeyState != types.KeyStateEnabled || aws.ToString(rmd.Description) != "the replica" {
		t.Errorf("replica metadata: id %s arn %s state %s description %q", *rmd.KeyId, *rmd.Arn, rmd.KeyState, aws.ToString(rmd.Description))
	}
	if aws.ToString(out.ReplicaPolicy) != policy {
		t.Errorf("ReplicaPolicy = %s", aws.ToString(out.ReplicaPolicy))
	}
	if len(out.ReplicaTags) != 1 || *out.ReplicaTags[0].TagKey != "site" {
		t.Errorf("ReplicaTags = %v", out.ReplicaTags)
	}
	wantFamily(t, rmd, types.MultiRegionKeyTypeReplica, usEast, euWest)
	wantFamily(t, m.describe(t, usEast, id), types.MultiRegionKeyTypePrimary, usEast, euWest)
	wantFamily(t, m.describe(t, euWest, id), types.MultiRegionKeyTypeReplica, usEast, euWest)

	// A second replica: every member knows it.
	m.replicate(t, id, apSE)
	for _, r := range []string{usEast, euWest, apSE} {
		typ := types.MultiRegionKeyTypeReplica
		if r == usEast {
			typ = types.MultiRegionKeyTypePrimary
		}
		wantFamily(t, m.describe(t, r, id), typ, usEast, euWest, apSE)
	}

	// Independent properties: description, policy, tags, state.
	if d := m.describe(t, usEast, id); aws.ToString(d.Description) != "primary" {
		t.Errorf("primary description became %q", aws.ToString(d.Description))
	}
	if d := m.describe(t, apSE, id); aws.ToString(d.Description) != "" {
		t.Errorf("replica without a description got %q", aws.ToString(d.Description))
	}
	pol, err := m.c[euWest].GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
	if err != nil || *pol.Policy != policy {
		t.Errorf("replica policy %v, %v", pol, err)
	}
	tags, err := m.c[usEast].ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	if err != nil || len(tags.Tags) != 0 {
		t.Errorf("primary tags %v, %v: the replica's tags are its own", tags, err)
	}
	if _, err := m.c[euWest].DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = m.c[euWest].Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	encrypt(t, m.c[usEast], id, []byte("x"), nil) // the primary is still enabled
	if _, err := m.c[euWest].EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	// Aliases are per Region.
	if _, err := m.c[euWest].CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/mrk"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = m.c[usEast].DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/mrk")})
	wantCode(t, err, "NotFoundException")
	if keys, err := m.c[euWest].ListKeys(ctx, &kms.ListKeysInput{}); err != nil || len(keys.Keys) != 1 || *keys.Keys[0].KeyArn != keyARN(euWest, id) {
		t.Errorf("ListKeys in eu-west-1 = %v, %v", keys, err)
	}
}

// TestMultiRegionCiphertextCrossesRegions: a ciphertext from any member
// decrypts in every other member's Region, without a KeyId and with one.
func TestMultiRegionCiphertextCrossesRegions(t *testing.T) {
	m := newMRKEnv(t)
	id := m.primary(t)
	before := encrypt(t, m.c[usEast], id, []byte("made before the replica existed"), map[string]string{"app": "x"})
	m.replicate(t, id, euWest)
	m.replicate(t, id, apSE)
	for _, from := range []string{usEast, euWest, apSE} {
		pt := []byte("secret from " + from)
		blob := encrypt(t, m.c[from], id, pt, map[string]string{"app": "x"})
		for _, to := range []string{usEast, euWest, apSE} {
			out, err := m.c[to].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"app": "x"}})
			if err != nil {
				t.Fatalf("encrypted in %s, decrypt in %s: %v", from, to, err)
			}
			if !bytes.Equal(out.Plaintext, pt) || *out.KeyId != keyARN(to, id) {
				t.Errorf("encrypted in %s, decrypted in %s: %q under %s", from, to, out.Plaintext, *out.KeyId)
			}
			if _, err := m.c[to].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(keyARN(to, id)), EncryptionContext: map[string]string{"app": "x"}}); err != nil {
				t.Errorf("decrypt in %s with the local KeyId: %v", to, err)
			}
		}
	}
	out, err := m.c[apSE].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: before, EncryptionContext: map[string]string{"app": "x"}})
	if err != nil || string(out.Plaintext) != "made before the replica existed" {
		t.Fatalf("a ciphertext older than the replica: %v", err)
	}
	// A data key made in one Region opens in another.
	dk, err := m.c[euWest].GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	back, err := m.c[usEast].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(back.Plaintext, dk.Plaintext) {
		t.Fatalf("data key from eu-west-1 in us-east-1: %v", err)
	}
	// A single-Region key's ciphertext does not leave its Region.
	single := newKey(t, m.c[usEast], "single")
	blob := encrypt(t, m.c[usEast], *single.KeyId, []byte("x"), nil)
	_, err = m.c[euWest].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, "InvalidCiphertextException")
}

// TestMultiRegionRotationReachesReplicas: material made by a rotation of
// the primary is shared at once with the replicas.
func TestMultiRegionRotationReachesReplicas(t *testing.T) {
	m := newMRKEnv(t)
	id := m.primary(t)
	m.replicate(t, id, euWest)
	if _, err := m.c[usEast].RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	p, r := m.describe(t, usEast, id), m.describe(t, euWest, id)
	if aws.ToString(p.CurrentKeyMaterialId) == "" || aws.ToString(p.CurrentKeyMaterialId) != aws.ToString(r.CurrentKeyMaterialId) {
		t.Fatalf("current material: primary %s, replica %s", aws.ToString(p.CurrentKeyMaterialId), aws.ToString(r.CurrentKeyMaterialId))
	}
	blob := encrypt(t, m.c[usEast], id, []byte("rotated"), nil)
	if out, err := m.c[euWest].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}); err != nil || string(out.Plaintext) != "rotated" {
		t.Fatalf("the primary's new material in the replica: %v", err)
	}
	blob = encrypt(t, m.c[euWest], id, []byte("from the replica"), nil)
	if _, err := m.c[usEast].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}); err != nil {
		t.Fatal(err)
	}
}

func TestMultiRegionUpdatePrimaryRegion(t *testing.T) {
	m := newMRKEnv(t)
	id := m.primary(t)
	m.replicate(t, id, euWest)
	m.replicate(t, id, apSE)
	blob := encrypt(t, m.c[usEast], id, []byte("x"), nil)
	if _, err := m.c[usEast].UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(euWest)}); err != nil {
		t.Fatal(err)
	}
	wantFamily(t, m.describe(t, euWest, id), types.MultiRegionKeyTypePrimary, euWest, usEast, apSE)
	wantFamily(t, m.describe(t, usEast, id), types.MultiRegionKeyTypeReplica, euWest, usEast, apSE)
	wantFamily(t, m.describe(t, apSE, id), types.MultiRegionKeyTypeReplica, euWest, usEast, apSE)
	// The former primary is a replica now: it neither replicates nor moves
	// the primary.
	_, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("us-west-2")})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = m.c[usEast].UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(apSE)})
	wantCode(t, err, "UnsupportedOperationException")
	// The new primary does.
	if _, err := m.c[euWest].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("us-west-2")}); err != nil {
		t.Fatal(err)
	}
	wantFamily(t, m.describe(t, usEast, id), types.MultiRegionKeyTypeReplica, euWest, usEast, apSE, "us-west-2")
	// Old ciphertexts still decrypt everywhere.
	for _, r := range []string{usEast, euWest, apSE} {
		if _, err := m.c[r].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}); err != nil {
			t.Fatalf("decrypt in %s after the primary moved: %v", r, err)
		}
	}
}

// TestMultiRegionForbiddenTransitions: the error codes AWS gives.
func TestMultiRegionForbiddenTransitions(t *testing.T) {
	m := newMRKEnv(t)
	id := m.primary(t)
	single := *newKey(t, m.c[usEast], "single").KeyId
	m.replicate(t, id, euWest)

	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"replicate a single-Region key", func() error {
			_, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(single), ReplicaRegion: aws.String(euWest)})
			return err
		}, "UnsupportedOperationException"},
		{"replicate into the primary's Region", func() error {
			_, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(usEast)})
			return err
		}, "ValidationException"},
		{"replicate twice into a Region", func() error {
			_, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(euWest)})
			return err
		}, "AlreadyExistsException"},
		{"replicate a replica", func() error {
			_, err := m.c[euWest].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(apSE)})
			return err
		}, "UnsupportedOperationException"},
		{"replicate into a malformed Region", func() error {
			_, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("Mars")})
			return err
		}, "ValidationException"},
		{"replicate a key of another Region by ARN", func() error {
			_, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(keyARN(euWest, id)), ReplicaRegion: aws.String(apSE)})
			return err
		}, "NotFoundException"},
		{"move the primary to a Region without a replica", func() error {
			_, err := m.c[usEast].UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(apSE)})
			return err
		}, "NotFoundException"},
		{"move the primary of a single-Region key", func() error {
			_, err := m.c[usEast].UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(single), PrimaryRegion: aws.String(euWest)})
			return err
		}, "UnsupportedOperationException"},
		{"move the primary from a replica", func() error {
			_, err := m.c[euWest].UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(euWest)})
			return err
		}, "UnsupportedOperationException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}

	// A disabled primary cannot be replicated.
	if _, err := m.c[usEast].DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err := m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(apSE)})
	wantCode(t, err, "DisabledException")
}

// TestMultiRegionDeletion: a primary with replicas waits in
// PendingReplicaDeletion until its last replica is deleted; then its own
// waiting period starts.
func TestMultiRegionDeletion(t *testing.T) {
	m := newMRKEnv(t)
	id := m.primary(t)
	m.replicate(t, id, euWest)
	blob := encrypt(t, m.c[usEast], id, []byte("survives in the replica"), nil)

	out, err := m.c[usEast].ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyState != types.KeyStatePendingReplicaDeletion || out.DeletionDate != nil || aws.ToInt32(out.PendingWindowInDays) != 7 {
		t.Fatalf("ScheduleKeyDeletion of a primary with replicas: state %s, date %v, window %v", out.KeyState, out.DeletionDate, out.PendingWindowInDays)
	}
	md := m.describe(t, usEast, id)
	if md.KeyState != types.KeyStatePendingReplicaDeletion || md.DeletionDate != nil || aws.ToInt32(md.PendingDeletionWindowInDays) != 7 {
		t.Fatalf("DescribeKey: state %s, date %v, window %v", md.KeyState, md.DeletionDate, md.PendingDeletionWindowInDays)
	}
	_, err = m.c[usEast].Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = m.c[usEast].ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(apSE)})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = m.c[usEast].UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(euWest)})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = m.c[usEast].ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)})
	wantCode(t, err, "KMSInvalidStateException")
	// The replica still works, and opens the primary's ciphertexts.
	if _, err := m.c[euWest].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}); err != nil {
		t.Fatal(err)
	}

	// Cancelling brings the primary back Disabled.
	if _, err := m.c[usEast].CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if s := keyState(t, m.c[usEast], id); s != types.KeyStateDisabled {
		t.Fatalf("after CancelKeyDeletion: %s", s)
	}
	if _, err := m.c[usEast].ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}

	// The replica is deleted after its own window; then the primary's
	// window starts.
	if _, err := m.c[euWest].ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	m.env.Clock.Advance(7*24*time.Hour + time.Minute)
	deleted, err := m.env.App.Service.DeleteDueKeys(ctx)
	if err != nil || len(deleted) != 1 || deleted[0] != keyARN(euWest, id) {
		t.Fatalf("DeleteDueKeys = %v, %v; want the replica", deleted, err)
	}
	md = m.describe(t, usEast, id)
	if md.KeyState != types.KeyStatePendingDeletion || md.DeletionDate == nil {
		t.Fatalf("the primary after its last replica went: state %s, date %v", md.KeyState, md.DeletionDate)
	}
	if want := m.env.Clock.Now().Add(7 * 24 * time.Hour); md.DeletionDate.Sub(want).Abs() > time.Minute {
		t.Errorf("the primary's deletion date %v, want %v", md.DeletionDate, want)
	}
	wantFamily(t, md, types.MultiRegionKeyTypePrimary, usEast)
	_, err = m.c[euWest].DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, "NotFoundException")

	m.env.Clock.Advance(7*24*time.Hour + time.Minute)
	deleted, err = m.env.App.Service.DeleteDueKeys(ctx)
	if err != nil || len(deleted) != 1 || deleted[0] != keyARN(usEast, id) {
		t.Fatalf("DeleteDueKeys = %v, %v; want the primary", deleted, err)
	}
	_, err = m.c[usEast].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, "InvalidCiphertextException")
}

// TestMultiRegionReplicaDeletionKeepsPrimary: deleting a replica leaves
// the primary and its other replicas, which forget it.
func TestMultiRegionReplicaDeletionKeepsPrimary(t *testing.T) {
	m := newMRKEnv(t)
	id := m.primary(t)
	m.replicate(t, id, euWest)
	m.replicate(t, id, apSE)
	if _, err := m.c[apSE].ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if s := keyState(t, m.c[apSE], id); s != types.KeyStatePendingDeletion {
		t.Fatalf("replica scheduled for deletion: %s", s)
	}
	m.env.Clock.Advance(8 * 24 * time.Hour)
	if _, err := m.env.App.Service.DeleteDueKeys(ctx); err != nil {
		t.Fatal(err)
	}
	wantFamily(t, m.describe(t, usEast, id), types.MultiRegionKeyTypePrimary, usEast, euWest)
	wantFamily(t, m.describe(t, euWest, id), types.MultiRegionKeyTypeReplica, usEast, euWest)
	if s := keyState(t, m.c[usEast], id); s != types.KeyStateEnabled {
		t.Fatalf("primary: %s", s)
	}
	// It can be replicated there again.
	m.replicate(t, id, apSE)
}
