// Package memory is the in-memory store.Store, for `strongroom dev` and unit
// tests. Nothing survives Close or the process.
//
// Guarantees: transactions are serializable — one Update at a time holds the
// store exclusively, Views share it and see only committed state. An Update
// whose fn fails (or panics) is rolled back from an undo log before anyone
// else can look. fn is called exactly once per View or Update, which the
// store.Store contract permits but does not promise. Each (kind, scope) keeps
// its ids in a sorted slice, so List finds its start by binary search: a page
// costs O(log n + page), at any depth. Values are copied in and out, so
// callers own every slice they pass or receive.
package memory

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"strongroom/internal/store"
)

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	closed bool
	tables map[tableKey]*table
	gen    atomic.Uint64 // commits (store.Generationer)
}

// Generation is store.Generationer's: the number of commits. A commit
// counts itself before it lets readers in (it holds mu).
func (s *Store) Generation() uint64 { return s.gen.Load() }

var _ store.Store = (*Store)(nil)

type tableKey struct {
	kind  store.Kind
	scope string
}

// table holds one (kind, scope): ids sorted byte-wise, and their values.
type table struct {
	ids  []string
	vals map[string][]byte
}

// New returns an empty store.
func New() *Store {
	return &Store{tables: map[tableKey]*table{}}
}

var (
	errReadOnly = errors.New("memory: write in a read-only transaction")
	errTxDone   = errors.New("memory: transaction used after its function returned")
)

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	tx := &tx{s: s}
	defer func() { tx.done = true }()
	return fn(tx)
}

// Update runs fn in a read-write transaction, rolling back every write of
// fn if it returns an error or panics.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	tx := &tx{s: s, writable: true}
	committed := false
	defer func() {
		tx.done = true
		if !committed {
			tx.rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	s.gen.Add(1)
	return nil
}

// Close drops every record. Later calls return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	s.tables = nil
	return nil
}

type undo struct {
	tk      tableKey
	id      string
	old     []byte
	existed bool
}

type tx struct {
	s        *Store
	writable bool
	done     bool
	undo     []undo
}

func (t *tx) Get(kind store.Kind, scope, id string) ([]byte, error) {
	if err := t.check(false, kind, scope, id); err != nil {
		return nil, err
	}
	tb := t.s.tables[tableKey{kind, scope}]
	if tb == nil {
		return nil, store.ErrNotFound
	}
	v, ok := tb.vals[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(v), nil
}

func (t *tx) List(kind store.Kind, scope, after string, limit int) ([]store.Item, error) {
	if err := t.check(false, kind, scope, ""); err != nil {
		return nil, err
	}
	tb := t.s.tables[tableKey{kind, scope}]
	if tb == nil {
		return nil, nil
	}
	i := 0
	if after != "" {
		i = sort.Search(len(tb.ids), func(i int) bool { return tb.ids[i] > after })
	}
	end := len(tb.ids)
	if limit > 0 && end-i > limit {
		end = i + limit
	}
	items := make([]store.Item, 0, end-i)
	for _, id := range tb.ids[i:end] {
		items = append(items, store.Item{ID: id, Value: slices.Clone(tb.vals[id])})
	}
	return items, nil
}

func (t *tx) Create(kind store.Kind, scope, id string, value []byte) error {
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	if tb := t.s.tables[tableKey{kind, scope}]; tb != nil {
		if _, ok := tb.vals[id]; ok {
			return store.ErrExists
		}
	}
	t.set(tableKey{kind, scope}, id, value)
	return nil
}

func (t *tx) Put(kind store.Kind, scope, id string, value []byte) error {
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	t.set(tableKey{kind, scope}, id, value)
	return nil
}

func (t *tx) Delete(kind store.Kind, scope, id string) error {
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	tk := tableKey{kind, scope}
	tb := t.s.tables[tk]
	if tb == nil {
		return store.ErrNotFound
	}
	old, ok := tb.vals[id]
	if !ok {
		return store.ErrNotFound
	}
	t.undo = append(t.undo, undo{tk: tk, id: id, old: old, existed: true})
	t.s.remove(tk, id)
	return nil
}

// set stores a private copy of value, remembering how to undo it.
func (t *tx) set(tk tableKey, id string, value []byte) {
	u := undo{tk: tk, id: id}
	if tb := t.s.tables[tk]; tb != nil {
		u.old, u.existed = tb.vals[id]
	}
	t.undo = append(t.undo, u)
	v := make([]byte, len(value)) // never nil, so that an empty value is still a value
	copy(v, value)
	t.s.insert(tk, id, v)
}

func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if u.existed {
			t.s.insert(u.tk, u.id, u.old)
		} else {
			t.s.remove(u.tk, u.id)
		}
	}
	t.undo = nil
}

func (t *tx) check(write bool, kind store.Kind, scope, id string) error {
	if t.done {
		return errTxDone
	}
	if write && !t.writable {
		return errReadOnly
	}
	return store.CheckName("memory", kind, scope, id, write)
}

// insert sets id to v in tk, keeping ids sorted.
func (s *Store) insert(tk tableKey, id string, v []byte) {
	tb := s.tables[tk]
	if tb == nil {
		tb = &table{vals: map[string][]byte{}}
		s.tables[tk] = tb
	}
	if _, ok := tb.vals[id]; !ok {
		i, _ := slices.BinarySearch(tb.ids, id)
		tb.ids = slices.Insert(tb.ids, i, id)
	}
	tb.vals[id] = v
}

// remove deletes id from tk if present, and tk itself once empty.
func (s *Store) remove(tk tableKey, id string) {
	tb := s.tables[tk]
	if tb == nil {
		return
	}
	if _, ok := tb.vals[id]; !ok {
		return
	}
	delete(tb.vals, id)
	i, _ := slices.BinarySearch(tb.ids, id)
	tb.ids = slices.Delete(tb.ids, i, i+1)
	if len(tb.ids) == 0 {
		delete(s.tables, tk)
	}
}
