package server

import (
	"strings"
	"testing"
)

// framingCases are request streams and whether a header block in them
// carries Content-Length twice.
var framingCases = []struct {
	name   string
	stream string
	dup    bool
}{
	{"one request", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", false},
	{"no body", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false},
	{"identical duplicate", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", true},
	{"duplicate in another case", "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nCONTENT-LENGTH: 2\r\n\r\n{}", true},
	{"bare LF line ends", "POST / HTTP/1.1\nHost: x\nContent-Length: 2\nContent-Length: 2\n\n{}", true},
	{"second request duplicates", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", true},
	{"body that looks like headers", "POST / HTTP/1.1\r\nContent-Length: 46\r\n\r\n\r\n\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n\r\n" +
		"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false},
	{"header value that names it", "POST / HTTP/1.1\r\nX-Note: Content-Length: 1\r\nContent-Length: 0\r\n\r\n", false},
	{"chunked stops the scan", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false},
	{"malformed length stops the scan", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false},
	{"long padded length stops the scan", "POST / HTTP/1.1\r\nContent-Length:                        3\r\n\r\nabcPOST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false},
	{"long header lines", "POST / HTTP/1.1\r\nAuthorization: " + strings.Repeat("a", 500) + "\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", true},
}

func TestFramingScanner(t *testing.T) {
	for _, tc := range framingCases {
		t.Run(tc.name, func(t *testing.T) {
			var whole framingScanner
			if got := whole.scan([]byte(tc.stream)); got != tc.dup {
				t.Errorf("in one read: dup = %v, want %v", got, tc.dup)
			}
			// However the reads split the stream.
			for _, size := range []int{1, 2, 3, 7, 16} {
				var s framingScanner
				got := false
				for b := []byte(tc.stream); len(b) > 0; {
					n := min(size, len(b))
					got = s.scan(b[:n]) || got
					b = b[n:]
				}
				if got != tc.dup {
					t.Errorf("in reads of %d bytes: dup = %v, want %v", size, got, tc.dup)
				}
			}
		})
	}
}

// FuzzFramingScanner: any stream, split anywhere, never panics, and the
// answer does not depend on how reads split it.
func FuzzFramingScanner(f *testing.F) {
	for _, tc := range framingCases {
		f.Add([]byte(tc.stream), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, size uint8) {
		var whole framingScanner
		want := whole.scan(stream)
		var s framingScanner
		got := false
		step := int(size%32) + 1
		for b := stream; len(b) > 0; {
			n := min(step, len(b))
			got = s.scan(b[:n]) || got
			b = b[n:]
		}
		if got != want {
			t.Fatalf("split in reads of %d: %v, in one read: %v", step, got, want)
		}
	})
}

// scanByByte is the scanner's first form, a byte at a time: the reference
// scan's search for line ends must agree with.
func (s *framingScanner) scanByByte(b []byte) (dup bool) {
	for len(b) > 0 && !s.stopped {
		if s.skip > 0 {
			k := min(int64(len(b)), s.skip)
			s.skip -= k
			b = b[k:]
			continue
		}
		c := b[0]
		b = b[1:]
		if c != '\n' {
			if s.n < len(s.line) {
				s.line[s.n] = c
			}
			s.n++
			continue
		}
		if s.endLine() {
			dup = true
		}
	}
	return dup
}

// FuzzFramingScannerByByte: scan agrees with scanByByte on every read of
// any stream, and leaves the same state.
func FuzzFramingScannerByByte(f *testing.F) {
	for _, tc := range framingCases {
		f.Add([]byte(tc.stream), uint8(5))
	}
	f.Fuzz(func(t *testing.T, stream []byte, size uint8) {
		var s, ref framingScanner
		step := int(size%64) + 1
		for b := stream; len(b) > 0; {
			n := min(step, len(b))
			if got, want := s.scan(b[:n]), ref.scanByByte(b[:n]); got != want || s != ref {
				t.Fatalf("read %q: scan = %v, %+v; byte by byte: %v, %+v", b[:n], got, s, want, ref)
			}
			b = b[n:]
		}
	})
}
