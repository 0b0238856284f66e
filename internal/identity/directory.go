package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"strongroom/internal/clock"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
)

// ErrUnknownKey is returned for an access key id that does not exist or is
// not active. Callers answer it as AWS does, without saying which.
var ErrUnknownKey = errors.New("identity: unknown or inactive access key")

// Access key statuses.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// accessKeyRecord is the persisted form of an access key. The secret is
// sealed under the root of trust, bound to the access key id.
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

// Directory stores accounts and access keys and answers "who owns this
// access key" for SigV4 verification. It is safe for concurrent use.
type Directory struct {
	st     store.Store
	sealer rootkey.Sealer
	clock  clock.Clock

	mu    sync.RWMutex
	cache map[string]cachedKey // access key id → unsealed secret, bounded
}

type cachedKey struct {
	p       Principal
	secret  []byte
	fetched time.Time
}

// cacheTTL bounds how long a cached access key is trusted without reading
// the store again, so a deactivated key stops working quickly on every node.
const cacheTTL = time.Second

// NewDirectory returns a Directory over st.
func NewDirectory(st store.Store, sealer rootkey.Sealer, clk clock.Clock) *Directory {
	return &Directory{st: st, sealer: sealer, clock: clk, cache: make(map[string]cachedKey)}
}

func secretAAD(akid string) []byte { return []byte("strongroom/access-key/v1\x00" + akid) }

// NewAccessKeyID returns a fresh access key id ("AKIA" + 16 characters).
func NewAccessKeyID() string { return "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") }

// NewSecret returns a fresh 40-character secret access key.
func NewSecret() string {
	return randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

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

// CreateAccessKey stores an access key for p with the given secret. It
// returns store.ErrExists if the id is taken.
func (d *Directory) CreateAccessKey(ctx context.Context, akid, secret string, p Principal) error {
	sealed, err := d.sealer.Seal([]byte(secret), secretAAD(akid))
	if err != nil {
		return fmt.Errorf("identity: sealing secret: %w", err)
	}
	p.AccessKeyID = ""
	rec := accessKeyRecord{ID: akid, Principal: p, Status: StatusActive, Created: d.clock.Now().Unix(), Sealed: sealed}
	b, _ := json.Marshal(rec)
	return d.st.Update(ctx, func(tx store.Tx) error {
		return tx.Create(store.KindAccessKey, "", akid, b)
	})
}

// Lookup returns the principal that owns akid and its secret. The secret
// must not be retained or modified by the caller.
func (d *Directory) Lookup(ctx context.Context, akid string) (Principal, []byte, error) {
	now := d.clock.Now()
	d.mu.RLock()
	ck, ok := d.cache[akid]
	d.mu.RUnlock()
	if ok && now.Sub(ck.fetched) < cacheTTL && now.Sub(ck.fetched) >= 0 {
		return ck.p, ck.secret, nil
	}
	var rec accessKeyRecord
	err := d.st.View(ctx, func(tx store.Tx) error {
		b, err := tx.Get(store.KindAccessKey, "", akid)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &rec)
	})
	if errors.Is(err, store.ErrNotFound) {
		d.drop(akid)
		return Principal{}, nil, ErrUnknownKey
	}
	if err != nil {
		return Principal{}, nil, err
	}
	if rec.Status != StatusActive {
		d.drop(akid)
		return Principal{}, nil, ErrUnknownKey
	}
	secret, err := d.sealer.Open(rec.Sealed, secretAAD(akid))
	if err != nil {
		return Principal{}, nil, fmt.Errorf("identity: unsealing secret of %s: %w", akid, err)
	}
	p := rec.Principal
	p.AccessKeyID = akid
	d.mu.Lock()
	if len(d.cache) >= 10000 {
		for k := range d.cache {
			delete(d.cache, k)
			break
		}
	}
	d.cache[akid] = cachedKey{p: p, secret: secret, fetched: now}
	d.mu.Unlock()
	return p, secret, nil
}

func (d *Directory) drop(akid string) {
	d.mu.Lock()
	delete(d.cache, akid)
	d.mu.Unlock()
}
