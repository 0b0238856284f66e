package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"strongroom/internal/clock"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
)

// ErrUnknownKey is returned for an access key id that does not exist or is
// not active, and for a session token that does not match its access key.
// Callers answer it as AWS does, without saying which.
var ErrUnknownKey = errors.New("identity: unknown or inactive access key")

// Access key statuses.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// accessKeyRecord is the persisted form of a long-term access key. The
// secret is sealed under the root of trust, bound to the access key id.
type accessKeyRecord struct {
	ID        string    `json:"id"`
	Principal Principal `json:"principal"`
	Status    string    `json:"status"`
	Created   int64     `json:"created"`
	Sealed    []byte    `json:"sealedSecret"`
}

// accountRecord is the persisted form of an account.
type accountRecord struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
}

// Directory stores accounts, IAM users and roles, their access keys, inline
// policies and STS sessions, and answers "who owns this access key" for
// SigV4 verification. It is the IAM and STS core: every exported method that
// takes a Caller authorizes it first. It is safe for concurrent use.
//
// Reads that sit on every request (Lookup, LookupSession,
// IdentityPolicies) are cached for at most cacheTTL of wall-clock time, so
// a change made on another node sharing the store takes effect within that
// time; a change made through this Directory drops the local entry at once.
type Directory struct {
	st     store.Store
	sealer rootkey.Sealer
	// clock is the service clock: creation dates and session expiry.
	clock clock.Clock
	// wall measures cache freshness. It is the real clock even when the
	// service clock is fake, so that caches expire in tests too.
	wall func() time.Time

	mu        sync.RWMutex
	keys      map[string]cachedKey      // long-term access key id → owner and unsealed secret
	sessions  map[string]cachedSession  // session access key id → session
	policies  map[string]cachedPolicies // policyOwner key → identity policies
	lastPurge time.Time                 // wall time of the last opportunistic session purge
	// gen counts local changes. A reader caches what it read only if gen
	// has not moved since it started, so a change made while it read is
	// never hidden behind a stale entry.
	gen uint64

	// Lookups answered from the caches or not (CacheStats).
	keyCount, sessionCount, policyCount cacheCount
}

// cacheCount counts a cache's hits and misses: an atomic add per lookup.
type cacheCount struct{ hits, misses atomic.Uint64 }

func (c *cacheCount) count(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

// CacheStat counts the lookups of one of the Directory's caches that were
// answered from it (Hits) and those that read the store (Misses).
type CacheStat struct {
	// Name is the cache's name in metrics: access_key (long-term access
	// keys and their secrets), session (STS sessions) or identity_policy
	// (IAM identity policies).
	Name         string
	Hits, Misses uint64
}

// CacheStats returns the counts of the Directory's caches since it was
// made.
func (d *Directory) CacheStats() []CacheStat {
	return []CacheStat{
		{"access_key", d.keyCount.hits.Load(), d.keyCount.misses.Load()},
		{"session", d.sessionCount.hits.Load(), d.sessionCount.misses.Load()},
		{"identity_policy", d.policyCount.hits.Load(), d.policyCount.misses.Load()},
	}
}

type cachedKey struct {
	p       Principal
	secret  []byte
	fetched time.Time
}

// cacheTTL bounds how long a cached entry is trusted without reading the
// store again, so a change on another node takes effect within it.
const cacheTTL = time.Second

// maxCached bounds each cache; past it, an arbitrary entry is evicted.
const maxCached = 10000

// NewDirectory returns a Directory over st.
func NewDirectory(st store.Store, sealer rootkey.Sealer, clk clock.Clock) *Directory {
	return &Directory{
		st: st, sealer: sealer, clock: clk, wall: time.Now,
		keys:     make(map[string]cachedKey),
		sessions: make(map[string]cachedSession),
		policies: make(map[string]cachedPolicies),
	}
}

func fresh(fetched, now time.Time) bool {
	d := now.Sub(fetched)
	return d >= 0 && d < cacheTTL
}

// evictOne makes room in m; the caller holds d.mu.
func evictOne[V any](m map[string]V) {
	if len(m) < maxCached {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

func secretAAD(akid string) []byte { return []byte("strongroom/access-key/v1\x00" + akid) }

// EnsureAccount creates the account record if it does not exist.
func (d *Directory) EnsureAccount(ctx context.Context, account string) error {
	b, _ := json.Marshal(accountRecord{ID: account, Created: d.clock.Now().Unix()})
	return d.st.Update(ctx, func(tx store.Tx) error {
		err := tx.Create(store.KindAccount, "", account, b)
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return err
	})
}

// AccountExists reports whether account exists.
func (d *Directory) AccountExists(ctx context.Context, account string) (bool, error) {
	err := d.st.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.KindAccount, "", account)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// CreateAccessKey stores an active access key for p (an account root or
// an IAM user) with the given secret, without authorization or quota: it is
// for bootstrapping and operator tooling. It returns store.ErrExists if
// the id is taken.
func (d *Directory) CreateAccessKey(ctx context.Context, akid, secret string, p Principal) error {
	rec, err := d.newAccessKeyRecord(akid, secret, p)
	if err != nil {
		return err
	}
	return d.st.Update(ctx, func(tx store.Tx) error { return putNewAccessKey(tx, rec) })
}

func (d *Directory) newAccessKeyRecord(akid, secret string, p Principal) (*accessKeyRecord, error) {
	sealed, err := d.sealer.Seal([]byte(secret), secretAAD(akid))
	if err != nil {
		return nil, fmt.Errorf("identity: sealing secret: %w", err)
	}
	p.AccessKeyID = ""
	return &accessKeyRecord{ID: akid, Principal: p, Status: StatusActive, Created: d.clock.Now().Unix(), Sealed: sealed}, nil
}

// putNewAccessKey creates rec and its owner index entry.
func putNewAccessKey(tx store.Tx, rec *accessKeyRecord) error {
	b, _ := json.Marshal(rec)
	if err := tx.Create(store.KindAccessKey, "", rec.ID, b); err != nil {
		return err
	}
	if owner := ownerOf(rec.Principal); owner != "" {
		return tx.Put(kindOwnedKey, ownedScope(rec.Principal.Account, owner), rec.ID, nil)
	}
	return nil
}

// Lookup returns the principal that owns the long-term access key akid and
// its secret, or ErrUnknownKey if there is no such active key. Session keys
// are not found here: see LookupSession. The secret must not be retained or
// modified by the caller.
func (d *Directory) Lookup(ctx context.Context, akid string) (Principal, []byte, error) {
	now := d.wall()
	d.mu.RLock()
	ck, ok := d.keys[akid]
	gen := d.gen
	d.mu.RUnlock()
	hit := ok && fresh(ck.fetched, now)
	d.keyCount.count(hit)
	if hit {
		return ck.p, ck.secret, nil
	}
	var rec accessKeyRecord
	err := d.st.View(ctx, func(tx store.Tx) error { return getJSON(tx, store.KindAccessKey, "", akid, &rec) })
	if errors.Is(err, store.ErrNotFound) {
		d.dropKey(akid)
		return Principal{}, nil, ErrUnknownKey
	}
	if err != nil {
		return Principal{}, nil, err
	}
	if rec.Status != StatusActive {
		d.dropKey(akid)
		return Principal{}, nil, ErrUnknownKey
	}
	secret, err := d.sealer.Open(rec.Sealed, secretAAD(akid))
	if err != nil {
		return Principal{}, nil, fmt.Errorf("identity: unsealing secret of %s: %w", akid, err)
	}
	p := rec.Principal
	p.AccessKeyID = akid
	d.mu.Lock()
	if d.gen == gen {
		evictOne(d.keys)
		d.keys[akid] = cachedKey{p: p, secret: secret, fetched: now}
	}
	d.mu.Unlock()
	return p, secret, nil
}

func (d *Directory) dropKey(akid string) {
	d.mu.Lock()
	delete(d.keys, akid)
	d.gen++
	d.mu.Unlock()
}

// getJSON reads a record and decodes it into v.
func getJSON(tx store.Tx, kind store.Kind, scope, id string, v any) error {
	b, err := tx.Get(kind, scope, id)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("identity: decoding %s %q: %w", kind, id, err)
	}
	return nil
}

// putJSON encodes v and stores it.
func putJSON(tx store.Tx, kind store.Kind, scope, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(kind, scope, id, b)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("identity: decoding a record: %w", err)
	}
	return nil
}
