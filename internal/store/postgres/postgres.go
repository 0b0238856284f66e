// Package postgres is the store.Store for clusters: several Strongroom nodes
// share one PostgreSQL database.
//
// Guarantees:
//
//   - Serializable Updates. Each Update is one SERIALIZABLE transaction; on a
//     serialization failure or deadlock fn is run again. The first attempt
//     runs alongside other writers; a retry first takes the records table in
//     EXCLUSIVE mode (readers go on, writers wait), so it cannot conflict
//     again and a hot record cannot starve anyone: fn runs at most
//     maxAttempts times and normally at most twice. An Update whose context
//     says it contends with every writer (store.WithContention: a changing
//     KMS call that writes its audit record, and so the trail's head, in its
//     own transaction) takes that lock from its first attempt: such
//     transactions queue instead of conflicting, aborting and running again
//     (measured: 0.6 to 0.8 retries per CreateKey or TagResource from 8 or 32
//     clients without it, none with it; see Retries). Update returns nil
//     only once PostgreSQL has committed.
//   - Views run REPEATABLE READ READ ONLY: one consistent snapshot, no locks,
//     never a serialization failure. A View costs one round trip per read
//     and nothing more: BEGIN travels with its first read, and its ROLLBACK
//     with the next statement sent on the connection (see View).
//   - Bytes in, bytes out: scope and id are bytea, so any bytes fit and List
//     orders them byte-wise whatever the database's collation. List walks the
//     primary key index: a page costs O(log n + page) at any depth.
//   - Schema: versioned migrations run at Open in one transaction under an
//     advisory lock, so nodes may start together. A database whose schema is
//     newer than this code is refused. Tables: strongroom_records and
//     strongroom_schema_version, in the connection's search_path.
//   - Changes are announced: every committed Update that wrote publishes each
//     changed record on the channel "strongroom_changes" (see Watch), for
//     caches on other nodes.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"strongroom/internal/store"
)

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	cfg  *pgx.ConnConfig
	pool *pool

	closed atomic.Bool
	done   chan struct{} // closed by Close, stops watchers

	retries atomic.Int64 // attempts after the first (Retries)
}

// Retries returns how many times an Update ran its function again after a
// serialization failure or a deadlock, since Open (for metrics:
// strongroom_store_retries_total).
func (s *Store) Retries() int64 { return s.retries.Load() }

var _ store.Store = (*Store)(nil)

const (
	// DefaultMaxConns is the connection pool's size unless the connection
	// string sets pool_max_conns.
	DefaultMaxConns = 8
	maxAttempts     = 5
	maxKindLen      = 64
	maxLen          = 1024
)

var (
	errReadOnly = errors.New("postgres: write in a read-only transaction")
	errTxDone   = errors.New("postgres: transaction used after its function returned")
)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as libpq takes), and migrates its schema. The extra
// parameter pool_max_conns bounds the connections (DefaultMaxConns).
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	maxConns := DefaultMaxConns
	if v, ok := cfg.RuntimeParams["pool_max_conns"]; ok {
		delete(cfg.RuntimeParams, "pool_max_conns")
		if maxConns, err = strconv.Atoi(v); err != nil || maxConns < 1 {
			return nil, fmt.Errorf("postgres: pool_max_conns=%q: want a positive number", v)
		}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "strongroom"
	}
	s := &Store{cfg: cfg, pool: newPool(cfg, maxConns), done: make(chan struct{})}
	conn, err := s.pool.acquire(ctx)
	if err != nil {
		return nil, err
	}
	err = migrate(ctx, conn)
	s.pool.release(conn)
	if err != nil {
		s.pool.close()
		return nil, err
	}
	return s, nil
}

// Close closes idle connections and stops watchers; connections in use close
// as their transactions end. Later calls return store.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	close(s.done)
	s.pool.close()
	return nil
}

// beginView starts a View's transaction.
const beginView = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

// View runs fn in a read-only REPEATABLE READ transaction.
//
// Round trips. Most Views read one record (Encrypt reads its key), so a
// View must not pay three round trips (BEGIN, SELECT, ROLLBACK) for one
// read. Here:
//
//   - BEGIN is not sent on its own: it is pipelined with the View's first
//     statement, in one batch, so the first read costs one round trip; later
//     reads run in the transaction that BEGIN opened, one round trip each. A
//     View that reads nothing sends nothing.
//   - ROLLBACK is not sent on its own either: the connection goes back to
//     the pool still in the transaction, and the next user of the
//     connection, View or Update, sends the ROLLBACK in front of its own
//     first statement, in the same message; a connection left idle that way
//     is rolled back by the pool after openIdleMax (pool.go).
//
// So a View reading one record costs one round trip, where it cost three.
// Every read of a View, the first included, runs inside the one REPEATABLE
// READ transaction, so a View sees one snapshot whatever it reads. (The
// alternative, running the first read outside a transaction and opening
// one only at a second read, would need the first read redone inside it
// and fn run again when the two differ; View runs fn exactly once.) If the
// connection turns out dead at the first read (it idled while the server
// restarted), nothing was read yet, so the batch is sent again on another
// connection, invisibly to fn.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	conn, open, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	t := &tx{ctx: ctx, conn: conn, begin: beginView, rollbackFirst: open, pool: s.pool}
	defer func() {
		t.done = true
		s.pool.releaseOpen(t.conn)
	}()
	return fn(t)
}

// Update runs fn in a SERIALIZABLE transaction, again if PostgreSQL reports
// a serialization failure or deadlock.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	var last error
	for attempt := range maxAttempts {
		if attempt > 0 {
			s.retries.Add(1)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		err, again := s.attempt(ctx, fn, attempt > 0 || store.Contended(ctx))
		if !again {
			return err
		}
		last = err
	}
	return fmt.Errorf("postgres: transaction still conflicting after %d attempts: %w", maxAttempts, last)
}

// attempt runs fn once; again says the transaction failed in a way that a
// new attempt can fix.
func (s *Store) attempt(ctx context.Context, fn func(store.Tx) error, exclusive bool) (err error, again bool) {
	conn, open, err := s.pool.get(ctx)
	if err != nil {
		return err, false
	}
	defer s.pool.release(conn)
	// A connection still in a View's transaction ends it in the same
	// message (pool.go).
	begin := "BEGIN ISOLATION LEVEL SERIALIZABLE; LOCK TABLE strongroom_records IN "
	if open {
		begin = "ROLLBACK; " + begin
	}
	// LOCK TABLE takes no snapshot: it runs before the transaction's
	// snapshot is taken, so an exclusive attempt sees every commit made
	// before it got the lock. ROW EXCLUSIVE is what writes take anyway; it
	// is taken first so that every writer queues behind an exclusive one.
	mode := "ROW EXCLUSIVE"
	if exclusive {
		mode = "EXCLUSIVE"
	}
	if _, err := conn.Exec(ctx, begin+mode+" MODE"); err != nil {
		return fmt.Errorf("postgres: begin: %w", err), pgconn.SafeToRetry(err) || retryable(err)
	}
	t := &tx{ctx: ctx, conn: conn, writable: true}
	finished := false
	defer func() {
		t.done = true
		if !finished {
			rollback(conn)
		}
	}()
	ferr := fn(t)
	t.done = true
	if t.err != nil || ferr != nil {
		finished = true
		rollback(conn)
		switch {
		case t.err != nil && retryable(t.err):
			return t.err, true
		case ferr != nil:
			return ferr, false
		default: // fn ignored a failed statement; the transaction is lost
			return fmt.Errorf("postgres: transaction aborted: %w", t.err), false
		}
	}
	if len(t.changes) > 0 {
		if _, err := conn.Exec(ctx, `SELECT pg_notify('`+changesChannel+`', p) FROM unnest($1::text[]) AS p`, t.changes); err != nil {
			return fmt.Errorf("postgres: notify: %w", err), retryable(err)
		}
	}
	finished = true
	tag, err := conn.Exec(ctx, "COMMIT")
	if err != nil {
		// A lost connection leaves the outcome unknown: not retried.
		return fmt.Errorf("postgres: commit: %w", err), retryable(err)
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("postgres: commit answered %q", tag.String()), false
	}
	return nil, false
}

// rollback ends conn's transaction, if it still can; a connection left in a
// transaction is closed by the pool.
func rollback(conn *pgx.Conn) {
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.Exec(ctx, "ROLLBACK")
}

// retryable reports a serialization failure or a deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

type tx struct {
	ctx      context.Context
	conn     *pgx.Conn
	writable bool
	done     bool
	err      error    // the first failed statement: the transaction is aborted
	changes  []string // notification payloads
	// begin is the statement that opens a View's transaction, sent with
	// its first read; empty once sent (and always in an Update).
	begin string
	// rollbackFirst: conn is still in an earlier View's transaction, to be
	// rolled back in the first read's batch (pool.go).
	rollbackFirst bool
	pool          *pool // to replace a dead connection at a View's first read
}

// read runs a reading statement and hands its rows to scan, which must
// start from scratch on each call (a first read may be sent twice). In a
// View whose transaction is not open yet, the BEGIN goes in the same batch.
func (t *tx) read(sql string, args []any, scan func(pgx.Rows) error) error {
	if t.begin == "" {
		rows, err := t.conn.Query(t.ctx, sql, args...)
		if err != nil {
			return err
		}
		return scanRows(rows, scan)
	}
	for try := 0; ; try++ {
		b := &pgx.Batch{}
		if t.rollbackFirst {
			b.Queue("ROLLBACK")
		}
		b.Queue(t.begin)
		b.Queue(sql, args...)
		br := t.conn.SendBatch(t.ctx, b)
		_, err := br.Exec()
		if err == nil && t.rollbackFirst {
			_, err = br.Exec()
		}
		if err == nil {
			var rows pgx.Rows
			if rows, err = br.Query(); err == nil {
				err = scanRows(rows, scan)
			}
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			t.begin, t.rollbackFirst = "", false
			return nil
		}
		// Nothing of the transaction was read: a connection that died
		// while idle is replaced and the batch sent again.
		if try > 0 || !t.conn.IsClosed() || t.ctx.Err() != nil {
			return err
		}
		t.pool.release(t.conn)
		conn, open, aerr := t.pool.get(t.ctx)
		if aerr != nil {
			t.conn = nil // released: the View's deferred release skips it
			return aerr
		}
		t.conn, t.rollbackFirst = conn, open
	}
}

func scanRows(rows pgx.Rows, scan func(pgx.Rows) error) error {
	defer rows.Close()
	if err := scan(rows); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// fail records a failed statement.
func (t *tx) fail(what string, err error) error {
	if t.err == nil {
		t.err = err
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

func (t *tx) Get(kind store.Kind, scope, id string) ([]byte, error) {
	if err := t.check(false, kind, scope, id); err != nil {
		return nil, err
	}
	var v []byte
	found := false
	err := t.read(`SELECT value FROM strongroom_records WHERE kind = $1 AND scope = $2 AND id = $3`,
		[]any{string(kind), []byte(scope), []byte(id)}, func(rows pgx.Rows) error {
			v, found = nil, false
			if !rows.Next() {
				return nil
			}
			found = true
			return rows.Scan(&v)
		})
	if err != nil {
		return nil, t.fail("get", err)
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (t *tx) List(kind store.Kind, scope, after string, limit int) ([]store.Item, error) {
	if err := t.check(false, kind, scope, ""); err != nil {
		return nil, err
	}
	var lim *int64 // NULL: LIMIT ALL
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	var items []store.Item
	err := t.read(`SELECT id, value FROM strongroom_records
		 WHERE kind = $1 AND scope = $2 AND id > $3 ORDER BY id LIMIT $4`,
		[]any{string(kind), []byte(scope), []byte(after), lim}, func(rows pgx.Rows) error {
			items = nil
			for rows.Next() {
				var id, v []byte
				if err := rows.Scan(&id, &v); err != nil {
					return err
				}
				items = append(items, store.Item{ID: string(id), Value: v})
			}
			return nil
		})
	if err != nil {
		return nil, t.fail("list", err)
	}
	return items, nil
}

func (t *tx) Create(kind store.Kind, scope, id string, value []byte) error {
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	tag, err := t.conn.Exec(t.ctx,
		`INSERT INTO strongroom_records (kind, scope, id, value) VALUES ($1, $2, $3, $4)
		 ON CONFLICT DO NOTHING`,
		string(kind), []byte(scope), []byte(id), notNil(value))
	if err != nil {
		return t.fail("create", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	t.changed(kind, scope, id)
	return nil
}

func (t *tx) Put(kind store.Kind, scope, id string, value []byte) error {
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	_, err := t.conn.Exec(t.ctx,
		`INSERT INTO strongroom_records (kind, scope, id, value) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (kind, scope, id) DO UPDATE SET value = EXCLUDED.value`,
		string(kind), []byte(scope), []byte(id), notNil(value))
	if err != nil {
		return t.fail("put", err)
	}
	t.changed(kind, scope, id)
	return nil
}

func (t *tx) Delete(kind store.Kind, scope, id string) error {
	if err := t.check(true, kind, scope, id); err != nil {
		return err
	}
	tag, err := t.conn.Exec(t.ctx,
		`DELETE FROM strongroom_records WHERE kind = $1 AND scope = $2 AND id = $3`,
		string(kind), []byte(scope), []byte(id))
	if err != nil {
		return t.fail("delete", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	t.changed(kind, scope, id)
	return nil
}

func (t *tx) changed(kind store.Kind, scope, id string) {
	t.changes = append(t.changes, encodeChange(Change{Kind: string(kind), Scope: scope, ID: id}))
}

// notNil keeps an empty value from being sent as NULL.
func notNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

func (t *tx) check(write bool, kind store.Kind, scope, id string) error {
	if t.done {
		return errTxDone
	}
	if write && !t.writable {
		return errReadOnly
	}
	if t.err != nil {
		return fmt.Errorf("postgres: transaction aborted by an earlier error: %w", t.err)
	}
	ok := kind != "" && len(kind) <= maxKindLen
	for i := 0; ok && i < len(kind); i++ {
		c := kind[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("postgres: invalid kind %q: want 1 to %d bytes of [a-z0-9_-]", kind, maxKindLen)
	}
	if len(scope) > maxLen {
		return fmt.Errorf("postgres: scope of %d bytes, more than %d", len(scope), maxLen)
	}
	if id == "" {
		if write {
			return errors.New("postgres: empty id")
		}
		return nil // List, which takes no id
	}
	if len(id) > maxLen {
		return fmt.Errorf("postgres: id of %d bytes, more than %d", len(id), maxLen)
	}
	return nil
}
