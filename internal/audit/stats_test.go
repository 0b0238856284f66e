package audit

import (
	"sync"
	"testing"
	"time"

	"strongroom/internal/store"
	"strongroom/internal/store/memory"
)

func lagOf(t *testing.T, tr *Trail) Lag {
	t.Helper()
	l, err := tr.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLag: records waiting for the group commit, records durable in the
// segments but not applied, records since the last digest and its time,
// each as the trail stands.
func TestLag(t *testing.T) {
	tr, clk := newTrail(t, memory.New(), Options{DigestEvery: 1000})
	if l := lagOf(t, tr); l != (Lag{LastDigest: t0}) {
		t.Fatalf("new trail: %+v", l)
	}

	// A group commit under way (the leadership taken): Appends queue.
	tr.mu.Lock()
	tr.leading = true
	tr.mu.Unlock()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "alice", clk.Now())}); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for lagOf(t, tr).Queued != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the queue never held the 3 Appends: %+v", lagOf(t, tr))
		}
		time.Sleep(time.Millisecond)
	}
	tr.lead(nil) // writes them and hands the leadership back
	wg.Wait()
	if err := tr.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if l := lagOf(t, tr); l.Queued != 0 || l.Unapplied != 0 || l.Unsigned != 3 || !l.LastDigest.Equal(t0) {
		t.Fatalf("after the group commit: %+v", l)
	}

	if tr.seg != nil {
		// The applier held off: records durable in the segments wait.
		tr.seg.applyMu.Lock()
		for i := range 2 {
			if err := tr.Append(ctx, &Entry{Event: event(10+i, "Encrypt", "bob", clk.Now())}); err != nil {
				tr.seg.applyMu.Unlock()
				t.Fatal(err)
			}
		}
		err := tr.seg.log.syncWritten() // with SyncDelay, not yet synced: Unapplied counts what is durable
		l := lagOf(t, tr)
		tr.seg.applyMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if l.Unapplied != 2 || l.Unsigned != 3 {
			t.Fatalf("two records durable, not applied: %+v", l)
		}
		if err := tr.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if l := lagOf(t, tr); l.Unapplied != 0 || l.Unsigned != 5 {
			t.Fatalf("after Sync: %+v", l)
		}
	}

	clk.Advance(2 * time.Hour)
	if err := tr.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if l := lagOf(t, tr); l.Unsigned != 0 || !l.LastDigest.Equal(clk.Now()) {
		t.Fatalf("after Seal at %v: %+v", clk.Now(), l)
	}
}

// TestRecordCounts: records written inside a caller's transaction are
// counted once the caller reports its commit (in segment mode, when the
// group commit moves them from the outbox, like its own).
func TestRecordCounts(t *testing.T) {
	st := memory.New()
	tr, clk := newTrail(t, st, Options{})
	if err := tr.Append(ctx, &Entry{Event: event(1, "Encrypt", "alice", clk.Now())}); err != nil {
		t.Fatal(err)
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		return tr.AppendTx(tx, &Entry{Event: event(2, "CreateKey", "alice", clk.Now())})
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.TxCommitted(1)
	if err := tr.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	g, tx := tr.RecordCounts()
	want := [2]int64{1, 1}
	if tr.seg != nil {
		want = [2]int64{2, 0}
	}
	if [2]int64{g, tx} != want {
		t.Errorf("RecordCounts = %d, %d; want %d, %d", g, tx, want[0], want[1])
	}
}
