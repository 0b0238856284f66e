// Package bolt is Strongroom's embedded store.Store, the default: one bbolt
// file, strongroom.db, in the data directory, and its redo logs,
// strongroom.db.redo0 and .redo1, which hold the commits not yet written
// into it (redo.go, memtable.go).
//
// Guarantees:
//
//   - Durable: Update returns nil only after its writes are fsynced to the
//     redo log; the applier writes them into the file within applyEvery,
//     and Open replays what a crash left in the log only. Concurrent
//     Updates are committed together, one fsync for the whole group (group
//     commit), which is why fn may run more than once: if
//     one fn of a group fails or panics, the group is rolled back and re-run
//     without it, and the failed fn is re-run alone in its caller's goroutine
//     (unless it ran first in the group, when its result already stands).
//   - Serializable: Updates apply one at a time; Views see a consistent
//     committed snapshot and run concurrently with writes.
//   - Exclusive: the file is locked while open. A second process (or a second
//     Open in this one) fails within Options.LockTimeout with an error saying
//     the data directory is in use, instead of waiting.
//   - Never a panic on a bad file: a file that is not a Strongroom database,
//     is damaged, or was written by a newer Strongroom makes Open fail with
//     an error naming the file. bbolt panics on some damage; those panics (and
//     memory faults on the mapped file) are recovered inside this package and
//     returned as errors.
//   - Damage is never served silently: every record carries a CRC-32C of its
//     kind, scope, id and value. Open walks the whole file (its length
//     against its pages, every record's checksum and lookup, then bbolt's
//     page and free-list check) and refuses a damaged file with an error
//     naming the file and the first damaged records. An empty file is
//     refused too: Open creates files whole (create), so bbolt never gets to
//     initialize what was a full database. Get and List
//     check the records they return, so damage that appears later fails the
//     read instead of returning altered bytes. Checksums catch accidents
//     (bit rot, torn or misdirected writes, a stray editor), not an attacker
//     who can write the file: the kms core seals key material under the root
//     of trust, which is what protects it.
//   - Failing disks fail writes, not the store: a commit that cannot be
//     written (a full disk, an I/O error) returns an error naming the file
//     and the cause, and leaves the file as it was; reads go on. If the
//     failure came after the commit reached the disk (fsync of the log
//     failed once its entry was written, or of the file once the applier's
//     meta page was) the outcome of that commit is unknown, and so
//     is what the operating system will keep of it: the store then refuses
//     every later write until it is reopened, so that nothing is acknowledged
//     on top of state that may not be on disk. Store.WriteError reports it.
//
// Layout (format version 2): a top-level bucket per kind, named by the kind;
// inside it a bucket per scope; inside that id → checksum ‖ value, where the
// checksum is the 4-byte big-endian CRC-32C (Castagnoli) of
// uvarint(len(kind)) ‖ kind ‖ uvarint(len(scope)) ‖ scope ‖ uvarint(len(id))
// ‖ id ‖ value. A scope's bucket name is the scope itself, except that the
// empty scope and scopes starting with a NUL byte get a NUL byte prepended,
// which keeps names non-empty and distinct. The top-level bucket
// "strongroom.meta" (not a valid kind) holds the format version under
// "format". Version 1 was the same without checksums; Open upgrades a
// version 1 file in place, in one transaction. List seeks a cursor to its
// start, so a page costs O(log n + page) whatever its depth. A scope's
// bucket whose applied ids come after those it held, but for a few (the
// audit trail; keys, whose ids are time-ordered), is packed full instead of
// split half full (see order).
package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"strongroom/internal/durable"
	"strongroom/internal/store"
)

// FileName is the database file's name inside the data directory.
const FileName = "strongroom.db"

// FormatVersion is the layout version this package writes. It reads it
// and upgrades older ones.
const FormatVersion = 2

// DefaultLockTimeout is how long Open waits for another process to release
// the data directory when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is the default.
type Options struct {
	// LockTimeout is how long to wait for another process holding the data
	// directory. Zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// Check is how much of the file Open verifies before it returns:
	// CheckFull (the zero value), CheckQuick or CheckAuto (see CheckMode).
	Check CheckMode
	// SkipVerify is CheckQuick, kept for callers that set it.
	SkipVerify bool
	// LazyKinds are kinds whose records Open's synchronous walk does not
	// checksum: bulk, append-only data such as the audit trail, which grows
	// with every request and has its own verification (a hash chain). Their
	// records are still checksummed and checked on every read, the walk
	// still follows their pages (so that damaged pages are found by it,
	// and not by bbolt's page check), and the background verification of
	// CheckAuto checksums them too.
	LazyKinds []store.Kind
	// Verify is accepted for callers that ask for verification explicitly;
	// Open verifies unless SkipVerify is set or Check says otherwise.
	Verify bool
	// OnCheck, when not nil, is called once the background verification of
	// CheckAuto ends: with nil if the file verified, or with the damage it
	// found, after which every operation of the store returns that error
	// (the store is fenced). It is not called when Close interrupts the
	// verification, nor when Open verified synchronously.
	OnCheck func(err error, took time.Duration)

	// Fault, when not nil, is asked at each commit whether to fail it, at
	// point p: tests use it to simulate a full disk or a failing fsync on
	// the real code path. Nothing but tests sets it.
	Fault func(p FaultPoint) error
}

// FaultPoint is where Options.Fault may fail a commit.
type FaultPoint int

const (
	// FaultBeforeWrite fails a commit before anything reaches the disk, as
	// a full disk does.
	FaultBeforeWrite FaultPoint = iota + 1
	// FaultAfterWrite fails a commit after its entry reached the redo log
	// but before it is known to be durable, as a failing fsync does.
	FaultAfterWrite
)

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	db     *bbolt.DB
	path   string
	closed atomic.Bool
	fault  func(FaultPoint) error
	// lazy are the kinds Open's record walk skips (Options.LazyKinds).
	lazy map[string]bool
	// fenced holds the error that stops all writes: a commit failed after
	// reaching the file.
	fenced atomic.Pointer[error]
	// damage holds the error that stops every operation: the background
	// verification found the file damaged (check.go).
	damage atomic.Pointer[error]
	// sawDamage is set when any read or check met damage: Close then
	// leaves no clean-close marker, so the next Open verifies before it
	// serves.
	sawDamage atomic.Bool
	pageSize  int
	// checked says what Open verified (Checked).
	checked string
	// stop ends the background goroutines (verification, trim), which bg
	// counts.
	stop context.Context
	halt context.CancelFunc
	bg   sync.WaitGroup
	// closing refuses new Updates (under mu) once Close has begun; writers
	// counts the Updates in flight, which Close waits for.
	closing bool
	writers sync.WaitGroup

	// Group commit: Updates queue here; one of them, the leader, runs the
	// queue as one write transaction, then hands leadership to the next
	// waiting caller. leading is false only when queue is empty.
	mu      sync.Mutex
	queue   []*call
	leading bool

	commits atomic.Int64 // write transactions committed, for tests

	// The redo log and the memtable (redo.go, memtable.go). wmu serializes
	// the write transactions; entry is their encoding buffer.
	wmu   sync.Mutex
	log   *redoLog
	entry []byte
	mem   *memtable
	// applied is the last commit the file holds; amu serializes apply.
	applied atomic.Uint64
	amu     sync.Mutex
	kick    chan struct{}
	// readers counts the open snapshots by bbolt transaction id, and marks
	// are the applies whose versions wait for older readers to end, under
	// rmu (dropUnneeded).
	rmu     sync.Mutex
	readers map[int]int
	marks   []dropMark
}

var _ store.Store = (*Store)(nil)

const (
	metaBucket = "strongroom.meta"
	formatKey  = "format"
	maxBatch   = 128
)

var (
	errReadOnly = errors.New("bolt: write in a read-only transaction")
	errTxDone   = errors.New("bolt: transaction used after its function returned")
)

// Open opens the store in dir, creating dir (mode 0700) and dir/strongroom.db
// (mode 0600) if they do not exist.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bolt: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Redo logs without their file belong to no file: not to the new
		// one.
		os.Remove(logPath(path, 0))
		os.Remove(logPath(path, 1))
		if err := create(path, timeout); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	case fi.Size() == 0:
		// Open creates files whole (see create): an empty one was
		// damaged, and bbolt would silently start it anew.
		return nil, fmt.Errorf("bolt: %s is empty, so it is corrupt: a strongroom database is never written empty. Restore it from a backup, or move it away to start a new, empty store", path)
	}
	db, err := openDB(path, timeout)
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("bolt: data directory is in use by another strongroom process: %s stayed locked for %v", path, timeout)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum),
			strings.HasPrefix(err.Error(), "file size too small"): // bbolt has no sentinel for it
			return nil, fmt.Errorf("bolt: %s is not a strongroom database or is corrupt: %w", path, err)
		}
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, fault: opts.Fault, lazy: map[string]bool{}, pageSize: db.Info().PageSize,
		kick: make(chan struct{}, 1), readers: map[int]int{}, mem: newMemtable(0)}
	s.stop, s.halt = context.WithCancel(context.Background())
	for _, k := range opts.LazyKinds {
		s.lazy[string(k)] = true
	}
	version, err := s.init()
	if err != nil {
		s.halt()
		db.Close()
		return nil, err
	}
	removeStaleNew(path) // we hold the file: no create is under way
	// The marker of the last clean close is read and removed before
	// anything is written: it describes the file as that close left it.
	clean := s.takeCleanMarker()
	mode := opts.Check
	if opts.SkipVerify && mode == CheckFull {
		mode = CheckQuick
	}
	background := false
	switch {
	case version < FormatVersion, mode == CheckFull, mode == CheckAuto && !clean:
		// Check also before an upgrade, which would checksum damage.
		err = s.verify(context.Background(), version >= 2, false)
		s.afterWalk()
		s.checked = "full, before serving"
	default:
		// The quick check: a file cut short is refused at once.
		err = s.checkSize()
		background = mode == CheckAuto
		s.checked = "quick"
		if background {
			s.checked = "quick (clean close), full in the background"
		}
	}
	if err != nil {
		s.halt()
		db.Close()
		return nil, err
	}
	if version < FormatVersion {
		if err := s.upgrade(); err != nil {
			s.halt()
			db.Close()
			return nil, err
		}
	}
	if err := s.startLog(); err != nil {
		s.halt()
		s.bg.Wait()
		db.Close()
		return nil, err
	}
	if background {
		s.verifyInBackground(opts.OnCheck)
	}
	s.trimInBackground()
	return s, nil
}

// create makes a new, initialized database at path atomically: it is
// written whole to a file of its own, made durable, and linked in place,
// so that strongroom.db is never seen empty or half-initialized — which
// lets Open refuse an empty one as damaged. If another process created
// path first, its database stands.
func create(path string, timeout time.Duration) error {
	var r [8]byte
	rand.Read(r[:])
	tmp := path + ".new-" + hex.EncodeToString(r[:])
	defer os.Remove(tmp)
	db, err := openDB(tmp, timeout)
	if err != nil {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if _, err := s.init(); err != nil {
		db.Close()
		return err
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("bolt: create %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		// A file system without hard links: rename, which replaces what a
		// concurrent create linked meanwhile, so only if nothing did.
		if _, serr := os.Stat(path); serr == nil {
			return nil
		} else if !errors.Is(serr, os.ErrNotExist) {
			return fmt.Errorf("bolt: create %s: %w", path, serr)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("bolt: create %s: %w", path, s.describeIOError(err))
		}
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("bolt: sync %s: %w", dir, err)
	}
	return nil
}

// removeStaleNew removes what a create that crashed left behind.
func removeStaleNew(path string) {
	stale, _ := filepath.Glob(path + ".new-*")
	for _, f := range stale {
		os.Remove(f)
	}
}

func openDB(path string, timeout time.Duration) (db *bbolt.DB, err error) {
	// bbolt does not clean up when it panics while opening a damaged file:
	// keep its file, to close it (and so release the lock) ourselves.
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				file.Close()
			}
			db, err = nil, fmt.Errorf("%w: %v", bolterrors.ErrInvalid, r)
		}
	}()
	if err := checkTruncated(path); err != nil {
		return nil, err
	}
	return bbolt.Open(path, 0o600, &bbolt.Options{
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
		Timeout:      timeout,
		FreelistType: bbolt.FreelistMapType,
		// NoFreelistSync stays off although it makes commits cheaper: a
		// file without a free list is rebuilt at open by bbolt's page walk,
		// which runs in a goroutine of its own, where a damaged page panics
		// beyond recovery, before verify can report it.
		// Map ahead, so that growing the file rarely waits for readers.
		InitialMmapSize: 256 << 20,
	})
}

// checkTruncated refuses, before bbolt reads it, a file shorter than its
// pages reach by its newest valid meta page (bbolt can crash opening one:
// it maps and follows pages beyond the end). A file too short to hold the
// meta pages, or with no valid one, is left to bbolt's own refusal.
func checkTruncated(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	// bbolt's meta page: a 16-byte page header, then magic, version and
	// page size (u32 each), flags, the root bucket (16 bytes), the free
	// list's page, the high-water page id, the txid and an FNV-64a checksum
	// of all before it. Meta 1 is one page after meta 0.
	meta := func(off int64) (reach, txid uint64, pageSize int64, ok bool) {
		var b [16 + 64]byte
		if n, _ := f.ReadAt(b[:], off); n < len(b) {
			return 0, 0, 0, false
		}
		m := b[16:]
		h := fnv.New64a()
		h.Write(m[:56])
		ps := int64(binary.LittleEndian.Uint32(m[8:12]))
		if binary.LittleEndian.Uint32(m[0:4]) != 0xED0CDAED || h.Sum64() != binary.LittleEndian.Uint64(m[56:64]) || ps < 512 || ps > 1<<20 {
			return 0, 0, 0, false
		}
		return binary.LittleEndian.Uint64(m[40:48]) * uint64(ps), binary.LittleEndian.Uint64(m[48:56]), ps, true
	}
	best, bestTx, pageSize, found := meta(0)
	if !found {
		pageSize = int64(os.Getpagesize())
	}
	if reach, txid, _, ok := meta(pageSize); ok && (!found || txid > bestTx) {
		best, found = reach, true
	}
	if found && uint64(fi.Size()) < best {
		return fmt.Errorf("bolt: %s is corrupt: it is truncated to %d bytes, but its pages reach %d", path, fi.Size(), best)
	}
	return nil
}

// init checks that the file is ours and of a format we know, marks a new
// file as ours, and returns the file's format version.
func (s *Store) init() (version int, err error) {
	defer s.recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	// Read first: opening an existing file writes nothing, so a server
	// restarted on a full disk still starts and serves reads.
	var fresh bool
	err = s.db.View(func(btx *bbolt.Tx) error {
		fresh = btx.Bucket([]byte(metaBucket)) == nil
		return nil
	})
	if err != nil {
		return 0, s.describeIOError(err)
	}
	run := s.db.View
	if fresh {
		run = s.db.Update
	}
	err = run(func(btx *bbolt.Tx) error {
		meta := btx.Bucket([]byte(metaBucket))
		if meta == nil {
			k, _ := btx.Cursor().First()
			if k != nil {
				return fmt.Errorf("bolt: %s is a bbolt database but not a strongroom one (no %s bucket)", s.path, metaBucket)
			}
			meta, err := btx.CreateBucket([]byte(metaBucket))
			if err != nil {
				return fmt.Errorf("bolt: initialize %s: %w", s.path, err)
			}
			version = FormatVersion
			return meta.Put([]byte(formatKey), []byte(strconv.Itoa(FormatVersion)))
		}
		v := meta.Get([]byte(formatKey))
		if len(v) > 8 {
			// A damaged length: do not read (or quote) what it reaches.
			return fmt.Errorf("bolt: %s has an unreadable format version (%d bytes long)", s.path, len(v))
		}
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return fmt.Errorf("bolt: %s has an unreadable format version %q", s.path, v)
		}
		if n > FormatVersion {
			return fmt.Errorf("bolt: %s has format version %d, newer than this strongroom supports (%d)", s.path, n, FormatVersion)
		}
		version = n
		return nil
	})
	if err != nil {
		return 0, s.describeIOError(err)
	}
	return version, nil
}

// upgrade rewrites a version 1 file as version 2, adding every record's
// checksum, in one transaction: a crash leaves it at version 1.
func (s *Store) upgrade() (err error) {
	defer s.recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	err = s.db.Update(func(btx *bbolt.Tx) error {
		err := btx.ForEach(func(kind []byte, kb *bbolt.Bucket) error {
			if string(kind) == metaBucket {
				return nil
			}
			return kb.ForEachBucket(func(name []byte) error {
				sb := kb.Bucket(name)
				scope := scopeOf(name)
				var items []store.Item
				err := sb.ForEach(func(k, v []byte) error {
					items = append(items, store.Item{ID: string(k), Value: seal(store.Kind(kind), scope, string(k), v)})
					return nil
				})
				if err != nil {
					return err
				}
				for _, it := range items {
					if err := sb.Put([]byte(it.ID), it.Value); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		return btx.Bucket([]byte(metaBucket)).Put([]byte(formatKey), []byte(strconv.Itoa(FormatVersion)))
	})
	if err != nil {
		return fmt.Errorf("bolt: upgrading %s to format version %d: %w", s.path, FormatVersion, s.describeIOError(err))
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Check reads the whole file and reports any inconsistency: every record
// whose checksum does not match (of every kind, lazy ones too), then what
// bbolt's page check finds (Tx.Check). It runs in read transactions,
// alongside other work, and gives the file's pages it mapped in back to
// the kernel when it is done.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	err := s.verify(ctx, true, true)
	s.afterWalk()
	return err
}

// verify walks every record (checking checksums if the format has them),
// then checks the page structure. The order matters: bbolt's check runs in
// a goroutine of its own, where a damaged page that points outside the
// mapped file is a fatal memory fault rather than a recoverable one; the
// walk, here in ours, touches the same pages first and turns such damage
// into an error.
//
// Without all (Open, before anyone writes), the structure is bbolt's
// Tx.Check. With all (the background verification, Check: writers may be
// running, and Tx.Check is only right without them), it is walkPages.
//
// With all, lazy kinds are checked like the others; without, the walk
// follows their pages and keys (so that it, not bbolt's check, meets any
// damaged page first) but skips their checksums and lookups.
func (s *Store) verify(ctx context.Context, checksums, all bool) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			s.sawDamage.Store(true)
		}
	}()
	if err := s.checkSize(); err != nil {
		return err
	}
	if err := s.checkRecords(ctx, checksums, all); err != nil {
		return err
	}
	if all {
		// Writers may be running: bbolt's check would be wrong.
		return s.checkStructure(ctx)
	}
	return s.checkPages(ctx)
}

// checkStructure runs walkPages on a snapshot, taking a new one if
// commits overwrote its meta page before the walk read it.
func (s *Store) checkStructure(ctx context.Context) (err error) {
	defer s.recoverCorrupt(&err)
	for {
		err = s.db.View(s.walkPages)
		if !errors.Is(err, errStaleMeta) {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("bolt: %s is corrupt (its page structure is damaged): %w", s.path, err)
	}
	return s.mapErr(err)
}

// checkSize refuses a file shorter than the pages its meta page counts:
// bbolt grows the file, durably, before any commit uses the new pages, so
// a shorter file was cut (a copy that stopped, a damaged file system).
func (s *Store) checkSize() (err error) {
	defer s.recoverCorrupt(&err)
	var want int64
	if err := s.db.View(func(btx *bbolt.Tx) error { want = btx.Size(); return nil }); err != nil {
		return s.mapErr(err)
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("bolt: %w", err)
	}
	if fi.Size() < want {
		return fmt.Errorf("bolt: %s is corrupt: it is truncated to %d bytes, but its pages reach %d", s.path, fi.Size(), want)
	}
	return nil
}

// checkPages runs bbolt's page check.
func (s *Store) checkPages(ctx context.Context) (err error) {
	defer s.recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var errs []error
	err = s.db.View(func(btx *bbolt.Tx) error {
		for e := range btx.Check() {
			if len(errs) < 10 {
				errs = append(errs, e)
			}
		}
		return nil
	})
	if err != nil {
		return s.mapErr(err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("bolt: %s is corrupt (its page structure is damaged): %w", s.path, errors.Join(errs...))
	}
	return nil
}

// checkRecords walks every record and verifies that a lookup finds it, in
// order, and, with checksums, that its checksum matches.
func (s *Store) checkRecords(ctx context.Context, checksums, all bool) (err error) {
	defer s.recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var bad []string
	n := 0
	err = s.db.View(func(btx *bbolt.Tx) error {
		return btx.ForEach(func(kind []byte, kb *bbolt.Bucket) error {
			if string(kind) == metaBucket {
				return nil
			}
			lazy := !all && s.lazy[string(kind)]
			if err := checkKind(store.Kind(kind)); err != nil {
				bad = append(bad, fmt.Sprintf("a bucket named %q", kind))
				return nil
			}
			c := kb.Cursor()
			for name, v := c.First(); name != nil; name, v = c.Next() {
				if v != nil {
					bad = append(bad, fmt.Sprintf("a stray value %q in kind %s", name, kind))
					continue
				}
				scope := scopeOf(name)
				sb := kb.Bucket(name)
				var prev []byte
				err := sb.ForEach(func(id, v []byte) error {
					n++
					if n%4096 == 0 {
						if err := ctx.Err(); err != nil {
							return err
						}
						if all && n%dropRecords == 0 {
							// While serving, the walk's pages go back as it
							// goes (see dropMapped); at Open, only at the
							// end: dropping them on the way costs re-faults
							// (the start after a crash takes 2-3× longer).
							s.dropMappedTx(btx)
						}
					}
					if lazy {
						// Follow the pages and keys only: a nested bucket
						// (v == nil) is damage, keys must ascend.
						switch {
						case v == nil:
							bad = append(bad, recordName(store.Kind(kind), scope, string(id))+" (a nested bucket)")
						case prev != nil && bytes.Compare(prev, id) >= 0:
							bad = append(bad, recordName(store.Kind(kind), scope, string(id))+" (out of order)")
						}
						prev = append(prev[:0], id...)
						return nil
					}
					if _, ok := unseal(store.Kind(kind), scope, string(id), v); checksums && !ok {
						bad = append(bad, recordName(store.Kind(kind), scope, string(id))+" (checksum mismatch)")
						return nil
					}
					// The walk follows page links; a lookup follows the
					// separator keys of branch pages, which no checksum
					// covers: both must find every record, in order.
					if prev != nil && bytes.Compare(prev, id) >= 0 {
						bad = append(bad, recordName(store.Kind(kind), scope, string(id))+" (out of order)")
					} else if got, ok := lookup(sb, id); !ok || !bytes.Equal(got, v) {
						bad = append(bad, recordName(store.Kind(kind), scope, string(id))+" (unreachable by lookup)")
					}
					prev = append(prev[:0], id...)
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return s.mapErr(err)
	}
	if len(bad) > 0 {
		more := ""
		if len(bad) > 5 {
			more = fmt.Sprintf(" and %d more", len(bad)-5)
			bad = bad[:5]
		}
		return fmt.Errorf("bolt: %s is corrupt: damaged %s%s", s.path, strings.Join(bad, ", "), more)
	}
	return nil
}

// recordName names a record in an error without its value.
func recordName(kind store.Kind, scope, id string) string {
	return fmt.Sprintf("record %s/%q/%q", kind, truncate(scope), truncate(id))
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// castagnoli is the CRC-32C table: hardware-accelerated on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC-32C of a record, binding its value to where it is.
func checksum(kind store.Kind, scope, id string, value []byte) uint32 {
	var n [binary.MaxVarintLen64]byte
	c := crc32.Update(0, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(kind)))])
	c = crc32.Update(c, castagnoli, []byte(kind))
	c = crc32.Update(c, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(scope)))])
	c = crc32.Update(c, castagnoli, []byte(scope))
	c = crc32.Update(c, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(id)))])
	c = crc32.Update(c, castagnoli, []byte(id))
	return crc32.Update(c, castagnoli, value)
}

// seal returns the stored form of a record's value: checksum ‖ value, in a
// new slice (bbolt keeps the slice until commit).
func seal(kind store.Kind, scope, id string, value []byte) []byte {
	b := make([]byte, 4+len(value))
	binary.BigEndian.PutUint32(b, checksum(kind, scope, id, value))
	copy(b[4:], value)
	return b
}

// unseal checks a stored value and returns the value inside it (aliasing
// stored).
func unseal(kind store.Kind, scope, id string, stored []byte) ([]byte, bool) {
	if len(stored) < 4 {
		return nil, false
	}
	v := stored[4:]
	return v, binary.BigEndian.Uint32(stored) == checksum(kind, scope, id, v)
}

// scopeOf is scopeName's inverse.
func scopeOf(name []byte) string {
	if len(name) > 0 && name[0] == 0 {
		return string(name[1:])
	}
	return string(name)
}

// Backup writes a consistent copy of the database file to w while the store
// stays in use, and returns the number of bytes written. The copy opens as a
// data directory's strongroom.db. A store found damaged (Damage) refuses,
// as it refuses reads: the copy would carry the damage.
func (s *Store) Backup(ctx context.Context, w io.Writer) (n int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := s.Damage(); err != nil {
		return 0, fmt.Errorf("bolt: no backup of a damaged store: %w", err)
	}
	// The file, with everything acknowledged so far written into it.
	if err := s.apply(); err != nil {
		return 0, fmt.Errorf("bolt: backup of %s: %w", s.path, err)
	}
	defer s.recoverCorrupt(&err)
	err = s.db.View(func(btx *bbolt.Tx) error {
		var err error
		n, err = btx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("bolt: backup of %s: %w", s.path, s.mapErr(err))
	}
	return n, nil
}

// Close waits for running transactions and closes the file. Later calls
// return store.ErrClosed.
//
// A Close that ends a healthy store (no failed commit, no damage seen)
// leaves a clean-close marker next to the file, so that the next Open with
// CheckAuto may serve at once and verify in the background (check.go).
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.halt()
	s.writers.Wait() // no write is in flight, and none can start
	s.bg.Wait()
	if err := s.stopLog(); err != nil {
		s.sawDamage.Store(true) // no clean-close marker: the next Open verifies
	}
	marker := s.cleanMarker()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close %s: %w", s.path, err)
	}
	s.writeCleanMarker(marker)
	return nil
}
