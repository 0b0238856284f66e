package bolt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"strongroom/internal/store"
)

// openAuto opens dir with CheckAuto and returns the store and a channel
// that receives what its background verification reported.
func openAuto(t *testing.T, dir string) (*Store, <-chan error, error) {
	t.Helper()
	checked := make(chan error, 1)
	s, err := Open(dir, Options{Check: CheckAuto, OnCheck: func(err error, _ time.Duration) { checked <- err }})
	return s, checked, err
}

func waitCheck(t *testing.T, checked <-chan error) error {
	t.Helper()
	select {
	case err := <-checked:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the background verification did not report")
		return nil
	}
}

// damageWhileOpen flips a bit in every copy of value in the file under a
// running store, as bit rot would: the store does not see it until it
// reads those bytes, and its Close still counts as clean.
func damageWhileOpen(t *testing.T, path string, value []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for i := bytes.Index(data, value); i >= 0; i = bytes.Index(data[i+1:], value) + i + 1 {
		if _, err := f.WriteAt([]byte{data[i+5] ^ 0x01}, int64(i+5)); err != nil {
			t.Fatal(err)
		}
		n++
		if !bytes.Contains(data[i+1:], value) {
			break
		}
	}
	if n == 0 {
		t.Fatal("value not found in the file")
	}
}

// A clean close leaves a marker; the next CheckAuto Open trusts it, checks
// only the file's length, and verifies the whole file in the background.
func TestAutoAfterCleanClose(t *testing.T) {
	dir, _, want := filledWith(t, 300)
	if _, err := os.Stat(filepath.Join(dir, FileName+markerSuffix)); err != nil {
		t.Fatalf("no clean-close marker after Close: %v", err)
	}
	s, checked, err := openAuto(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Checked(); !strings.Contains(got, "background") {
		t.Errorf("Checked() = %q after a clean close, want the background verification", got)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+markerSuffix)); err == nil {
		t.Error("the marker outlived Open")
	}
	if err := waitCheck(t, checked); err != nil {
		t.Fatalf("background verification of a healthy file: %v", err)
	}
	if err := readAll(t, s, want); err != nil {
		t.Fatal(err)
	}
}

// Damage a clean close could not see (the bytes changed under the running
// store) is found by the background verification: the store is fenced —
// every read and write fails naming the file and the record — and the
// next Open, with no marker left, refuses the file before serving.
func TestAutoFencesOnDamageFoundInBackground(t *testing.T) {
	dir, path, want := filledWith(t, 300)
	s, checked, err := openAuto(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitCheck(t, checked); err != nil {
		t.Fatal(err)
	}
	victim := "id00123"
	damageWhileOpen(t, path, want[victim])
	s.Close()

	s, checked, err = openAuto(t, dir)
	if err != nil {
		t.Fatalf("Open after a clean close: %v", err)
	}
	defer s.Close()
	err = waitCheck(t, checked)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), victim) {
		t.Fatalf("background verification: %v, want the damaged record named", err)
	}
	if s.Damage() == nil {
		t.Error("Damage() is nil after the verification failed")
	}
	readErr := s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(store.KindKey, scopeFor("id00124"), "id00124") // an intact record
		return err
	})
	writeErr := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put(store.KindKey, "x", "y", []byte("z")) })
	_, backupErr := s.Backup(t.Context(), io.Discard)
	for name, err := range map[string]error{"View": readErr, "Update": writeErr, "Backup": backupErr} {
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), victim) {
			t.Errorf("%s on a fenced store: %v, want the damage", name, err)
		}
	}
	s.Close()
	if _, err := os.Stat(path + markerSuffix); err == nil {
		t.Error("a fenced store left a clean-close marker")
	}
	wantOpenError(t, dir, path, Options{Check: CheckAuto}, "corrupt", victim)
}

// Without a marker (a crash, a kill) CheckAuto verifies before Open
// returns; with a marker that no longer matches the file (changed since the
// close) too.
func TestAutoVerifiesBeforeServing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, s *Store, path string, value []byte)
	}{
		{"no marker", func(t *testing.T, s *Store, path string, value []byte) {
			damageWhileOpen(t, path, value)
			s.Close()
			if err := os.Remove(path + markerSuffix); err != nil {
				t.Fatal(err)
			}
		}},
		{"file changed after the close", func(t *testing.T, s *Store, path string, value []byte) {
			s.Close()
			time.Sleep(50 * time.Millisecond) // beyond the file system's timestamp granularity
			damageWhileOpen(t, path, value)
		}},
		{"file replaced after the close", func(t *testing.T, s *Store, path string, value []byte) {
			s.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(path)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			damageWhileOpen(t, path, value)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path, want := filledWith(t, 200)
			s, _, err := openAuto(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(t, s, path, want["id00042"])
			wantOpenError(t, dir, path, Options{Check: CheckAuto}, "corrupt", "id00042")
		})
	}
	// And a healthy file after a crash opens, verified before serving.
	dir, path, _ := filledWith(t, 50)
	os.Remove(path + markerSuffix)
	s, _, err := openAuto(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Checked(); got != "full, before serving" {
		t.Errorf("Checked() = %q without a marker", got)
	}
}

// Check is right while writes go on: bbolt's own page check compares the
// snapshot with the live free list and reports healthy files as damaged
// when commits run beside it; walkPages reads the snapshot's own.
func TestCheckWhileWriting(t *testing.T) {
	dir, _, _ := filledWith(t, 500)
	s := openTest(t, dir)
	defer s.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("id%05d", r.IntN(500))
				s.Update(t.Context(), func(tx store.Tx) error {
					if i%3 == 0 {
						tx.Delete(store.KindKey, scopeFor(id), id)
						return nil
					}
					return tx.Put(store.KindKey, scopeFor(id), id, bytes.Repeat([]byte{byte(i)}, 50+r.IntN(2000)))
				})
			}
		})
	}
	for i := range 20 {
		if err := s.Check(t.Context()); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("Check %d of a healthy file under writes: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()

	// Deterministically: commits between the snapshot and its walk free
	// pages of the snapshot and reuse pages it saw free.
	err := s.db.View(func(btx *bbolt.Tx) error {
		w, err := s.newPageWalker(btx)
		if err != nil {
			return err
		}
		defer w.f.Close()
		for i := range 100 {
			id := fmt.Sprintf("id%05d", i*5)
			put(t, s, id, strings.Repeat("y", 10+i*30))
		}
		return w.walk()
	})
	if err != nil {
		t.Fatalf("walk of a snapshot after 100 commits: %v", err)
	}
}

// metaOf returns the current meta page's root, free-list page and
// high-water mark of a closed file.
func metaOf(t *testing.T, data []byte) (root, freelist, hwm uint64) {
	t.Helper()
	ps := os.Getpagesize()
	best := uint64(0)
	for id := range 2 {
		m := data[id*ps:]
		if txid := binary.NativeEndian.Uint64(m[64:]); txid >= best {
			best = txid
			root, freelist, hwm = binary.NativeEndian.Uint64(m[32:]), binary.NativeEndian.Uint64(m[48:]), binary.NativeEndian.Uint64(m[56:])
		}
	}
	return root, freelist, hwm
}

// The structure walk finds what bbolt's page check finds in the free list:
// a free page that is also in the tree, and a page that is neither.
func TestWalkPagesFreeList(t *testing.T) {
	for _, tc := range []struct {
		name, says string
		damage     func(data []byte, ids []byte, n int, used []int)
	}{
		{"a tree page listed free", "used twice", func(data, ids []byte, n int, used []int) {
			binary.NativeEndian.PutUint64(ids, uint64(used[len(used)/2]))
		}},
		{"a free page dropped from the list", "neither reachable nor free", func(data, ids []byte, n int, used []int) {
			binary.NativeEndian.PutUint16(data[10:], uint16(n-1)) // the count, in the page header
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path, _ := filledWith(t, 300)
			used := usedPages(t, path)
			// Free some pages: rewrite half the records.
			s := openTest(t, dir)
			for i := range 150 {
				id := fmt.Sprintf("id%05d", i)
				put(t, s, id, strings.Repeat("x", 100))
			}
			s.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, fl, _ := metaOf(t, data)
			ps := os.Getpagesize()
			page := data[int(fl)*ps:]
			n := int(binary.NativeEndian.Uint16(page[10:]))
			if n == 0 || n == 0xFFFF {
				t.Fatalf("free list of %d pages", n)
			}
			tc.damage(page, page[pageHeader:], n, used)
			writeFile(t, dir, data)
			s, err = Open(dir, Options{Check: CheckQuick})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Check(t.Context()); err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), path) {
				t.Errorf("Check: %v, want %q", err, tc.says)
			}
		})
	}
}

// Random damage to the tree's pages, under the quick check: Check (the
// background verification's walk) refuses the file or every record reads
// back intact, and nothing panics.
func TestCheckRandomDamage(t *testing.T) {
	_, path, want := filledWith(t, 400)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	used := usedPages(t, path)
	ps := os.Getpagesize()
	d := t.TempDir()
	found := 0
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 43))
		data := bytes.Clone(orig)
		for range 1 + r.IntN(3) {
			p := used[r.IntN(len(used))]
			data[p*ps+r.IntN(ps)] ^= byte(1 + r.IntN(255))
		}
		writeFile(t, d, data)
		s, err := Open(d, Options{Check: CheckQuick})
		if err != nil {
			found++
			continue
		}
		if err := s.Check(t.Context()); err != nil {
			found++
			if !strings.Contains(err.Error(), filepath.Join(d, FileName)) {
				t.Errorf("seed %d: %v does not name the file", seed, err)
			}
		} else if err := readAll(t, s, want); err != nil {
			t.Errorf("seed %d: Check passed the file, then a read failed: %v", seed, err)
		}
		s.Close()
	}
	t.Logf("%d of 40 damaged files refused", found)
}

// mappedRSS returns the resident bytes of the process's mappings of path,
// from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps")
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") {
			in = strings.HasSuffix(line, path)
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			f := strings.Fields(v)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			total += n << 10
		}
	}
	return total
}

// A walk over the whole file leaves none of it resident in the process:
// Check and Open's verification give the mapped pages back.
func TestWalksGiveThePagesBack(t *testing.T) {
	dir, path, want := filledWith(t, 3000) // ~1 MB of records
	s := openTest(t, dir)                  // the full check at Open
	defer s.Close()
	var size int64
	s.db.View(func(btx *bbolt.Tx) error { size = btx.Size(); return nil })
	if got := mappedRSS(t, path); got > size/4 {
		t.Errorf("after Open's verification %d bytes of the %d bytes of pages are resident", got, size)
	}
	// Reads map pages in; Check gives them back.
	if err := readAll(t, s, want); err != nil {
		t.Fatal(err)
	}
	before := mappedRSS(t, path)
	if err := s.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := mappedRSS(t, path)
	t.Logf("resident pages of %d bytes of pages: %d bytes after reading every record, %d after Check", size, before, after)
	if before < size/2 {
		t.Fatalf("reading every record left only %d bytes resident: the test measures nothing", before)
	}
	if after > before/4 {
		t.Errorf("Check left %d bytes of the file resident (a List had %d)", after, before)
	}
}
