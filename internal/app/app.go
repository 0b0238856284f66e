// Package app assembles one Strongroom node from its parts: it checks that
// the root of trust matches the store, bootstraps the first account, builds
// the kms core and the API handler, and runs background work (deletion at
// the end of a waiting period). cmd/strongroom picks the concrete store and
// root of trust; tests build an App over the same parts with a fake clock.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"strongroom/internal/awsapi"
	"strongroom/internal/clock"
	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
)

// Options configure an App.
type Options struct {
	Store  store.Store
	Sealer rootkey.Sealer
	Clock  clock.Clock
	// Account is the bootstrap account id.
	Account string
	// Region is the default region (dev mode's region for unsigned calls).
	Region string
	// Dev accepts any credentials as the bootstrap account's root.
	Dev bool
	// EncryptLimit is Encrypt's plaintext limit in bytes.
	EncryptLimit int
	// BootstrapKey is the bootstrap root access key. If its ID is empty and
	// the store has not been bootstrapped yet, NewBootstrapKey is called for
	// one (it must make the key durable for the operator before returning),
	// or, when it is nil, one is generated and left in App.GeneratedKey.
	BootstrapKey    Credentials
	NewBootstrapKey func() (Credentials, error)
	Logger          *slog.Logger
}

// Credentials is an access key pair.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// NewCredentials returns a fresh access key pair.
func NewCredentials() Credentials {
	return Credentials{AccessKeyID: identity.NewAccessKeyID(), SecretAccessKey: identity.NewSecret()}
}

// App is one assembled node.
type App struct {
	Service   *kms.Service
	Directory *identity.Directory
	Handler   http.Handler
	// GeneratedKey is set when New generated the bootstrap access key.
	GeneratedKey *Credentials
	opts         Options
}

// Meta record ids.
const (
	metaRootCheck = "root-check-value"
	metaBootstrap = "bootstrap"
)

// New assembles an App and bootstraps the store on first use.
func New(ctx context.Context, o Options) (*App, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if err := checkRoot(ctx, o.Store, o.Sealer); err != nil {
		return nil, err
	}
	a := &App{opts: o}
	a.Directory = identity.NewDirectory(o.Store, o.Sealer, o.Clock)
	if err := a.bootstrap(ctx); err != nil {
		return nil, err
	}
	a.Service = kms.New(o.Store, o.Sealer, o.Clock, kms.Config{EncryptLimit: o.EncryptLimit, Logger: o.Logger, Identities: a.Directory})
	a.Handler = awsapi.New(a.Service, a.Directory, awsapi.Config{
		Dev:           o.Dev,
		DevAccount:    o.Account,
		DefaultRegion: o.Region,
		MaxBodyBytes:  int64(o.EncryptLimit)*4/3 + 64<<10,
		Logger:        o.Logger,
	})
	return a, nil
}

// checkRoot records the root of trust's check value on first use and
// refuses a store sealed under a different root.
func checkRoot(ctx context.Context, st store.Store, sealer rootkey.Sealer) error {
	want := []byte(sealer.CheckValue())
	return st.Update(ctx, func(tx store.Tx) error {
		got, err := tx.Get(store.KindMeta, "", metaRootCheck)
		if errors.Is(err, store.ErrNotFound) {
			return tx.Create(store.KindMeta, "", metaRootCheck, want)
		}
		if err != nil {
			return err
		}
		if string(got) != string(want) {
			return fmt.Errorf("app: the root of trust (%s) does not match the one this store was sealed with: check value %s, store expects %s", sealer.Name(), want, got)
		}
		return nil
	})
}

func (a *App) bootstrap(ctx context.Context) error {
	o := a.opts
	if err := a.Directory.EnsureAccount(ctx, o.Account); err != nil {
		return fmt.Errorf("app: bootstrap account: %w", err)
	}
	var done bool
	err := o.Store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.KindMeta, "", metaBootstrap)
		done = err == nil
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	key := o.BootstrapKey
	if key.AccessKeyID == "" {
		if done {
			return nil
		}
		if o.NewBootstrapKey != nil {
			if key, err = o.NewBootstrapKey(); err != nil {
				return err
			}
		} else {
			key = NewCredentials()
			a.GeneratedKey = &key
		}
	}
	err = a.Directory.CreateAccessKey(ctx, key.AccessKeyID, key.SecretAccessKey, identity.Root(o.Account))
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("app: bootstrap access key: %w", err)
	}
	return o.Store.Update(ctx, func(tx store.Tx) error {
		return tx.Put(store.KindMeta, "", metaBootstrap, []byte(o.Account))
	})
}

// RunBackground performs background work until ctx ends: keys whose
// deletion window has passed are destroyed.
func (a *App) RunBackground(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := a.Service.DeleteDueKeys(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("deleting keys at the end of their waiting period", "err", err)
		}
		if _, err := a.Directory.PurgeExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("purging expired STS sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
