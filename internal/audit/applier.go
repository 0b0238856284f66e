package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"strongroom/internal/store"
)

// The trail over segment files (Options.SegmentDir). A group of records is
// acknowledged once its frames are durable in a segment; what the records
// change in the store (their effects: the meter, keys' last use), the
// trail's head and its digests are applied behind them by the applier, in
// one store transaction for many groups. A record durable but not yet
// applied when the process dies is applied at the next Open, from the
// effect its frame carries: nothing acknowledged is lost, nothing is
// applied twice (the head says which records were applied, and it commits
// with their effects).
//
// AppendTx cannot write a segment inside a store transaction: it writes the
// record to an outbox in the store instead (KindAuditMeta "outbox/…") and
// applies its effect there, so that both commit with the caller's writes;
// the applier moves outbox records into the segments, and deletes them in
// the transaction that applies their group.

// segTrail is the segment-mode state of a Trail.
type segTrail struct {
	log   *segLog
	codec EffectCodec
	from  uint64 // the first record kept in segments (head.SegFrom)

	// The chain's end, durable in the segments (the leader's).
	seq  uint64
	hash string

	frames []byte
	offs   []int64
	effect []byte // a frame's effect, encoded (reused)
	errs   []error

	mu      sync.Mutex
	pending []*segGroup // durable, not yet applied, in order
	waiting int         // records in pending
	inbox   map[string]bool
	applyMu sync.Mutex // one apply at a time
	drainMu sync.Mutex // one outbox drain at a time

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// With Options.SyncDelay: the leader kicks the syncer after writing a
	// group without sync; syncDone closes when the syncer stops.
	syncKick chan struct{}
	syncDone chan struct{}
}

// segGroup is one group's records, durable in a segment.
type segGroup struct {
	first, last uint64
	hash        string
	file        uint64
	off         int64
	effects     []any
	applies     []func(store.Tx) error
	outbox      []string // outbox ids of records moved here
}

// Frame effect kinds: the first byte of a frame's effect.
const (
	effectNone   = 0
	effectCodec  = 1 // the codec's bytes follow
	effectOutbox = 2 // the outbox id follows: its effect was applied with its writes
)

const (
	outboxPrefix = "outbox/"
	// applyEvery is how often the applier applies what is durable: one
	// store commit (two fsyncs and the pages of the meter, the keys' last
	// use and the head) for every group written in that time. Queries call
	// Sync first, so the delay is never seen through the API.
	applyEvery = 100 * time.Millisecond
	// applyAt wakes the applier early when this many records wait.
	applyAt = 4096
)

// openSegments recovers the segment files: the records after the head
// (durable but not applied when the process stopped) are checked, chained
// and applied; a torn frame at the end of the newest segment (a group whose
// write never completed, so was never acknowledged) is cut off.
func (t *Trail) openSegments(ctx context.Context) error {
	if t.opts.Codec == nil {
		return errors.New("audit: segment files need an effect codec")
	}
	l, err := openSegLog(t.opts.SegmentDir)
	if err != nil {
		return err
	}
	l.allocOnly = t.opts.SyncDelay > 0
	st := &segTrail{log: l, codec: t.opts.Codec, inbox: map[string]bool{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	var h head
	err = t.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if h, err = readHead(tx); err != nil || h.SegFrom != 0 {
			return err
		}
		// The records so far are in the store; the segments begin after them.
		h.SegFrom, h.SegFile, h.SegOff = h.Seq+1, h.Seq+1, segHeaderSize
		return tx.Put(store.KindAuditMeta, "", metaHead, mustJSON(h))
	})
	if err != nil {
		l.close()
		return fmt.Errorf("audit: opening the trail: %w", err)
	}
	st.seq, st.hash, st.from = h.Seq, h.Hash, h.SegFrom
	g, err := t.recoverTail(l, h, st)
	if err != nil {
		l.close()
		return err
	}
	t.seg = st
	if g != nil {
		st.pending = append(st.pending, g)
		if err := t.apply(ctx); err != nil {
			l.close()
			t.seg = nil
			return fmt.Errorf("audit: applying the records written before the last stop: %w", err)
		}
		t.log.Info("audit trail: applied records written before the last stop", "records", g.last-g.first+1)
	}
	go t.applier()
	if t.opts.SyncDelay > 0 {
		st.syncKick, st.syncDone = make(chan struct{}, 1), make(chan struct{})
		go t.syncer()
	}
	return nil
}

// syncer makes the groups written without sync durable, SyncDelay after
// the first of them, until Close. A failed sync stops the trail (segLog.
// syncErr): records already acknowledged may be lost with a power cut
// (not with a crash of the process), so it is logged as such.
func (t *Trail) syncer() {
	st := t.seg
	defer close(st.syncDone)
	for {
		select {
		case <-st.stop:
			return
		case <-st.syncKick:
		}
		select { // the groups of that time gather: one sync for them all
		case <-st.stop:
			return // Close syncs
		case <-time.After(t.opts.SyncDelay):
		}
		if err := st.log.syncWritten(); err != nil {
			t.log.Error("audit trail: syncing the segment failed; records acknowledged in the last moments may be lost if the machine loses power, and the segments take no more writes until strongroom restarts", "err", err)
			return
		}
	}
}

// recoverTail reads the segments from the head's position to the end of
// the frames: it returns the group of records found after the head (nil
// if none) and leaves the log ready to write after them.
func (t *Trail) recoverTail(l *segLog, h head, st *segTrail) (*segGroup, error) {
	segs := l.segs
	i := slices.IndexFunc(segs, func(s *segment) bool { return s.first == h.SegFile })
	if i < 0 {
		switch {
		case h.Seq+1 == h.SegFrom && len(segs) == 0:
			return nil, nil // nothing written to segments yet
		case h.Seq+1 == h.SegFrom && segs[0].first == h.SegFrom:
			i = 0
		default:
			return nil, fmt.Errorf("audit: the segment %s holding record %d is missing from %s", segName(h.SegFile), h.Seq, l.dir)
		}
	}
	g := &segGroup{first: h.Seq + 1, last: h.Seq, hash: h.Hash}
	seq, prev := h.Seq, h.Hash
	off := h.SegOff
	var buf []byte
	for ; i < len(segs); i, off = i+1, segHeaderSize {
		s := segs[i]
		f, err := s.reader()
		if err != nil {
			return nil, err
		}
		if err := s.readHeader(f); err != nil {
			return nil, err
		}
		if s.first > seq+1 {
			return nil, fmt.Errorf("audit: %s begins at record %d, but the records end at %d: records are missing", s.path, s.first, seq)
		}
		upTo := ^uint64(0)
		if i+1 < len(segs) {
			upTo = segs[i+1].first - 1
		}
		if s.first <= seq && off == segHeaderSize {
			// Earlier segments stop before the next one's first record, so
			// this is a head whose position contradicts its sequence number.
			return nil, fmt.Errorf("audit: %s overlaps records already read (up to %d)", s.path, seq)
		}
		for seq < upTo {
			var fr segFrame
			fr, buf, err = readFrame(f, s.path, off, buf)
			if errors.Is(err, errSegEnd) {
				break
			}
			if err != nil {
				if i+1 < len(segs) {
					break // a failed group's tail: the next segment goes on
				}
				// The newest segment's torn end: a group whose write never
				// completed, never acknowledged. Cut it off.
				t.log.Warn("audit trail: cutting off a torn write at the end of a segment", "segment", s.path, "offset", off, "err", err)
				if err := truncateSync(s.path, off); err != nil {
					return nil, fmt.Errorf("audit: cutting off the torn end of %s: %w", s.path, err)
				}
				break
			}
			if fr.seq != seq+1 {
				return nil, fmt.Errorf("audit: %s: offset %d: record %d where %d was expected", s.path, off, fr.seq, seq+1)
			}
			fprev, fhash, err := linkOf(fr.line)
			if err != nil {
				return nil, fmt.Errorf("audit: %s: offset %d: %w", s.path, off, err)
			}
			ev, _ := storedEvent(fr.line)
			if fprev != prev || fhash != recordHash(fr.seq, prev, ev) {
				return nil, fmt.Errorf("audit: %s: offset %d: record %d does not continue the chain", s.path, off, fr.seq)
			}
			if err := st.addEffect(g, fr.effect); err != nil {
				return nil, fmt.Errorf("audit: %s: offset %d: %w", s.path, off, err)
			}
			seq, prev, off = fr.seq, fhash, fr.next
		}
		if i == len(segs)-1 {
			// Whatever follows the last good frame is no record: zeros
			// ahead of the writes, or, after a power cut that kept a later
			// page of unsynced groups and lost an earlier one, stale frames
			// that the next writes could end exactly in front of. Cut it
			// off, so that nothing past the records is ever read as one.
			fi, err := f.Stat()
			if err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
			if fi.Size() > off {
				if err := truncateSync(s.path, off); err != nil {
					return nil, fmt.Errorf("audit: cutting %s after its last record: %w", s.path, err)
				}
			}
			s.mu.Lock()
			s.resumed, s.scanTo, s.last, s.end = true, seq, seq, off // indexed on first read
			s.mu.Unlock()
			if err := l.resume(s, off); err != nil {
				return nil, err
			}
			g.file, g.off = s.first, off
		}
	}
	st.seq, st.hash = seq, prev
	if seq == h.Seq {
		return nil, nil
	}
	g.last, g.hash = seq, prev
	return g, nil
}

// addEffect adds a recovered frame's effect to g.
func (st *segTrail) addEffect(g *segGroup, b []byte) error {
	if len(b) == 0 {
		return errors.New("frame without an effect kind")
	}
	switch b[0] {
	case effectNone:
	case effectCodec:
		e, err := st.codec.DecodeEffect(b[1:])
		if err != nil {
			return fmt.Errorf("undecodable effect: %w", err)
		}
		g.effects = append(g.effects, e)
	case effectOutbox:
		g.outbox = append(g.outbox, string(b[1:]))
	default:
		return fmt.Errorf("unknown effect kind %d", b[0])
	}
	return nil
}

// commitSegment writes a group to the segments: the leader's commit in
// segment mode. storeErr is set when the write failed (every entry then
// has it).
func (t *Trail) commitSegment(batch []*waiter) (errs []error, storeErr error) {
	st := t.seg
	if cap(st.errs) < len(batch) {
		st.errs = make([]error, len(batch))
	}
	errs = st.errs[:len(batch)] // the leader's (lead is done with it before the next leader starts)
	clear(errs)
	frames, offs := st.frames[:0], st.offs[:0]
	seq, prev := st.seq, st.hash
	g := &segGroup{first: seq + 1}
	eb := st.effect[:0]
	defer func() { st.effect = eb[:0] }()
	for i, w := range batch {
		eb = eb[:0]
		switch {
		case w.outboxID != "":
			eb = append(append(eb, effectOutbox), w.outboxID...)
		case w.e.Effect != nil:
			var err error
			if eb, err = st.codec.AppendEffect(append(eb, effectCodec), w.e.Effect); err != nil {
				errs[i] = err
				continue
			}
		default:
			eb = append(eb, effectNone)
		}
		seq++
		hash := recordHash(seq, prev, w.body)
		offs = append(offs, int64(len(frames)))
		frames = appendFrame(frames, seq, w.line(seq, prev, hash), eb)
		prev = hash
		if w.outboxID != "" {
			g.outbox = append(g.outbox, w.outboxID)
		} else if w.e.Effect != nil {
			g.effects = append(g.effects, w.e.Effect)
		}
		if w.e.Apply != nil {
			g.applies = append(g.applies, w.e.Apply)
		}
	}
	if cap(frames) <= 4<<20 {
		st.frames, st.offs = frames, offs
	}
	if seq == st.seq {
		return errs, nil
	}
	// Records durable in the store's outbox (a changing call's, or moved
	// from the outbox) need no sync now: apply syncs before it deletes
	// them from the outbox. Others are synced now, or with SyncDelay
	// within that time by the syncer.
	others := len(g.outbox) < int(seq-g.first+1)
	sync := others && t.opts.SyncDelay <= 0
	if err := st.log.write(frames, g.first, seq, offs, sync); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs, err
	}
	if others && !sync {
		select {
		case st.syncKick <- struct{}{}:
		default: // a sync is due already
		}
	}
	st.seq, st.hash = seq, prev
	g.last, g.hash, g.file, g.off = seq, prev, st.log.wseg.first, st.log.off
	t.appended.Add(int64(seq - g.first + 1))
	t.groups.Add(1)
	st.mu.Lock()
	st.pending = append(st.pending, g)
	st.waiting += int(seq - g.first + 1)
	full := st.waiting >= applyAt
	st.mu.Unlock()
	if full {
		select {
		case st.wake <- struct{}{}:
		default:
		}
	}
	return errs, nil
}

// applier applies durable groups to the store, and moves outbox records
// into the segments, until Close.
func (t *Trail) applier() {
	st := t.seg
	defer close(st.done)
	tick := time.NewTicker(applyEvery)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-st.stop:
			return
		case <-tick.C:
		case <-st.wake:
			// Let a few groups gather: one store commit for many.
			select {
			case <-st.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		err := t.Sync(context.Background())
		switch {
		case err != nil && !failing:
			t.log.Error("audit trail: applying records to the store failed; they are durable and will be applied when it accepts writes", "err", err)
			failing = true
		case err == nil && failing:
			t.log.Warn("audit trail: the store accepts writes again; pending records applied")
			failing = false
		}
	}
}

// apply commits the pending groups' effects and the head in one store
// transaction.
func (t *Trail) apply(ctx context.Context) error {
	st := t.seg
	st.applyMu.Lock()
	defer st.applyMu.Unlock()
	st.mu.Lock()
	groups := st.pending
	st.pending, st.waiting = nil, 0
	st.mu.Unlock()
	if len(groups) == 0 {
		return nil
	}
	err := st.log.syncWritten()
	if err == nil {
		err = t.st.Update(ctx, func(tx store.Tx) error {
			return t.applyTx(tx, groups)
		})
	}
	st.mu.Lock()
	if err != nil {
		st.pending = append(groups, st.pending...)
		for _, g := range groups {
			st.waiting += int(g.last - g.first + 1)
		}
	} else {
		for _, g := range groups {
			for _, id := range g.outbox {
				delete(st.inbox, id)
			}
		}
	}
	st.mu.Unlock()
	return err
}

// applyTx is apply's transaction: the groups' effects, their outbox
// entries deleted, the head moved past them, digests where due.
func (t *Trail) applyTx(tx store.Tx, groups []*segGroup) error {
	h, err := readHead(tx)
	if err != nil {
		return err
	}
	var effects []any
	var last *segGroup
	for _, g := range groups {
		if g.last <= h.Seq {
			continue // applied already
		}
		if g.first != h.Seq+1 && (last == nil || g.first != last.last+1) {
			return fmt.Errorf("audit: records %d–%d do not follow the applied record %d", g.first, g.last, h.Seq)
		}
		effects = append(effects, g.effects...)
		for _, a := range g.applies {
			if err := a(tx); err != nil {
				t.log.Error("audit trail: an entry's store change failed; its record is kept", "err", err)
			}
		}
		for _, id := range g.outbox {
			if err := tx.Delete(store.KindAuditMeta, "", outboxPrefix+id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		last = g
		if h.First == 0 {
			h.First = h.SegFrom
		}
		h.Seq, h.Hash, h.SegFile, h.SegOff = g.last, g.hash, g.file, g.off
		// A digest where one is due, at the end of a group, as if the
		// groups had been applied one by one.
		if h.Seq-h.DigestSeq >= uint64(t.opts.DigestEvery) || t.sealDue(h) {
			if err := t.digestTx(tx, &h, t.clock.Now()); err != nil {
				return err
			}
		}
	}
	if last == nil {
		return nil
	}
	if len(effects) > 0 && t.effects != nil {
		if err := t.effects(tx, effects); err != nil {
			return err
		}
	}
	return tx.Put(store.KindAuditMeta, "", metaHead, mustJSON(h))
}

// Sync applies what is durable but not yet applied: after it, the store
// (head, digests, meter, keys' last use) reflects every record
// acknowledged before the call. Queries call it first.
func (t *Trail) Sync(ctx context.Context) error {
	if t.seg == nil {
		return nil
	}
	st := t.seg
	t.waitQueued(ctx)
	// The outbox is read every time (one store read): a flag set by
	// AppendTx could be seen before the caller's transaction commits.
	st.drainMu.Lock() // and wait for a drain under way
	err := t.drainOutbox(ctx)
	st.drainMu.Unlock()
	if err != nil {
		return err
	}
	return t.apply(ctx)
}

// Close stops the applier after applying what is pending. The trail must
// not be used after.
func (t *Trail) Close() error {
	if t.seg == nil {
		return nil
	}
	st := t.seg
	st.closeOnce.Do(func() { close(st.stop) })
	<-st.done
	if st.syncDone != nil {
		<-st.syncDone
	}
	return errors.Join(t.Sync(context.Background()), st.log.close())
}

// outboxEntry is a record written by AppendTx, waiting in the store to be
// moved into the segments.
type outboxEntry struct {
	Event json.RawMessage `json:"event"`
}

// outboxTx writes e to the outbox in tx and applies its effect there.
func (t *Trail) outboxTx(tx store.Tx, e *Entry) error {
	if _, _, err := t.outboxWrite(tx, e); err != nil {
		return err
	}
	select {
	case t.seg.wake <- struct{}{}:
	default:
	}
	return nil
}

// outboxWrite writes e to the outbox in tx, applies its effect there, and
// returns its waiter and outbox id.
func (t *Trail) outboxWrite(tx store.Tx, e *Entry) (*waiter, string, error) {
	w, err := newWaiter(e, false)
	if err != nil {
		return nil, "", err
	}
	id := outboxID(time.Now().UnixNano(), NewEventID())
	// outboxEntry's JSON, built around the event's (which appendJSON made
	// valid): json.Marshal would validate and compact it again.
	v := make([]byte, 0, len(`{"event":}`)+len(w.body))
	v = append(append(append(v, `{"event":`...), w.body...), '}')
	// Put, not Create: the id (a time and a random UUID) names no record
	// yet, and Create's lookup of it was ~2% of CreateKey's CPU.
	if err := tx.Put(store.KindAuditMeta, "", outboxPrefix+id, v); err != nil {
		return nil, "", err
	}
	if e.Apply != nil {
		if err := e.Apply(tx); err != nil {
			return nil, "", err
		}
	}
	if e.Effect != nil && t.effects != nil {
		if err := t.effects(tx, []any{e.Effect}); err != nil {
			return nil, "", err
		}
	}
	return w, id, nil
}

// outboxID names an outbox record: its time, zero-padded to 20 digits so
// that ids sort as times do, and a random id ("%020d-%s").
func outboxID(nanos int64, random string) string {
	var b [20 + 1 + 36]byte
	d := strconv.AppendInt(b[:0], nanos, 10)
	n := copy(b[20-len(d):], d)
	for i := range 20 - n {
		b[i] = '0'
	}
	b[20] = '-'
	return string(append(b[:21], random...))
}

// AppendTxQueued is AppendTx for a caller that can say when tx has ended:
// it calls done(true) once tx has committed, done(false) if it did not.
// With segment files the record goes to the outbox in tx, as with
// AppendTx, and done(true) puts it at once in the group commit's queue, so
// that it is written to the segments before the records of calls made
// after the caller's (AppendTx's records wait for the applier to move them,
// after records of later calls). The caller is not kept waiting: the record
// is durable in the outbox already. With the records in the store it is
// AppendTx, and done does nothing.
func (t *Trail) AppendTxQueued(tx store.Tx, e *Entry) (done func(committed bool), err error) {
	if t.seg == nil {
		return func(bool) {}, t.AppendTx(tx, e)
	}
	w, id, err := t.outboxWrite(tx, e)
	if err != nil {
		return nil, err
	}
	st := t.seg
	st.mu.Lock()
	st.inbox[id] = true // not for drainOutbox, which sees it once tx commits
	st.mu.Unlock()
	return func(committed bool) {
		if !committed {
			st.mu.Lock()
			delete(st.inbox, id)
			st.mu.Unlock()
			return
		}
		// Its effect and Apply ran in tx: the frame says so, and only the
		// outbox entry is left for the applier to delete.
		w.e, w.outboxID, w.queued = &Entry{}, id, true
		t.queued.Add(1)
		t.mu.Lock()
		t.queue = append(t.queue, w)
		lead := !t.leading // nobody writes the queue: a goroutine will
		t.leading = true
		t.mu.Unlock()
		if lead {
			go t.lead(nil)
		}
	}, nil
}

// unqueue ends an AppendTxQueued record's stay in the queue: written, or
// not (the group failed), when drainOutbox moves it from the outbox later.
func (t *Trail) unqueue(w *waiter, written bool) {
	if !written {
		st := t.seg
		st.mu.Lock()
		delete(st.inbox, w.outboxID)
		st.mu.Unlock()
	}
	w.queued = false
	t.queued.Add(-1)
}

// waitQueued waits until the AppendTxQueued records handed to the queue so
// far are written (or failed), for at most a few seconds.
func (t *Trail) waitQueued(ctx context.Context) {
	for deadline := time.Now().Add(5 * time.Second); t.queued.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(50 * time.Microsecond)
	}
}

// drainOutbox moves up to 1,000 outbox records into the segments (as one group
// commit, like Appends), skipping those moved but not yet applied.
func (t *Trail) drainOutbox(ctx context.Context) error {
	st := t.seg
	var items []store.Item
	err := t.st.View(ctx, func(tx store.Tx) error {
		var err error
		items, err = tx.List(store.KindAuditMeta, "", outboxPrefix, 1000)
		return err
	})
	if err != nil {
		return err
	}
	var ws []*waiter
	st.mu.Lock()
	for _, it := range items {
		if len(it.ID) <= len(outboxPrefix) || it.ID[:len(outboxPrefix)] != outboxPrefix {
			break
		}
		id := it.ID[len(outboxPrefix):]
		if st.inbox[id] {
			continue
		}
		var oe outboxEntry
		if err := json.Unmarshal(it.Value, &oe); err != nil || len(oe.Event) == 0 {
			st.mu.Unlock()
			return fmt.Errorf("audit: outbox record %s: undecodable", id)
		}
		buf := make([]byte, maxLineHead, maxLineHead+len(oe.Event)+1)
		buf = append(append(buf, oe.Event...), '}')
		ws = append(ws, &waiter{e: &Entry{}, buf: buf, body: buf[maxLineHead : len(buf)-1], outboxID: id})
		st.inbox[id] = true
	}
	st.mu.Unlock()
	if len(ws) == 0 {
		return nil
	}
	err = t.appendWaiters(ws)
	if err != nil {
		st.mu.Lock()
		for _, w := range ws {
			delete(st.inbox, w.outboxID)
		}
		st.mu.Unlock()
	}
	return err
}

// appendWaiters writes ws through the group commit, as the leader, and
// waits for them.
func (t *Trail) appendWaiters(ws []*waiter) error {
	for _, w := range ws {
		w.res = make(chan result, 1)
	}
	t.mu.Lock()
	t.queue = append(t.queue, ws...)
	lead := !t.leading
	if lead {
		t.leading = true
	}
	t.mu.Unlock()
	var errs []error
	for i, w := range ws {
		if lead && i == 0 {
			if err := t.lead(w); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		r := <-w.res
		if r.lead {
			if err := t.lead(w); err != nil {
				errs = append(errs, err)
			}
		} else if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}

// pruneSegments removes whole segments whose records are all older than
// cutoff (never the newest segment), and returns how many records went.
func (t *Trail) pruneSegments(ctx context.Context, cutoff string) (int, error) {
	l := t.seg.log
	l.mu.RLock()
	segs := slices.Clone(l.segs)
	l.mu.RUnlock()
	var h head
	if err := t.st.View(ctx, func(tx store.Tx) error {
		var err error
		h, err = readHead(tx)
		return err
	}); err != nil {
		return 0, err
	}
	next := uint64(0)
	for i := 0; i+1 < len(segs); i++ {
		s := segs[i]
		last := segs[i+1].first - 1
		if last >= h.Seq || last < h.First {
			if last < h.First {
				continue
			}
			break
		}
		var newest string
		err := l.scan(last, last, func(_ uint64, line []byte) error {
			r, err := parseLine(line)
			if err != nil {
				return err
			}
			newest = r.meta.EventTime
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("audit: pruning %s: %w", s.path, err)
		}
		if newest >= cutoff {
			break
		}
		next = last + 1
	}
	if next == 0 {
		return 0, nil
	}
	removed := 0
	err := t.st.Update(ctx, func(tx store.Tx) error {
		h, err := readHead(tx)
		if err != nil {
			return err
		}
		if next <= h.First {
			removed = 0
			return nil
		}
		removed = int(next - h.First)
		return pruneTo(tx, h, next)
	})
	if err != nil {
		return 0, err
	}
	if _, err := l.removeBefore(next); err != nil {
		return removed, err
	}
	return removed, nil
}
