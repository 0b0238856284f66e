// Package kms is Strongroom's core: one function per KMS operation, each
// validating its input, resolving the key (id, ARN, alias), authorizing the
// caller, doing the cryptography, persisting and answering. It knows KMS
// semantics and nothing about HTTP: the JSON API, the console and the CLI all
// call these functions, so authorization, audit and metering cannot be
// bypassed by a second entrance.
//
// Errors returned to callers are *Error values carrying an AWS error code;
// any other error is an internal fault.
package kms

import (
	"context"
	"log/slog"
	"strongroom/internal/clock"
	"strongroom/internal/identity"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
)

// Default limits.
const (
	// DefaultEncryptLimit is the chapter's Encrypt plaintext limit: 1 MiB.
	DefaultEncryptLimit = 1 << 20
	// AWSEncryptLimit is AWS's current Encrypt plaintext limit.
	AWSEncryptLimit = 4096
)

// Config holds the core's settings.
type Config struct {
	// EncryptLimit is the largest plaintext Encrypt accepts, in bytes.
	EncryptLimit int
	// Logger receives operational messages (never secrets). Nil: discard.
	Logger *slog.Logger
	// Identities supplies identity policies of IAM principals. Nil: none
	// (only account roots and key-policy principals get access).
	Identities IdentityPolicySource
	// AWSManagedRotationDays is the automatic rotation period of AWS
	// managed keys. 0: the chapter's DefaultAWSManagedRotationDays (about
	// three years); AWSManagedRotationDaysToday gives AWS's yearly cadence.
	AWSManagedRotationDays int
	// Regions, when not empty, are the Regions served: ReplicateKey refuses
	// any other (multiregion.go).
	Regions []string
}

// Service is the KMS core. It is safe for concurrent use.
type Service struct {
	store  store.Store
	sealer rootkey.Sealer
	clock  clock.Clock
	cfg    Config
	log    *slog.Logger
	cache  *materialCache

	identities  IdentityPolicySource
	policies    *policyCache
	grantAllows func(ctx context.Context, c *Call, r *authzReq) (bool, error)
	recorder    Recorder
	resolves    *resolveCache // nil when the store cannot tell when it changes
}

// New returns a Service over st, sealing key material with sealer.
func New(st store.Store, sealer rootkey.Sealer, clk clock.Clock, cfg Config) *Service {
	if cfg.EncryptLimit <= 0 {
		cfg.EncryptLimit = DefaultEncryptLimit
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: st, sealer: sealer, clock: clk, cfg: cfg, log: log, cache: newMaterialCache(4096),
		identities: cfg.Identities, policies: newPolicyCache(), resolves: newResolveCache(st)}
	s.grantAllows = s.grantAllowsRequest
	return s
}

// Call describes who is calling and from where. Every operation takes one.
type Call struct {
	Principal identity.Principal
	// Region is the region the request was signed for.
	Region    string
	SourceIP  string
	UserAgent string
	RequestID string
	// SecureTransport is true when the request came over TLS.
	SecureTransport bool
	// Resources lists the ARNs of the keys the call was authorized
	// against, in order, filled in by the core (for the audit trail).
	Resources []string

	// ev is the event Invoke records, while it runs the call: a changing
	// operation records it inside its own transaction (commitCall).
	ev *Event
}

func (c *Call) scope() string { return c.Principal.Account + "/" + c.Region }

func scopeOf(account, region string) string { return account + "/" + region }

// Store returns the store the service persists to (for admin tooling that
// shares the service's transaction boundaries).
func (s *Service) Store() store.Store { return s.store }

// Sealer returns the root of trust.
func (s *Service) Sealer() rootkey.Sealer { return s.sealer }

// Clock returns the service clock.
func (s *Service) Clock() clock.Clock { return s.clock }

func (s *Service) view(ctx context.Context, fn func(store.Tx) error) error {
	return s.store.View(ctx, fn)
}

// update runs fn in a read-write transaction. The audit records written
// inside it (RecordTx) are counted once it has committed: only the run of fn
// that committed counts (the store may run fn more than once).
func (s *Service) update(ctx context.Context, fn func(store.Tx) error) error {
	var rt *recordingTx
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if rt != nil { // an earlier run, rolled back: its records are not
			rt.ended(false)
		}
		rt = &recordingTx{Tx: tx}
		return fn(rt)
	})
	if rt != nil {
		rt.ended(err == nil)
	}
	if err == nil && rt != nil && rt.records > 0 {
		if a := s.auditor(); a != nil {
			a.cfg.Trail.TxCommitted(rt.records)
		}
	}
	return err
}

// recordingTx is a transaction of update, counting the audit records
// RecordTx writes in it.
type recordingTx struct {
	store.Tx
	records int
	after   []func(committed bool) // what the trail does once it has ended
}

// ended tells the trail whether the transaction committed.
func (rt *recordingTx) ended(committed bool) {
	for _, f := range rt.after {
		f(committed)
	}
	rt.after = nil
}
