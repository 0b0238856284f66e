package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"strongroom/internal/store"
)

// pool is a small bounded pool of connections. (pgx's own pgxpool would
// bring in another module; this is all the store needs.)
//
// A View's connection comes back still inside the View's read-only
// transaction (releaseOpen): its ROLLBACK travels with the next user's
// first statement — one message, one round trip, instead of a round trip
// of its own — or, if nobody uses the connection within openIdleMax, is
// sent then by the pool. A read-only REPEATABLE READ transaction takes no
// row locks; keeping it open that briefly only holds a snapshot.
type pool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // one token per connection in use or being opened

	mu     sync.Mutex
	idle   []idleConn
	closed bool
}

// idleConn is a connection in the pool; open says it is still inside a
// View's read-only transaction.
type idleConn struct {
	c    *pgx.Conn
	open bool
}

// openIdleMax is how long a connection may idle inside a View's
// transaction before the pool rolls it back.
const openIdleMax = 50 * time.Millisecond

func newPool(cfg *pgx.ConnConfig, max int) *pool {
	return &pool{cfg: cfg, slots: make(chan struct{}, max)}
}

// acquire returns a connection outside any transaction: an idle one or a
// new one, waiting while max are in use.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	for {
		c, open, err := p.get(ctx)
		if err != nil || !open {
			return c, err
		}
		if _, err := c.Exec(ctx, "ROLLBACK"); err == nil {
			return c, nil
		}
		p.release(c) // closed: it is broken or still in a transaction
	}
}

// get is acquire, but the connection may be open (still inside a View's
// read-only transaction): then the caller must end it with ROLLBACK before
// its own first statement, best in the same message.
func (p *pool) get(ctx context.Context) (c *pgx.Conn, open bool, err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, false, store.ErrClosed
	}
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return e.c, e.open, nil
	}
	p.mu.Unlock()
	c, err = pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return nil, false, fmt.Errorf("postgres: connect: %w", err)
	}
	return c, false, nil
}

// release returns c to the pool, or closes it if it is broken, inside a
// transaction, or the pool is closed.
func (p *pool) release(c *pgx.Conn) {
	p.put(idleConn{c: c}, !c.IsClosed() && c.PgConn().TxStatus() == 'I')
}

// releaseOpen returns c, which may still be inside a View's read-only
// transaction, to the pool (see pool). c may be nil: nothing to release.
func (p *pool) releaseOpen(c *pgx.Conn) {
	if c == nil {
		return
	}
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		p.release(c)
		return
	}
	p.put(idleConn{c: c, open: true}, true)
	time.AfterFunc(openIdleMax, func() { p.rollbackIdle(c) })
}

// put makes e idle if reusable and the pool is open, closes it otherwise,
// and frees its slot.
func (p *pool) put(e idleConn, reusable bool) {
	c := e.c
	p.mu.Lock()
	if reusable && !p.closed {
		p.idle = append(p.idle, e)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		closeConn(c)
	}
	<-p.slots
}

// rollbackIdle ends the transaction of c if c is still idle in it. It
// takes a slot for the time, so the pool's bound holds; if none is free,
// the connection is busy enough to be used soon, and rollbackIdle tries
// again later.
func (p *pool) rollbackIdle(c *pgx.Conn) {
	select {
	case p.slots <- struct{}{}:
	default:
		time.AfterFunc(openIdleMax, func() { p.rollbackIdle(c) })
		return
	}
	p.mu.Lock()
	i := slices.IndexFunc(p.idle, func(e idleConn) bool { return e.c == c && e.open })
	if i < 0 || p.closed {
		p.mu.Unlock()
		<-p.slots
		return
	}
	p.idle = slices.Delete(p.idle, i, i+1)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	c.Exec(ctx, "ROLLBACK")
	cancel()
	p.release(c)
}

func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, e := range idle {
		closeConn(e.c)
	}
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Close(ctx)
}
