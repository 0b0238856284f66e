package app

import (
	"context"
	"testing"
	"time"

	"strongroom/internal/store/memory"
)

func TestLease(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	now := time.Unix(1000, 0)
	ttl := 30 * time.Second
	take := func(holder string, at time.Time) bool {
		t.Helper()
		ok, err := acquireLease(ctx, st, "work", holder, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("a", now) {
		t.Fatal("a free lease was not taken")
	}
	if take("b", now.Add(time.Second)) {
		t.Fatal("b took a lease a holds")
	}
	if !take("a", now.Add(20*time.Second)) {
		t.Fatal("a could not renew")
	}
	if take("b", now.Add(40*time.Second)) {
		t.Fatal("b took a renewed lease before it expired")
	}
	if !take("b", now.Add(51*time.Second)) {
		t.Fatal("b could not take an expired lease")
	}
	if err := releaseLease(ctx, st, "work", "a"); err != nil { // not a's any more: a no-op
		t.Fatal(err)
	}
	if take("a", now.Add(52*time.Second)) {
		t.Fatal("a former holder's release freed b's lease")
	}
	if err := releaseLease(ctx, st, "work", "b"); err != nil {
		t.Fatal(err)
	}
	if !take("a", now.Add(53*time.Second)) {
		t.Fatal("a released lease was not free")
	}
}
