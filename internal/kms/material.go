package kms

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"sync/atomic"

	"strongroom/internal/keyspec"
)

// materialRecord is one version of a key's material, sealed under the root
// of trust. The plaintext material exists only in memory, in the cache.
type materialRecord struct {
	Version uint32 `json:"v"`
	ID      string `json:"id"` // KeyMaterialId: 64 hex digits
	Sealed  []byte `json:"sealed"`
	Created int64  `json:"created"` // unix seconds
}

// materialAAD binds sealed material to its key and version, so sealed bytes
// copied onto another key or version do not open.
func materialAAD(account, keyID string, version uint32) []byte {
	b := make([]byte, 0, 64)
	b = append(b, "strongroom/material/v1\x00"...)
	b = append(b, account...)
	b = append(b, 0)
	b = append(b, keyID...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, version)
}

func newMaterialID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// materialCache keeps recently used unsealed material in memory, bounded.
// Entries are keyed by account, key id and material version, which never
// change meaning: a version number is never reused for other material.
// SYMMETRIC_DEFAULT material is kept as raw bytes (get, put); the material of
// every other spec is kept parsed, as a *keyspec.Key (getKey, putKey), so
// that PKCS#8 parsing and RSA precomputation happen once per version.
//
// Dropped raw bytes are cleared; a dropped *keyspec.Key is only released:
// it offers no way to wipe itself, and Go's garbage collector cannot promise
// erasure in any case. The aim is few copies with short lives.
type materialCache struct {
	mu  sync.RWMutex
	max int
	m   map[string]cachedMaterial

	hits, misses atomic.Uint64 // CacheStats
}

// cachedMaterial holds exactly one of raw and key.
type cachedMaterial struct {
	raw []byte
	key *keyspec.Key
}

func newMaterialCache(max int) *materialCache {
	return &materialCache{max: max, m: make(map[string]cachedMaterial)}
}

func cacheKey(account, keyID string, version uint32) string {
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], version)
	return account + keyID + string(v[:])
}

func (c *materialCache) get(k string) ([]byte, bool) {
	c.mu.RLock()
	v := c.m[k]
	c.mu.RUnlock()
	c.count(v.raw != nil)
	return v.raw, v.raw != nil
}

func (c *materialCache) count(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

func (c *materialCache) put(k string, v []byte) { c.store(k, cachedMaterial{raw: v}) }

// getKey returns the parsed material cached under k.
func (c *materialCache) getKey(k string) (*keyspec.Key, bool) {
	c.mu.RLock()
	v := c.m[k]
	c.mu.RUnlock()
	c.count(v.key != nil)
	return v.key, v.key != nil
}

// putKey caches parsed material under k.
func (c *materialCache) putKey(k string, key *keyspec.Key) { c.store(k, cachedMaterial{key: key}) }

func (c *materialCache) store(k string, v cachedMaterial) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		// Random eviction (map order is random). The evicted bytes are not
		// wiped: a request may be using them right now; the garbage
		// collector reclaims them once it is done.
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
	c.mu.Unlock()
}

// forget drops every cached version of a key (crypto-shredding, deletion of
// imported material).
func (c *materialCache) forget(account, keyID string) {
	prefix := account + keyID
	c.mu.Lock()
	for k := range c.m {
		if len(k) == len(prefix)+4 && k[:len(prefix)] == prefix {
			delete(c.m, k) // not wiped: see store
		}
	}
	c.mu.Unlock()
}
