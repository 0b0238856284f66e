package bolt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"strongroom/internal/store"
	"strongroom/internal/store/storetest"
)

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, t.TempDir()) })
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, dir string) store.Store { return openTest(t, dir) })
}

func TestModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "dir")
	s := openTest(t, dir)
	defer s.Close()
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700 | os.ModeDir}, {filepath.Join(dir, FileName), 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.want {
			t.Errorf("%s has mode %v, want %v", c.path, fi.Mode(), c.want)
		}
	}
	if s.Path() != filepath.Join(dir, FileName) {
		t.Errorf("Path() = %q", s.Path())
	}
}

const inUse = "data directory is in use by another strongroom process"

func TestLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	start := time.Now()
	_, err := Open(dir, Options{LockTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), inUse) || !strings.HasPrefix(err.Error(), "bolt: ") {
		t.Fatalf("second Open: %v, want %q", err, inUse)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v to fail", d)
	}
	// The first store still works, and the directory opens once it is closed.
	put(t, s, "k", "v")
	s.Close()
	s2 := openTest(t, dir)
	defer s2.Close()
	if got := get(t, s2, "k"); got != "v" {
		t.Errorf("after reopen: %q", got)
	}
}

// TestLockHelperProcess is not a test: TestLockedByOtherProcess runs the test
// binary with it to hold a data directory from another process.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("STRONGROOM_BOLT_HOLD_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	s.Close()
	os.Exit(0)
}

func TestLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "STRONGROOM_BOLT_HOLD_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	start := time.Now()
	_, err = Open(dir, Options{LockTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), inUse) {
		t.Fatalf("Open of a directory held by another process: %v, want %q", err, inUse)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	s := openTest(t, dir) // released when the other process is gone
	s.Close()
}

func writeFile(t *testing.T, dir string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantOpenError(t *testing.T, dir, path string, opts Options, wants ...string) {
	t.Helper()
	s, err := Open(dir, opts)
	if err == nil {
		s.Close()
		t.Fatalf("Open succeeded, want an error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "bolt: ") || !strings.Contains(msg, path) {
		t.Errorf("error %q does not start with bolt: or does not name %s", msg, path)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
}

func TestNotADatabase(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"text", []byte("this is not a database, just some text\n")},
		{"random page", randomBytes(1, 4096)},
		{"random pages", randomBytes(2, 5*4096)},
		{"zeros", make([]byte, 8*4096)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, c.data)
			wantOpenError(t, dir, path, Options{}, "not a strongroom database or is corrupt")
			// The failed Open released the file.
			wantOpenError(t, dir, path, Options{LockTimeout: 100 * time.Millisecond}, "not a strongroom database or is corrupt")
		})
	}
}

func TestForeignBbolt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("someone-else"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	db.Close()
	wantOpenError(t, dir, path, Options{}, "not a strongroom one")
}

func TestNewerFormat(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	s.Close()
	db, err := bbolt.Open(s.Path(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(metaBucket)).Put([]byte(formatKey), []byte(strconv.Itoa(FormatVersion+1)))
	})
	db.Close()
	wantOpenError(t, dir, s.Path(), Options{}, fmt.Sprintf("format version %d, newer than this strongroom supports (%d)", FormatVersion+1, FormatVersion))
}

// filled returns a closed data directory holding n records, and its file.
func filled(t *testing.T, n int) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	s := openTest(t, dir)
	for chunk := 0; chunk < n; chunk += 50 {
		s.Update(t.Context(), func(tx store.Tx) error {
			for i := chunk; i < min(chunk+50, n); i++ {
				scope := fmt.Sprintf("acct/%d", i%7)
				if err := tx.Put(store.KindKey, scope, fmt.Sprintf("id%05d", i), bytes.Repeat([]byte{byte(i)}, 300)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check of a healthy file: %v", err)
	}
	s.Close()
	return dir, s.Path()
}

// usedPages lists the branch and leaf pages of a closed bbolt file.
func usedPages(t *testing.T, path string) []int {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var used []int
	db.View(func(tx *bbolt.Tx) error {
		for id := 2; ; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				return err
			}
			if info.Type == "branch" || info.Type == "leaf" {
				used = append(used, id)
			}
		}
	})
	if len(used) < 10 {
		t.Fatalf("only %d used pages", len(used))
	}
	return used
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCorruptMeta(t *testing.T) {
	dir, path := filled(t, 200)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := os.Getpagesize()
	// Damage both meta pages past their magic number.
	for _, off := range []int64{64, int64(pageSize) + 64} {
		f.WriteAt(randomBytes(uint64(off), 32), off)
	}
	f.Close()
	wantOpenError(t, dir, path, Options{}, "corrupt")
}

// Garbage over the data pages: Open must refuse the file, and with
// SkipVerify nothing may panic — every read fails cleanly or works.
func TestCorruptPages(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			dir, path := filled(t, 300)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pageSize := os.Getpagesize()
			used := usedPages(t, path)
			r := rand.New(rand.NewPCG(seed, 7))
			// Smash a few pages that hold the tree (branches and leaves).
			for range 3 {
				p := used[r.IntN(len(used))]
				copy(data[p*pageSize:(p+1)*pageSize], randomBytes(seed*100+uint64(p), pageSize))
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a damaged file")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}

			s, err = Open(dir, Options{SkipVerify: true})
			if err != nil {
				t.Logf("Open: %v", err)
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name %s", err, path)
				}
				return
			}
			defer s.Close()
			for i := range 7 {
				s.View(t.Context(), func(tx store.Tx) error {
					items, err := tx.List(store.KindKey, fmt.Sprintf("acct/%d", i), "", 0)
					if err != nil {
						t.Logf("List: %.200v", err)
						if !strings.Contains(err.Error(), path) {
							t.Errorf("List error %q does not name %s", err, path)
						}
					}
					for _, it := range items {
						tx.Get(store.KindKey, fmt.Sprintf("acct/%d", i), it.ID)
					}
					return nil
				})
			}
			s.Update(t.Context(), func(tx store.Tx) error {
				return tx.Put(store.KindKey, "acct/3", "new", []byte("v"))
			})
			if err := s.Check(t.Context()); err == nil {
				t.Error("Check passed a damaged file")
			}
		})
	}
}

func put(t testing.TB, s *Store, id, v string) {
	t.Helper()
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Put(store.KindKey, "sc", id, []byte(v))
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func get(t testing.TB, s *Store, id string) string {
	t.Helper()
	var v []byte
	if err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		v, err = tx.Get(store.KindKey, "sc", id)
		return err
	}); err != nil {
		t.Fatalf("View: %v", err)
	}
	return string(v)
}

// When Update returns, the write is on disk, not in a buffer of this
// process: a copy of the file and its redo logs taken right then (what a
// crash leaves) holds it.
func TestWrittenOnReturn(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	put(t, s, "k", "v1")
	// The file and its redo logs, as a crash would leave them.
	copyDir := t.TempDir()
	for _, name := range []string{FileName, FileName + ".redo0", FileName + ".redo1"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := openTest(t, copyDir)
	defer c.Close()
	if got := get(t, c, "k"); got != "v1" {
		t.Errorf("copy taken after Update returned holds %q, want v1", got)
	}
}

func TestBackup(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	put(t, s, "k", "before")
	var buf bytes.Buffer
	n, err := s.Backup(t.Context(), &buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("Backup = %d, %v (wrote %d)", n, err, buf.Len())
	}
	put(t, s, "k", "after")
	dir := t.TempDir()
	writeFile(t, dir, buf.Bytes())
	b, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open of the backup: %v", err)
	}
	defer b.Close()
	if got := get(t, b, "k"); got != "before" {
		t.Errorf("backup holds %q, want before", got)
	}
}

var errOdd = errors.New("odd")

// Under concurrency Updates share commits, and failing ones do not drag the
// others down or leave writes behind.
func TestGroupCommit(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	before := s.commits.Load()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%03d", w, i)
				err := s.Update(t.Context(), func(tx store.Tx) error {
					if err := tx.Put(store.KindKey, "sc", id, []byte(id)); err != nil {
						return err
					}
					if i%2 == 1 {
						return fmt.Errorf("%s: %w", id, errOdd)
					}
					return nil
				})
				if (i%2 == 1) != errors.Is(err, errOdd) || (i%2 == 0 && err != nil) {
					t.Errorf("Update %s: %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	err := s.View(t.Context(), func(tx store.Tx) error {
		items, err := tx.List(store.KindKey, "sc", "", 0)
		if err != nil {
			return err
		}
		if len(items) != writers*each/2 {
			t.Errorf("%d records, want %d", len(items), writers*each/2)
		}
		for _, it := range items {
			i, _ := strconv.Atoi(it.ID[strings.IndexByte(it.ID, '-')+1:])
			if i%2 == 1 || string(it.Value) != it.ID {
				t.Errorf("record %q = %q should not exist", it.ID, it.Value)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.commits.Load() - before; n >= writers*each/2 {
		t.Errorf("%d commits for %d successful concurrent Updates: no group commit", n, writers*each/2)
	} else {
		t.Logf("%d commits for %d successful concurrent Updates", n, writers*each/2)
	}
}

func TestPanicInUpdate(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the fn's panic", r)
			}
		}()
		s.Update(t.Context(), func(tx store.Tx) error {
			tx.Put(store.KindKey, "sc", "k", []byte("partial"))
			panic("boom")
		})
	}()
	err := s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(store.KindKey, "sc", "k")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a panicking Update: %v, want ErrNotFound", err)
	}
	put(t, s, "k2", "ok") // the store is not wedged
}

// BenchmarkCreateParallel creates small records from 8 goroutines, each
// Update durable, and reports records/s.
func BenchmarkCreateParallel(b *testing.B) {
	s := openTest(b, b.TempDir())
	defer s.Close()
	const goroutines = 8
	var next atomic.Int64
	value := bytes.Repeat([]byte{'v'}, 128)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				err := s.Update(b.Context(), func(tx store.Tx) error {
					return tx.Create(store.KindKey, "111122223333/us-east-1", fmt.Sprintf("key-%012d", i), value)
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestPeek: Peek shows what Get returns, without the copy; a missing
// record is ErrNotFound and fn's error is Peek's.
func TestPeek(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Put(store.KindKey, "111122223333/us-east-1", "k", []byte("value"))
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.View(t.Context(), func(tx store.Tx) error {
		p := tx.(store.Peeker)
		var seen string
		if err := p.Peek(store.KindKey, "111122223333/us-east-1", "k", func(v []byte) error { seen = string(v); return nil }); err != nil || seen != "value" {
			return fmt.Errorf("Peek: %q, %v", seen, err)
		}
		if err := p.Peek(store.KindKey, "111122223333/us-east-1", "missing", func([]byte) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Peek of a missing record: %v", err)
		}
		if err := p.Peek(store.KindKey, "111122223333/us-east-1", "k", func([]byte) error { return boom }); !errors.Is(err, boom) {
			return fmt.Errorf("fn's error: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
