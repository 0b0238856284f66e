package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"strongroom/internal/store"
)

// TestContendedUpdatesQueue: two Updates marked store.WithContention that
// read and write the same record do not run side by side (which would end
// in a serialization failure and a retry): the second waits, on the lock,
// before its function runs, until the first commits. Neither runs again.
func TestContendedUpdatesQueue(t *testing.T) {
	s := openURL(t, freshURL(t))
	if err := s.Update(t.Context(), func(tx store.Tx) error { return setCounter(tx, 0) }); err != nil {
		t.Fatal(err)
	}
	ctx := store.WithContention(t.Context())
	increment := func(entered chan<- struct{}, release <-chan struct{}) func(store.Tx) error {
		return func(tx store.Tx) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			n, err := counter(tx)
			if err != nil {
				return err
			}
			if release != nil {
				<-release
			}
			return setCounter(tx, n+1)
		}
	}
	aIn, bIn := make(chan struct{}, 1), make(chan struct{}, 1)
	release := make(chan struct{})
	done := make(chan error, 2)
	go func() { done <- s.Update(ctx, increment(aIn, release)) }()
	<-aIn // A holds its transaction open, the counter read
	go func() { done <- s.Update(ctx, increment(bIn, nil)) }()

	// Either B's function runs while A is open (the failure), or B waits
	// for a lock: whichever is seen first.
	conn, err := pgx.Connect(t.Context(), testDB.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for waiting := 0; waiting == 0; {
		select {
		case <-bIn:
			close(release)
			t.Fatal("a second contended Update ran its function while the first was open")
		default:
		}
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'strongroom'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the second Update neither ran nor waited for a lock")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := s.View(t.Context(), func(tx store.Tx) error { n, err = counter(tx); return err }); err != nil {
		t.Fatal(err)
	}
	if n != 2 || s.Retries() != 0 {
		t.Errorf("counter %d after two increments, %d retries; want 2 and none", n, s.Retries())
	}
}
