package audit

import (
	"fmt"
	"testing"
)

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
