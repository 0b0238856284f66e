package audit

import (
	"fmt"
	"regexp"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestNewEventID: a random (version 4, RFC 9562 variant) UUID in
// CloudTrail's lower-case form, never the same twice.
func TestNewEventID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewEventID()
		if !uuidV4.MatchString(id) {
			t.Fatalf("NewEventID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewEventID() gave %q twice", id)
		}
		seen[id] = true
	}
}

// TestOutboxID: outbox ids are "%020d-%s" of their time and random part,
// so that they sort as their times do.
func TestOutboxID(t *testing.T) {
	for _, n := range []int64{0, 1, 42, 1764320000123456789, 1<<63 - 1, 99999999999999999} {
		id := NewEventID()
		if got, want := outboxID(n, id), fmt.Sprintf("%020d-%s", n, id); got != want {
			t.Errorf("outboxID(%d) = %q, want %q", n, got, want)
		}
	}
	if a, b := outboxID(999, "x"), outboxID(1000, "x"); a >= b {
		t.Errorf("%q sorts after %q", a, b)
	}
}
