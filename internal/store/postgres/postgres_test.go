package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"strongroom/internal/store"
	"strongroom/internal/store/storetest"
)

// The tests need PostgreSQL: at $STRONGROOM_TEST_POSTGRES (a postgres://
// URL) or else at defaultTestURL. If it cannot be reached they fail; they
// never skip. They run in a database of their own, created here and dropped
// at the end; each test gets a fresh schema in it.
const defaultTestURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var testDB *url.URL // the test database

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	base := os.Getenv("STRONGROOM_TEST_POSTGRES")
	if base == "" {
		base = defaultTestURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		fmt.Fprintf(os.Stderr, "FAIL: STRONGROOM_TEST_POSTGRES must be a postgres:// URL\n")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server, err := pgx.Connect(ctx, base)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the postgres tests need PostgreSQL at %s (set STRONGROOM_TEST_POSTGRES): %v\n", u.Redacted(), err)
		return 1
	}
	defer server.Close(context.Background())
	name := fmt.Sprintf("strongroom_test_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	if _, err := server.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: create test database: %v\n", err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := server.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "drop test database %s: %v\n", name, err)
		}
	}()
	db := *u
	db.Path = "/" + name
	testDB = &db
	return m.Run()
}

var schemas atomic.Int64

// freshURL creates an empty schema in the test database and returns a
// connection URL whose search_path selects it, with extra parameters.
func freshURL(t testing.TB, params ...string) string {
	t.Helper()
	schema := fmt.Sprintf("t%d", schemas.Add(1))
	admin(t, "CREATE SCHEMA "+schema)
	u := *testDB
	q := u.Query()
	q.Set("search_path", schema)
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// admin runs SQL on the test database on a connection of its own.
func admin(t testing.TB, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), testDB.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func openURL(t *testing.T, u string) *Store {
	t.Helper()
	s, err := Open(t.Context(), u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openURL(t, freshURL(t)) })
}

// TestDurable reopens the same schema where RunDurable reopens a directory.
func TestDurable(t *testing.T) {
	urls := map[string]string{}
	storetest.RunDurable(t, func(t *testing.T, dir string) store.Store {
		if urls[dir] == "" {
			urls[dir] = freshURL(t)
		}
		return openURL(t, urls[dir])
	})
}

func schemaVersion(t *testing.T, s *Store) int {
	t.Helper()
	conn, err := s.pool.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.pool.release(conn)
	var v int
	if err := conn.QueryRow(t.Context(), "SELECT version FROM strongroom_schema_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchema(t *testing.T) {
	if len(migrations) != SchemaVersion {
		t.Fatalf("SchemaVersion = %d but there are %d migrations", SchemaVersion, len(migrations))
	}
	u := freshURL(t)
	s := openURL(t, u)
	if v := schemaVersion(t, s); v != SchemaVersion {
		t.Errorf("schema version %d after Open, want %d", v, SchemaVersion)
	}
	s.Update(t.Context(), func(tx store.Tx) error { return tx.Put(store.KindKey, "sc", "k", []byte("v")) })
	s.Close()
	s = openURL(t, u) // a second Open leaves schema and data alone
	if v := schemaVersion(t, s); v != SchemaVersion {
		t.Errorf("schema version %d after reopen", v)
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(store.KindKey, "sc", "k")
		return err
	})
	if err != nil {
		t.Errorf("record lost on reopen: %v", err)
	}
}

func TestSchemaNewer(t *testing.T) {
	u := freshURL(t)
	openURL(t, u).Close()
	schema, _ := url.Parse(u)
	admin(t, "UPDATE "+schema.Query().Get("search_path")+".strongroom_schema_version SET version = 99")
	_, err := Open(t.Context(), u)
	want := fmt.Sprintf("postgres: database schema version 99 is newer than this strongroom supports (%d)", SchemaVersion)
	if err == nil || err.Error() != want {
		t.Fatalf("Open of a newer schema: %v, want %q", err, want)
	}
}

// Nodes starting together migrate once, without errors.
func TestMigrateConcurrently(t *testing.T) {
	u := freshURL(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := Open(t.Context(), u)
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
}

func TestOpenErrors(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "postgres: connect: "},
		{"postgres://[bad", "postgres: "},
		{freshURL(t, "pool_max_conns", "0"), "postgres: pool_max_conns="},
	} {
		start := time.Now()
		s, err := Open(t.Context(), c.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) succeeded", c.url)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Open(%s): %v, want %q…", c.url, err, c.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Open(%s) took %v to fail", c.url, d)
		}
	}
}

func counter(tx store.Tx) (uint64, error) {
	v, err := tx.Get(store.KindMeta, "", "counter")
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

func setCounter(tx store.Tx, n uint64) error {
	return tx.Put(store.KindMeta, "", "counter", binary.BigEndian.AppendUint64(nil, n))
}

// A transaction that loses a write conflict is run again, and the retry sees
// the winner's write.
func TestRetryAfterConflict(t *testing.T) {
	s := openURL(t, freshURL(t))
	if err := s.Update(t.Context(), func(tx store.Tx) error { return setCounter(tx, 0) }); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := s.Update(t.Context(), func(tx store.Tx) error {
		calls++
		n, err := counter(tx)
		if err != nil {
			return err
		}
		if calls == 1 { // a concurrent increment commits after our read
			if err := s.Update(t.Context(), func(tx store.Tx) error {
				m, err := counter(tx)
				if err != nil {
					return err
				}
				return setCounter(tx, m+1)
			}); err != nil {
				t.Errorf("concurrent Update: %v", err)
			}
		}
		return setCounter(tx, n+1)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls != 2 {
		t.Errorf("fn called %d times, want 2", calls)
	}
	var n uint64
	s.View(t.Context(), func(tx store.Tx) error { n, err = counter(tx); return err })
	if n != 2 {
		t.Errorf("counter = %d, want 2", n)
	}
	if r := s.retries.Load(); r != 1 {
		t.Errorf("%d retries, want 1", r)
	}
}

// A panicking fn gives its connection back: with a pool of one, the next
// Update still runs.
func TestPanicReleasesConnection(t *testing.T) {
	s := openURL(t, freshURL(t, "pool_max_conns", "1"))
	for _, run := range []func(context.Context, func(store.Tx) error) error{s.View, s.Update} {
		func() {
			defer func() {
				if recover() != "boom" {
					t.Error("panic did not propagate")
				}
			}()
			run(t.Context(), func(tx store.Tx) error {
				tx.Get(store.KindKey, "sc", "k")
				panic("boom")
			})
		}()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(store.KindKey, "sc", "k", nil) }); err != nil {
		t.Fatalf("Update after panics: %v", err)
	}
}

// The pool never holds more than pool_max_conns connections.
func TestPoolBound(t *testing.T) {
	s := openURL(t, freshURL(t, "pool_max_conns", "2", "application_name", "strongroom-pooltest"))
	var max atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			err := s.View(t.Context(), func(stx store.Tx) error {
				ptx := stx.(*tx)
				var n int64
				if err := ptx.conn.QueryRow(ptx.ctx, `SELECT count(*) FROM pg_stat_activity
					WHERE application_name = 'strongroom-pooltest' AND datname = current_database()`).Scan(&n); err != nil {
					return err
				}
				for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
				}
				time.Sleep(20 * time.Millisecond)
				return nil
			})
			if err != nil {
				t.Errorf("View: %v", err)
			}
		})
	}
	wg.Wait()
	if m := max.Load(); m < 1 || m > 2 {
		t.Errorf("saw %d connections, want 1 or 2", m)
	}
}

var changeCases = []Change{
	{"key", "111122223333/us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab"},
	{"alias", "", "alias/x"},
	{"k", "a:b%c", "x:y"},
	{"k", "\x00\xff é", "\n\t%41"},
	{"kind-1_2", strings.Repeat("\x00", 1024), strings.Repeat("\xff", 1024)},
}

func TestChangeEncoding(t *testing.T) {
	for _, c := range changeCases {
		p := encodeChange(c)
		if len(p) > maxPayload {
			t.Errorf("payload of %d bytes for %.20q", len(p), c)
		}
		for i := 0; i < len(p); i++ {
			if p[i] <= ' ' || p[i] >= 0x7f {
				t.Errorf("payload %.40q has byte %#x", p, p[i])
				break
			}
		}
		if got := decodeChange(p); got != c {
			t.Errorf("decode(encode(%.20q)) = %.20q", c, got)
		}
	}
	long := Change{"key", strings.Repeat("s", 4000), strings.Repeat("i", 4000)}
	if p := encodeChange(long); p != "key" {
		t.Errorf("over-long change encoded as %.40q…, want the kind alone", p)
	}
	if got := decodeChange("key"); got != (Change{Kind: "key"}) {
		t.Errorf("decode of a kind alone = %q", got)
	}
	for _, bad := range []string{"key:%4", "key:a:%zz", "key:nocolon", ":a:b"} {
		if got := decodeChange(bad); got != (Change{}) {
			t.Errorf("decode(%q) = %q, want Change{}", bad, got)
		}
	}
}

func nextChange(t *testing.T, ch <-chan Change) Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change within 10s")
	}
	return Change{}
}

func TestWatch(t *testing.T) {
	u := freshURL(t)
	s := openURL(t, u)
	other := openURL(t, u) // another node
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changeCases {
		if err := s.Update(t.Context(), func(tx store.Tx) error {
			return tx.Put(store.Kind(c.Kind), c.Scope, c.ID, []byte("v"))
		}); err != nil {
			t.Fatal(err)
		}
		if got := nextChange(t, ch); got != c {
			t.Errorf("change %.30q, want %.30q", got, c)
		}
	}
	// A rolled-back Update and a View announce nothing; the next change
	// seen is the delete made on the other node.
	s.Update(t.Context(), func(tx store.Tx) error {
		tx.Put(store.KindKey, "sc", "rolled-back", []byte("v"))
		return errors.New("no")
	})
	s.View(t.Context(), func(tx store.Tx) error { _, err := tx.Get(store.KindKey, "sc", "x"); return err })
	c := changeCases[0]
	if err := other.Update(t.Context(), func(tx store.Tx) error {
		return tx.Delete(store.Kind(c.Kind), c.Scope, c.ID)
	}); err != nil {
		t.Fatal(err)
	}
	if got := nextChange(t, ch); got != c {
		t.Errorf("change %q, want the other node's delete %q", got, c)
	}
}

// A lost listening connection is re-established, announced by Change{}.
func TestWatchReconnect(t *testing.T) {
	s := openURL(t, freshURL(t))
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	admin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'strongroom-watch' AND datname = current_database()`)
	if got := nextChange(t, ch); got != (Change{}) {
		t.Fatalf("after the connection was killed: %q, want Change{}", got)
	}
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put(store.KindKey, "sc", "after", nil) }); err != nil {
		t.Fatal(err)
	}
	if got := nextChange(t, ch); got != (Change{"key", "sc", "after"}) {
		t.Errorf("after reconnecting: %q", got)
	}
}

func TestWatchEnds(t *testing.T) {
	s := openURL(t, freshURL(t))
	ctx, cancel := context.WithCancel(t.Context())
	byCtx, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byClose, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitClosed(t, byCtx, "ctx canceled")
	s.Close()
	waitClosed(t, byClose, "store closed")
	if _, err := s.Watch(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Watch on a closed store: %v, want ErrClosed", err)
	}
}

func waitClosed(t *testing.T, ch <-chan Change, why string) {
	t.Helper()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("watch channel still open 5s after %s", why)
		}
	}
}
