package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"strongroom/internal/store"
)

// The transactions. A read sees a snapshot: the bbolt file's state in a
// read transaction, and the memtable's commits up to the newest when it
// began (memtable.go). A write transaction (a group commit's batch) reads
// the same way, through its own writes first; its writes go to the redo
// log, then to the memtable (redo.go). Only the applier writes the file.

// snapshot is what a transaction reads.
type snapshot struct {
	btx *bbolt.Tx
	at  uint64 // the newest commit of the memtable it sees
}

// beginRead opens a snapshot. Its bbolt transaction is counted in readers
// until endRead, so that the memtable keeps the versions it may need.
func (s *Store) beginRead() (snapshot, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	btx, err := s.begin(false)
	if err != nil {
		return snapshot{}, err
	}
	s.readers[btx.ID()]++
	return snapshot{btx: btx, at: s.mem.at()}, nil
}

// endRead closes a snapshot, and drops from the memtable what no reader
// needs any more.
func (s *Store) endRead(sn snapshot) {
	id := sn.btx.ID()
	s.rollback(sn.btx)
	s.rmu.Lock()
	if s.readers[id]--; s.readers[id] <= 0 {
		delete(s.readers, id)
	}
	drop, ok := s.droppable()
	s.rmu.Unlock()
	if ok {
		s.mem.drop(drop)
	}
}

// dropMark says that bbolt commit txid holds the memtable's commits up to
// seq.
type dropMark struct {
	txid int
	seq  uint64
}

// droppable returns the newest commit whose versions the memtable may
// drop: the file holds it, and no open reader can need it (it was applied
// in a bbolt commit that every open reader's snapshot includes; a reader
// that begins later gets such a snapshot too). It runs under rmu, and
// forgets the marks it passes: the caller drops.
func (s *Store) droppable() (seq uint64, ok bool) {
	if len(s.marks) == 0 {
		return 0, false
	}
	oldest := -1
	for id := range s.readers {
		if oldest < 0 || id < oldest {
			oldest = id
		}
	}
	k := 0
	for k < len(s.marks) && (oldest < 0 || s.marks[k].txid <= oldest) {
		seq = s.marks[k].seq
		k++
	}
	s.marks = slices.Delete(s.marks, 0, k)
	return seq, k > 0
}

// View runs fn in a read-only transaction over a consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := s.Damage(); err != nil {
		return err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	sn, err := s.beginRead()
	if err != nil {
		return err
	}
	t := &tx{s: s, snapshot: sn}
	defer func() {
		t.done = true
		s.endRead(sn)
	}()
	return fn(t)
}

// Generation is store.Generationer's: the newest commit published in the
// memtable, which a commit publishes before its Update returns.
func (s *Store) Generation() uint64 { return s.mem.at() }

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
	if err := s.WriteError(); err != nil {
		return err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	c := &call{fn: fn, res: make(chan result, 1)}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.writers.Add(1)
	defer s.writers.Done()
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
	s.wmu.Lock()
	defer s.wmu.Unlock()
	results := make([]result, len(batch))
	pending := make([]int, len(batch))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		sn, err := s.beginRead()
		if err != nil {
			for _, i := range pending {
				results[i].err = err
			}
			break
		}
		ws := newWriteSet()
		failed, ferr, panicked := -1, error(nil), false
		for k, i := range pending {
			if ferr, panicked = s.safeCall(batch[i].fn, sn, ws); ferr != nil || panicked {
				failed = k
				break
			}
		}
		s.endRead(sn)
		if failed >= 0 {
			i := pending[failed]
			if failed == 0 && !panicked {
				results[i].err = ferr
			} else {
				results[i].solo = true
			}
			pending = slices.Delete(pending, failed, failed+1)
			continue
		}
		err = s.commit(ws)
		for _, i := range pending {
			results[i].err = err
		}
		break
	}
	return results
}

// safeCall runs fn on the snapshot and write set, turning a panic into
// panicked: the caller re-runs that fn alone in its own goroutine, where
// the panic surfaces.
func (s *Store) safeCall(fn func(store.Tx) error, sn snapshot, ws *writeSet) (err error, panicked bool) {
	t := &tx{s: s, snapshot: sn, ws: ws, writable: true}
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
	s.wmu.Lock()
	defer s.wmu.Unlock()
	sn, err := s.beginRead()
	if err != nil {
		return err
	}
	ws := newWriteSet()
	t := &tx{s: s, snapshot: sn, ws: ws, writable: true}
	err = func() error {
		defer func() {
			t.done = true
			s.endRead(sn)
		}()
		return fn(t)
	}()
	if err != nil {
		return err
	}
	return s.commit(ws)
}

// commit makes a write set durable in the redo log and publishes it in the
// memtable. It runs under wmu.
func (s *Store) commit(ws *writeSet) error {
	if ws.n == 0 {
		return nil
	}
	if err := s.WriteError(); err != nil {
		return err
	}
	if s.fault != nil {
		if err := s.fault(FaultBeforeWrite); err != nil {
			return s.commitErr(err)
		}
	}
	seq := s.mem.at() + 1
	s.entry = encodeEntry(s.entry, ws)
	written, err := s.log.append(seq, s.entry, s.applied.Load())
	if cap(s.entry) > 4<<20 {
		s.entry = nil
	}
	if err != nil {
		if written {
			return s.fence(err)
		}
		return s.commitErr(err)
	}
	if s.fault != nil {
		if err := s.fault(FaultAfterWrite); err != nil {
			return s.fence(err)
		}
	}
	if err := s.log.sync(); err != nil {
		return s.fence(err)
	}
	s.mem.publish(seq, ws)
	s.commits.Add(1)
	if s.mem.size() > applyAbove {
		s.kickApplier()
	}
	return nil
}

// commitErr is the error of a commit that failed before any of it reached
// the log: later writes may succeed (a full disk that gets space again).
func (s *Store) commitErr(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return fmt.Errorf("bolt: commit to %s failed: %w", s.path, s.describeIOError(err))
}

// fence stops all writes after a commit failed once some of it may have
// reached the disk: whether it will survive is up to the operating system,
// so nothing more may be acknowledged on top of it.
func (s *Store) fence(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	err = s.commitErr(err)
	fenced := fmt.Errorf("bolt: %s refuses writes until strongroom restarts: a commit failed after reaching the disk, so what the disk holds is uncertain: %w", s.path, err)
	s.fenced.CompareAndSwap(nil, &fenced)
	return fenced
}

// Unapplied returns the number of commits that are durable in the redo log
// but not yet written into the file (strongroom_store_unapplied_commits).
func (s *Store) Unapplied() uint64 {
	return s.mem.at() - min(s.mem.at(), s.applied.Load())
}

// applyEvery is how often the applier writes the memtable into the file;
// applyAbove, how many versions make it run sooner.
const (
	applyEvery = 250 * time.Millisecond
	applyAbove = 20000
)

// kickApplier has the applier run now rather than at its next tick.
func (s *Store) kickApplier() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// applyInBackground runs the applier until Close.
func (s *Store) applyInBackground() {
	s.every(applyEvery, s.kick, func() {
		if s.WriteError() == nil {
			s.apply() // an error leaves the memtable as it is, for the next round
		}
	})
}

// apply writes the memtable's commits into the file, in one synced bbolt
// commit that also records the last of them ("applied"). A failure leaves
// the file as it was, unless the commit reached it (then the store is
// fenced, as for any commit): the log and the memtable still hold it all.
func (s *Store) apply() (err error) {
	s.amu.Lock()
	defer s.amu.Unlock()
	seq := s.mem.at()
	if seq <= s.applied.Load() {
		return nil
	}
	items := s.mem.upTo(seq)
	defer s.recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	txid := -1
	err = s.db.Update(func(btx *bbolt.Tx) error {
		txid = btx.ID()
		if err := applyItems(btx, items); err != nil {
			return err
		}
		return setApplied(btx, seq)
	})
	if err != nil {
		if txid >= 0 && s.committedTxid() >= txid {
			return s.fence(err)
		}
		return fmt.Errorf("bolt: writing the redo log's commits into %s: %w", s.path, s.describeIOError(err))
	}
	s.applied.Store(seq)
	s.rmu.Lock()
	s.marks = append(s.marks, dropMark{txid: txid, seq: seq})
	drop, ok := s.droppable()
	s.rmu.Unlock()
	if ok {
		s.mem.drop(drop)
	}
	return nil
}

// applyItems writes versions into the file: puts sealed with their
// checksum, deletions dropping a scope's bucket with its last record. The
// items come in bucket and id order (memtable.upTo); a bucket whose ids
// come after those it held, but for a few, is packed full (order).
func applyItems(btx *bbolt.Tx, items []applyItem) error {
	var ord order
	for _, it := range items {
		if it.del {
			b := bucketOf(btx, it.kind, it.scope)
			if b == nil {
				continue
			}
			if err := b.Delete([]byte(it.id)); err != nil {
				return fmt.Errorf("bolt: delete: %w", err)
			}
			if k, _ := b.Cursor().First(); k == nil {
				if err := btx.Bucket([]byte(it.kind)).DeleteBucket(scopeName(it.scope)); err != nil {
					return fmt.Errorf("bolt: delete empty scope bucket: %w", err)
				}
			}
			continue
		}
		b, err := makeBucket(btx, it.kind, it.scope)
		if err != nil {
			return err
		}
		ord.note(b, it.id)
		if err := b.Put([]byte(it.id), seal(it.kind, it.scope, it.id, it.val)); err != nil {
			return fmt.Errorf("bolt: put: %w", err)
		}
	}
	ord.settle()
	return nil
}

const (
	storeIDKey = "store-id"
	appliedKey = "applied"
)

func setApplied(btx *bbolt.Tx, seq uint64) error {
	return btx.Bucket([]byte(metaBucket)).Put([]byte(appliedKey), binary.BigEndian.AppendUint64(nil, seq))
}

// startLog replays what the redo log holds past the file (a crash), then
// starts the log and the applier. It runs in Open, alone.
func (s *Store) startLog() (err error) {
	defer s.recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var id [16]byte
	var applied uint64
	have := false
	err = s.db.View(func(btx *bbolt.Tx) error {
		m := btx.Bucket([]byte(metaBucket))
		if v := m.Get([]byte(storeIDKey)); len(v) == len(id) {
			copy(id[:], v)
			have = true
		}
		if v := m.Get([]byte(appliedKey)); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: %s: %w", s.path, s.describeIOError(err))
	}
	if !have {
		rand.Read(id[:])
		err = s.db.Update(func(btx *bbolt.Tx) error {
			return btx.Bucket([]byte(metaBucket)).Put([]byte(storeIDKey), id[:])
		})
		if err != nil {
			return fmt.Errorf("bolt: %s: %w", s.path, s.describeIOError(err))
		}
	}
	entries, last, scans, err := readLog(s.path, id, applied)
	if err != nil {
		return err
	}
	s.mem = newMemtable(applied)
	s.applied.Store(applied)
	for i, e := range entries {
		ws, err := decodeEntry(e)
		if err != nil {
			return fmt.Errorf("bolt: the redo log of %s, commit %d: %w", s.path, applied+uint64(i)+1, err)
		}
		s.mem.publish(applied+uint64(i)+1, ws)
	}
	// The replayed commits stay in the memtable until the applier writes
	// them (at once if it can): a store whose disk is full opens and
	// serves them.
	s.log, err = openLog(s.path, id, scans)
	if err != nil {
		return fmt.Errorf("bolt: the redo log of %s: %w", s.path, s.describeIOError(err))
	}
	s.applyInBackground()
	if last > applied {
		s.kickApplier()
	}
	return nil
}

// stopLog ends the log at Close: everything applied, and both files
// started afresh, so that a closed store's directory is its file alone
// (the logs hold nothing); after a failure the logs keep what they hold,
// for the next Open.
func (s *Store) stopLog() error {
	if s.log == nil {
		return nil
	}
	defer s.log.close()
	if s.WriteError() != nil {
		return s.WriteError()
	}
	if err := s.apply(); err != nil {
		return err
	}
	for _, lf := range s.log.files {
		if err := lf.restart(s.log.id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) begin(writable bool) (btx *bbolt.Tx, err error) {
	defer s.recoverCorrupt(&err)
	btx, err = s.db.Begin(writable)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return btx, nil
}

// committedTxid returns the id of the last transaction the file's meta page
// names, or -1 if it cannot be read.
func (s *Store) committedTxid() (id int) {
	defer func() {
		if recover() != nil {
			id = -1
		}
	}()
	btx, err := s.db.Begin(false)
	if err != nil {
		return -1
	}
	defer btx.Rollback()
	return btx.ID()
}

// WriteError returns the error every Update returns once a commit failed
// after reaching the file, or nil while the store takes writes.
func (s *Store) WriteError() error {
	if p := s.fenced.Load(); p != nil {
		return *p
	}
	return s.Damage()
}

// describeIOError says in words what an operating-system error means for
// the store, keeping the error to compare with errors.Is.
func (s *Store) describeIOError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("the file system holding %s is full: %w", s.path, err)
	case errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("the disk quota of %s is exhausted: %w", s.path, err)
	case errors.Is(err, syscall.EIO):
		return fmt.Errorf("the disk reported an I/O error on %s: %w", s.path, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("the file system holding %s is read-only: %w", s.path, err)
	}
	return err
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
		s.sawDamage.Store(true)
		*err = fmt.Errorf("bolt: %s is corrupt: %v", s.path, r)
	}
}

// order remembers, per bucket written in a write transaction, how its
// puts fell against the ids it held: after the greatest id so far
// (appended: the audit trail and its digests, whose ids only grow; keys,
// whose ids are time-ordered) or not (late). A bucket whose puts were
// appended, but for a few late ones, is packed full when the transaction
// commits (bbolt's FillPercent 1.0) instead of being split into half-full
// pages that would stay half empty: half the pages to write at each
// commit, and half the file. The few late ones are the calls that made
// their ids before others but committed after them (key ids are taken when
// a call starts, and an apply ends between them): they land among the last
// pages, which the commit rewrites anyway.
type order struct {
	m map[*bbolt.Bucket]*bucketOrder
}

type bucketOrder struct {
	last       []byte // the greatest id in the bucket so far (a copy)
	puts, late int
}

// maxLate is the share of late puts (1/maxLate) up to which a bucket is
// still packed full.
const maxLate = 8

// note records that id is put in b; settle, once every put is noted, sets
// the buckets' fill.
func (o *order) note(b *bbolt.Bucket, id string) {
	if o.m == nil {
		o.m = make(map[*bbolt.Bucket]*bucketOrder, 4)
	}
	bo := o.m[b]
	if bo == nil {
		bo = &bucketOrder{}
		if k, _ := b.Cursor().Last(); k != nil {
			bo.last = append([]byte(nil), k...) // k is the file's memory: not ours to keep
		}
		o.m[b] = bo
	}
	bo.puts++
	if bo.last != nil && string(bo.last) >= id {
		bo.late++
		return
	}
	bo.last = append(bo.last[:0], id...)
}

// settle packs full the buckets whose puts were appended but for at most
// one in maxLate.
func (o *order) settle() {
	for b, bo := range o.m {
		if bo.late*maxLate <= bo.puts && bo.late < bo.puts {
			b.FillPercent = maxFillPercent
		} else {
			b.FillPercent = bbolt.DefaultFillPercent
		}
	}
}

// maxFillPercent is bbolt's upper bound of Bucket.FillPercent.
const maxFillPercent = 1.0

// scopeName maps a scope to its bucket name: non-empty and one-to-one.
func scopeName(scope string) []byte {
	if scope == "" || scope[0] == 0 {
		return append([]byte{0}, scope...)
	}
	return []byte(scope)
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

// damaged is the error of a read that met a record whose checksum fails.
func (s *Store) damaged(kind store.Kind, scope, id string) error {
	s.sawDamage.Store(true)
	return fmt.Errorf("bolt: %s is corrupt: damaged %s (checksum mismatch)", s.path, recordName(kind, scope, id))
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
	return store.CheckName("bolt", kind, scope, id, write)
}

// checkKind enforces store.Kind's documented alphabet, which also keeps
// kinds apart from the meta bucket's name.
func checkKind(k store.Kind) error { return store.CheckName("bolt", k, "", "", false) }

type tx struct {
	s *Store
	snapshot
	ws       *writeSet // the transaction's writes (nil in View)
	writable bool
	done     bool
}

// bucketOf returns the bucket of (kind, scope), or nil.
func bucketOf(btx *bbolt.Tx, kind store.Kind, scope string) *bbolt.Bucket {
	kb := btx.Bucket([]byte(kind))
	if kb == nil {
		return nil
	}
	return kb.Bucket(scopeName(scope))
}

// makeBucket returns the bucket of (kind, scope), made if need be.
func makeBucket(btx *bbolt.Tx, kind store.Kind, scope string) (*bbolt.Bucket, error) {
	kb, err := btx.CreateBucketIfNotExists([]byte(kind))
	if err != nil {
		return nil, fmt.Errorf("bolt: create bucket %q: %w", kind, err)
	}
	sb, err := kb.CreateBucketIfNotExists(scopeName(scope))
	if err != nil {
		return nil, fmt.Errorf("bolt: create bucket for scope %q: %w", scope, err)
	}
	return sb, nil
}

// find returns the record's value as the transaction sees it: its own
// writes, then the memtable, then the file (checksum verified). The value
// is shared: not to be kept or changed.
func (t *tx) find(kind store.Kind, scope, id string) ([]byte, bool, error) {
	if t.ws != nil {
		if v, ok := t.ws.get(kind, scope, id); ok {
			return v.val, !v.del, nil
		}
	}
	if v, ok := t.s.mem.get(kind, scope, id, t.at); ok {
		return v.val, !v.del, nil
	}
	b := bucketOf(t.btx, kind, scope)
	if b == nil {
		return nil, false, nil
	}
	stored, ok := lookup(b, []byte(id))
	if !ok {
		return nil, false, nil
	}
	val, ok := unseal(kind, scope, id, stored)
	if !ok {
		return nil, false, t.s.damaged(kind, scope, id)
	}
	return val, true, nil
}

func (t *tx) Get(kind store.Kind, scope, id string) (v []byte, err error) {
	err = t.Peek(kind, scope, id, func(val []byte) error {
		v = append([]byte{}, val...)
		return nil
	})
	return v, err
}

// Peek is Get without the copy: fn sees the value where the store keeps it
// (the mapped file, the memtable), its checksum verified.
func (t *tx) Peek(kind store.Kind, scope, id string, fn func(v []byte) error) (err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(false, kind, scope, id); err != nil {
		return err
	}
	val, ok, err := t.find(kind, scope, id)
	if err != nil || !ok {
		return errOr(err, store.ErrNotFound)
	}
	return fn(val)
}

var _ store.Peeker = (*tx)(nil)

func (t *tx) List(kind store.Kind, scope, after string, limit int) (items []store.Item, err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(false, kind, scope, ""); err != nil {
		return nil, err
	}
	upper := t.s.mem.span(kind, scope, after, t.at)
	if t.ws != nil {
		upper = over(t.ws.span(kind, scope, after), upper)
	}
	var k, v []byte
	var c *bbolt.Cursor
	if b := bucketOf(t.btx, kind, scope); b != nil {
		c = b.Cursor()
		if after == "" {
			k, v = c.First()
		} else {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
	}
	for limit <= 0 || len(items) < limit {
		if len(upper) > 0 && (k == nil || upper[0].id <= string(k)) {
			u := upper[0]
			upper = upper[1:]
			if k != nil && u.id == string(k) {
				k, v = c.Next()
			}
			if !u.del {
				items = append(items, store.Item{ID: u.id, Value: append([]byte{}, u.val...)})
			}
			continue
		}
		if k == nil {
			break
		}
		val, ok := unseal(kind, scope, string(k), v)
		if !ok {
			return nil, t.s.damaged(kind, scope, string(k))
		}
		items = append(items, store.Item{ID: string(k), Value: append([]byte{}, val...)})
		k, v = c.Next()
	}
	return items, nil
}

func (t *tx) Create(kind store.Kind, scope, id string, value []byte) (err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	_, ok, err := t.find(kind, scope, id)
	if err != nil {
		return err
	}
	if ok {
		return store.ErrExists
	}
	t.ws.set(kind, scope, id, version{val: append([]byte{}, value...)})
	return nil
}

func (t *tx) Put(kind store.Kind, scope, id string, value []byte) (err error) {
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	t.ws.set(kind, scope, id, version{val: append([]byte{}, value...)})
	return nil
}

func (t *tx) Delete(kind store.Kind, scope, id string) (err error) {
	defer t.s.recoverCorrupt(&err)
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	_, ok, err := t.find(kind, scope, id)
	if err != nil || !ok {
		return errOr(err, store.ErrNotFound)
	}
	t.ws.set(kind, scope, id, version{del: true})
	return nil
}
