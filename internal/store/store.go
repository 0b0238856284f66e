// Package store defines how Strongroom persists its state, independent of any
// backend. A store is a transactional, ordered key-value space: records live in
// a Kind (keys, aliases, access keys, …), inside a Scope (typically
// "account/region"), under an ID, and hold opaque bytes that the kms core
// encodes. Backends never see key material in the clear: the core seals it
// under the root of trust before it reaches a store.
//
// Implementations: store/bolt (embedded, the default), store/memory (dev and
// tests) and store/postgres (clusters). Every implementation must pass the
// conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"fmt"
)

// Errors returned by stores. Callers compare with errors.Is.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: Create found a record with the same kind, scope and id.
	ErrExists = errors.New("store: already exists")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
)

// Kind names a collection of records.
type Kind string

// The kinds the core uses. A backend must accept any Kind that is a
// non-empty string of at most 64 bytes of [a-z0-9_-].
const (
	KindKey       Kind = "key"
	KindAlias     Kind = "alias"
	KindAccessKey Kind = "accesskey"
	KindAccount   Kind = "account"
	KindMeta      Kind = "meta"
	KindPending   Kind = "pending" // keys pending deletion, by deletion time
	KindGrant     Kind = "grant"
	// KindGrantRetiring indexes grants by retiring principal.
	KindGrantRetiring Kind = "grant_retiring"
	// KindAudit holds the audit trail's records, by sequence number.
	KindAudit Kind = "audit"
	// KindAuditDigest holds the trail's signed digests, by sequence number.
	KindAuditDigest Kind = "audit_digest"
	// KindAuditMeta holds the trail's head and its sealed signing key.
	KindAuditMeta Kind = "audit_meta"
	// KindMeter holds metering counters and key lifecycles, by account.
	KindMeter Kind = "meter"
	// KindKeyUsage holds each key's last cryptographic use (GetKeyLastUsage).
	KindKeyUsage Kind = "key_usage"
)

// Item is one record returned by List.
type Item struct {
	ID    string
	Value []byte
}

// Tx is a transaction's view of the store. Values returned by Get and List
// are owned by the caller (a backend must copy them if it reuses buffers).
// Scope and ID are arbitrary non-empty byte strings of at most 1024 bytes;
// Scope may be empty.
type Tx interface {
	// Get returns the value of the record, or ErrNotFound.
	Get(kind Kind, scope, id string) ([]byte, error)
	// List returns up to limit records of kind in scope whose id sorts
	// strictly after `after` (byte-wise), in ascending id order. limit <= 0
	// means no limit. An empty after starts at the beginning.
	List(kind Kind, scope, after string, limit int) ([]Item, error)
	// Create stores a new record, or returns ErrExists. Only in Update.
	Create(kind Kind, scope, id string, value []byte) error
	// Put stores the record, replacing any existing value. Only in Update.
	Put(kind Kind, scope, id string, value []byte) error
	// Delete removes the record, or returns ErrNotFound. Only in Update.
	Delete(kind Kind, scope, id string) error
}

// Peeker is a Tx that can show a stored value without copying it, for a
// reader that usually needs only to compare it (a cache that holds the
// decoded form of the same bytes). Tx.Get is the same read with a copy.
type Peeker interface {
	// Peek calls fn with the value of the record, or returns ErrNotFound.
	// fn must neither keep nor change v: it is valid only until fn
	// returns.
	Peek(kind Kind, scope, id string, fn func(v []byte) error) error
}

// Generationer is a store that can tell, without a transaction, whether
// any commit became visible since an earlier moment, so that a cache in
// front of it can skip a read: only a store that no other process writes
// (the embedded one, the in-memory one) can.
type Generationer interface {
	// Generation returns a number that changes whenever a commit's writes
	// become visible to readers, before that commit's Update returns. A
	// value read before a View began and read again, unchanged, later
	// means that what the View read is still what the store holds.
	Generation() uint64
}

// Store is a transactional record store.
type Store interface {
	// View runs fn in a read-only transaction. Writes inside it fail.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction. If fn returns an error the
	// transaction is rolled back and that error is returned. If Update returns
	// nil, every write of fn is durable (on stable storage, or for a remote
	// store committed) and visible to every later transaction. fn may be
	// called more than once (backends batch and retry), so it must have no
	// effects outside the transaction.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the store. Later calls return ErrClosed.
	Close() error
}

// Limits of names, as documented on Kind and Tx.
const (
	MaxKindLen = 64
	MaxNameLen = 1024
)

// ErrInvalid is wrapped by CheckName's errors: a kind, scope or id outside
// the documented limits. Backends refuse such writes and store nothing.
var ErrInvalid = errors.New("invalid record name")

// CheckName validates a record's kind, scope and id as every backend must.
// An empty id is allowed only when id is not needed (List): pass
// needID=false. prefix names the backend in the error ("bolt").
func CheckName(prefix string, kind Kind, scope, id string, needID bool) error {
	ok := kind != "" && len(kind) <= MaxKindLen
	for i := 0; ok && i < len(kind); i++ {
		c := kind[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	switch {
	case !ok:
		return fmt.Errorf("%s: %w: kind %q: want 1 to %d bytes of [a-z0-9_-]", prefix, ErrInvalid, kind, MaxKindLen)
	case len(scope) > MaxNameLen:
		return fmt.Errorf("%s: %w: scope of %d bytes, more than %d", prefix, ErrInvalid, len(scope), MaxNameLen)
	case id == "" && needID:
		return fmt.Errorf("%s: %w: empty id", prefix, ErrInvalid)
	case len(id) > MaxNameLen:
		return fmt.Errorf("%s: %w: id of %d bytes, more than %d", prefix, ErrInvalid, len(id), MaxNameLen)
	}
	return nil
}

// contendedKey marks a context for WithContention.
type contendedKey struct{}

// WithContention returns ctx marked for an Update that is expected to
// conflict with the other writers of the moment: it writes a record that
// nearly every write transaction writes (the audit trail's head, for a
// changing call that records itself in its own transaction). A backend
// that detects conflicts instead of preventing them (PostgreSQL's
// SERIALIZABLE transactions) runs such an Update apart from other writers
// from its first attempt, so that contending transactions wait for each
// other instead of failing and running again. Backends whose writers are
// serialized anyway ignore it.
func WithContention(ctx context.Context) context.Context {
	return context.WithValue(ctx, contendedKey{}, true)
}

// Contended reports whether ctx was marked by WithContention.
func Contended(ctx context.Context) bool {
	v, _ := ctx.Value(contendedKey{}).(bool)
	return v
}
