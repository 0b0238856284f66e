package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"strongroom/internal/app"
	"strongroom/internal/clock"
	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
)

// The bootstrap account, region and root access key of filled stores;
// measure starts the server with the same key.
const (
	account   = "111122223333"
	region    = "us-east-1"
	accessKey = "AKIABIGSTORE00000001"
	secretKey = "bigstoreSecretKey0000000000000000000000"
)

// aliasName is the name of the alias of the i-th key created (from 1):
// names sort in creation order, so that alias i's name is the marker that
// starts a ListAliases page at depth i.
func aliasName(i int) string { return fmt.Sprintf("alias/bigstore-%08d", i) }

// FillConfig says what Fill creates.
type FillConfig struct {
	Dir     string
	Keys    int
	Aliases int
	Workers int
	// Audit records every call in the audit trail (kms.Service.Invoke),
	// as the API does.
	Audit    bool
	Progress io.Writer // nil: quiet
}

// FillResult is what Fill did.
type FillResult struct {
	Keys, Aliases int
	Took          time.Duration
	File          string
	FileBytes     int64
}

// Fill creates c.Keys symmetric keys (and c.Aliases aliases) in the data
// directory c.Dir through the kms core, over the store and audit segment
// directory `strongroom serve` opens there, and closes both cleanly.
func Fill(ctx context.Context, c FillConfig) (*FillResult, error) {
	if c.Workers < 1 {
		c.Workers = 1
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	// As cmd/strongroom assembles serve: the root key is created only with
	// a new store; the same store options.
	_, statErr := os.Stat(filepath.Join(c.Dir, bolt.FileName))
	sealer, err := rootkey.OpenFile(filepath.Join(c.Dir, "root.key"), errors.Is(statErr, os.ErrNotExist))
	if err != nil {
		return nil, err
	}
	st, err := bolt.Open(c.Dir, bolt.Options{
		Check:     bolt.CheckQuick,
		LazyKinds: []store.Kind{store.KindAudit, store.KindAuditDigest, store.KindKeyUsage},
	})
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, app.Options{
		Store: st, Sealer: sealer, Clock: clock.System{},
		Account: account, Region: region, EncryptLimit: 1 << 20,
		BootstrapKey: app.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		// As serve: the trail's records in segment files beside the store.
		AuditDir: filepath.Join(c.Dir, "audit"),
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	svc := a.Service
	principal := identity.Root(account)
	principal.AccessKeyID = accessKey
	call := func() *kms.Call {
		var id [16]byte
		rand.Read(id[:])
		return &kms.Call{Principal: principal, Region: region, SourceIP: "127.0.0.1", UserAgent: "bigstore", RequestID: hex.EncodeToString(id[:])}
	}
	invoke := func(c0 *kms.Call, op string, in any, run func() (any, error)) (any, error) {
		if c.Audit {
			return svc.Invoke(ctx, c0, op, in, run)
		}
		return run()
	}

	start := time.Now()
	var next, made, aliased atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	var failed atomic.Bool
	fail := func(err error) {
		once.Do(func() { firstErr = err })
		failed.Store(true)
	}
	done := make(chan struct{})
	if c.Progress != nil {
		go func() {
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					n := made.Load()
					fmt.Fprintf(c.Progress, "  %d keys, %d aliases, %.0f keys/s\n", n, aliased.Load(), float64(n)/time.Since(start).Seconds())
				}
			}
		}()
	}
	for range c.Workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > c.Keys || ctx.Err() != nil || failed.Load() {
					return
				}
				cc := call()
				in := &kms.CreateKeyInput{Description: ptr(fmt.Sprintf("bigstore key %d", i))}
				out, err := invoke(cc, "CreateKey", in, func() (any, error) { return svc.CreateKey(ctx, cc, in) })
				if err != nil {
					fail(fmt.Errorf("CreateKey %d: %w", i, err))
					return
				}
				made.Add(1)
				if i > c.Aliases {
					continue
				}
				ca := call()
				ain := &kms.CreateAliasInput{AliasName: aliasName(i), TargetKeyId: out.(*kms.CreateKeyOutput).KeyMetadata.KeyId}
				if _, err := invoke(ca, "CreateAlias", ain, func() (any, error) { return svc.CreateAlias(ctx, ca, ain) }); err != nil {
					fail(fmt.Errorf("CreateAlias %d: %w", i, err))
					return
				}
				aliased.Add(1)
			}
		})
	}
	wg.Wait()
	close(done)
	if err := a.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if err := st.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	r := &FillResult{Keys: int(made.Load()), Aliases: int(aliased.Load()), Took: time.Since(start), File: filepath.Join(c.Dir, bolt.FileName)}
	if fi, err := os.Stat(r.File); err == nil {
		r.FileBytes = fi.Size()
	}
	return r, nil
}

func ptr[T any](v T) *T { return &v }
