// Package storetest is the conformance suite for store.Store implementations.
// Every backend (bolt, memory, postgres) runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
//	}
//
// The suite checks the semantics store.go documents, and nothing more: error
// values (ErrNotFound, ErrExists, ErrClosed, the context's error), byte-wise
// List order with its after cursor and limit, isolation of kinds and scopes
// from each other whatever bytes they contain, rollback when fn fails,
// ownership of slices crossing the interface, and that concurrent Updates lose
// no write and are seen whole by readers. It never relies on fn being called
// exactly once.
//
// It also checks the argument domain store.go states (kinds of [a-z0-9_-] up
// to 64 bytes, non-empty ids and scopes up to 1024 bytes): a write outside it
// must fail and store nothing, so that no backend silently accepts a record
// another backend would refuse.
package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"strongroom/internal/store"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest ends (a second Close may
// return store.ErrClosed).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range conformanceTests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// RunDurable checks that a store living in a directory keeps every committed
// write across Close and a reopen. open is called several times with the same
// dir; each store it returns is closed by RunDurable before the next open.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	dir := t.TempDir()
	want := map[rec][]byte{}
	apply := func(s store.Store, round int) {
		t.Helper()
		update(t, s, func(tx store.Tx) error {
			for i, r := range durableRecords {
				v := fmt.Appendf(nil, "round %d record %d", round, i)
				if err := tx.Put(r.kind, r.scope, r.id, v); err != nil {
					return err
				}
			}
			// Delete a different record each round, so that deletes must
			// persist too.
			r := durableRecords[round%len(durableRecords)]
			return tx.Delete(r.kind, r.scope, r.id)
		})
		clear(want)
		for i, r := range durableRecords {
			want[r] = fmt.Appendf(nil, "round %d record %d", round, i)
		}
		delete(want, durableRecords[round%len(durableRecords)])
	}
	check := func(s store.Store, when string) {
		t.Helper()
		got := dump(t, s, durableRecords)
		if len(got) != len(want) {
			t.Errorf("%s: %d records, want %d", when, len(got), len(want))
		}
		for r, v := range want {
			if !bytes.Equal(got[r], v) {
				t.Errorf("%s: %v = %q, want %q", when, r, got[r], v)
			}
		}
	}
	closeStore := func(s store.Store) {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	s := open(t, dir)
	apply(s, 0)
	check(s, "before close")
	closeStore(s)

	for round := 1; round <= 2; round++ {
		s = open(t, dir)
		check(s, fmt.Sprintf("after reopen %d", round))
		apply(s, round)
		closeStore(s)
	}
	s = open(t, dir)
	check(s, "after last reopen")
	closeStore(s)
}

// rec names one record.
type rec struct {
	kind      store.Kind
	scope, id string
}

func (r rec) String() string { return fmt.Sprintf("(%s, %q, %q)", r.kind, r.scope, r.id) }

var durableRecords = []rec{
	{store.KindKey, "111122223333/us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab"},
	{store.KindKey, "111122223333/eu-west-1", "1234abcd-12ab-34cd-56ef-1234567890ab"},
	{store.KindAlias, "111122223333/us-east-1", "alias/app"},
	{store.KindMeta, "", "bootstrap"},
	{store.KindAccount, "", "111122223333"},
	{"kind_with-all9", "a\x00b", "\x00\xff"},
	{store.KindAccessKey, strings.Repeat("s", 1024), strings.Repeat("\xfe", 1024)},
}

// dump reads every record of the kinds and scopes named in recs.
func dump(t *testing.T, s store.Store, recs []rec) map[rec][]byte {
	t.Helper()
	got := map[rec][]byte{}
	type ks struct {
		kind  store.Kind
		scope string
	}
	seen := map[ks]bool{}
	for _, r := range recs {
		k := ks{r.kind, r.scope}
		if seen[k] {
			continue
		}
		seen[k] = true
		for _, it := range list(t, s, r.kind, r.scope, "", 0) {
			got[rec{r.kind, r.scope, it.ID}] = it.Value
		}
	}
	return got
}

var conformanceTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"GetMissing", testGetMissing},
	{"CreateGet", testCreateGet},
	{"CreateExisting", testCreateExisting},
	{"PutReplaces", testPutReplaces},
	{"Delete", testDelete},
	{"EmptyValue", testEmptyValue},
	{"ReadYourWrites", testReadYourWrites},
	{"ViewRefusesWrites", testViewRefusesWrites},
	{"ErrorReturnedAsIs", testErrorReturnedAsIs},
	{"Rollback", testRollback},
	{"RollbackAfterFailedCreate", testRollbackAfterFailedCreate},
	{"FailedOpsDoNotAbort", testFailedOpsDoNotAbort},
	{"Closed", testClosed},
	{"CanceledContext", testCanceledContext},
	{"ListOrder", testListOrder},
	{"ListAfter", testListAfter},
	{"ListLimit", testListLimit},
	{"ListEmpty", testListEmpty},
	{"Isolation", testIsolation},
	{"KindAlphabet", testKindAlphabet},
	{"MaxSizes", testMaxSizes},
	{"InvalidArguments", testInvalidArguments},
	{"ReturnedSlicesOwned", testReturnedSlicesOwned},
	{"PassedSlicesCopied", testPassedSlicesCopied},
	{"Visibility", testVisibility},
	{"ConcurrentIncrements", testConcurrentIncrements},
	{"AtomicVisibility", testAtomicVisibility},
	{"ConcurrentCreates", testConcurrentCreates},
	{"Generation", testGeneration},
}

// testGeneration: a store.Generationer's generation changes with every
// commit, by the time Update returns, and not without one (a View, a
// rolled-back Update); a store that is not one passes.
func testGeneration(t *testing.T, s store.Store) {
	g, ok := s.(store.Generationer)
	if !ok {
		t.Log("not a store.Generationer: nothing to check")
		return
	}
	g0 := g.Generation()
	view(t, s, func(tx store.Tx) error { _, err := tx.Get("gen", "", "a"); return ignoreNotFound(err) })
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Put("gen", "", "a", []byte("1")); err != nil {
			return err
		}
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatalf("Update: %v, want errBoom", err)
	}
	if g1 := g.Generation(); g1 != g0 {
		t.Fatalf("generation %d after a View and a rolled-back Update, want %d", g1, g0)
	}
	for i := range 3 {
		before := g.Generation()
		put(t, s, "gen", "", "a", []byte{byte('0' + i)})
		if after := g.Generation(); after == before {
			t.Fatalf("commit %d left the generation at %d", i, after)
		}
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

var errBoom = errors.New("storetest: boom")

// boomError is a distinct error type, to check that errors come back as-is
// (errors.As), not only as something errors.Is can match.
type boomError struct{ n int }

func (e *boomError) Error() string { return fmt.Sprintf("storetest: boom %d", e.n) }

func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func get(t *testing.T, s store.Store, kind store.Kind, scope, id string) ([]byte, error) {
	t.Helper()
	var v []byte
	var gerr error
	view(t, s, func(tx store.Tx) error {
		v, gerr = tx.Get(kind, scope, id)
		return nil
	})
	return v, gerr
}

func mustGet(t *testing.T, s store.Store, kind store.Kind, scope, id string) []byte {
	t.Helper()
	v, err := get(t, s, kind, scope, id)
	if err != nil {
		t.Fatalf("Get(%s, %q, %q): %v", kind, scope, id, err)
	}
	return v
}

func wantMissing(t *testing.T, s store.Store, kind store.Kind, scope, id string) {
	t.Helper()
	v, err := get(t, s, kind, scope, id)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(%s, %q, %q) = %q, %v; want ErrNotFound", kind, scope, id, v, err)
	}
}

func wantValue(t *testing.T, s store.Store, kind store.Kind, scope, id string, want []byte) {
	t.Helper()
	v, err := get(t, s, kind, scope, id)
	if err != nil || !bytes.Equal(v, want) {
		t.Errorf("Get(%s, %q, %q) = %q, %v; want %q", kind, scope, id, v, err, want)
	}
}

func put(t *testing.T, s store.Store, kind store.Kind, scope, id string, v []byte) {
	t.Helper()
	update(t, s, func(tx store.Tx) error { return tx.Put(kind, scope, id, v) })
}

func list(t *testing.T, s store.Store, kind store.Kind, scope, after string, limit int) []store.Item {
	t.Helper()
	var items []store.Item
	view(t, s, func(tx store.Tx) error {
		var err error
		items, err = tx.List(kind, scope, after, limit)
		return err
	})
	return items
}

func ids(items []store.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func testGetMissing(t *testing.T, s store.Store) {
	wantMissing(t, s, store.KindKey, "scope", "missing")
	wantMissing(t, s, store.KindKey, "", "missing")
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.Get(store.KindKey, "scope", "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get in Update: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testCreateGet(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		return tx.Create(store.KindKey, "acct/region", "k1", []byte("v1"))
	})
	wantValue(t, s, store.KindKey, "acct/region", "k1", []byte("v1"))
	wantMissing(t, s, store.KindKey, "acct/region", "k2")
	wantMissing(t, s, store.KindAlias, "acct/region", "k1")
	wantMissing(t, s, store.KindKey, "acct/other", "k1")
}

func testCreateExisting(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "k", []byte("first"))
	var createErr error
	err := s.Update(t.Context(), func(tx store.Tx) error {
		createErr = tx.Create(store.KindKey, "sc", "k", []byte("second"))
		return createErr
	})
	if !errors.Is(createErr, store.ErrExists) {
		t.Errorf("Create on existing record: %v, want ErrExists", createErr)
	}
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("Update returning Create's error: %v, want ErrExists", err)
	}
	wantValue(t, s, store.KindKey, "sc", "k", []byte("first"))

	// A record created earlier in the same transaction exists too.
	update(t, s, func(tx store.Tx) error {
		if err := tx.Create(store.KindKey, "sc", "new", []byte("a")); err != nil {
			return err
		}
		if err := tx.Create(store.KindKey, "sc", "new", []byte("b")); !errors.Is(err, store.ErrExists) {
			t.Errorf("second Create in one transaction: %v, want ErrExists", err)
		}
		return nil
	})
	wantValue(t, s, store.KindKey, "sc", "new", []byte("a"))
}

func testPutReplaces(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "k", []byte("one"))
	wantValue(t, s, store.KindKey, "sc", "k", []byte("one"))
	put(t, s, store.KindKey, "sc", "k", []byte("two, longer than one"))
	wantValue(t, s, store.KindKey, "sc", "k", []byte("two, longer than one"))
	put(t, s, store.KindKey, "sc", "k", []byte("3"))
	wantValue(t, s, store.KindKey, "sc", "k", []byte("3"))
	if got := list(t, s, store.KindKey, "sc", "", 0); len(got) != 1 {
		t.Errorf("List after three Puts of one id: %d items, want 1", len(got))
	}
}

func testDelete(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "k", []byte("v"))
	put(t, s, store.KindKey, "sc", "other", []byte("o"))
	update(t, s, func(tx store.Tx) error { return tx.Delete(store.KindKey, "sc", "k") })
	wantMissing(t, s, store.KindKey, "sc", "k")
	wantValue(t, s, store.KindKey, "sc", "other", []byte("o"))

	var delErr error
	err := s.Update(t.Context(), func(tx store.Tx) error {
		delErr = tx.Delete(store.KindKey, "sc", "k")
		return delErr
	})
	if !errors.Is(delErr, store.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete of a deleted record: %v (Update: %v), want ErrNotFound", delErr, err)
	}
	err = s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Delete(store.KindKey, "never", "existed")
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete of a record that never existed: %v, want ErrNotFound", err)
	}

	update(t, s, func(tx store.Tx) error { return tx.Create(store.KindKey, "sc", "k", []byte("again")) })
	wantValue(t, s, store.KindKey, "sc", "k", []byte("again"))
}

func testEmptyValue(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.Create(store.KindMeta, "", "nil", nil); err != nil {
			return err
		}
		return tx.Put(store.KindMeta, "", "empty", []byte{})
	})
	for _, id := range []string{"nil", "empty"} {
		v, err := get(t, s, store.KindMeta, "", id)
		if err != nil || len(v) != 0 {
			t.Errorf("Get(%q) = %q, %v; want an empty value", id, v, err)
		}
	}
	items := list(t, s, store.KindMeta, "", "", 0)
	if got := ids(items); !slices.Equal(got, []string{"empty", "nil"}) {
		t.Fatalf("List = %q, want [empty nil]", got)
	}
	for _, it := range items {
		if len(it.Value) != 0 {
			t.Errorf("List item %q has value %q, want empty", it.ID, it.Value)
		}
	}
}

func testReadYourWrites(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "old", []byte("old"))
	update(t, s, func(tx store.Tx) error {
		if err := tx.Create(store.KindKey, "sc", "a", []byte("A")); err != nil {
			return err
		}
		if v, err := tx.Get(store.KindKey, "sc", "a"); err != nil || string(v) != "A" {
			t.Errorf("Get after Create in the same transaction = %q, %v", v, err)
		}
		if err := tx.Put(store.KindKey, "sc", "a", []byte("A2")); err != nil {
			return err
		}
		if v, err := tx.Get(store.KindKey, "sc", "a"); err != nil || string(v) != "A2" {
			t.Errorf("Get after Put in the same transaction = %q, %v", v, err)
		}
		if err := tx.Delete(store.KindKey, "sc", "old"); err != nil {
			return err
		}
		if _, err := tx.Get(store.KindKey, "sc", "old"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete in the same transaction: %v, want ErrNotFound", err)
		}
		items, err := tx.List(store.KindKey, "sc", "", 0)
		if err != nil {
			return err
		}
		if got := ids(items); !slices.Equal(got, []string{"a"}) || string(items[0].Value) != "A2" {
			t.Errorf("List in the same transaction = %q, want [a] with value A2", got)
		}
		if err := tx.Create(store.KindKey, "sc", "old", []byte("reborn")); err != nil {
			t.Errorf("Create after Delete in the same transaction: %v", err)
		}
		return nil
	})
	wantValue(t, s, store.KindKey, "sc", "a", []byte("A2"))
	wantValue(t, s, store.KindKey, "sc", "old", []byte("reborn"))
}

func testViewRefusesWrites(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "k", []byte("v"))
	err := s.View(t.Context(), func(tx store.Tx) error {
		if err := tx.Create(store.KindKey, "sc", "new", []byte("x")); err == nil {
			t.Error("Create in View succeeded")
		}
		if err := tx.Put(store.KindKey, "sc", "k", []byte("changed")); err == nil {
			t.Error("Put in View succeeded")
		}
		if err := tx.Delete(store.KindKey, "sc", "k"); err == nil {
			t.Error("Delete in View succeeded")
		}
		// Reads still work after refused writes.
		if v, err := tx.Get(store.KindKey, "sc", "k"); err != nil || string(v) != "v" {
			t.Errorf("Get in View after refused writes = %q, %v", v, err)
		}
		return nil // ignore the refusals: still nothing may be written
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	wantValue(t, s, store.KindKey, "sc", "k", []byte("v"))
	wantMissing(t, s, store.KindKey, "sc", "new")
}

func testErrorReturnedAsIs(t *testing.T, s store.Store) {
	for _, run := range []struct {
		name string
		f    func(context.Context, func(store.Tx) error) error
	}{{"View", s.View}, {"Update", s.Update}} {
		want := &boomError{n: 7}
		err := run.f(t.Context(), func(store.Tx) error { return want })
		var got *boomError
		if !errors.As(err, &got) || got != want {
			t.Errorf("%s returned %v, want fn's error as-is", run.name, err)
		}
		err = run.f(t.Context(), func(store.Tx) error { return fmt.Errorf("wrapped: %w", errBoom) })
		if !errors.Is(err, errBoom) {
			t.Errorf("%s returned %v, want an error matching errBoom", run.name, err)
		}
	}
}

func testRollback(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put(store.KindKey, "sc", "a", []byte("a0")); err != nil {
			return err
		}
		return tx.Put(store.KindKey, "sc", "c", []byte("c0"))
	})
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put(store.KindKey, "sc", "a", []byte("a1")); err != nil {
			return err
		}
		if err := tx.Create(store.KindKey, "sc", "b", []byte("b1")); err != nil {
			return err
		}
		if err := tx.Delete(store.KindKey, "sc", "c"); err != nil {
			return err
		}
		if err := tx.Put(store.KindAlias, "other", "x", []byte("x1")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want errBoom", err)
	}
	wantValue(t, s, store.KindKey, "sc", "a", []byte("a0"))
	wantMissing(t, s, store.KindKey, "sc", "b")
	wantValue(t, s, store.KindKey, "sc", "c", []byte("c0"))
	wantMissing(t, s, store.KindAlias, "other", "x")
	if got := ids(list(t, s, store.KindKey, "sc", "", 0)); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("List after rollback = %q, want [a c]", got)
	}
}

func testRollbackAfterFailedCreate(t *testing.T, s store.Store) {
	put(t, s, store.KindAlias, "sc", "taken", []byte("owner"))
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put(store.KindKey, "sc", "key", []byte("key")); err != nil {
			return err
		}
		return tx.Create(store.KindAlias, "sc", "taken", []byte("intruder"))
	})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("Update = %v, want ErrExists", err)
	}
	wantMissing(t, s, store.KindKey, "sc", "key")
	wantValue(t, s, store.KindAlias, "sc", "taken", []byte("owner"))
}

// A failed Create, Delete or Get does not poison the transaction: fn may
// handle the error and go on.
func testFailedOpsDoNotAbort(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "exists", []byte("e"))
	update(t, s, func(tx store.Tx) error {
		if err := tx.Create(store.KindKey, "sc", "exists", []byte("x")); !errors.Is(err, store.ErrExists) {
			t.Errorf("Create: %v, want ErrExists", err)
		}
		if err := tx.Delete(store.KindKey, "sc", "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete: %v, want ErrNotFound", err)
		}
		if _, err := tx.Get(store.KindKey, "sc", "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get: %v, want ErrNotFound", err)
		}
		return tx.Put(store.KindKey, "sc", "after", []byte("committed"))
	})
	wantValue(t, s, store.KindKey, "sc", "after", []byte("committed"))
	wantValue(t, s, store.KindKey, "sc", "exists", []byte("e"))
}

func testClosed(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "k", []byte("v"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	called := false
	fn := func(store.Tx) error { called = true; return nil }
	if err := s.View(t.Context(), fn); !errors.Is(err, store.ErrClosed) {
		t.Errorf("View after Close: %v, want ErrClosed", err)
	}
	if err := s.Update(t.Context(), fn); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	if called {
		t.Error("fn was called on a closed store")
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(tx store.Tx) error {
		called = true
		return tx.Put(store.KindKey, "sc", "k", []byte("v"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context: %v, want context.Canceled", err)
	}
	err = s.View(ctx, func(store.Tx) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("View with a canceled context: %v, want context.Canceled", err)
	}
	if called {
		t.Error("fn was called with a canceled context")
	}
	wantMissing(t, s, store.KindKey, "sc", "k")
}

// orderIDs sort differently as bytes than as text under most collations:
// case, NUL, bytes >= 0x80 (UTF-8 and not), prefixes and separators.
var orderIDs = []string{
	"\x00", "\x00\x00", "\x01", " ", "-", ".", "/", "0", "9", ":", "A", "B", "Z",
	"_", "a", "a\x00", "a\x00b", "a/b", "a0", "aA", "aa", "ab", "b", "z", "~",
	"\x7f", "\x80", "é", "ö", "\xff", "\xff\xff",
}

func putIDs(t *testing.T, s store.Store, kind store.Kind, scope string, idList []string) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(idList)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	// Several transactions, so that ordering cannot come from insertion
	// order within one.
	for chunk := range slices.Chunk(shuffled, 7) {
		update(t, s, func(tx store.Tx) error {
			for _, id := range chunk {
				if err := tx.Put(kind, scope, id, []byte("v:"+id)); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

func sortedIDs() []string {
	s := slices.Clone(orderIDs)
	slices.Sort(s) // Go compares strings byte-wise
	return s
}

func testListOrder(t *testing.T, s store.Store) {
	putIDs(t, s, store.KindKey, "sc", orderIDs)
	items := list(t, s, store.KindKey, "sc", "", 0)
	want := sortedIDs()
	if got := ids(items); !slices.Equal(got, want) {
		t.Fatalf("List order:\n got %q\nwant %q", got, want)
	}
	for _, it := range items {
		if string(it.Value) != "v:"+it.ID {
			t.Errorf("item %q has value %q", it.ID, it.Value)
		}
	}
}

func testListAfter(t *testing.T, s store.Store) {
	putIDs(t, s, store.KindKey, "sc", orderIDs)
	all := sortedIDs()
	for i, after := range all {
		if got := ids(list(t, s, store.KindKey, "sc", after, 0)); !slices.Equal(got, all[i+1:]) {
			t.Errorf("List(after=%q) = %q, want %q", after, got, all[i+1:])
		}
		// A cursor that is not an id: just past this one.
		between := after + "\x00"
		want := all[i+1:]
		if len(want) > 0 && want[0] == between {
			want = want[1:]
		}
		if got := ids(list(t, s, store.KindKey, "sc", between, 0)); !slices.Equal(got, want) {
			t.Errorf("List(after=%q) = %q, want %q", between, got, want)
		}
	}
	if got := list(t, s, store.KindKey, "sc", "\xff\xff\xff", 0); len(got) != 0 {
		t.Errorf("List after the last id = %q, want none", ids(got))
	}
}

func testListLimit(t *testing.T, s store.Store) {
	putIDs(t, s, store.KindKey, "sc", orderIDs)
	all := sortedIDs()
	for _, limit := range []int{0, -1} {
		if got := ids(list(t, s, store.KindKey, "sc", "", limit)); !slices.Equal(got, all) {
			t.Errorf("List(limit=%d) = %d items, want all %d", limit, len(got), len(all))
		}
	}
	if got := ids(list(t, s, store.KindKey, "sc", "", 3)); !slices.Equal(got, all[:3]) {
		t.Errorf("List(limit=3) = %q, want %q", got, all[:3])
	}
	for _, limit := range []int{1, 2, 7, len(all) - 1, len(all), len(all) + 1} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			page := list(t, s, store.KindKey, "sc", after, limit)
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d items", limit, len(page))
			}
			got = append(got, ids(page)...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, all) {
			t.Errorf("paging with limit %d:\n got %q\nwant %q", limit, got, all)
		}
	}
}

func testListEmpty(t *testing.T, s store.Store) {
	if got := list(t, s, store.KindKey, "nothing", "", 0); len(got) != 0 {
		t.Errorf("List of an empty scope = %q", ids(got))
	}
	put(t, s, store.KindKey, "sc", "k", []byte("v"))
	update(t, s, func(tx store.Tx) error { return tx.Delete(store.KindKey, "sc", "k") })
	if got := list(t, s, store.KindKey, "sc", "", 0); len(got) != 0 {
		t.Errorf("List of a scope whose only record was deleted = %q", ids(got))
	}
	if got := list(t, s, store.KindAlias, "sc", "", 5); len(got) != 0 {
		t.Errorf("List of an unused kind = %q", ids(got))
	}
}

// Kinds, scopes and ids chosen to collide under naive key encodings: prefixes
// of each other, "/" and NUL separators, the empty scope, 1024-byte values.
var (
	isoKinds  = []store.Kind{"k", "kk", "k_", "k-1"}
	isoScopes = []string{"", "a", "ab", "a/b", "a\x00", "a\x00b", "\x00", "\xff", "k", strings.Repeat("a", 1024)}
	isoIDs    = []string{"b", "b/c", "c", "\x00b", "\x00", "a/b", "\xff", strings.Repeat("b", 1024)}
)

func isoValue(kind store.Kind, scope, id string) []byte {
	return fmt.Appendf(nil, "%s|%q|%q", kind, scope, id)
}

func testIsolation(t *testing.T, s store.Store) {
	// Every other combination, so that absent records are checked too.
	present := func(k, sc, id int) bool { return (k+sc+id)%2 == 0 }
	update(t, s, func(tx store.Tx) error {
		for k, kind := range isoKinds {
			for sc, scope := range isoScopes {
				for i, id := range isoIDs {
					if present(k, sc, i) {
						if err := tx.Create(kind, scope, id, isoValue(kind, scope, id)); err != nil {
							return fmt.Errorf("Create(%s, %q, %q): %w", kind, scope, id, err)
						}
					}
				}
			}
		}
		return nil
	})
	checkAll := func(when string, deleted rec) {
		t.Helper()
		view(t, s, func(tx store.Tx) error {
			for k, kind := range isoKinds {
				for sc, scope := range isoScopes {
					var want []string
					for i, id := range isoIDs {
						exists := present(k, sc, i) && (rec{kind, scope, id} != deleted)
						v, err := tx.Get(kind, scope, id)
						switch {
						case exists && (err != nil || !bytes.Equal(v, isoValue(kind, scope, id))):
							t.Errorf("%s: Get(%s, %q, %.10q) = %q, %v", when, kind, scope, id, v, err)
						case !exists && !errors.Is(err, store.ErrNotFound):
							t.Errorf("%s: Get(%s, %q, %.10q) = %q, %v; want ErrNotFound", when, kind, scope, id, v, err)
						}
						if exists {
							want = append(want, id)
						}
					}
					slices.Sort(want)
					items, err := tx.List(kind, scope, "", 0)
					if err != nil {
						return err
					}
					if got := ids(items); !slices.Equal(got, want) {
						t.Errorf("%s: List(%s, %.20q) = %.20q, want %.20q", when, kind, scope, got, want)
					}
					for _, it := range items {
						if !bytes.Equal(it.Value, isoValue(kind, scope, it.ID)) {
							t.Errorf("%s: List(%s, %.20q) item %.20q = %q", when, kind, scope, it.ID, it.Value)
						}
					}
				}
			}
			return nil
		})
	}
	checkAll("after create", rec{})
	victim := rec{"k", "a", "b/c"}
	if !present(0, 1, 1) {
		t.Fatal("test bug: victim record is not present")
	}
	update(t, s, func(tx store.Tx) error { return tx.Delete(victim.kind, victim.scope, victim.id) })
	checkAll("after delete", victim)
}

func testKindAlphabet(t *testing.T, s store.Store) {
	kinds := []store.Kind{
		store.KindKey, store.KindAlias, store.KindAccessKey, store.KindAccount, store.KindMeta,
		"0", "_", "-", "a-b_c9", store.Kind(strings.Repeat("z", 64)),
	}
	update(t, s, func(tx store.Tx) error {
		for _, k := range kinds {
			if err := tx.Create(k, "sc", "id", []byte(k)); err != nil {
				return fmt.Errorf("create with kind %q: %w", k, err)
			}
		}
		return nil
	})
	for _, k := range kinds {
		wantValue(t, s, k, "sc", "id", []byte(k))
	}
}

func testMaxSizes(t *testing.T, s store.Store) {
	scope := strings.Repeat("\xff", 1024)
	id := strings.Repeat("\x00", 1023) + "\x01"
	kind := store.Kind(strings.Repeat("k", 64))
	value := make([]byte, 256<<10)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range value {
		value[i] = byte(r.Uint32())
	}
	update(t, s, func(tx store.Tx) error { return tx.Create(kind, scope, id, value) })
	wantValue(t, s, kind, scope, id, value)
	items := list(t, s, kind, scope, "", 0)
	if len(items) != 1 || items[0].ID != id || !bytes.Equal(items[0].Value, value) {
		t.Errorf("List of the maximal record: %d items", len(items))
	}
	if got := list(t, s, kind, scope, id, 0); len(got) != 0 {
		t.Errorf("List after the maximal id = %d items, want 0", len(got))
	}
}

var invalidArgs = []struct {
	name      string
	kind      store.Kind
	scope, id string
}{
	{"empty kind", "", "sc", "id"},
	{"upper-case kind", "Key", "sc", "id"},
	{"kind with slash", "key/x", "sc", "id"},
	{"kind with NUL", "key\x00", "sc", "id"},
	{"kind of 65 bytes", store.Kind(strings.Repeat("k", 65)), "sc", "id"},
	{"empty id", store.KindKey, "sc", ""},
	{"id of 1025 bytes", store.KindKey, "sc", strings.Repeat("i", 1025)},
	{"scope of 1025 bytes", store.KindKey, strings.Repeat("s", 1025), "id"},
}

func testInvalidArguments(t *testing.T, s store.Store) {
	for _, a := range invalidArgs {
		ops := []struct {
			name string
			op   func(store.Tx) error
		}{
			{"Create", func(tx store.Tx) error { return tx.Create(a.kind, a.scope, a.id, []byte("v")) }},
			{"Put", func(tx store.Tx) error { return tx.Put(a.kind, a.scope, a.id, []byte("v")) }},
		}
		for _, o := range ops {
			var opErr error
			s.Update(t.Context(), func(tx store.Tx) error {
				opErr = o.op(tx)
				return nil // commit whatever the backend did
			})
			if opErr == nil {
				t.Errorf("%s with %s succeeded", o.name, a.name)
			} else if errors.Is(opErr, store.ErrExists) || errors.Is(opErr, store.ErrNotFound) {
				t.Errorf("%s with %s: %v, want an argument error", o.name, a.name, opErr)
			}
		}
	}
	// Nothing of the refused writes may be visible under the valid
	// neighbours of the invalid names.
	for _, sc := range []string{"sc", strings.Repeat("s", 1024)} {
		if got := list(t, s, store.KindKey, sc, "", 0); len(got) != 0 {
			t.Errorf("List(key, %.10q) after refused writes = %.20q", sc, ids(got))
		}
	}
	if got := list(t, s, store.Kind(strings.Repeat("k", 64)), "sc", "", 0); len(got) != 0 {
		t.Errorf("List of a 64-byte kind after refused writes = %q", ids(got))
	}
}

func testReturnedSlicesOwned(t *testing.T, s store.Store) {
	put(t, s, store.KindKey, "sc", "a", []byte("alpha"))
	put(t, s, store.KindKey, "sc", "b", []byte("bravo"))

	view(t, s, func(tx store.Tx) error {
		v, err := tx.Get(store.KindKey, "sc", "a")
		if err != nil {
			return err
		}
		clear(v) // the caller owns it
		items, err := tx.List(store.KindKey, "sc", "", 0)
		if err != nil {
			return err
		}
		for _, it := range items {
			clear(it.Value)
		}
		return nil
	})
	wantValue(t, s, store.KindKey, "sc", "a", []byte("alpha"))
	wantValue(t, s, store.KindKey, "sc", "b", []byte("bravo"))

	// A value read in a finished transaction stays intact while the store
	// changes (no aliasing of pages or buffers that get reused).
	var kept []byte
	var keptItems []store.Item
	view(t, s, func(tx store.Tx) error {
		var err error
		if kept, err = tx.Get(store.KindKey, "sc", "b"); err != nil {
			return err
		}
		keptItems, err = tx.List(store.KindKey, "sc", "", 0)
		return err
	})
	for i := range 50 {
		update(t, s, func(tx store.Tx) error {
			if err := tx.Put(store.KindKey, "sc", "b", bytes.Repeat([]byte{'x'}, 100+i)); err != nil {
				return err
			}
			return tx.Put(store.KindKey, "sc", fmt.Sprintf("filler%03d", i), make([]byte, 4096))
		})
	}
	if string(kept) != "bravo" {
		t.Errorf("value kept from an earlier View changed to %.20q", kept)
	}
	if len(keptItems) != 2 || string(keptItems[0].Value) != "alpha" || string(keptItems[1].Value) != "bravo" {
		t.Errorf("items kept from an earlier View changed")
	}
}

func testPassedSlicesCopied(t *testing.T, s store.Store) {
	buf := []byte("original")
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put(store.KindKey, "sc", "put", buf); err != nil {
			return err
		}
		if err := tx.Create(store.KindKey, "sc", "create", buf); err != nil {
			return err
		}
		copy(buf, "MUTATED!") // before commit
		return nil
	})
	wantValue(t, s, store.KindKey, "sc", "put", []byte("original"))
	wantValue(t, s, store.KindKey, "sc", "create", []byte("original"))

	buf2 := []byte("second")
	put(t, s, store.KindKey, "sc", "after", buf2)
	copy(buf2, "XXXXXX") // after commit
	wantValue(t, s, store.KindKey, "sc", "after", []byte("second"))
}

func testVisibility(t *testing.T, s store.Store) {
	for i := range 30 {
		v := fmt.Appendf(nil, "%d", i)
		put(t, s, store.KindKey, "sc", "k", v)
		wantValue(t, s, store.KindKey, "sc", "k", v)
		if i%3 == 0 {
			update(t, s, func(tx store.Tx) error { return tx.Delete(store.KindKey, "sc", "k") })
			wantMissing(t, s, store.KindKey, "sc", "k")
		}
	}
}

func encodeCounter(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func decodeCounter(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("storetest: counter of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func increment(tx store.Tx, kind store.Kind, scope, id string) error {
	v, err := tx.Get(kind, scope, id)
	if err != nil {
		return err
	}
	n, err := decodeCounter(v)
	if err != nil {
		return err
	}
	return tx.Put(kind, scope, id, encodeCounter(n+1))
}

const (
	writers    = 8
	increments = 200
)

func testConcurrentIncrements(t *testing.T, s store.Store) {
	put(t, s, store.KindMeta, "", "counter", encodeCounter(0))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range increments {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					return increment(tx, store.KindMeta, "", "counter")
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	n, err := decodeCounter(mustGet(t, s, store.KindMeta, "", "counter"))
	if err != nil {
		t.Fatal(err)
	}
	if n != writers*increments {
		t.Errorf("counter = %d after %d×%d increments: %d updates lost", n, writers, increments, writers*increments-int(n))
	}
}

// Readers see each Update whole: two records always written together are
// always equal in every View, and never go backwards.
func testAtomicVisibility(t *testing.T, s store.Store) {
	const (
		pairWriters = 4
		pairRounds  = 50
		readers     = 2
	)
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put(store.KindKey, "x", "left", encodeCounter(0)); err != nil {
			return err
		}
		return tx.Put(store.KindAlias, "y", "right", encodeCounter(0))
	})
	stop := make(chan struct{})
	var readersWG, writersWG sync.WaitGroup
	for range readers {
		readersWG.Go(func() {
			var last uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				var l, r uint64
				err := s.View(t.Context(), func(tx store.Tx) error {
					lv, err := tx.Get(store.KindKey, "x", "left")
					if err != nil {
						return err
					}
					rv, err := tx.Get(store.KindAlias, "y", "right")
					if err != nil {
						return err
					}
					if l, err = decodeCounter(lv); err != nil {
						return err
					}
					r, err = decodeCounter(rv)
					return err
				})
				if err != nil {
					t.Errorf("View: %v", err)
					return
				}
				if l != r {
					t.Errorf("View saw half an Update: left=%d right=%d", l, r)
					return
				}
				if l < last {
					t.Errorf("View went back in time: %d after %d", l, last)
					return
				}
				last = l
			}
		})
	}
	for range pairWriters {
		writersWG.Go(func() {
			for range pairRounds {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					if err := increment(tx, store.KindKey, "x", "left"); err != nil {
						return err
					}
					return increment(tx, store.KindAlias, "y", "right")
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(stop)
	readersWG.Wait()
	n, _ := decodeCounter(mustGet(t, s, store.KindAlias, "y", "right"))
	if n != pairWriters*pairRounds {
		t.Errorf("pair counter = %d, want %d", n, pairWriters*pairRounds)
	}
}

// Concurrent Creates of the same ids: each id is created exactly once, and
// everyone else sees ErrExists.
func testConcurrentCreates(t *testing.T, s store.Store) {
	const nIDs = 40
	var mu sync.Mutex
	won := map[string]int{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range nIDs {
				id := fmt.Sprintf("id%02d", i)
				var created bool
				err := s.Update(t.Context(), func(tx store.Tx) error {
					created = false // fn may run more than once
					if err := tx.Create(store.KindAlias, "sc", id, fmt.Appendf(nil, "%d", w)); err != nil {
						return err
					}
					created = true
					return nil
				})
				switch {
				case err == nil && created:
					mu.Lock()
					won[id]++
					mu.Unlock()
				case errors.Is(err, store.ErrExists):
				default:
					t.Errorf("Create(%s): %v (created=%v)", id, err, created)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range nIDs {
		id := fmt.Sprintf("id%02d", i)
		if won[id] != 1 {
			t.Errorf("%s created successfully %d times, want once", id, won[id])
		}
	}
	if got := list(t, s, store.KindAlias, "sc", "", 0); len(got) != nIDs {
		t.Errorf("List = %d records, want %d", len(got), nIDs)
	}
}
