package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"strongroom/internal/store"
)

// Change names a record that a committed Update created, replaced or
// deleted, on this node or another.
//
// An empty ID means that any record of Kind may have changed (the record's
// name did not fit in a notification). An empty Kind means that changes may
// have been missed — the listening connection was lost and has been
// re-established — so every cached record is suspect.
type Change struct {
	Kind, Scope, ID string
}

// changesChannel is the LISTEN/NOTIFY channel.
const changesChannel = "strongroom_changes"

// maxPayload is below PostgreSQL's 8000-byte limit on a notification.
const maxPayload = 7999

// encodeChange makes a notification payload: kind ":" scope ":" id, with
// scope and id percent-encoded so that the payload is valid text and splits
// unambiguously. With the documented limits it always fits; if it did not,
// the payload is the kind alone.
func encodeChange(c Change) string {
	var b strings.Builder
	b.WriteString(c.Kind)
	b.WriteByte(':')
	escape(&b, c.Scope)
	b.WriteByte(':')
	escape(&b, c.ID)
	if b.Len() > maxPayload {
		return c.Kind
	}
	return b.String()
}

func escape(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == ':' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
}

// decodeChange parses a payload; a payload it cannot read becomes Change{},
// "anything may have changed".
func decodeChange(p string) Change {
	kind, rest, found := strings.Cut(p, ":")
	if !found {
		return Change{Kind: kind}
	}
	scope, id, found := strings.Cut(rest, ":")
	if !found {
		return Change{}
	}
	sc, ok1 := unescape(scope)
	i, ok2 := unescape(id)
	if kind == "" || !ok1 || !ok2 {
		return Change{}
	}
	return Change{Kind: kind, Scope: sc, ID: i}
}

func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		out = append(out, h<<4|l)
		i += 2
	}
	return string(out), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Watch reports the changes committed by every node using the database,
// this one included, from when it returns until ctx ends or the store
// closes; then the channel is closed. It listens on a connection of its own,
// outside the pool. If that connection is lost, Watch reconnects and sends
// Change{} (changes may have been missed). Changes are delivered in commit
// order; a slow reader delays, but does not lose, later ones.
func (s *Store) Watch(ctx context.Context) (<-chan Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	ch := make(chan Change, 64)
	go s.watch(ctx, cancel, conn, ch)
	return ch, nil
}

func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.cfg.Copy()
	cfg.RuntimeParams["application_name"] = "strongroom-watch"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: watch: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("postgres: watch: listen: %w", err)
	}
	return conn, nil
}

func (s *Store) watch(ctx context.Context, cancel context.CancelFunc, conn *pgx.Conn, ch chan<- Change) {
	defer close(ch)
	defer cancel()
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	send := func(c Change) bool {
		select {
		case ch <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			if !send(decodeChange(n.Payload)) {
				return
			}
			continue
		}
		closeConn(conn)
		conn = nil
		for delay := 50 * time.Millisecond; conn == nil; delay = min(2*delay, 5*time.Second) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			conn, _ = s.listen(ctx)
		}
		if !send(Change{}) {
			return
		}
	}
}
