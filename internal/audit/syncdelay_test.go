package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSegmentSyncDelay: with Options.SyncDelay, a read-only call's record
// is written to the operating system before Append returns and synced
// behind it. Readers do not see it until it is synced (a power cut could
// lose it); a crash of the process (the files closed with no sync) loses
// nothing acknowledged; the syncer syncs it within the delay without any
// reader asking; without SyncDelay it is synced before Append returns.
func TestSegmentSyncDelay(t *testing.T) {
	setSegMaxSize(t, 64<<20) // one segment (a new one syncs the one before)
	dir, b, sealer, clk := segFixture(t)
	segDir := filepath.Join(dir, "audit")
	open := func(delay time.Duration) *Trail {
		t.Helper()
		tr, err := Open(ctx, b, sealer, Options{Clock: clk, DigestEvery: 4, SegmentDir: segDir, SyncDelay: delay, Codec: intCodec{}, Effects: counted})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	durable := func(tr *Trail) uint64 {
		n, _ := tr.durableSeq()
		return n
	}

	tr := open(time.Hour) // the syncer waits longer than the test
	for i := 1; i <= 3; i++ {
		if err := tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "alice", clk.Now()), Effect: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if n := durable(tr); n != 0 {
		t.Fatalf("records up to %d shown before any sync, want none", n)
	}
	// The process dies: nothing more is synced or applied, the files close.
	crashTrail(tr)

	tr = open(5 * time.Millisecond)
	if n := readCounter(t, b); n != 3 {
		t.Fatalf("counter %d after the crash, want 3: an acknowledged record was lost", n)
	}
	if err := tr.Append(ctx, &Entry{Event: event(4, "Decrypt", "bob", clk.Now()), Effect: 10}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); durable(tr) < 4; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("record 4 not synced by the syncer after 10 s (records up to %d shown)", durable(tr))
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	tr = open(0)
	defer tr.Close()
	if err := tr.Append(ctx, &Entry{Event: event(5, "Decrypt", "bob", clk.Now()), Effect: 100}); err != nil {
		t.Fatal(err)
	}
	if n := durable(tr); n != 5 {
		t.Errorf("without SyncDelay, records up to %d shown once Append returned, want 5", n)
	}
	rep := verify(t, exportAll(t, tr, ExportQuery{})) // Export applies what is pending first
	if rep.Problem != nil || rep.Records != 5 {
		t.Errorf("the chain across the crash and the restarts: %d records, %v", rep.Records, rep.Problem)
	}
	if n := readCounter(t, b); n != 3+10+100 {
		t.Errorf("counter %d, want 113: each record's effect once", n)
	}
}

// TestSegmentSyncDelayFailedSync: when the syncer's sync fails, records
// acknowledged since the last sync may be lost with a power cut, and the
// chain goes on from them: the trail takes no more records.
func TestSegmentSyncDelayFailedSync(t *testing.T) {
	setSegMaxSize(t, 64<<20) // one segment (a new one syncs the one before)
	dir, b, sealer, clk := segFixture(t)
	tr, err := Open(ctx, b, sealer, Options{Clock: clk, SegmentDir: filepath.Join(dir, "audit"), SyncDelay: time.Millisecond, Codec: intCodec{}, Effects: counted})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Append(ctx, &Entry{Event: event(1, "Encrypt", "alice", clk.Now())}); err != nil {
		t.Fatal(err)
	}
	eio := errors.New("EIO")
	segSyncFault.Store(&eio)
	defer segSyncFault.Store(nil)
	if err := tr.Append(ctx, &Entry{Event: event(2, "Encrypt", "alice", clk.Now())}); err != nil {
		t.Fatalf("the write before a failing sync: %v", err)
	}
	for i, deadline := 3, time.Now().Add(10*time.Second); ; i++ {
		err := tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "alice", clk.Now())})
		if err != nil {
			if !strings.Contains(err.Error(), "EIO") || !strings.Contains(err.Error(), "restarts") {
				t.Errorf("Append after the failed sync: %v, want the sync's error and what to do", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the trail still takes records 10 s after its sync failed")
		}
		time.Sleep(time.Millisecond)
	}
	if err := tr.Sync(ctx); err == nil {
		t.Error("Sync succeeded after the failed sync: records whose durability is unknown would be applied")
	}
}

// TestSegmentSyncBesideWrites: syncs (the applier's, the syncer's) run
// beside the writer, which goes on writing meanwhile: every sync shows a
// prefix of the groups written, never a group written after it began
// whose bytes it may not cover, and the last shows them all.
func TestSegmentSyncBesideWrites(t *testing.T) {
	setSegMaxSize(t, 4<<10) // new segments now and then, under the syncs
	l, err := openSegLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	const groups = 400
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		seq := uint64(1)
		for g := range groups {
			n := uint64(g%5 + 1)
			frames, offs := frameGroup(seq, seq+n-1)
			if err := l.write(frames, seq, seq+n-1, offs, g%7 == 0); err != nil {
				t.Error(err)
				return
			}
			seq += n
		}
	})
	shown := func() uint64 {
		l.mu.RLock()
		defer l.mu.RUnlock()
		if len(l.segs) == 0 {
			return 0
		}
		s := l.segs[len(l.segs)-1]
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.last
	}
	var last uint64
	check := func() {
		n := shown()
		if n < last {
			t.Fatalf("records shown went back from %d to %d", last, n)
		}
		last = n
		if n > 0 {
			err := l.scan(n, n, func(seq uint64, line []byte) error {
				if want := fmt.Sprintf(`{"n":%d}`, n); seq != n || string(line) != want {
					t.Errorf("record %d reads %d: %q", n, seq, line)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("record %d shown but unreadable: %v", n, err)
			}
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if err := l.syncWritten(); err != nil {
			t.Fatal(err)
		}
		check()
	}
	wg.Wait()
	if err := l.syncWritten(); err != nil {
		t.Fatal(err)
	}
	check()
	want := uint64(0)
	for g := range groups {
		want += uint64(g%5 + 1)
	}
	if last != want {
		t.Errorf("after the last sync records up to %d shown, want %d", last, want)
	}
}

// TestSegmentPowerCutHole: a power cut with several groups written but not
// synced can keep a later page and lose an earlier one (writeback and the
// disk order pages as they like). The records end at the hole; what
// follows it is stale and must not be read as records later: after the
// restart writes new records over the hole and the process dies again,
// the trail still opens, with its chain whole.
func TestSegmentPowerCutHole(t *testing.T) {
	setSegMaxSize(t, 64<<20)
	dir, b, sealer, clk := segFixture(t)
	segDir := filepath.Join(dir, "audit")
	open := func() *Trail {
		t.Helper()
		tr, err := Open(ctx, b, sealer, Options{Clock: clk, SegmentDir: segDir, SyncDelay: time.Hour, Codec: intCodec{}, Effects: counted})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	tr := open()
	var ends []int64 // where each record's frame ends
	for i := 1; i <= 20; i++ {
		if err := tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "alice", clk.Now()), Effect: 1}); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, tr.seg.log.off)
	}
	path := tr.seg.log.wseg.path
	crashTrail(tr)
	// The power cut: records 6–10 never reached the disk, 11–20 did.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, ends[9]-ends[4]), ends[4]); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tr = open()
	if n := readCounter(t, b); n != 5 {
		t.Fatalf("counter %d after the power cut, want 5 (records 1–5)", n)
	}
	// Records 6–15 again, of other callers, frame for frame as long as
	// the lost ones: they end where the stale record 16 begins.
	for i := 6; i <= 15; i++ {
		if err := tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "carol", clk.Now()), Effect: 9}); err != nil {
			t.Fatal(err)
		}
	}
	if tr.seg.log.off != ends[14] {
		t.Fatalf("the new records end at %d, not where the stale record 16 begins (%d)", tr.seg.log.off, ends[14])
	}
	crashTrail(tr)

	tr, err = Open(ctx, b, sealer, Options{Clock: clk, SegmentDir: segDir, SyncDelay: time.Hour, Codec: intCodec{}, Effects: counted})
	if err != nil {
		t.Fatalf("the second restart: %v", err)
	}
	defer tr.Close()
	rep := verify(t, exportAll(t, tr, ExportQuery{}))
	if rep.Problem != nil || rep.Records != 15 {
		t.Errorf("after the second restart: %d records, %v; want 15, verified", rep.Records, rep.Problem)
	}
	if n := readCounter(t, b); n != 5+90 {
		t.Errorf("counter %d, want 95", n)
	}
}
