package kms

import (
	"bytes"
	"reflect"
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

// cloneRecord returns a deep copy of k: no slice, map or pointer of the
// copy is shared with k (unexported fields, which decoding leaves zero,
// are copied as they are). A field added to keyRecord or to a type it
// holds is copied without changing this function (TestCloneRecord).
func cloneRecord(k *keyRecord) *keyRecord {
	out := new(keyRecord)
	deepCopy(reflect.ValueOf(out).Elem(), reflect.ValueOf(k).Elem())
	return out
}

// refFields caches referenceFields: reflect.Type → []int.
var refFields sync.Map

// referenceFields returns the indices of the exported fields of struct
// type t that hold slices, maps, pointers or interfaces, directly or in a
// struct or array.
func referenceFields(t reflect.Type) []int {
	if v, ok := refFields.Load(t); ok {
		return v.([]int)
	}
	var out []int
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && holdsReference(f.Type) {
			out = append(out, i)
		}
	}
	refFields.Store(t, out)
	return out
}

func holdsReference(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	case reflect.Array:
		return holdsReference(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsReference(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// deepCopy copies src into dst, a settable zero value of the same type.
func deepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Struct:
		// Copy the struct whole, then redo the fields that refer to
		// memory.
		dst.Set(src)
		for _, i := range referenceFields(src.Type()) {
			f := dst.Field(i)
			f.SetZero()
			deepCopy(f, src.Field(i))
		}
	case reflect.Pointer:
		if !src.IsNil() {
			p := reflect.New(src.Type().Elem())
			deepCopy(p.Elem(), src.Elem())
			dst.Set(p)
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		n := src.Len()
		s := reflect.MakeSlice(src.Type(), n, n)
		if src.Type().Elem().Kind() == reflect.Uint8 {
			reflect.Copy(s, src)
		} else {
			for i := range n {
				deepCopy(s.Index(i), src.Index(i))
			}
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		for it := src.MapRange(); it.Next(); {
			v := reflect.New(src.Type().Elem()).Elem()
			deepCopy(v, it.Value())
			m.SetMapIndex(it.Key(), v)
		}
		dst.Set(m)
	case reflect.Interface:
		if !src.IsNil() {
			v := reflect.New(src.Elem().Type()).Elem()
			deepCopy(v, src.Elem())
			dst.Set(v)
		}
	case reflect.Array:
		dst.Set(src)
		if holdsReference(src.Type().Elem()) {
			for i := range src.Len() {
				e := dst.Index(i)
				e.SetZero()
				deepCopy(e, src.Index(i))
			}
		}
	default: // values; JSON decodes no channels or functions

		dst.Set(src)
	}
}
