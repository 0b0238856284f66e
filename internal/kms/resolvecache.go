package kms

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"strongroom/internal/store"
)

// resolveCache remembers what key references resolved to, for a store that
// can tell whether anything was committed since (store.Generationer: the
// embedded store, the in-memory one), so that the cryptographic operations
// skip the read transaction of resolve while nothing changes. An entry
// answers only while the store's generation is the one read before the
// transaction it was filled from began: any commit, of anything, makes
// every entry miss once. What depends on the time as well as on the record
// (a key whose deletion is due, imported material past its ValidTo) is
// decided again on every hit, or not cached.
type resolveCache struct {
	gen store.Generationer

	mu sync.RWMutex
	m  map[resolveKey]resolveEntry

	hits, misses atomic.Uint64 // CacheStats
}

// resolveKey is a reference as resolve sees it (the caller's account and
// region, the reference), or, byID, a key's own account, region and id as
// a ciphertext names them (keyByID).
type resolveKey struct {
	account, region, ref string
	byID                 bool
}

type resolveEntry struct {
	gen   uint64
	key   *keyRecord // never handed out: a hit answers a copy
	alias string
}

// maxResolved bounds the entries (random eviction); a reference is at most
// 2048 bytes.
const maxResolved = 4096

// newResolveCache returns the cache for st, or nil when st (under its
// wrappers) cannot tell when it changes.
func newResolveCache(st store.Store) *resolveCache {
	for st != nil {
		if g, ok := st.(store.Generationer); ok {
			return &resolveCache{gen: g, m: make(map[resolveKey]resolveEntry)}
		}
		u, ok := st.(interface{ Unwrap() store.Store })
		if !ok {
			return nil
		}
		st = u.Unwrap()
	}
	return nil
}

// lookup answers k from the cache while nothing was committed since its
// entry was read; otherwise it calls read, which reads k in a transaction
// of its own (nil for nothing found), and keeps what it returns.
func (c *resolveCache) lookup(k resolveKey, read func() (*resolved, error)) (*resolved, error) {
	gen := c.gen.Generation() // before read's transaction begins
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok && e.gen == gen {
		c.hits.Add(1)
		return &resolved{key: cloneRecord(e.key), alias: e.alias}, nil
	}
	c.misses.Add(1)
	r, err := read()
	if err == nil && r != nil && !expires(r.key) {
		c.put(k, gen, r)
	}
	return r, err
}

// put remembers r, read in a transaction that began at generation gen or
// later. r.key must be as read: not changed by expireLazily (expires).
func (c *resolveCache) put(k resolveKey, gen uint64, r *resolved) {
	e := resolveEntry{gen: gen, key: cloneRecord(r.key), alias: r.alias}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= maxResolved {
		for old := range c.m { // random eviction: map order is random
			delete(c.m, old)
			break
		}
	}
	c.m[k] = e
}

// expires reports whether k holds imported material with an expiry, which
// expireLazily may drop at any moment: such keys are not cached.
func expires(k *keyRecord) bool {
	for _, mi := range k.MaterialInfo {
		if mi.ValidTo != 0 {
			return true
		}
	}
	return false
}

// keyByID reads the key that account, region and id name, as a ciphertext
// names its key, through the cache: nil, without error, if there is none.
// The caller decides what a key whose deletion is due means.
func (s *Service) keyByID(ctx context.Context, account, region, id string) (*keyRecord, error) {
	r, err := s.resolves.lookup(resolveKey{account: account, region: region, ref: id, byID: true}, func() (*resolved, error) {
		var k *keyRecord
		err := s.view(ctx, func(tx store.Tx) error {
			var err error
			k, err = getKey(tx, account, region, id)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &resolved{key: k}, nil
	})
	if r == nil || err != nil {
		return nil, err
	}
	return r.key, nil
}
