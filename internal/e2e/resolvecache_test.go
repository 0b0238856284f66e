package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/app"
	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
	"strongroom/internal/store/memory"
	"strongroom/internal/testenv"
)

// TestResolveCacheSeesEveryCommit: on the stores that can tell when they
// change (the embedded one, the in-memory one), the cryptographic
// operations resolve a key reference from a cache instead of a read
// transaction. The cache answers (its hits count), and never with what a
// later commit changed: a disabled key, an alias pointed elsewhere, a key
// whose deletion came due (no commit: the clock alone).
func TestResolveCacheSeesEveryCommit(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) store.Store{
		"memory": func(*testing.T) store.Store { return memory.New() },
		"bolt": func(t *testing.T) store.Store {
			b, err := bolt.Open(t.TempDir(), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			// Without the audit recorder: its applier commits every 100 ms
			// under load, which empties the cache at moments the test
			// does not choose. Every commit below is the test's own.
			env := testenv.Start(t, testenv.Options{Store: open(t), Setup: func(a *app.App) { a.Service.SetRecorder(nil) }})
			c := env.KMS()
			hits := func() uint64 {
				for _, s := range env.App.Service.CacheStats() {
					if s.Name == "key_resolve" {
						return s.Hits
					}
				}
				t.Fatal("no key_resolve cache")
				return 0
			}
			encrypt := func(ref string) (string, error) {
				out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ref), Plaintext: []byte("x")})
				if err != nil {
					return "", err
				}
				return *out.KeyId, nil
			}
			k1, k2 := newKey(t, c, "one"), newKey(t, c, "two")
			for range 3 {
				if _, err := encrypt(*k1.KeyId); err != nil {
					t.Fatal(err)
				}
			}
			h := hits()
			for range 20 {
				if _, err := encrypt(*k1.KeyId); err != nil {
					t.Fatal(err)
				}
			}
			if got := hits() - h; got != 20 {
				t.Fatalf("%d of 20 Encrypts under one key, with nothing committed, hit the cache; want all", got)
			}

			// Decrypt finds the key the ciphertext names through the
			// cache too.
			ct := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("y")})).CiphertextBlob
			decrypt := func() error {
				_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})
				return err
			}
			for range 2 {
				if err := decrypt(); err != nil {
					t.Fatal(err)
				}
			}

			must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k1.KeyId}))
			_, err := encrypt(*k1.KeyId)
			wantCode(t, err, "DisabledException")
			wantCode(t, decrypt(), "DisabledException")
			must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k1.KeyId}))
			if _, err := encrypt(*k1.KeyId); err != nil {
				t.Fatalf("Encrypt after EnableKey: %v", err)
			}
			if err := decrypt(); err != nil {
				t.Fatalf("Decrypt after EnableKey: %v", err)
			}

			must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/moving"), TargetKeyId: k1.KeyId}))
			for range 2 {
				if got, err := encrypt("alias/moving"); err != nil || got != *k1.Arn {
					t.Fatalf("Encrypt under alias/moving: %s, %v; want %s", got, err, *k1.Arn)
				}
			}
			must[*kms.UpdateAliasOutput](t)(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/moving"), TargetKeyId: k2.KeyId}))
			if got, err := encrypt("alias/moving"); err != nil || got != *k2.Arn {
				t.Fatalf("Encrypt under alias/moving after UpdateAlias: %s, %v; want %s", got, err, *k2.Arn)
			}

			ct2 := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("z")})).CiphertextBlob
			for _, k := range []*string{k1.KeyId, k2.KeyId} {
				must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k, PendingWindowInDays: aws.Int32(7)}))
			}
			for range 2 { // read, then answered from the cache
				if st := keyState(t, c, *k2.KeyId); st != "PendingDeletion" {
					t.Fatalf("state %s, want PendingDeletion", st)
				}
				_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct2})
				wantCode(t, err, "KMSInvalidStateException")
			}
			// Due now, with nothing committed: the background sweep has
			// not run, and the cache still holds both keys.
			env.Clock.Advance(8 * 24 * time.Hour)
			h = hits()
			_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k2.KeyId})
			wantCode(t, err, "NotFoundException")
			_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct2})
			wantCode(t, err, "InvalidCiphertextException")
			if got := hits() - h; got != 2 {
				t.Errorf("%d of the 2 calls after the clock moved were answered from the cache, want 2: the test checks nothing", got)
			}
		})
	}
}
