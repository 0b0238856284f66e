package app

import (
	"context"
	"slices"
	"testing"
	"time"

	"strongroom/internal/store/memory"
)

// TestHeartbeats: live heartbeats are counted, expired ones are not, and
// only those dead long enough are removed — not one renewed meanwhile.
func TestHeartbeats(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	now := time.Unix(1000, 0)
	const ttl = 6 * time.Second
	for _, n := range []string{"a", "b"} {
		if err := beat(ctx, st, n, ttl, now); err != nil {
			t.Fatal(err)
		}
	}
	live := func(at, dead time.Time) (int, []string) {
		t.Helper()
		n, stale, err := liveNodes(ctx, st, at, dead)
		if err != nil {
			t.Fatal(err)
		}
		return n, stale
	}
	if n, stale := live(now, now.Add(-time.Minute)); n != 2 || len(stale) != 0 {
		t.Fatalf("two fresh heartbeats: %d live, stale %v", n, stale)
	}
	later := now.Add(10 * time.Second) // both expired
	if err := beat(ctx, st, "a", ttl, later); err != nil {
		t.Fatal(err)
	}
	if n, _ := live(later, now); n != 1 {
		t.Fatalf("one renewed heartbeat: %d live", n)
	}
	muchLater := now.Add(2 * time.Minute)
	dead := muchLater.Add(-time.Minute)
	_, stale := live(muchLater, dead)
	if !slices.Equal(stale, []string{"a", "b"}) {
		t.Fatalf("stale %v, want a and b", stale)
	}
	// a is renewed before the removal: it stays.
	if err := beat(ctx, st, "a", ttl, muchLater); err != nil {
		t.Fatal(err)
	}
	if err := removeHeartbeats(ctx, st, stale, dead); err != nil {
		t.Fatal(err)
	}
	if n, stale := live(muchLater, dead); n != 1 || len(stale) != 0 {
		t.Fatalf("after removing the stale: %d live, stale %v", n, stale)
	}
	if err := removeHeartbeats(ctx, st, []string{"a"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := live(muchLater, dead); n != 0 {
		t.Fatalf("after a node removed its own heartbeat: %d live", n)
	}
}
