package kms

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
)

// recordCache keeps the decoded form of recently read key records, so that
// the cryptographic operations, which read their key on every call, do not
// decode its JSON each time.
//
// It needs no invalidation: an entry is the stored bytes next to what they
// decode to, and it answers only a read of the very same bytes. A write
// through any path (the kms core, admin tooling, another node sharing the
// store) changes the bytes, so the next read decodes afresh and replaces
// the entry. It never hands out its own copy: every hit returns a deep
// copy, which the caller may change and store.
type recordCache struct {
	mu  sync.RWMutex
	max int
	m   map[recordID]cachedRecord

	hits, misses atomic.Uint64 // CacheStats
}

type recordID struct{ scope, id string }

type cachedRecord struct {
	raw []byte
	rec *keyRecord
}

// keyRecords is the process's record cache. Entries are keyed by scope and
// id but answer only for identical bytes, so services over different
// stores can share it.
var keyRecords = &recordCache{max: 1024, m: make(map[recordID]cachedRecord)}

// decodeShared is decode for bytes the caller does not own (store.Peeker):
// they are compared in place and copied only when they must be decoded.
func (c *recordCache) decodeShared(scope, id string, b []byte) (*keyRecord, error) {
	if k := c.hit(scope, id, b); k != nil {
		return k, nil
	}
	return c.miss(scope, id, bytes.Clone(b))
}

// decode returns the record that b, read from scope and id, decodes to.
func (c *recordCache) decode(scope, id string, b []byte) (*keyRecord, error) {
	if k := c.hit(scope, id, b); k != nil {
		return k, nil
	}
	return c.miss(scope, id, b)
}

// hit returns a copy of the cached record of scope and id if it was
// decoded from the same bytes as b, else nil.
func (c *recordCache) hit(scope, id string, b []byte) *keyRecord {
	c.mu.RLock()
	e, ok := c.m[recordID{scope, id}]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.raw, b) {
		c.hits.Add(1)
		return cloneRecord(e.rec)
	}
	return nil
}

// miss decodes b, which it keeps, and caches the result.
func (c *recordCache) miss(scope, id string, b []byte) (*keyRecord, error) {
	c.misses.Add(1)
	k, err := decodeKey(b)
	if err != nil {
		return nil, err
	}
	k.memoARN() // before any copy: they all have it
	e := cachedRecord{raw: b, rec: cloneRecord(k)}
	c.mu.Lock()
	if _, ok := c.m[recordID{scope, id}]; !ok && len(c.m) >= c.max {
		for old := range c.m { // random eviction: map order is random
			delete(c.m, old)
			break
		}
	}
	c.m[recordID{scope, id}] = e
	c.mu.Unlock()
	return k, nil
}

// cloneRecord returns a deep copy of k: no slice or pointer of the copy is
// shared with k (unexported fields are copied as they are). It is written
// out, not driven by reflection, because every request pays for it;
// TestCloneRecord fills every field keyRecord and the types it holds have
// or will grow, and fails if a copy differs or shares anything: a field
// added without a line here fails it.
func cloneRecord(k *keyRecord) *keyRecord {
	out := new(keyRecord)
	*out = *k
	out.Tags = slices.Clone(k.Tags) // Tag, materialInfo: values only
	out.MaterialInfo = slices.Clone(k.MaterialInfo)
	out.ReplicaRegions = slices.Clone(k.ReplicaRegions)
	if k.Materials != nil {
		out.Materials = make([]materialRecord, len(k.Materials))
		for i, m := range k.Materials {
			m.Sealed = bytes.Clone(m.Sealed)
			out.Materials[i] = m
		}
	}
	if k.Rotation != nil {
		r := *k.Rotation
		out.Rotation = &r
	}
	return out
}
