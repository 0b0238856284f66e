package server

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
)

// Duplicate Content-Length fields. net/http refuses differing values, but
// merges identical ones into one (RFC 9112 permits either), so a handler
// cannot tell "Content-Length: 5" from the same field sent twice. A proxy in
// front of Strongroom might frame such a request differently, which is what
// request smuggling feeds on; the API never needs it, so it is refused. The
// only place that still sees the raw header block is the connection, so
// framingConn reads along with net/http and notes a header block carrying
// Content-Length more than once; guard then refuses the request and closes
// the connection.
//
// The scanner follows requests the way net/http frames them: a header block
// ends at an empty line; the body that follows is skipped by its
// Content-Length (chunked requests are refused by guard and end the
// connection, so it stops there). It only reads bytes that net/http reads
// anyway, keeps a few bytes of state, and skips bodies without looking at
// them. It works on plaintext connections: under TLS, where it would see
// ciphertext, it is not installed.

// framingListener wraps every accepted connection in a framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type connKey struct{}

// withConn is http.Server.ConnContext: it lets guard find the connection a
// request came on.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// duplicateContentLength reports whether a request on the connection of ctx
// carried more than one Content-Length field.
func duplicateContentLength(ctx context.Context) bool {
	fc, ok := ctx.Value(connKey{}).(*framingConn)
	return ok && fc.dup.Load()
}

type framingConn struct {
	net.Conn
	dup atomic.Bool // a header block had more than one Content-Length
	sc  framingScanner
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.sc.scan(p[:n]) {
		c.dup.Store(true)
	}
	return n, err
}

const (
	clName = "content-length:"
	teName = "transfer-encoding:"
)

// framingScanner follows the header blocks of a request stream. net/http
// reads a connection from one goroutine at a time, so it needs no lock.
type framingScanner struct {
	skip    int64    // body bytes still to skip
	line    [32]byte // the start of the current line
	n       int      // bytes of the current line so far
	lines   int      // lines of the current header block so far
	cls     int      // Content-Length fields in this block
	cl      int64    // the first one's value, or -1 if malformed
	te      bool     // Transfer-Encoding in this block
	stopped bool     // framing that ends the connection: stop following
}

// scan reads b and reports whether a header block with a duplicate
// Content-Length ended in it. It looks at each byte of a header block
// once, in bytes.IndexByte's search for the line's end, and copies only
// the first bytes of each line.
func (s *framingScanner) scan(b []byte) (dup bool) {
	for len(b) > 0 && !s.stopped {
		if s.skip > 0 {
			k := min(int64(len(b)), s.skip)
			s.skip -= k
			b = b[k:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i]
		}
		if s.n < len(s.line) {
			copy(s.line[s.n:], part)
		}
		s.n += len(part)
		if i < 0 {
			return dup
		}
		b = b[i+1:]
		if s.endLine() {
			dup = true
		}
	}
	return dup
}

// endLine ends the current line (s.line holds its start, s.n its length)
// and reports whether it ended a header block with a duplicate
// Content-Length.
func (s *framingScanner) endLine() (dup bool) {
	n := s.n
	s.n = 0
	if n == 0 || n == 1 && s.line[0] == '\r' {
		// An empty line ends a header block (or precedes a request
		// line, which net/http refuses).
		dup = s.lines > 0 && s.endBlock()
		s.reset()
		return dup
	}
	s.lines++
	switch {
	case s.lines == 1: // the request line
	case n > len(s.line):
		// Only a line's start is kept: enough for a header's name and a
		// sane Content-Length, not for a padded one.
		s.header(s.line[:], true)
	default:
		l := s.line[:n]
		if l[n-1] == '\r' {
			l = l[:n-1]
		}
		s.header(l, false)
	}
	return false
}

// header notes a header line (its start, cut if long).
func (s *framingScanner) header(l []byte, cut bool) {
	switch {
	case hasPrefix(l, clName):
		s.cls++
		if s.cls == 1 {
			s.cl = -1
			if !cut {
				s.cl = parseLength(l[len(clName):])
			}
		}
	case hasPrefix(l, teName):
		s.te = true
	}
}

// endBlock ends a header block and reports a duplicate Content-Length.
func (s *framingScanner) endBlock() bool {
	switch {
	case s.te || s.cl < 0:
		// Refused by guard or net/http, which end the connection.
		s.stopped = true
	case s.cls > 0:
		s.skip = s.cl
	}
	return s.cls > 1
}

func (s *framingScanner) reset() {
	s.lines, s.cls, s.cl, s.te = 0, 0, 0, false
}

// hasPrefix reports whether b starts with p (lower case) in any ASCII
// case, as net/http reads header names.
func hasPrefix(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := range len(p) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length value, or returns -1.
func parseLength(b []byte) int64 {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 15 {
		return -1
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int64(c-'0')
	}
	return v
}
