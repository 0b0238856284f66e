package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strongroom/internal/clock"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
	"strongroom/internal/store/memory"
)

var ctx = context.Background()

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func newTrail(t testing.TB, st store.Store, o Options) (*Trail, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	o.Clock = clk
	segmentOptions(t, &o, t.TempDir())
	tr, err := Open(ctx, st, rootkey.NewEphemeral(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, clk
}

// The package's tests run three times (TestMain): with the records in the
// store, as on PostgreSQL; in segment files, as on the embedded store, each
// group synced before Append returns (modeEnv=1); and in segment files
// synced behind the writes (modeEnv=delay: Options.SyncDelay, serve's
// default).
const modeEnv = "STRONGROOM_AUDIT_TEST_SEGMENTS"

func segmentMode() bool { return os.Getenv(modeEnv) != "" }

// segmentOptions sets o up for segment files in dir when the tests run in
// segment mode.
func segmentOptions(t testing.TB, o *Options, dir string) {
	if segmentMode() && o.SegmentDir == "" {
		o.SegmentDir, o.Codec = filepath.Join(dir, "audit"), intCodec{}
		if os.Getenv(modeEnv) == "delay" {
			o.SyncDelay = time.Millisecond
		}
	}
}

// intCodec encodes the tests' effects, ints.
type intCodec struct{}

func (intCodec) AppendEffect(b []byte, e any) ([]byte, error) {
	return strconv.AppendInt(b, int64(e.(int)), 10), nil
}
func (intCodec) DecodeEffect(b []byte) (any, error) { return strconv.Atoi(string(b)) }

func TestMain(m *testing.M) {
	flag.Parse()
	if segmentMode() {
		segMaxSize = 1 // a segment per group: many segments, exact pruning
	}
	code := m.Run()
	if code != 0 || segmentMode() || flag.Lookup("test.fuzz").Value.String() != "" || flag.Lookup("test.bench").Value.String() != "" {
		os.Exit(code)
	}
	for _, mode := range []string{"1", "delay"} {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), modeEnv+"="+mode)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "audit tests with segment files (%s=%s): %v\n", modeEnv, mode, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

func event(i int, name, user string, at time.Time) *Event {
	return &Event{
		EventVersion: EventVersion,
		UserIdentity: UserIdentity{Type: "IAMUser", UserName: user, AccountID: "111122223333", AccessKeyID: "AKIA" + strings.ToUpper(user)},
		EventTime:    at.UTC().Format(TimeFormat), EventSource: "kms.amazonaws.com", EventName: name,
		AWSRegion: "us-east-1", EventID: fmt.Sprintf("event-%03d", i), ReadOnly: name != "CreateKey",
		Resources:          []Resource{{AccountID: "111122223333", Type: "AWS::KMS::Key", ARN: "arn:aws:kms:us-east-1:111122223333:key/k" + fmt.Sprint(i%3)}},
		EventType:          EventTypeCall,
		RecipientAccountID: "111122223333",
	}
}

// fill appends n events a minute apart and returns the full export.
func fill(t testing.TB, tr *Trail, clk *clock.Fake, n int) [][]byte {
	t.Helper()
	names := []string{"CreateKey", "Encrypt", "Decrypt"}
	users := []string{"alice", "bob"}
	for i := 1; i <= n; i++ {
		if err := tr.Append(ctx, &Entry{Event: event(i, names[i%3], users[i%2], clk.Now())}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	return exportAll(t, tr, ExportQuery{MaxLines: 7})
}

func exportAll(t testing.TB, tr *Trail, q ExportQuery) [][]byte {
	t.Helper()
	var lines [][]byte
	for {
		p, err := tr.Export(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, p.Lines...)
		if p.NextToken == "" {
			return lines
		}
		q.NextToken = p.NextToken
	}
}

func join(lines [][]byte) []byte { return append(bytes.Join(lines, []byte("\n")), '\n') }

func verify(t testing.TB, lines [][]byte) *Report {
	t.Helper()
	rep, err := Verify(bytes.NewReader(join(lines)), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// indexOf returns the index of the record line with seq, or of the digest
// line with seq when digest is true.
func indexOf(t testing.TB, lines [][]byte, typ string, seq uint64) int {
	t.Helper()
	for i, l := range lines {
		var a anyLine
		json.Unmarshal(l, &a)
		if a.Type == typ && a.Seq != nil && *a.Seq == seq {
			return i
		}
	}
	t.Fatalf("no %s line for seq %d", typ, seq)
	return -1
}

func clone(lines [][]byte) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		out[i] = bytes.Clone(l)
	}
	return out
}

// rewrite returns record line l with its event changed by edit and, if
// rehash, its hash recomputed over prev (the line's own prev if "").
func rewrite(t testing.TB, l []byte, edit func(string) string, rehash bool, prev string) []byte {
	t.Helper()
	var a anyLine
	if err := json.Unmarshal(l, &a); err != nil {
		t.Fatal(err)
	}
	ev := []byte(edit(string(a.Event)))
	if prev == "" {
		prev = a.Prev
	}
	h := a.Hash
	if rehash {
		h = recordHash(*a.Seq, prev, ev)
	}
	return recordLine(*a.Seq, prev, h, ev)
}

func hashOf(l []byte) string {
	var a anyLine
	json.Unmarshal(l, &a)
	return a.Hash
}

// tamperCases are the ways an export can be changed, each with what Verify
// must say: the kind of problem and the record it names.
var tamperCases = []struct {
	name   string
	tamper func(t testing.TB, lines [][]byte) [][]byte
	kind   string
	seq    uint64
	says   string
}{
	{"edit one record", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 7)
		ls[i] = bytes.Replace(ls[i], []byte(`event-007`), []byte(`event-777`), 1)
		return ls
	}, Altered, 7, "record seq 7 (eventID event-777) at line 9 was altered: its content does not match its hash"},
	{"edit one record and rewrite its hash", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 7)
		ls[i] = rewrite(t, ls[i], func(s string) string { return strings.Replace(s, "bob", "mallory", 1) }, true, "")
		return ls
	}, Altered, 7, "hash was rewritten"},
	{"edit one record and rewrite the chain after it", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 7)
		ls[i] = rewrite(t, ls[i], func(s string) string { return strings.Replace(s, "bob", "mallory", 1) }, true, "")
		prev := hashOf(ls[i])
		for j := i + 1; j < len(ls); j++ {
			var a anyLine
			json.Unmarshal(ls[j], &a)
			if a.Type == "record" {
				ls[j] = rewrite(t, ls[j], func(s string) string { return s }, true, prev)
				prev = hashOf(ls[j])
			}
		}
		return ls
	}, Altered, 10, "change lies in seq 6..10"},
	{"delete one record", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 7)
		return append(ls[:i], ls[i+1:]...)
	}, Removed, 7, "record seq 7 was removed"},
	{"delete the first record", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 1)
		return append(ls[:i], ls[i+1:]...)
	}, Removed, 1, "record seq 1 was removed"},
	{"delete a digest", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "digest", 10)
		return append(ls[:i], ls[i+1:]...)
	}, Removed, 15, "a digest was removed between seq 5 and seq 15"},
	{"reorder two records", func(t testing.TB, ls [][]byte) [][]byte {
		i, j := indexOf(t, ls, "record", 7), indexOf(t, ls, "record", 8)
		ls[i], ls[j] = ls[j], ls[i]
		return ls
	}, Reordered, 8, "record seq 8 (eventID event-008) at line 9 comes before record seq 7"},
	{"truncate the tail", func(t testing.TB, ls [][]byte) [][]byte {
		return ls[:indexOf(t, ls, "record", 17)+1]
	}, Truncated, 17, "signed end line is missing after record seq 17"},
	{"remove the last records, keep the end", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 19)
		return append(ls[:i], ls[len(ls)-1])
	}, Truncated, 19, "records seq 19..20 were removed from the end"},
	{"insert a forged record", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 7)
		var a anyLine
		json.Unmarshal(ls[i], &a)
		ev := bytes.Replace(a.Event, []byte("event-007"), []byte("event-forged"), 1)
		forged := recordLine(8, a.Hash, recordHash(8, a.Hash, ev), ev)
		return append(ls[:i+1], append([][]byte{forged}, ls[i+1:]...)...)
	}, Inserted, 8, "record seq 8 (eventID event-forged) at line 10 was inserted"},
	{"duplicate a record", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "record", 7)
		return append(ls[:i+1], append([][]byte{bytes.Clone(ls[i])}, ls[i+1:]...)...)
	}, Inserted, 7, "seq 7 is already at line 9"},
	{"forge a digest", func(t testing.TB, ls [][]byte) [][]byte {
		i := indexOf(t, ls, "digest", 10)
		j := bytes.Index(ls[i], []byte(`"time":"2026-11-01T00:`)) + len(`"time":"2026-11-01T00:`)
		ls[i][j+4]++ // a second later (the digest's time is when it was signed)
		return ls
	}, Altered, 10, "the digest of seq 10 does not verify"},
	{"remove the header", func(t testing.TB, ls [][]byte) [][]byte { return ls[1:] }, Truncated, 0, "not the export's header"},
	{"append after the end", func(t testing.TB, ls [][]byte) [][]byte {
		return append(ls, bytes.Clone(ls[1]))
	}, Inserted, 0, "content after the export's signed end"},
}

func TestTamperEvidence(t *testing.T) {
	tr, clk := newTrail(t, memory.New(), Options{DigestEvery: 5})
	export := fill(t, tr, clk, 20)
	rep := verify(t, export)
	if rep.Problem != nil {
		t.Fatalf("an untouched export does not verify: %v", rep.Problem)
	}
	if rep.Records != 20 || rep.Digests != 4 || rep.FirstSeq != 1 || rep.LastSeq != 20 || rep.KeyID != KeyID(tr.PublicKey()) {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range tamperCases {
		t.Run(c.name, func(t *testing.T) {
			rep := verify(t, c.tamper(t, clone(export)))
			p := rep.Problem
			if p == nil {
				t.Fatal("the tampered export verifies")
			}
			if p.Kind != c.kind || p.Seq != c.seq || !strings.Contains(p.Message, c.says) {
				t.Fatalf("problem = %s seq %d: %q (line %d); want %s seq %d saying %q", p.Kind, p.Seq, p.Message, p.Line, c.kind, c.seq, c.says)
			}
		})
	}
	t.Run("another signing key", func(t *testing.T) {
		other, _ := newTrail(t, memory.New(), Options{})
		rep, _ := Verify(bytes.NewReader(join(export)), VerifyOptions{PublicKey: other.PublicKey()})
		if rep.Problem == nil || rep.Problem.Kind != BadKey {
			t.Fatalf("pinned to another key: %+v", rep.Problem)
		}
	})
}

func TestExportRange(t *testing.T) {
	tr, clk := newTrail(t, memory.New(), Options{DigestEvery: 4})
	fill(t, tr, clk, 30) // eventTimes t0, t0+1m, … t0+29m
	lines := exportAll(t, tr, ExportQuery{Start: t0.Add(10 * time.Minute), End: t0.Add(19 * time.Minute), MaxLines: 3})
	rep := verify(t, lines)
	if rep.Problem != nil || rep.FirstSeq != 11 || rep.LastSeq != 20 || rep.Records != 10 {
		t.Fatalf("ranged export: %+v %v", rep, rep.Problem)
	}
	// Cutting the first record of a ranged export is caught by the signed end.
	i := indexOf(t, lines, "record", 11)
	rep = verify(t, append(clone(lines[:i]), lines[i+1:]...))
	if rep.Problem == nil || rep.Problem.Kind != Removed || rep.Problem.Seq != 11 {
		t.Fatalf("first record of a range removed: %+v", rep.Problem)
	}
	// An empty range is a valid, empty export.
	rep = verify(t, exportAll(t, tr, ExportQuery{Start: t0.Add(time.Hour)}))
	if rep.Problem != nil || rep.Records != 0 {
		t.Fatalf("empty export: %+v %v", rep, rep.Problem)
	}
}

func TestLookup(t *testing.T) {
	tr, clk := newTrail(t, memory.New(), Options{})
	fill(t, tr, clk, 30)
	all := func(q LookupQuery) []string {
		var ids []string
		for {
			p, err := tr.Lookup(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range p.Events {
				ids = append(ids, f.EventID)
			}
			if p.NextToken == "" {
				return ids
			}
			q.NextToken = p.NextToken
		}
	}
	got := all(LookupQuery{Account: "111122223333", MaxResults: 4})
	if len(got) != 30 || got[0] != "event-030" || got[29] != "event-001" {
		t.Fatalf("all events newest first: %v", got)
	}
	if got := all(LookupQuery{Key: AttrUsername, Value: "alice", MaxResults: 50}); len(got) != 15 || got[0] != "event-030" {
		t.Fatalf("alice's events: %v", got)
	}
	if got := all(LookupQuery{Key: AttrResourceName, Value: "k1", MaxResults: 3, ScanLimit: 5}); len(got) != 10 || got[0] != "event-028" {
		t.Fatalf("k1's events (paged by scan limit): %v", got)
	}
	if got := all(LookupQuery{Start: t0.Add(5 * time.Minute), End: t0.Add(7 * time.Minute)}); strings.Join(got, ",") != "event-008,event-007,event-006" {
		t.Fatalf("a time range: %v", got)
	}
	if got := all(LookupQuery{Account: "444455556666"}); len(got) != 0 {
		t.Fatalf("another account sees %v", got)
	}
	if _, err := tr.Lookup(ctx, LookupQuery{NextToken: "garbage"}); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a bad token: %v", err)
	}
	p, _ := tr.Lookup(ctx, LookupQuery{Key: AttrEventName, Value: "Encrypt", MaxResults: 1})
	if _, err := tr.Lookup(ctx, LookupQuery{Key: AttrEventName, Value: "Decrypt", NextToken: p.NextToken}); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token of another query: %v", err)
	}
}

func TestPruneKeepsTheChainVerifiable(t *testing.T) {
	tr, clk := newTrail(t, memory.New(), Options{DigestEvery: 4, Retention: 10 * time.Minute})
	fill(t, tr, clk, 20) // clock now t0+20m: records before t0+10m go
	n, err := tr.Prune(ctx)
	if err != nil || n != 10 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	rep := verify(t, exportAll(t, tr, ExportQuery{}))
	if rep.Problem != nil || rep.FirstSeq != 11 || rep.Records != 10 {
		t.Fatalf("after pruning: %+v %v", rep, rep.Problem)
	}
	if err := tr.Append(ctx, &Entry{Event: event(21, "Encrypt", "bob", clk.Now())}); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Problem != nil || rep.LastSeq != 21 {
		t.Fatalf("appending after pruning: %+v %v", rep, rep.Problem)
	}
}

// countingStore counts Update transactions.
type countingStore struct {
	store.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

// TestGroupCommit appends concurrently to the embedded store: every record
// is in the chain once, the chain verifies, and records share
// transactions (and so fsyncs).
func TestGroupCommit(t *testing.T) {
	b, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cs := &countingStore{Store: b}
	tr, clk := newTrail(t, cs, Options{})
	cs.updates.Store(0)
	const writers, each = 32, 25
	var wg sync.WaitGroup
	var applied atomic.Int64
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := &Entry{Event: event(w*each+i, "Encrypt", "alice", clk.Now()), Apply: func(tx store.Tx) error {
					applied.Add(1) // may run more than once per entry
					return nil
				}}
				if err := tr.Append(ctx, e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	rep := verify(t, exportAll(t, tr, ExportQuery{MaxLines: 10000}))
	if rep.Problem != nil || rep.Records != writers*each {
		t.Fatalf("%+v %v", rep, rep.Problem)
	}
	if u := cs.updates.Load(); u >= writers*each {
		t.Fatalf("%d records took %d transactions: no group commit", writers*each, u)
	} else {
		t.Logf("%d records in %d transactions", writers*each, u)
	}
	if applied.Load() < writers*each {
		t.Fatalf("Apply ran %d times for %d entries", applied.Load(), writers*each)
	}
}

// TestApplyFailureFailsOnlyItsEntry: an entry whose Apply fails gets the
// error; the others of its batch are written.
func TestApplyFailureFailsOnlyItsEntry(t *testing.T) {
	if segmentMode() {
		t.Skip("with segment files an entry's Apply runs behind its durable record (applier.go), so it cannot fail the entry")
	}
	tr, clk := newTrail(t, memory.New(), Options{})
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Go(func() {
			e := &Entry{Event: event(i, "Encrypt", "alice", clk.Now())}
			if i == 3 {
				e.Apply = func(store.Tx) error { return boom }
			}
			errs[i] = tr.Append(ctx, e)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 3) != errors.Is(err, boom) {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Problem != nil || rep.Records != 9 {
		t.Fatalf("%+v %v", rep, rep.Problem)
	}
}

// TestAppendTx: a record written inside a caller's transaction commits with
// it, or not at all.
func TestAppendTx(t *testing.T) {
	st := memory.New()
	tr, clk := newTrail(t, st, Options{})
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tr.AppendTx(tx, &Entry{Event: event(1, "DeleteKey", "kms", clk.Now())}); err != nil {
			return err
		}
		return errors.New("the change failed")
	})
	if err == nil {
		t.Fatal("want the failure")
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Problem != nil || rep.Records != 0 {
		t.Fatalf("a rolled-back record is in the trail: %+v", rep)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		return tr.AppendTx(tx, &Entry{Event: event(1, "DeleteKey", "kms", clk.Now())})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Problem != nil || rep.Records != 1 {
		t.Fatalf("%+v", rep)
	}
}

// TestSealSignsAQuietTrail: records that arrive after the last digest are
// sealed by Seal once DigestInterval has passed.
func TestSealSignsAQuietTrail(t *testing.T) {
	tr, clk := newTrail(t, memory.New(), Options{DigestEvery: 1000, DigestInterval: time.Hour})
	fill(t, tr, clk, 3)
	if err := tr.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Digests != 0 {
		t.Fatalf("digests before an hour: %d", rep.Digests)
	}
	clk.Advance(time.Hour)
	if err := tr.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Digests != 1 || rep.Problem != nil {
		t.Fatalf("digests after an hour: %d %v", rep.Digests, rep.Problem)
	}
}

// TestTrailSurvivesReopen: the chain and its signing key survive a restart.
func TestTrailSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	sealer := rootkey.NewEphemeral()
	clk := clock.NewFake(t0)
	open := func() (*Trail, *bolt.Store) {
		b, err := bolt.Open(dir, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Clock: clk, DigestEvery: 3}
		segmentOptions(t, &o, dir)
		tr, err := Open(ctx, b, sealer, o)
		if err != nil {
			t.Fatal(err)
		}
		return tr, b
	}
	tr, b := open()
	fill(t, tr, clk, 5)
	key := tr.PublicKey()
	tr.Close()
	b.Close()
	tr, b = open()
	defer b.Close()
	fill(t, tr, clk, 5)
	rep := verify(t, exportAll(t, tr, ExportQuery{}))
	if rep.Problem != nil || rep.Records != 10 || !bytes.Equal(tr.PublicKey(), key) {
		t.Fatalf("%+v %v", rep, rep.Problem)
	}
}

// FuzzVerify: whatever the input, Verify answers without panicking, and
// never accepts a change to a valid export's record lines.
func FuzzVerify(f *testing.F) {
	tr, clk := newTrail(f, memory.New(), Options{DigestEvery: 3})
	export := join(fill(f, tr, clk, 6))
	f.Add(export, 0, byte(0))
	f.Add([]byte(`{"type":"header","version":1}`), 3, byte('x'))
	f.Fuzz(func(t *testing.T, b []byte, at int, c byte) {
		rep, err := Verify(bytes.NewReader(b), VerifyOptions{})
		if err != nil || rep == nil {
			t.Fatalf("Verify: %v", err)
		}
		if at < 0 {
			return
		}
		i := at % len(export)
		if export[i] == c || export[i] == '\n' || c == '\n' {
			return
		}
		// Only changes inside a record's event must be caught: the rest of
		// a line may change in ways that mean the same (JSON member names
		// match case-insensitively), and the header is not signed.
		ls := bytes.LastIndexByte(export[:i], '\n') + 1
		line := export[ls:]
		line = line[:bytes.IndexByte(line, '\n')]
		j := bytes.Index(line, []byte(eventKey))
		if !bytes.HasPrefix(line, []byte(`{"type":"record"`)) || j < 0 || i-ls < j+len(eventKey) {
			return
		}
		mod := bytes.Clone(export)
		mod[i] = c
		if rep, _ := Verify(bytes.NewReader(mod), VerifyOptions{}); rep.Problem == nil {
			t.Fatalf("a change to a record's event at byte %d verifies", i)
		}
	})
}

// eventJSONCases are events whose hand-written encoding must equal
// encoding/json's (with HTML escaping off).
var eventJSONCases = []*Event{
	event(1, "Encrypt", "alice", t0),
	{EventVersion: EventVersion, EventName: "weird \"name\" \\ <tag> & \n\r\t\b\f\x00\x1f \u2028\u2029 \xff é 😀",
		UserIdentity: UserIdentity{Type: "AssumedRole", PrincipalID: "AROA:s", SessionContext: &SessionContext{SessionIssuer{Type: "Role", ARN: "arn:aws:iam::1:role/r", AccountID: "1", UserName: "r"}}},
		ErrorCode:    "X", ErrorMessage: "y",
		RequestParameters:   map[string]any{"keyId": "k", "encryptionContext": map[string]any{"b": "2", "a": "1"}, "limit": int64(5), "dryRun": true, "ops": []any{"Encrypt", "Decrypt"}, "n": uint64(7)},
		ResponseElements:    map[string]any{"keyMetadata": map[string]any{"enabled": true}},
		AdditionalEventData: map[string]any{"keyId": "arn"},
		EventType:           EventTypeService, ManagementEvent: true},
	{UserIdentity: UserIdentity{InvokedBy: "kms.amazonaws.com", AccountID: "1"}},
	{},
}

func TestEventJSONMatchesEncodingJSON(t *testing.T) {
	for i, e := range eventJSONCases {
		got, err := e.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
	}
}

func FuzzEventJSON(f *testing.F) {
	f.Add("Encrypt", "alice", "k\x00\"\\<>&\u2028")
	f.Fuzz(func(t *testing.T, name, user, value string) {
		e := event(1, name, user, t0)
		e.RequestParameters = map[string]any{value: value, "list": []any{value, int64(len(value))}}
		got, err := e.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(e)
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
		}
	})
}

// TestLineInPlace: the record line built in place in front of the event is
// recordLine's, for short and long sequence numbers, built more than once.
func TestLineInPlace(t *testing.T) {
	w, err := newWaiter(&Entry{Event: event(1, "Encrypt", "alice", t0)}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 12345, 1<<64 - 1, 7} {
		got := w.line(seq, zeroHash, strings.Repeat("f", 64))
		if want := recordLine(seq, zeroHash, strings.Repeat("f", 64), w.body); !bytes.Equal(got, want) {
			t.Fatalf("seq %d:\n got %s\nwant %s", seq, got, want)
		}
	}
}

// failingStore refuses every Update while failing is set, as a full disk.
type failingStore struct {
	store.Store
	failing fault
}

// fault fails the store's writes and, in segment mode, the segments'.
type fault struct{ on atomic.Bool }

func (f *fault) Store(on bool) {
	f.on.Store(on)
	if segmentMode() {
		if on {
			segWriteFault.Store(&errDiskFull)
		} else {
			segWriteFault.Store(nil)
		}
	}
}

func (f *fault) Load() bool { return f.on.Load() }

var errDiskFull = errors.New("no space left on device")

func (f *failingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if f.failing.Load() {
		return errDiskFull
	}
	return f.Store.Update(ctx, fn)
}

// TestReadsWaitOutAFullDisk: while the store refuses writes, records that
// may wait (read-only calls) are acknowledged and held in memory, in order;
// the others fail. Once the store takes writes again the held records are
// written first, by the next Append or by Seal.
func TestReadsWaitOutAFullDisk(t *testing.T) {
	fs := &failingStore{Store: memory.New()}
	tr, clk := newTrail(t, fs, Options{})
	appendOne := func(i int, mayWait bool) error {
		return tr.Append(ctx, &Entry{Event: event(i, "Encrypt", "alice", clk.Now()), MayWait: mayWait, Effect: i})
	}
	var applied []int
	tr.SetEffects(func(tx store.Tx, effects []any) error {
		for _, e := range effects {
			applied = append(applied, e.(int))
		}
		return nil
	})
	if err := appendOne(1, true); err != nil {
		t.Fatal(err)
	}
	fs.failing.Store(true)
	if err := appendOne(2, true); err != nil {
		t.Fatalf("a read during the fault: %v", err)
	}
	if err := appendOne(3, false); !errors.Is(err, errDiskFull) {
		t.Fatalf("a write during the fault: %v", err)
	}
	if err := appendOne(4, true); err != nil {
		t.Fatalf("a read during the fault: %v", err)
	}
	if tr.Held() != 2 {
		t.Fatalf("held %d", tr.Held())
	}
	if err := tr.Seal(ctx); err == nil {
		t.Fatal("Seal while the store still refuses writes")
	}
	fs.failing.Store(false)
	if err := appendOne(5, false); err != nil {
		t.Fatal(err)
	}
	if tr.Held() != 0 {
		t.Fatalf("still held: %d", tr.Held())
	}
	rep := verify(t, exportAll(t, tr, ExportQuery{}))
	if rep.Problem != nil || rep.Records != 4 || fmt.Sprint(applied) != "[1 2 4 5]" {
		t.Fatalf("after the fault: %+v %v, effects %v", rep, rep.Problem, applied)
	}

	// Many readers at once during the fault: every one is answered.
	fs.failing.Store(true)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := appendOne(100+i, true); err != nil {
				t.Error(err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("readers held during the fault were never answered")
	}
	fs.failing.Store(false)
	if err := tr.Seal(ctx); err != nil || tr.Held() != 0 {
		t.Fatalf("Seal: %v, held %d", err, tr.Held())
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Records != 24 {
		t.Fatalf("%d records", rep.Records)
	}

	// Seal writes what is held when nothing else comes.
	fs.failing.Store(true)
	appendOne(6, true)
	fs.failing.Store(false)
	if err := tr.Seal(ctx); err != nil || tr.Held() != 0 {
		t.Fatalf("Seal: %v, held %d", err, tr.Held())
	}
	if rep := verify(t, exportAll(t, tr, ExportQuery{})); rep.Records != 25 {
		t.Fatalf("%d records", rep.Records)
	}
}
