package uuid

import (
	"regexp"
	"testing"
	"time"
)

var v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestNew: a version 4 UUID in the lower-case form AWS prints, never the
// same twice.
func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !v4.MatchString(id) {
			t.Fatalf("New() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("New() gave %q twice", id)
		}
		seen[id] = true
	}
}

var v7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewV7(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		id := NewV7(at.Add(time.Duration(i) * time.Millisecond))
		if !v7.MatchString(id) {
			t.Fatalf("NewV7() = %q, not a version 7 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewV7() gave %q twice", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("NewV7 one millisecond later gave %q, not after %q", id, prev)
		}
		prev = id
	}
	// The first 48 bits are the milliseconds since the epoch, big-endian.
	id := NewV7(time.UnixMilli(0x0123456789ab))
	if got := id[:8] + id[9:13]; got != "0123456789ab" {
		t.Errorf("NewV7(0x0123456789ab ms) = %q, timestamp %q", id, got)
	}
	// Within one millisecond the ids still differ (74 random bits).
	a, b := NewV7(at), NewV7(at)
	if a == b || a[:13] != b[:13] {
		t.Errorf("two ids of one millisecond: %q, %q", a, b)
	}
}
