// Package bolt is Strongroom's embedded store.Store, the default: one bbolt
// file, strongroom.db, in the data directory.
//
// Guarantees:
//
//   - Durable: Update returns nil only after its writes are fsynced to the
//     file. Concurrent Updates are committed together, one fsync for the
//     whole group (group commit), which is why fn may run more than once: if
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
//     returned as errors. Options.Verify and Store.Check walk the whole file.
//
// Layout (format version 1): a top-level bucket per kind, named by the kind;
// inside it a bucket per scope; inside that id → value. A scope's bucket name
// is the scope itself, except that the empty scope and scopes starting with a
// NUL byte get a NUL byte prepended, which keeps names non-empty and distinct.
// The top-level bucket "strongroom.meta" (not a valid kind) holds the format
// version under "format". List seeks a cursor to its start, so a page costs
// O(log n + page) whatever its depth.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"strongroom/internal/store"
)

// FileName is the database file's name inside the data directory.
const FileName = "strongroom.db"

// FormatVersion is the layout version this package writes and reads.
const FormatVersion = 1

// DefaultLockTimeout is how long Open waits for another process to release
// the data directory when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is the default.
type Options struct {
	// LockTimeout is how long to wait for another process holding the data
	// directory. Zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// Verify runs Check before Open returns: every page of the file is
	// read, so its cost grows with the file.
	Verify bool
}

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	db     *bbolt.DB
	path   string
	closed atomic.Bool

	// Group commit: Updates queue here; one of them, the leader, runs the
	// queue as one bbolt transaction, then hands leadership to the next
	// waiting caller. leading is false only when queue is empty.
	mu      sync.Mutex
	queue   []*call
	leading bool

	commits atomic.Int64 // write transactions committed, for tests
}

var _ store.Store = (*Store)(nil)

const (
	metaBucket = "strongroom.meta"
	formatKey  = "format"
	maxBatch   = 128
	maxKindLen = 64
	maxLen     = 1024
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
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Verify {
		if err := s.Check(context.Background()); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
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
	return bbolt.Open(path, 0o600, &bbolt.Options{
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
		Timeout:      timeout,
		FreelistType: bbolt.FreelistMapType,
		// Map ahead, so that growing the file rarely waits for readers.
		InitialMmapSize: 256 << 20,
	})
}

// init checks that the file is ours and of a format we know, and marks a new
// file as ours.
func (s *Store) init() (err error) {
	defer s.recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return s.db.Update(func(btx *bbolt.Tx) error {
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
			return meta.Put([]byte(formatKey), []byte(strconv.Itoa(FormatVersion)))
		}
		v := meta.Get([]byte(formatKey))
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return fmt.Errorf("bolt: %s has an unreadable format version %q", s.path, v)
		}
		if n > FormatVersion {
			return fmt.Errorf("bolt: %s has format version %d, newer than this strongroom supports (%d)", s.path, n, FormatVersion)
		}
		return nil
	})
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Check reads the whole file and reports any inconsistency bbolt finds
// (bbolt's Tx.Check). It runs in a read transaction, alongside other work.
func (s *Store) Check(ctx context.Context) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
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
		return fmt.Errorf("bolt: %s is corrupt: %w", s.path, errors.Join(errs...))
	}
	return nil
}

// Backup writes a consistent copy of the database file to w while the store
// stays in use, and returns the number of bytes written. The copy opens as a
// data directory's strongroom.db.
func (s *Store) Backup(ctx context.Context, w io.Writer) (n int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s.closed.Load() {
		return 0, store.ErrClosed
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
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close %s: %w", s.path, err)
	}
	return nil
}

// View runs fn in a read-only transaction over a consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	btx, err := s.begin(false)
	if err != nil {
		return err
	}
	t := &tx{s: s, btx: btx}
	defer func() {
		t.done = true
		s.rollback(btx)
	}()
	return fn(t)
}

// call is one Update waiting for the group commit.
type call struct {
	fn  func(store.Tx) error
	res chan result // buffered: whoever delivers never blocks
}

type result struct {
	err  error
	lead bool // the receiver is now the leader
	solo bool // the receiver must run its fn alone
}

// Update runs fn in a read-write transaction and returns once its writes are
// on stable storage. Concurrent Updates share one commit. ctx is checked
// before the Update is queued; once queued it runs to its end.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	c := &call{fn: fn, res: make(chan result, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, c)
	var r result
	if s.leading {
		s.mu.Unlock()
		r = <-c.res
	} else {
		s.leading = true
		s.mu.Unlock()
		r = result{lead: true}
	}
	if r.lead {
		r = s.lead(c)
	}
	if r.solo {
		return s.runSolo(fn)
	}
	return r.err
}

// lead runs the head of the queue, which includes c, as one transaction,
// delivers the others' results, hands leadership on and returns c's result.
func (s *Store) lead(c *call) (mine result) {
	s.mu.Lock()
	n := min(len(s.queue), maxBatch)
	batch := slices.Clone(s.queue[:n])
	s.queue = slices.Delete(s.queue, 0, n)
	s.mu.Unlock()

	delivered := false
	defer func() {
		// Even if runBatch panicked (a bug: it recovers everything it
		// expects), nobody may be left waiting.
		if !delivered {
			for _, b := range batch {
				if b != c {
					b.res <- result{err: errors.New("bolt: group commit failed")}
				}
			}
		}
		s.mu.Lock()
		if len(s.queue) > 0 {
			s.queue[0].res <- result{lead: true}
		} else {
			s.leading = false
		}
		s.mu.Unlock()
	}()

	results := s.runBatch(batch)
	for i, b := range batch {
		if b == c {
			mine = results[i]
		} else {
			b.res <- results[i]
		}
	}
	delivered = true
	return mine
}

// runBatch runs the calls' functions in order in one transaction and commits
// it. A call whose fn fails is taken out and the rest re-run: if it was the
// first of the group it saw only committed state, so its error stands;
// otherwise it is sent to run alone.
func (s *Store) runBatch(batch []*call) []result {
	results := make([]result, len(batch))
	pending := make([]int, len(batch))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		btx, err := s.begin(true)
		if err != nil {
			for _, i := range pending {
				results[i].err = err
			}
			break
		}
		failed, ferr, panicked := -1, error(nil), false
		for k, i := range pending {
			if ferr, panicked = s.safeCall(batch[i].fn, btx); ferr != nil || panicked {
				failed = k
				break
			}
		}
		if failed >= 0 {
			s.rollback(btx)
			i := pending[failed]
			if failed == 0 && !panicked {
				results[i].err = ferr
			} else {
				results[i].solo = true
			}
			pending = slices.Delete(pending, failed, failed+1)
			continue
		}
		err = s.commit(btx)
		for _, i := range pending {
			results[i].err = err
		}
		break
	}
	return results
}

// safeCall runs fn on btx, turning a panic into panicked: the caller re-runs
// that fn alone in its own goroutine, where the panic surfaces.
func (s *Store) safeCall(fn func(store.Tx) error, btx *bbolt.Tx) (err error, panicked bool) {
	t := &tx{s: s, btx: btx, writable: true}
	defer func() {
		t.done = true
		if r := recover(); r != nil {
			panicked = true
		}
	}()
	return fn(t), false
}

// runSolo runs fn alone in its own transaction, in the caller's goroutine.
func (s *Store) runSolo(fn func(store.Tx) error) error {
	btx, err := s.begin(true)
	if err != nil {
		return err
	}
	t := &tx{s: s, btx: btx, writable: true}
	finished := false
	defer func() {
		t.done = true
		if !finished {
			s.rollback(btx)
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	t.done = true
	finished = true
	return s.commit(btx)
}

func (s *Store) begin(writable bool) (btx *bbolt.Tx, err error) {
	defer s.recoverCorrupt(&err)
	btx, err = s.db.Begin(writable)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return btx, nil
}

func (s *Store) commit(btx *bbolt.Tx) (err error) {
	defer s.recoverCorrupt(&err)
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("bolt: commit to %s: %w", s.path, s.mapErr(err))
	}
	s.commits.Add(1)
	return nil
}

func (s *Store) rollback(btx *bbolt.Tx) {
	defer func() { recover() }() // a damaged file may panic here too; the error was reported already
	btx.Rollback()
}

func (s *Store) mapErr(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// recoverCorrupt turns a panic inside bbolt, which it raises on damaged
// pages, into an error naming the file.
func (s *Store) recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("bolt: %s is corrupt: %v", s.path, r)
	}
}

type tx struct {
	s        *Store
	btx      *bbolt.Tx
	writable bool
	done     bool
}

// scopeName maps a scope to its bucket name: non-empty and one-to-one.
func scopeName(scope string) []byte {
	if scope == "" || scope[0] == 0 {
		return append([]byte{0}, scope...)
	}
	return []byte(scope)
}

// bucket returns the bucket of (kind, scope), or nil if it does not exist
// and create is false.
func (t *tx) bucket(kind store.Kind, scope string, create bool) (*bbolt.Bucket, error) {
	kb := t.btx.Bucket([]byte(kind))
	if kb == nil {
		if !create {
			return nil, nil
		}
		var err error
		if kb, err = t.btx.CreateBucket([]byte(kind)); err != nil {
			return nil, fmt.Errorf("bolt: create bucket %q: %w", kind, err)
		}
	}
	name := scopeName(scope)
	sb := kb.Bucket(name)
	if sb == nil && create {
		var err error
		if sb, err = kb.CreateBucket(name); err != nil {
			return nil, fmt.Errorf("bolt: create bucket for scope %q: %w", scope, err)
		}
	}
	return sb, nil
}

// lookup reports whether id exists in b and its value (aliasing the page;
// valid only during the transaction). It uses a cursor rather than Get,
// which cannot tell an empty value from a missing one.
func lookup(b *bbolt.Bucket, id []byte) ([]byte, bool) {
	k, v := b.Cursor().Seek(id)
	if k == nil || !bytes.Equal(k, id) {
		return nil, false
	}
	return v, true
}

func (t *tx) Get(kind store.Kind, scope, id string) (v []byte, err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(false, kind, scope, id); err != nil {
		return nil, err
	}
	b, err := t.bucket(kind, scope, false)
	if err != nil || b == nil {
		return nil, errOr(err, store.ErrNotFound)
	}
	v, ok := lookup(b, []byte(id))
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]byte{}, v...), nil
}

func (t *tx) List(kind store.Kind, scope, after string, limit int) (items []store.Item, err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(false, kind, scope, ""); err != nil {
		return nil, err
	}
	b, err := t.bucket(kind, scope, false)
	if err != nil || b == nil {
		return nil, err
	}
	c := b.Cursor()
	var k, v []byte
	if after == "" {
		k, v = c.First()
	} else {
		k, v = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
	}
	for ; k != nil && (limit <= 0 || len(items) < limit); k, v = c.Next() {
		items = append(items, store.Item{ID: string(k), Value: append([]byte{}, v...)})
	}
	return items, nil
}

func (t *tx) Create(kind store.Kind, scope, id string, value []byte) (err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	b, err := t.bucket(kind, scope, true)
	if err != nil {
		return err
	}
	if _, ok := lookup(b, []byte(id)); ok {
		return store.ErrExists
	}
	return t.put(b, id, value)
}

func (t *tx) Put(kind store.Kind, scope, id string, value []byte) (err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	b, err := t.bucket(kind, scope, true)
	if err != nil {
		return err
	}
	return t.put(b, id, value)
}

// put stores a copy of value: bbolt keeps the slice until commit, and the
// caller may change it before then.
func (t *tx) put(b *bbolt.Bucket, id string, value []byte) error {
	if err := b.Put([]byte(id), append([]byte{}, value...)); err != nil {
		return fmt.Errorf("bolt: put: %w", err)
	}
	return nil
}

func (t *tx) Delete(kind store.Kind, scope, id string) (err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	b, err := t.bucket(kind, scope, false)
	if err != nil || b == nil {
		return errOr(err, store.ErrNotFound)
	}
	if _, ok := lookup(b, []byte(id)); !ok {
		return store.ErrNotFound
	}
	if err := b.Delete([]byte(id)); err != nil {
		return fmt.Errorf("bolt: delete: %w", err)
	}
	// Drop a scope's bucket with its last record, so that scopes that come
	// and go leave nothing behind.
	if k, _ := b.Cursor().First(); k == nil {
		if err := t.btx.Bucket([]byte(kind)).DeleteBucket(scopeName(scope)); err != nil {
			return fmt.Errorf("bolt: delete empty scope bucket: %w", err)
		}
	}
	return nil
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func (t *tx) check(write bool, kind store.Kind, scope, id string) error {
	if t.done {
		return errTxDone
	}
	if write && !t.writable {
		return errReadOnly
	}
	if err := checkKind(kind); err != nil {
		return err
	}
	if len(scope) > maxLen {
		return fmt.Errorf("bolt: scope of %d bytes, more than %d", len(scope), maxLen)
	}
	if id == "" {
		if write {
			return errors.New("bolt: empty id")
		}
		return nil // List, which takes no id
	}
	if len(id) > maxLen {
		return fmt.Errorf("bolt: id of %d bytes, more than %d", len(id), maxLen)
	}
	return nil
}

// checkKind enforces store.Kind's documented alphabet, which also keeps
// kinds apart from the meta bucket's name.
func checkKind(k store.Kind) error {
	ok := k != "" && len(k) <= maxKindLen
	for i := 0; ok && i < len(k); i++ {
		c := k[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("bolt: invalid kind %q: want 1 to %d bytes of [a-z0-9_-]", k, maxKindLen)
	}
	return nil
}
