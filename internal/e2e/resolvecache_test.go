package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

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
			env := testenv.Start(t, testenv.Options{Store: open(t)})
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
			// The audit trail's applier commits now and then (every
			// 100 ms), which empties the cache: some of 20 calls hit.
			h := hits()
			for range 20 {
				if _, err := encrypt(*k1.KeyId); err != nil {
					t.Fatal(err)
				}
			}
			if hits() <= h {
				t.Fatal("20 Encrypts under one key, and none hit the cache")
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

			must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k2.KeyId, PendingWindowInDays: aws.Int32(7)}))
			for range 2 {
				if st := keyState(t, c, *k2.KeyId); st != "PendingDeletion" {
					t.Fatalf("state %s, want PendingDeletion", st)
				}
			}
			ct2 := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("z")})).CiphertextBlob
			must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k1.KeyId, PendingWindowInDays: aws.Int32(7)}))
			for range 2 {
				_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct2})
				wantCode(t, err, "KMSInvalidStateException")
			}
			env.Clock.Advance(8 * 24 * time.Hour) // due; the background sweep has not run
			_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k2.KeyId})
			wantCode(t, err, "NotFoundException")
			_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct2})
			wantCode(t, err, "InvalidCiphertextException")
		})
	}
}
