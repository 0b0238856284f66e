package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"strongroom/internal/store"
)

// Storage faults: damage found at Open and at read, a full disk, a failing
// fsync. What must hold in every case: no panic, an error naming the file,
// nothing acknowledged lost or altered, and reads served while writes fail.

// records is what filledWith writes: id → value, in scope "acct/<i%7>".
type records map[string][]byte

func scopeFor(id string) string {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "id"))
	return fmt.Sprintf("acct/%d", n%7)
}

func filledWith(t *testing.T, n int) (dir, path string, want records) {
	t.Helper()
	dir = t.TempDir()
	s := openTest(t, dir)
	want = records{}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for chunk := 0; chunk < n; chunk += 50 {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			for i := chunk; i < min(chunk+50, n); i++ {
				id := fmt.Sprintf("id%05d", i)
				v := make([]byte, 20+r.IntN(400))
				for j := range v {
					v[j] = byte('a' + r.IntN(26))
				}
				want[id] = v
				if err := tx.Put(store.KindKey, scopeFor(id), id, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	return dir, s.Path(), want
}

// readAll reads every record back through Get and List and fails the test
// if any differs from want. It returns the first read error.
func readAll(t *testing.T, s *Store, want records) error {
	t.Helper()
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	s.View(t.Context(), func(tx store.Tx) error {
		seen := 0
		for i := range 7 {
			items, err := tx.List(store.KindKey, fmt.Sprintf("acct/%d", i), "", 0)
			note(err)
			for _, it := range items {
				w, ok := want[it.ID]
				if !ok {
					t.Errorf("List returned %q, which was never written", it.ID)
					continue
				}
				if !bytes.Equal(it.Value, w) {
					t.Errorf("List returned an altered value for %q", it.ID)
				}
				seen++
			}
		}
		if firstErr == nil && seen != len(want) {
			t.Errorf("List returned %d records without an error, want %d", seen, len(want))
		}
		for id, w := range want {
			v, err := tx.Get(store.KindKey, scopeFor(id), id)
			note(err)
			if err == nil && !bytes.Equal(v, w) {
				t.Errorf("Get returned an altered value for %q", id)
			}
		}
		return nil
	})
	return firstErr
}

// A changed byte inside a value is found at Open, and, when Open is told to
// skip the walk, by the read of that record, which fails instead of
// returning other bytes.
func TestChecksumCatchesChangedValue(t *testing.T) {
	dir, path, want := filledWith(t, 300)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	victim := "id00123"
	// Every copy: older versions of the page may linger in free pages.
	n := 0
	for i := bytes.Index(data, want[victim]); i >= 0; i = bytes.Index(data, want[victim]) {
		data[i+5] ^= 0x01 // one bit: 'a'..'z' stays a letter
		n++
	}
	if n == 0 {
		t.Fatal("value not found in the file")
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	wantOpenError(t, dir, path, Options{}, "corrupt", "checksum mismatch", victim)

	s, err := Open(dir, Options{SkipVerify: true})
	if err != nil {
		t.Fatalf("Open with SkipVerify: %v", err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(store.KindKey, scopeFor(victim), victim)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), victim) {
		t.Errorf("Get of the damaged record: %v, want an error naming %s and %s", err, path, victim)
	}
	err = s.View(t.Context(), func(tx store.Tx) error {
		v, err := tx.Get(store.KindKey, scopeFor("id00124"), "id00124")
		if err == nil && !bytes.Equal(v, want["id00124"]) {
			t.Error("an intact record read back altered")
		}
		return err
	})
	if err != nil {
		t.Errorf("an intact record next to the damaged one: %v", err)
	}
	if err := s.Check(t.Context()); err == nil || !strings.Contains(err.Error(), victim) {
		t.Errorf("Check: %v, want the damaged record named", err)
	}
}

// A changed id (the record now claims to be another one) is caught too:
// the checksum covers kind, scope and id.
func TestChecksumCatchesChangedID(t *testing.T) {
	dir, path, _ := filledWith(t, 300)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// id00209 exists in another scope; this record now claims its name.
	// Every copy: older versions of the page may linger in free pages.
	if !bytes.Contains(data, []byte("id00200")) {
		t.Fatal("id not found in the file")
	}
	data = bytes.ReplaceAll(data, []byte("id00200"), []byte("id00209"))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	wantOpenError(t, dir, path, Options{}, "corrupt")
}

// TestRandomDamage changes bytes at random in the pages that hold the tree.
// Whatever is hit, the store either refuses to open (naming the file) or
// serves exactly what was written: damage is never served silently.
func TestRandomDamage(t *testing.T) {
	_, path, want := filledWith(t, 400)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	used := usedPages(t, path)
	pageSize := os.Getpagesize()
	refused := 0
	const runs = 40
	d := t.TempDir()
	for seed := range uint64(runs) {
		r := rand.New(rand.NewPCG(seed, 42))
		data := bytes.Clone(orig)
		for range 1 + r.IntN(3) {
			p := used[r.IntN(len(used))]
			off := p*pageSize + r.IntN(pageSize)
			data[off] ^= byte(1 + r.IntN(255))
		}
		writeFile(t, d, data)
		s, err := Open(d, Options{})
		if err != nil {
			refused++
			if !strings.Contains(err.Error(), filepath.Join(d, FileName)) {
				t.Errorf("seed %d: error %q does not name the file", seed, err)
			}
			continue
		}
		if err := readAll(t, s, want); err != nil {
			t.Errorf("seed %d: Open accepted the file, then a read failed: %v", seed, err)
		}
		s.Close()
	}
	t.Logf("%d of %d damaged files refused at Open; the others read back intact", refused, runs)
}

// TestUpgradeFromVersion1 opens a file written in format version 1 (no
// checksums): its records read back unchanged, it is version 2 afterwards,
// and a damaged version 1 file is refused rather than checksummed.
func TestUpgradeFromVersion1(t *testing.T) {
	writeV1 := func(t *testing.T, dir string) {
		db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bbolt.Tx) error {
			meta, _ := tx.CreateBucket([]byte(metaBucket))
			meta.Put([]byte(formatKey), []byte("1"))
			kb, _ := tx.CreateBucket([]byte("key"))
			for _, scope := range []string{"", "acct/1"} {
				sb, _ := kb.CreateBucket(scopeName(scope))
				sb.Put([]byte("k1"), []byte("value of k1 in "+scope))
				sb.Put([]byte("empty"), []byte{})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	dir := t.TempDir()
	writeV1(t, dir)
	s := openTest(t, dir)
	s.View(t.Context(), func(tx store.Tx) error {
		for _, scope := range []string{"", "acct/1"} {
			v, err := tx.Get(store.KindKey, scope, "k1")
			if err != nil || string(v) != "value of k1 in "+scope {
				t.Errorf("after upgrade, Get(%q, k1) = %q, %v", scope, v, err)
			}
			v, err = tx.Get(store.KindKey, scope, "empty")
			if err != nil || len(v) != 0 {
				t.Errorf("after upgrade, Get(%q, empty) = %q, %v", scope, v, err)
			}
		}
		return nil
	})
	s.Close()
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket([]byte(metaBucket)).Get([]byte(formatKey)); string(v) != strconv.Itoa(FormatVersion) {
			t.Errorf("format after upgrade = %q", v)
		}
		return nil
	})
	db.Close()
	openTest(t, dir).Close() // and it opens again as version 2
}

// errFull stands for a write that failed because the disk is full.
var errFull = &fs.PathError{Op: "write", Path: "strongroom.db", Err: syscall.ENOSPC}

// A commit that fails before reaching the file (a full disk) fails its
// Updates with an error naming the file and the cause, leaves the file as it
// was, keeps reads going, and writes resume once the disk has room again.
func TestFaultBeforeWrite(t *testing.T) {
	dir := t.TempDir()
	var failing atomic.Bool
	opts := Options{Fault: func(p FaultPoint) error {
		if p == FaultBeforeWrite && failing.Load() {
			return errFull
		}
		return nil
	}}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "acked", "v1")
	failing.Store(true)
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put(store.KindKey, "sc", "acked", []byte("v2")); err != nil {
			return err
		}
		return tx.Put(store.KindKey, "sc", "lost", []byte("x"))
	})
	if err == nil {
		t.Fatal("Update succeeded on a full disk")
	}
	for _, w := range []string{s.Path(), "is full", "no space left on device"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("error %v is not ENOSPC for errors.Is", err)
	}
	if got := get(t, s, "acked"); got != "v1" {
		t.Errorf("after the failed commit, acked = %q, want v1", got)
	}
	if s.WriteError() != nil {
		t.Errorf("a commit that never reached the file fenced the store: %v", s.WriteError())
	}
	failing.Store(false)
	put(t, s, "after", "v3") // room again: writes resume
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	if got := get(t, s, "acked"); got != "v1" {
		t.Errorf("after reopen, acked = %q, want v1", got)
	}
	if got := get(t, s, "after"); got != "v3" {
		t.Errorf("after reopen, after = %q, want v3", got)
	}
	s.View(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Get(store.KindKey, "sc", "lost"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the failed commit's record: %v, want ErrNotFound", err)
		}
		return nil
	})
}

// A commit whose fsync fails after it reached the file: the Update fails,
// and every later Update fails too, naming the cause, until the store is
// reopened; reads go on meanwhile. After reopening, what was acknowledged is
// intact and the failed commit is either wholly there or wholly absent.
func TestFaultAfterWrite(t *testing.T) {
	dir := t.TempDir()
	var failing atomic.Bool
	eio := &fs.PathError{Op: "fdatasync", Path: "strongroom.db", Err: syscall.EIO}
	s, err := Open(dir, Options{Fault: func(p FaultPoint) error {
		if p == FaultAfterWrite && failing.Load() {
			return eio
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		put(t, s, fmt.Sprintf("acked%02d", i), "v")
	}
	failing.Store(true)
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put(store.KindKey, "sc", "uncertain1", []byte("x")); err != nil {
			return err
		}
		return tx.Put(store.KindKey, "sc", "uncertain2", []byte("x"))
	})
	if err == nil || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), s.Path()) || !strings.Contains(err.Error(), "I/O error") {
		t.Fatalf("Update with a failing fsync: %v", err)
	}
	failing.Store(false) // even once the disk works again, until restart:
	err = s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Put(store.KindKey, "sc", "refused", []byte("x"))
	})
	if err == nil || !strings.Contains(err.Error(), "refuses writes until strongroom restarts") || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Update after a failed fsync: %v, want the store to refuse writes", err)
	}
	if s.WriteError() == nil {
		t.Error("WriteError is nil on a fenced store")
	}
	if got := get(t, s, "acked07"); got != "v" {
		t.Errorf("read on a fenced store: %q", got)
	}
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	s.View(t.Context(), func(tx store.Tx) error {
		for i := range 20 {
			if v, err := tx.Get(store.KindKey, "sc", fmt.Sprintf("acked%02d", i)); err != nil || string(v) != "v" {
				t.Errorf("acked%02d after reopen: %q, %v", i, v, err)
			}
		}
		_, err1 := tx.Get(store.KindKey, "sc", "uncertain1")
		_, err2 := tx.Get(store.KindKey, "sc", "uncertain2")
		if (err1 == nil) != (err2 == nil) {
			t.Errorf("half of the failed commit survived: %v / %v", err1, err2)
		}
		if _, err := tx.Get(store.KindKey, "sc", "refused"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a write refused by the fenced store exists: %v", err)
		}
		return nil
	})
	put(t, s, "reopened", "writes work again")
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips the
// test where that is not allowed (not root, no mount in this sandbox).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestFullDisk runs the store on a real, small file system until it is
// full: writes fail with ENOSPC named as a full disk, reads go on, the
// store is not fenced (nothing of a failed commit reached the file), writes
// resume once there is room, and everything acknowledged is there after
// reopening, in a file that passes Check.
func TestFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, 2<<20)
	dir := filepath.Join(mnt, "data")
	s := openTest(t, dir)
	value := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	acked := map[string]bool{}
	var fullErr error
	for i := 0; i < 2000 && fullErr == nil; i++ {
		id := fmt.Sprintf("r%05d", i)
		err := s.Update(t.Context(), func(tx store.Tx) error {
			return tx.Put(store.KindKey, "sc", id, value)
		})
		if err != nil {
			fullErr = err
			break
		}
		acked[id] = true
	}
	if fullErr == nil {
		t.Fatal("2000 writes of 4 KiB fitted in a 2 MiB file system")
	}
	t.Logf("full after %d records: %v", len(acked), fullErr)
	if !errors.Is(fullErr, syscall.ENOSPC) || !strings.Contains(fullErr.Error(), "is full") || !strings.Contains(fullErr.Error(), s.Path()) {
		t.Errorf("error on a full disk: %v", fullErr)
	}
	if err := s.WriteError(); err != nil {
		t.Errorf("a full disk fenced the store: %v", err)
	}
	// Reads go on.
	s.View(t.Context(), func(tx store.Tx) error {
		for id := range acked {
			if v, err := tx.Get(store.KindKey, "sc", id); err != nil || !bytes.Equal(v, value) {
				t.Fatalf("read of %s on a full disk: %v", id, err)
			}
		}
		return nil
	})
	// Make room by deleting records, which needs no new pages... or does:
	// bbolt writes every commit to free pages. Grow the file system instead.
	if out, err := exec.Command("mount", "-o", "remount,size=8m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	put(t, s, "after-room", "v")
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check after a full disk: %v", err)
	}
	s.View(t.Context(), func(tx store.Tx) error {
		items, err := tx.List(store.KindKey, "sc", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range items {
			if acked[it.ID] {
				n++
			}
		}
		if n != len(acked) {
			t.Errorf("%d of %d acknowledged records after reopening", n, len(acked))
		}
		return nil
	})
}

// An existing but empty strongroom.db is damage (Open writes new files
// whole), not a new database: bbolt alone would start it afresh, silently
// losing everything.
func TestEmptyFileRefused(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, nil)
	wantOpenError(t, dir, path, Options{}, "is empty")
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("the refused file was changed: %v, %v", fi, err)
	}
}

// A file cut short is refused even where every page still in it is whole.
func TestTruncatedFileRefused(t *testing.T) {
	dir, path, _ := filledWith(t, 400)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var hwm int
	db.View(func(tx *bbolt.Tx) error { hwm = int(tx.Size()); return nil })
	db.Close()
	t.Logf("file of %d bytes, pages up to %d", len(data), hwm)
	for _, cut := range []int{hwm - os.Getpagesize(), hwm / 2, 3 * os.Getpagesize()} {
		d := t.TempDir()
		p := writeFile(t, d, data[:cut])
		wantOpenError(t, d, p, Options{}, "corrupt")
	}
	// Slack past the last page may go: it holds nothing.
	d := t.TempDir()
	writeFile(t, d, data[:hwm])
	openTest(t, d).Close()
	_ = dir
}

// A create that died half-way leaves only a temporary file, never a
// partial strongroom.db; the next Open creates the database and removes
// the leftover.
func TestCreateIsAtomic(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, FileName+".new-0123456789abcdef")
	if err := os.WriteFile(leftover, []byte("half a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir)
	put(t, s, "k", "v")
	s.Close()
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover of a crashed create still there: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	// The file, the marker of its clean close and its redo logs.
	if !slices.Equal(names, []string{FileName, FileName + markerSuffix, FileName + ".redo0", FileName + ".redo1"}) {
		t.Errorf("data directory holds %v, want only %s, its clean-close marker and its redo logs", names, FileName)
	}
}
