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
	"sync"
	"sync/atomic"
	"time"

	"strongroom/internal/audit"
	"strongroom/internal/awsapi"
	"strongroom/internal/clock"
	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/metering"
	"strongroom/internal/metrics"
	"strongroom/internal/quota"
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
	// AWSManagedRotationDays is the rotation period of AWS managed keys
	// (kms.Config.AWSManagedRotationDays; 0 is the chapter's 1095 days).
	AWSManagedRotationDays int
	// BootstrapKey is the bootstrap root access key. If its ID is empty and
	// the store has not been bootstrapped yet, NewBootstrapKey is called for
	// one (it must make the key durable for the operator before returning),
	// or, when it is nil, one is generated and left in App.GeneratedKey.
	BootstrapKey    Credentials
	NewBootstrapKey func() (Credentials, error)
	Logger          *slog.Logger
	// Regions, when not empty, are the only regions served (KMS requests
	// signed for another are refused, and keys replicate only among them).
	Regions []string
	// Quota limits the KMS request rate per account and region (nil: no
	// limit).
	Quota *quota.Limiter
	// NodeID names this node in the store's leases (lease.go). A node that
	// restarts with the same id takes its leases back at once instead of
	// waiting for them to expire. Empty: a random id.
	NodeID string
	// AuditDir, if set, keeps the audit trail's records in segment files
	// there (the embedded store's deployment) rather than in the store.
	AuditDir string
	// AuditSyncDelay, with AuditDir, is how soon the record of a call that
	// changes nothing is made durable against a power cut: 0 before the
	// response, otherwise written to the operating system before the
	// response (safe from a crash of the process) and synced within it
	// (audit.Options.SyncDelay).
	AuditSyncDelay time.Duration
	// HeartbeatEvery is how often the node renews its heartbeat and
	// recounts the live nodes the quotas are shared among, when Quota is
	// set (nodes.go). 0: DefaultHeartbeatEvery.
	HeartbeatEvery time.Duration
	// Metrics, when set, receives the node's cache, audit and cluster
	// gauges and counters (metrics.go).
	Metrics *metrics.Set
	// AuditRetention is how long audit records are kept (0: forever).
	AuditRetention time.Duration
	// Prices is the default price table of bills (nil: the chapter's).
	Prices *metering.PriceTable
}

// DefaultAuditSyncDelay is serve's AuditSyncDelay: a power cut can lose
// at most the last 5 ms of read-only calls' records, for one fdatasync per
// 5 ms instead of one per group commit (docs/audit.md).
const DefaultAuditSyncDelay = 5 * time.Millisecond

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
	// Trail is the audit trail every call is recorded in.
	Trail *audit.Trail
	opts  Options
	// node names this process in the store's leases (lease.go).
	node string
	// nodes is the live node count the quotas are shared among (nodes.go).
	nodes atomic.Int64
}

// Close stops the node's own background work that outlives requests (the
// audit trail's applier) after finishing it. Call it after the server has
// stopped and before the store is closed.
func (a *App) Close() error { return a.Trail.Close() }

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
	if o.NodeID == "" {
		o.NodeID = nodeID()
	}
	a := &App{opts: o, node: o.NodeID}
	a.Directory = identity.NewDirectory(o.Store, o.Sealer, o.Clock)
	if err := a.bootstrap(ctx); err != nil {
		return nil, err
	}
	a.Service = kms.New(o.Store, o.Sealer, o.Clock, kms.Config{EncryptLimit: o.EncryptLimit, Logger: o.Logger, Identities: a.Directory, AWSManagedRotationDays: o.AWSManagedRotationDays, Regions: o.Regions})
	var err error
	effects, codec := kms.AuditEffects()
	a.Trail, err = audit.Open(ctx, o.Store, o.Sealer, audit.Options{Clock: o.Clock, Retention: o.AuditRetention, Logger: o.Logger,
		SegmentDir: o.AuditDir, SyncDelay: o.AuditSyncDelay, Effects: effects, Codec: codec})
	if err != nil {
		return nil, err
	}
	a.Service.SetRecorder(kms.NewAuditRecorder(a.Service, kms.AuditConfig{Trail: a.Trail, OperatorAccount: o.Account, Prices: o.Prices}))
	a.Handler = awsapi.New(a.Service, a.Directory, awsapi.Config{
		Dev:           o.Dev,
		DevAccount:    o.Account,
		DefaultRegion: o.Region,
		MaxBodyBytes:  int64(o.EncryptLimit)*4/3 + 64<<10,
		Logger:        o.Logger,
		Regions:       o.Regions,
		Quota:         o.Quota,
	})
	if o.Metrics != nil {
		a.registerMetrics(o.Metrics)
	}
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
			return fmt.Errorf("app: the root of trust (%s) does not match the one this store was sealed with: check value %s, store expects %s (every node sharing a store must use the same root of trust, e.g. the same --root-key-file)", sealer.Name(), want, got)
		}
		return nil
	})
}

// StoreInitialized reports whether st already records a root of trust: a
// store that does not is new, and may be given a new root.
func StoreInitialized(ctx context.Context, st store.Store) (bool, error) {
	var found bool
	err := st.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.KindMeta, "", metaRootCheck)
		found = err == nil
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	return found, err
}

// Ready reports whether the node can serve: its store answers.
func (a *App) Ready(ctx context.Context) error {
	return a.opts.Store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.KindMeta, "", metaRootCheck)
		return err
	})
}

// bootstrap runs under the "bootstrap" lease (lease.go), so that nodes of a
// cluster starting together on a new store bootstrap it once: the others
// wait for the holder and then find the store bootstrapped.
func (a *App) bootstrap(ctx context.Context) error {
	const ttl = 30 * time.Second
	for {
		got, err := acquireLease(ctx, a.opts.Store, "bootstrap", a.node, ttl, time.Now())
		if err != nil {
			return fmt.Errorf("app: bootstrap lease: %w", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	err := a.bootstrapOnce(ctx)
	if rerr := releaseLease(context.WithoutCancel(ctx), a.opts.Store, "bootstrap", a.node); err == nil && rerr != nil {
		err = fmt.Errorf("app: bootstrap lease: %w", rerr)
	}
	return err
}

func (a *App) bootstrapOnce(ctx context.Context) error {
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
// deletion window has passed are destroyed, due automatic rotations are
// performed and imported key material whose ValidTo has passed is deleted.
//
// Of the nodes sharing a store, only the holder of the "background" lease
// (lease.go) works, renewing it every round; if it dies, another node takes
// over once the lease expires (three rounds). Each sweep is also idempotent
// per record inside one store transaction, so a stalled former holder
// cannot do a step twice.
func (a *App) RunBackground(ctx context.Context, every time.Duration) {
	if a.opts.Quota != nil {
		// Every node, not only the lease holder: quotas are shared among
		// the live nodes (nodes.go).
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { a.runHeartbeat(ctx) })
	}
	t := time.NewTicker(every)
	defer t.Stop()
	held := false
	defer func() {
		if held {
			releaseLease(context.WithoutCancel(ctx), a.opts.Store, "background", a.node)
		}
	}()
	for {
		got, err := acquireLease(ctx, a.opts.Store, "background", a.node, 3*every, time.Now())
		if err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("background work lease", "err", err)
		}
		if got != held {
			a.opts.Logger.Debug("background work lease", "held", got, "node", a.node)
		}
		held = got
		if !got {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			continue
		}
		if _, err := a.Service.DeleteDueKeys(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("deleting keys at the end of their waiting period", "err", err)
		}
		if _, err := a.Service.RotateDueKeys(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("rotating keys whose automatic rotation is due", "err", err)
		}
		if _, err := a.Service.ExpireImportedMaterial(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("deleting expired imported key material", "err", err)
		}
		if _, err := a.Directory.PurgeExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("purging expired STS sessions", "err", err)
		}
		if err := a.Trail.Seal(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("sealing the audit trail", "err", err)
		}
		if _, err := a.Trail.Prune(ctx); err != nil && ctx.Err() == nil {
			a.opts.Logger.Error("removing audit records past their retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
