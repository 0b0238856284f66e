package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"strongroom/internal/clock"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
)

// counted is a test effect store: every effect adds its int to a counter in
// the store, in the transaction that applies it.
func counted(tx store.Tx, effects []any) error {
	n, err := counter(tx)
	if err != nil {
		return err
	}
	for _, e := range effects {
		n += e.(int)
	}
	return tx.Put(store.KindMeta, "", "test-counter", []byte(strconv.Itoa(n)))
}

func counter(tx store.Tx) (int, error) {
	b, err := tx.Get(store.KindMeta, "", "test-counter")
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

func readCounter(t *testing.T, st store.Store) int {
	t.Helper()
	var n int
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = counter(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// segFixture returns a directory with a bolt store in it (closed when the
// test ends), a root of trust and a clock.
func segFixture(t *testing.T) (string, *bolt.Store, rootkey.Sealer, *clock.Fake) {
	t.Helper()
	dir := t.TempDir()
	b, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return dir, b, rootkey.NewEphemeral(), clock.NewFake(t0)
}

// setSegMaxSize sets the size after which a group starts a new segment,
// for the test.
func setSegMaxSize(t *testing.T, n int64) {
	old := segMaxSize
	segMaxSize = n
	t.Cleanup(func() { segMaxSize = old })
}

// crashTrail stops tr as the death of its process would: nothing more is
// synced or applied, and the files close as they are.
func crashTrail(tr *Trail) {
	close(tr.seg.stop)
	<-tr.seg.done
	if tr.seg.syncDone != nil {
		<-tr.seg.syncDone
	}
	tr.seg.log.close()
}

// frameGroup returns the frames of records first to last, each line
// {"n":seq}, and where each begins.
func frameGroup(first, last uint64) (frames []byte, offs []int64) {
	for seq := first; seq <= last; seq++ {
		offs = append(offs, int64(len(frames)))
		frames = appendFrame(frames, seq, []byte(fmt.Sprintf(`{"n":%d}`, seq)), []byte{effectNone})
	}
	return frames, offs
}

// openSegTrail opens a trail over st with its segments in dir.
func openSegTrail(t *testing.T, st store.Store, sealer rootkey.Sealer, clk *clock.Fake, dir string) (*Trail, error) {
	t.Helper()
	return Open(ctx, st, sealer, Options{Clock: clk, DigestEvery: 4, SegmentDir: dir, Codec: intCodec{}, Effects: counted})
}

// TestSegmentsRecoverAfterACrash: records acknowledged while the store
// refused the applier's writes are durable in the segments only; a new
// process applies their effects exactly once, cuts off a torn write at the
// end, and goes on with an unbroken chain.
func TestSegmentsRecoverAfterACrash(t *testing.T) {
	dir, b, sealer, clk := segFixture(t)
	segDir := filepath.Join(dir, "audit")
	fs := &failingStore{Store: b}
	tr, err := openSegTrail(t, fs, sealer, clk, segDir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ { // applied
		if err := tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "alice", clk.Now()), Effect: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fs.failing.on.Store(true) // the store refuses writes: the segments do not
	for i := 6; i <= 12; i++ {
		if err := tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "bob", clk.Now()), Effect: 10}); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := tr.Sync(ctx); err == nil {
		t.Fatal("Sync while the store refuses writes")
	}
	if n := readCounter(t, b); n != 5 {
		t.Fatalf("counter %d before the crash, want 5", n)
	}
	// The process dies: the applier stops with 7 records not applied, and a
	// group's write was torn at the end of the segment.
	close(tr.seg.stop)
	<-tr.seg.done
	seg := tr.seg.log.wseg.path
	end := tr.seg.log.off
	tr.seg.log.close()
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := appendFrame(nil, 13, []byte(`{"type":"record","seq":13}`), []byte{effectCodec, '9'})
	if _, err := f.WriteAt(torn[:len(torn)-3], end); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tr, err = openSegTrail(t, b, sealer, clk, segDir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if n := readCounter(t, b); n != 75 {
		t.Fatalf("counter %d after recovery, want 75 (5×1 + 7×10, each once)", n)
	}
	if err := tr.Append(ctx, &Entry{Event: event(13, "Decrypt", "carol", clk.Now()), Effect: 100}); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, exportAll(t, tr, ExportQuery{MaxLines: 5}))
	if rep.Problem != nil || rep.Records != 13 || rep.LastSeq != 13 {
		t.Fatalf("after recovery: %+v %v", rep, rep.Problem)
	}
	if n := readCounter(t, b); n != 175 {
		t.Fatalf("counter %d, want 175", n)
	}
	tr.Close()
	// A clean reopen applies nothing twice.
	tr, err = openSegTrail(t, b, sealer, clk, segDir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if n := readCounter(t, b); n != 175 {
		t.Fatalf("counter %d after a clean reopen, want 175", n)
	}
}

// TestSegmentsAcrossFiles: records spread over many segment files read
// back in order, across files, by export and lookup, after a reopen too;
// pruning removes whole files.
func TestSegmentsAcrossFiles(t *testing.T) {
	setSegMaxSize(t, 4<<10)
	dir, b, sealer, clk := segFixture(t)
	segDir := filepath.Join(dir, "audit")
	tr, err := openSegTrail(t, b, sealer, clk, segDir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 1; i <= n; i++ {
		if err := tr.Append(ctx, &Entry{Event: event(i, []string{"Encrypt", "Decrypt"}[i%2], "alice", clk.Now()), Effect: 1}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	tr.Close()
	files, _ := filepath.Glob(filepath.Join(segDir, "*.seg"))
	if len(files) < 10 {
		t.Fatalf("%d segment files: the test wants many", len(files))
	}
	tr, err = openSegTrail(t, b, sealer, clk, segDir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rep := verify(t, exportAll(t, tr, ExportQuery{MaxLines: 37}))
	if rep.Problem != nil || rep.Records != n {
		t.Fatalf("%+v %v", rep, rep.Problem)
	}
	// A range in the middle, found by binary search across files.
	from := t0.Add(100 * time.Second)
	rep = verify(t, exportAll(t, tr, ExportQuery{Start: from, End: from.Add(49 * time.Second)}))
	if rep.Problem != nil || rep.Records != 50 || rep.FirstSeq != 101 {
		t.Fatalf("range: %+v %v", rep, rep.Problem)
	}
	p, err := tr.Lookup(ctx, LookupQuery{Key: AttrEventName, Value: "Decrypt", MaxResults: 200})
	if err != nil || len(p.Events) != n/2 || p.Events[0].EventID != "event-299" {
		t.Fatalf("lookup: %d events, %v", len(p.Events), err)
	}
	// Prune: the records older than the retention go with their files.
	_, err = Open(ctx, b, sealer, Options{Clock: clk, Retention: 150 * time.Second, SegmentDir: filepath.Join(dir, "unused"), Codec: intCodec{}})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a trail opened on the wrong segment directory: %v", err)
	}
	tr.Close()
	tr, err = Open(ctx, b, sealer, Options{Clock: clk, Retention: 150 * time.Second, SegmentDir: segDir, Codec: intCodec{}, Effects: counted})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	removed, err := tr.Prune(ctx)
	if err != nil || removed < 100 || removed > 150 {
		t.Fatalf("pruned %d, %v", removed, err)
	}
	after, _ := filepath.Glob(filepath.Join(segDir, "*.seg"))
	if len(after) >= len(files) {
		t.Fatalf("%d files before pruning, %d after", len(files), len(after))
	}
	rep = verify(t, exportAll(t, tr, ExportQuery{}))
	if rep.Problem != nil || rep.Records != n-removed || rep.FirstSeq != uint64(removed)+1 {
		t.Fatalf("after pruning: %+v %v", rep, rep.Problem)
	}
	if c := readCounter(t, b); c != n {
		t.Fatalf("counter %d, want %d", c, n)
	}
}

// TestSegmentOutbox: AppendTx (a record that must commit with the caller's
// writes) goes to the store's outbox with its effect, then into the
// segments, once.
func TestSegmentOutbox(t *testing.T) {
	dir, b, sealer, clk := segFixture(t)
	tr, err := openSegTrail(t, b, sealer, clk, filepath.Join(dir, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	boom := errors.New("rolled back")
	if err := b.Update(ctx, func(tx store.Tx) error {
		if err := tr.AppendTx(tx, &Entry{Event: event(1, "DeleteKey", "svc", clk.Now()), Effect: 1000}); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	for i := 2; i <= 4; i++ {
		if err := b.Update(ctx, func(tx store.Tx) error {
			return tr.AppendTx(tx, &Entry{Event: event(i, "RotateKey", "svc", clk.Now()), Effect: 7})
		}); err != nil {
			t.Fatal(err)
		}
		if c := readCounter(t, b); c != 7*(i-1) {
			t.Fatalf("the effect did not commit with the caller's writes: counter %d", c)
		}
	}
	if err := tr.Append(ctx, &Entry{Event: event(5, "Encrypt", "alice", clk.Now()), Effect: 1}); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, exportAll(t, tr, ExportQuery{}))
	if rep.Problem != nil || rep.Records != 4 {
		t.Fatalf("%+v %v", rep, rep.Problem)
	}
	p, err := tr.Lookup(ctx, LookupQuery{Key: AttrEventName, Value: "RotateKey"})
	if err != nil || len(p.Events) != 3 {
		t.Fatalf("%d RotateKey records, %v", len(p.Events), err)
	}
	if c := readCounter(t, b); c != 22 {
		t.Fatalf("counter %d, want 22", c)
	}
	noOutboxLeft(t, b)
}

// TestAppendTxQueued: a record written in a caller's transaction and handed
// to the queue when it commits keeps its place: before the records of calls
// made after it (AppendTx's would wait for the applier and land after them).
// One whose transaction rolls back leaves nothing; one whose group failed on
// the disk is moved from the outbox later, exactly once.
func TestAppendTxQueued(t *testing.T) {
	dir, b, sealer, clk := segFixture(t)
	tr, err := openSegTrail(t, b, sealer, clk, filepath.Join(dir, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	inTx := func(i int, fail error) error {
		var done func(bool)
		err := b.Update(ctx, func(tx store.Tx) error {
			if done != nil { // an earlier run of fn that did not commit
				done(false)
			}
			var err error
			if done, err = tr.AppendTxQueued(tx, &Entry{Event: event(i, "CreateKey", "alice", clk.Now()), Effect: 100}); err != nil {
				return err
			}
			return fail
		})
		done(err == nil)
		return err
	}
	boom := errors.New("rolled back")
	if err := inTx(1, boom); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	for i := 2; i <= 6; i += 2 {
		if err := inTx(i, nil); err != nil {
			t.Fatal(err)
		}
		if err := tr.Append(ctx, &Entry{Event: event(i+1, "Encrypt", "bob", clk.Now()), Effect: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// A group that fails on the disk: the record stays in the outbox and
	// is moved by the next Sync.
	fault := errors.New("disk on fire")
	segWriteFault.Store(&fault)
	if err := inTx(8, nil); err != nil {
		t.Fatal(err)
	}
	tr.waitQueued(ctx)
	segWriteFault.Store(nil)
	if err := tr.Append(ctx, &Entry{Event: event(9, "Encrypt", "bob", clk.Now()), Effect: 1}); err != nil {
		t.Fatal(err)
	}
	lines := exportAll(t, tr, ExportQuery{})
	rep := verify(t, lines)
	if rep.Problem != nil {
		t.Fatal(rep.Problem)
	}
	var ids []string
	for _, l := range lines {
		if i := strings.Index(string(l), `"eventID":"event-`); i >= 0 {
			ids = append(ids, string(l[i+17:i+20]))
		}
	}
	// 8 lands after 9: its group failed, and the outbox is drained at the
	// next Sync (the export's).
	if got, want := strings.Join(ids, " "), "002 003 004 005 006 007 009 008"; got != want {
		t.Fatalf("records in the order %s, want %s", got, want)
	}
	if c := readCounter(t, b); c != 4*100+4 {
		t.Fatalf("counter %d, want 404: every effect once", c)
	}
	noOutboxLeft(t, b)
}

// noOutboxLeft fails t if st's outbox holds a record.
func noOutboxLeft(t *testing.T, st store.Store) {
	t.Helper()
	var left []store.Item
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		left, err = tx.List(store.KindAuditMeta, "", outboxPrefix, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, it := range left {
		if strings.HasPrefix(it.ID, outboxPrefix) {
			t.Fatalf("outbox record %s left", it.ID)
		}
	}
}

// TestSegmentUnsyncedGroupsInvisible: a group written without sync (its
// records durable elsewhere) is not read until a sync — by a later synced
// group, or syncWritten — so that no reader sees a record a crash could
// lose; the sync shows every group written before it.
func TestSegmentUnsyncedGroupsInvisible(t *testing.T) {
	setSegMaxSize(t, 64<<20) // one segment (a new one syncs the one before)
	l, err := openSegLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	write := func(first, last uint64, sync bool) {
		t.Helper()
		frames, offs := frameGroup(first, last)
		if err := l.write(frames, first, last, offs, sync); err != nil {
			t.Fatal(err)
		}
	}
	// readable returns the last record a reader can read (each in turn,
	// checked).
	readable := func() (n uint64) {
		t.Helper()
		for seq := uint64(1); seq < 100; seq++ {
			err := l.scan(seq, seq, func(got uint64, line []byte) error {
				if want := fmt.Sprintf(`{"n":%d}`, seq); got != seq || string(line) != want {
					t.Errorf("record %d reads %d: %q, want %q", seq, got, line, want)
				}
				return nil
			})
			if err != nil {
				return seq - 1
			}
		}
		return 99
	}
	write(1, 3, true)
	if n := readable(); n != 3 {
		t.Fatalf("after a synced group: records up to %d readable, want 3", n)
	}
	write(4, 6, false)
	write(7, 7, false)
	if n := readable(); n != 3 {
		t.Errorf("unsynced groups readable: records up to %d, want 3", n)
	}
	write(8, 9, true) // syncs what came before too
	if n := readable(); n != 9 {
		t.Errorf("after a synced group: records up to %d readable, want 9", n)
	}
	write(10, 12, false)
	if err := l.syncWritten(); err != nil {
		t.Fatal(err)
	}
	if n := readable(); n != 12 {
		t.Errorf("after syncWritten: records up to %d readable, want 12", n)
	}
}

// TestSegmentFailedSyncOfUnsyncedGroups: a group whose own sync fails never
// becomes visible, and the trail goes on; a failed sync that covered groups
// written before without sync (whose records only the outbox now holds for
// sure) stops the segment log — no later write or apply — until a restart.
func TestSegmentFailedSyncOfUnsyncedGroups(t *testing.T) {
	setSegMaxSize(t, 64<<20)
	l, err := openSegLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	write := func(first, last uint64, sync bool) error {
		frames, offs := frameGroup(first, last)
		return l.write(frames, first, last, offs, sync)
	}
	last := func() uint64 {
		for seq := uint64(1); ; seq++ {
			if l.scan(seq, seq, func(uint64, []byte) error { return nil }) != nil {
				return seq - 1
			}
		}
	}
	eio := errors.New("EIO")
	if err := write(1, 2, true); err != nil {
		t.Fatal(err)
	}
	segSyncFault.Store(&eio)
	if err := write(3, 4, true); err == nil {
		t.Fatal("a write whose sync failed succeeded")
	}
	segSyncFault.Store(nil)
	if err := write(3, 5, true); err != nil { // its seqs again, in a new segment
		t.Fatalf("the trail stopped after its own group's failed sync: %v", err)
	}
	if n := last(); n != 5 {
		t.Errorf("records up to %d readable, want 5 (the failed group never shown)", n)
	}
	l.mu.RLock()
	first := l.segs[0]
	l.mu.RUnlock()
	first.mu.Lock()
	if first.last != 2 {
		t.Errorf("the first segment shows records up to %d, want 2: the failed group was published", first.last)
	}
	first.mu.Unlock()
	if err := write(6, 7, false); err != nil {
		t.Fatal(err)
	}
	segSyncFault.Store(&eio)
	err = l.syncWritten()
	segSyncFault.Store(nil)
	if err == nil {
		t.Fatal("syncWritten succeeded through a failing sync")
	}
	if err := l.syncWritten(); err == nil {
		t.Error("a second syncWritten succeeded after a failed one: the groups before may be lost")
	}
	if err := write(8, 8, true); err == nil {
		t.Error("a write succeeded after a failed sync of groups before it")
	}
	if n := last(); n != 5 {
		t.Errorf("records up to %d readable after the failed sync, want 5", n)
	}
}
