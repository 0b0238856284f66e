package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"strongroom/internal/store"
)

// crash ends s as a crash would: no apply, no checkpoint of the logs, no
// clean-close marker; what the process wrote to its files stays (the
// kernel keeps it), what it held in memory is gone.
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.closed.Store(true)
	s.halt()
	s.bg.Wait()
	s.log.close()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// model is what the store should hold: scope → id → value.
type model map[string]map[string]string

func (m model) put(scope, id, v string) {
	if m[scope] == nil {
		m[scope] = map[string]string{}
	}
	m[scope][id] = v
}

// wantModel fails unless s holds exactly m, by Get and by List (whole and
// paged).
func wantModel(t *testing.T, s *Store, m model, scopes []string, when string) {
	t.Helper()
	err := s.View(t.Context(), func(tx store.Tx) error {
		for _, scope := range scopes {
			want := m[scope]
			items, err := tx.List(store.KindKey, scope, "", 0)
			if err != nil {
				return err
			}
			got := map[string]string{}
			for i, it := range items {
				if i > 0 && items[i-1].ID >= it.ID {
					t.Errorf("%s: List(%s) out of order: %q then %q", when, scope, items[i-1].ID, it.ID)
				}
				got[it.ID] = string(it.Value)
			}
			if !maps.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
				t.Errorf("%s: List(%s) = %v, want %v", when, scope, got, want)
			}
			// Paged by 3, from every position.
			var paged []string
			for after := ""; ; {
				page, err := tx.List(store.KindKey, scope, after, 3)
				if err != nil {
					return err
				}
				for _, it := range page {
					paged = append(paged, it.ID)
				}
				if len(page) < 3 {
					break
				}
				after = page[len(page)-1].ID
			}
			if ids := slices.Sorted(maps.Keys(want)); !slices.Equal(paged, ids) && (len(paged) > 0 || len(ids) > 0) {
				t.Errorf("%s: List(%s) by pages of 3 = %v, want %v", when, scope, paged, ids)
			}
			for id := range 12 {
				key := fmt.Sprintf("id%02d", id)
				v, err := tx.Get(store.KindKey, scope, key)
				w, ok := want[key]
				switch {
				case ok && (err != nil || string(v) != w):
					t.Errorf("%s: Get(%s, %s) = %q, %v; want %q", when, scope, key, v, err, w)
				case !ok && !errors.Is(err, store.ErrNotFound):
					t.Errorf("%s: Get(%s, %s) = %q, %v; want not found", when, scope, key, v, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: View: %v", when, err)
	}
}

// TestRedoModel runs random writes — Put, Create, Delete, several per
// transaction, some transactions failing — against a model, with the
// memtable applied to the file at random moments, a reader holding an old
// snapshot across applies, and crashes and clean restarts: the store
// holds the model at every step, Get and List (through the file, the
// memtable and a transaction's own writes) agree, and an old snapshot
// never changes.
func TestRedoModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			dir := t.TempDir()
			s := openTest(t, dir)
			defer func() { s.Close() }()
			m := model{}
			scopes := []string{"a", "b", "c/d"}
			for step := range 300 {
				scope := scopes[r.IntN(len(scopes))]
				next := model{}
				for sc, recs := range m {
					next[sc] = maps.Clone(recs)
				}
				fail := r.IntN(8) == 0
				err := s.Update(t.Context(), func(tx store.Tx) error {
					for range 1 + r.IntN(4) {
						id := fmt.Sprintf("id%02d", r.IntN(12))
						v := fmt.Sprintf("v%d-%s", step, strings.Repeat("x", r.IntN(300)))
						switch r.IntN(3) {
						case 0:
							if err := tx.Put(store.KindKey, scope, id, []byte(v)); err != nil {
								return err
							}
							next.put(scope, id, v)
						case 1:
							err := tx.Create(store.KindKey, scope, id, []byte(v))
							if _, exists := next[scope][id]; exists != errors.Is(err, store.ErrExists) {
								return fmt.Errorf("Create %s/%s: %v, exists %v", scope, id, err, exists)
							}
							if err == nil {
								next.put(scope, id, v)
							}
						case 2:
							err := tx.Delete(store.KindKey, scope, id)
							if _, exists := next[scope][id]; exists != (err == nil) {
								return fmt.Errorf("Delete %s/%s: %v, exists %v", scope, id, err, exists)
							}
							delete(next[scope], id)
						}
						got, err := tx.Get(store.KindKey, scope, id)
						if w, ok := next[scope][id]; ok != (err == nil) || ok && string(got) != w {
							return fmt.Errorf("Get %s/%s in the transaction after its write: %q, %v", scope, id, got, err)
						}
					}
					if fail {
						return errors.New("fails")
					}
					return nil
				})
				if fail {
					if err == nil || err.Error() != "fails" {
						t.Fatalf("step %d: %v", step, err)
					}
				} else if err != nil {
					t.Fatalf("step %d: %v", step, err)
				} else {
					m = next
				}
				switch x := r.IntN(40); {
				case x < 6:
					if err := s.apply(); err != nil {
						t.Fatal(err)
					}
				case x == 6:
					crash(t, s)
					s = openTest(t, dir)
				case x == 7:
					s.Close()
					s = openTest(t, dir)
				case x == 8:
					// An old snapshot across writes and applies.
					frozen := model{}
					for sc, recs := range m {
						frozen[sc] = maps.Clone(recs)
					}
					err := s.View(t.Context(), func(tx store.Tx) error {
						for _, scope := range scopes {
							if err := s.Update(t.Context(), func(tx store.Tx) error {
								return tx.Put(store.KindKey, scope, "zz", []byte("x"))
							}); err != nil {
								t.Fatal(err)
							}
						}
						if err := s.apply(); err != nil {
							t.Fatal(err)
						}
						for _, scope := range scopes {
							items, err := tx.List(store.KindKey, scope, "", 0)
							if err != nil {
								return err
							}
							if len(items) != len(frozen[scope]) {
								t.Errorf("step %d: a snapshot changed under writes and an apply: %d records in %s, had %d", step, len(items), scope, len(frozen[scope]))
							}
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					for _, scope := range scopes {
						m.put(scope, "zz", "x")
					}
				}
				if step%25 == 0 {
					wantModel(t, s, m, scopes, fmt.Sprintf("step %d", step))
				}
			}
			wantModel(t, s, m, scopes, "end")
			crash(t, s)
			s = openTest(t, dir)
			wantModel(t, s, m, scopes, "after the last crash")
			if err := s.Check(t.Context()); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

// TestRedoCrashKeepsAcknowledged: every acknowledged write survives a crash
// before any apply, and a torn entry after them (a write the crash cut) is
// ignored.
func TestRedoCrashKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	for i := range 50 {
		put(t, s, fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i))
	}
	cur := s.log.cur
	off := s.log.files[cur].off
	crash(t, s)
	// Half an entry past the last one: its length says more than follows.
	f, err := os.OpenFile(logPath(filepath.Join(dir, FileName), cur), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := make([]byte, 40)
	torn[0] = 200
	if _, err := f.WriteAt(torn, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s = openTest(t, dir)
	defer s.Close()
	for i := range 50 {
		if got := get(t, s, fmt.Sprintf("k%02d", i)); got != fmt.Sprintf("v%d", i) {
			t.Errorf("k%02d after a crash: %q", i, got)
		}
	}
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	if s.applied.Load() < 50 {
		t.Errorf("after replay and an apply the file holds commits up to %d, want 50", s.applied.Load())
	}
	put(t, s, "after", "v")
	if got := get(t, s, "after"); got != "v" {
		t.Errorf("write after recovery: %q", got)
	}
}

// TestRedoRefusesAnotherFile: a crashed store's logs hold acknowledged
// writes; put another store's file (or an older copy of its own) in its
// place, and Open refuses rather than lose or misapply them — until the
// logs are moved away.
func TestRedoRefusesAnotherFile(t *testing.T) {
	other := t.TempDir()
	o := openTest(t, other)
	put(t, o, "o", "v")
	o.Close()
	otherFile, err := os.ReadFile(filepath.Join(other, FileName))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	s := openTest(t, dir)
	put(t, s, "k0", "v")
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	older, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "k1", "v") // in the file at Close, not in the older copy
	s.Close()
	s = openTest(t, dir)
	for i := range 3 {
		put(t, s, fmt.Sprintf("k%d", i+2), "v")
	}
	crash(t, s)
	current, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}

	writeFile(t, dir, otherFile)
	wantOpenError(t, dir, filepath.Join(dir, FileName), Options{}, "belongs to another store", "move its redo logs")
	// An older copy of the same store: a commit is missing between it and
	// the logs.
	writeFile(t, dir, older)
	wantOpenError(t, dir, filepath.Join(dir, FileName), Options{}, "does not follow on", "move its redo logs")
	// The file the logs belong to: all there.
	writeFile(t, dir, current)
	s = openTest(t, dir)
	for i := range 5 {
		if got := get(t, s, fmt.Sprintf("k%d", i)); got != "v" {
			t.Errorf("k%d: %q", i, got)
		}
	}
	s.Close()
	// After a clean close the logs hold nothing: another file is welcome.
	writeFile(t, dir, otherFile)
	s = openTest(t, dir)
	if got := get(t, s, "o"); got != "v" {
		t.Errorf("the other store's record: %q", got)
	}
	s.Close()
}

// TestRedoFailedCommitLeavesNothing: an Update that failed before its entry reached
// the log leaves nothing in the memtable, the file or the log.
func TestRedoFailedCommitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	fail := false
	s, err := Open(dir, Options{Fault: func(p FaultPoint) error {
		if fail && p == FaultBeforeWrite {
			return errors.New("full")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "a", "1")
	fail = true
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Put(store.KindKey, "sc", "b", []byte("2"))
	}); err == nil {
		t.Fatal("Update succeeded through a failing commit")
	}
	fail = false
	crash(t, s)
	s = openTest(t, dir)
	defer s.Close()
	if got := get(t, s, "a"); got != "1" {
		t.Errorf("a: %q", got)
	}
	err = s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(store.KindKey, "sc", "b")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed write is there after a crash: %v", err)
	}
}

// FuzzRedoLog: any bytes as a log file neither panic the reader nor the
// decoder, and an entry the encoder wrote reads back as it was.
func FuzzRedoLog(f *testing.F) {
	w := newWriteSet()
	w.set(store.KindKey, "acct/region", "id1", version{val: []byte("value")})
	w.set(store.KindAlias, "", "alias/x", version{del: true})
	e := encodeEntry(nil, w)
	var id [16]byte
	file := append(encodeLogHeader(42, id), make([]byte, logHeaderSize)...)[:logHeaderSize]
	binaryEntry := slices.Clone(e)
	putEntryHeader(binaryEntry, 42, 7)
	f.Add(append(slices.Clone(file), binaryEntry...))
	f.Add(e[entryHeaderLen:])
	f.Fuzz(func(t *testing.T, b []byte) {
		if sc := scanLog(bytes.NewReader(b), int64(len(b)), 0); sc.ok {
			if len(sc.ops) > sc.n || sc.end > int64(len(b)) {
				t.Fatalf("scan of %d bytes: %d entries, %d kept, end %d", len(b), sc.n, len(sc.ops), sc.end)
			}
			for _, o := range sc.ops {
				decodeEntry(o)
			}
		}
		ws, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := decodeEntry(encodeEntry(nil, ws)[entryHeaderLen:])
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		for kind, scopes := range ws.kinds {
			for scope, recs := range scopes {
				for rid, v := range recs {
					g, ok := again.get(kind, scope, rid)
					if !ok || g.del != v.del || !bytes.Equal(g.val, v.val) {
						t.Fatalf("%s/%s/%s changed through encode and decode", kind, scope, rid)
					}
				}
			}
		}
	})
}

// TestRedoUnapplied: Unapplied counts the commits in the log that the file
// does not hold yet; an apply writes them, and leaves none.
func TestRedoUnapplied(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	if n := s.Unapplied(); n != 0 {
		t.Fatalf("Unapplied = %d after an apply", n)
	}
	s.amu.Lock() // the applier waits
	for i := range 3 {
		put(t, s, fmt.Sprint(i), "v")
	}
	n := s.Unapplied()
	s.amu.Unlock()
	if n != 3 {
		t.Errorf("Unapplied = %d after three commits", n)
	}
	if err := s.apply(); err != nil {
		t.Fatal(err)
	}
	if n := s.Unapplied(); n != 0 {
		t.Errorf("Unapplied = %d after an apply", n)
	}
}

// TestRedoConcurrent: writers, readers and the applier at once (under the
// race detector in CI). Each writer owns its ids and keeps a counter
// record that it rewrites with every commit, so a reader can check its
// snapshot: within one View, a List and the Gets of the same records agree,
// and a counter never goes back from one View to the next.
func TestRedoConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	const writers, commits = 4, 150
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 1; i <= commits; i++ {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					if err := tx.Put(store.KindKey, "c", fmt.Sprintf("w%d", w), []byte(fmt.Sprint(i))); err != nil {
						return err
					}
					id := fmt.Sprintf("w%d-%03d", w, i)
					if err := tx.Create(store.KindKey, "r", id, []byte(id)); err != nil {
						return err
					}
					if i > 2 { // keep two of a writer's records
						return tx.Delete(store.KindKey, "r", fmt.Sprintf("w%d-%03d", w, i-2))
					}
					return nil
				})
				if err != nil {
					t.Errorf("writer %d, commit %d: %v", w, i, err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			seen := map[string]int{}
			for {
				select {
				case <-done:
					return
				default:
				}
				err := s.View(t.Context(), func(tx store.Tx) error {
					counters, err := tx.List(store.KindKey, "c", "", 0)
					if err != nil {
						return err
					}
					recs, err := tx.List(store.KindKey, "r", "", 0)
					if err != nil {
						return err
					}
					for _, c := range counters {
						n, _ := strconv.Atoi(string(c.Value))
						if n < seen[c.ID] {
							t.Errorf("counter %s went back from %d to %d", c.ID, seen[c.ID], n)
						}
						seen[c.ID] = n
						// The writer's newest record exists in the same snapshot.
						if _, err := tx.Get(store.KindKey, "r", fmt.Sprintf("%s-%03d", c.ID, n)); err != nil {
							t.Errorf("counter %s at %d, its record: %v", c.ID, n, err)
						}
					}
					again, err := tx.List(store.KindKey, "r", "", 0)
					if err != nil {
						return err
					}
					if len(again) != len(recs) {
						t.Errorf("one snapshot listed %d records, then %d", len(recs), len(again))
					}
					if len(recs) > 2*writers {
						t.Errorf("%d records listed, at most %d exist at any time", len(recs), 2*writers)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	applier := make(chan struct{})
	go func() {
		defer close(applier)
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := s.apply(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	readers.Wait()
	<-applier
	crash(t, s)
	s = openTest(t, dir)
	defer s.Close()
	err := s.View(t.Context(), func(tx store.Tx) error {
		for w := range writers {
			if v, err := tx.Get(store.KindKey, "c", fmt.Sprintf("w%d", w)); err != nil || string(v) != fmt.Sprint(commits) {
				t.Errorf("writer %d's counter after the crash: %q, %v; want %d", w, v, err, commits)
			}
		}
		recs, err := tx.List(store.KindKey, "r", "", 0)
		if len(recs) != 2*writers {
			t.Errorf("%d records after the crash, want %d", len(recs), 2*writers)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
