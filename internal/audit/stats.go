package audit

import (
	"context"
	"time"

	"strongroom/internal/store"
)

// Figures of the trail for monitoring (the node's /metrics). Reading them
// takes no part in writing records: the in-memory figures are read under the
// locks that guard them, for as long as it takes to read a length, and the
// rest comes from one read of the head in the store.

// Lag is how far the trail is behind the calls it records.
type Lag struct {
	// Queued is the records waiting for the group commit: handed to
	// Append, not yet written.
	Queued int
	// Unapplied is the records durable in segment files but not yet
	// applied to the store (their effects, the head, the digests): 0 when
	// the records are kept in the store.
	Unapplied uint64
	// Unsigned is the records applied after the last signed digest.
	Unsigned uint64
	// LastDigest is when the last digest was signed; before the first,
	// when the trail began.
	LastDigest time.Time
}

// Lag returns the trail's lag: the in-memory figures now, and the head as
// the store has it.
func (t *Trail) Lag(ctx context.Context) (Lag, error) {
	var h head
	err := t.st.View(ctx, func(tx store.Tx) error {
		var err error
		h, err = readHead(tx)
		return err
	})
	if err != nil {
		return Lag{}, err
	}
	l := Lag{Unsigned: h.Seq - h.DigestSeq, LastDigest: time.Unix(h.DigestTime, 0).UTC()}
	t.mu.Lock()
	l.Queued = len(t.queue)
	t.mu.Unlock()
	// Read after the head: what is durable only grows, so it is never
	// behind the head read.
	if durable, ok := t.durableSeq(); ok && durable > h.Seq {
		l.Unapplied = durable - h.Seq
	}
	return l, nil
}

// durableSeq returns the last record durable in the segment files (the end
// of the newest segment), and false when the records are kept in the store
// or no segment exists yet.
func (t *Trail) durableSeq() (uint64, bool) {
	if t.seg == nil {
		return 0, false
	}
	l := t.seg.log
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.segs) == 0 {
		return 0, false
	}
	s := l.segs[len(l.segs)-1]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, true
}

// TxCommitted tells the trail that a transaction in which its caller
// appended n records with AppendTx has committed, for RecordCounts (a store
// transaction runs its function again on a conflict, so AppendTx cannot
// count what commits). In segment mode such records went to the outbox and
// are counted when the group commit moves them into the segments: nothing
// is counted here then.
func (t *Trail) TxCommitted(n int) {
	if t.seg == nil && n > 0 {
		t.txRecords.Add(int64(n))
	}
}

// RecordCounts returns how many records this trail has written: by its
// group commit (Stats' records, in segment mode with the outbox's), and
// inside callers' transactions (AppendTx, as TxCommitted reported them).
func (t *Trail) RecordCounts() (groupCommit, inTx int64) {
	return t.appended.Load(), t.txRecords.Load()
}
