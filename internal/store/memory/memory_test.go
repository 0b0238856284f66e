package memory

import (
	"errors"
	"fmt"
	"testing"

	"strongroom/internal/store"
	"strongroom/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New() })
}

// A panicking fn leaves no partial write behind and does not wedge the store.
func TestPanicRollsBack(t *testing.T) {
	s := New()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic did not propagate")
			}
		}()
		s.Update(t.Context(), func(tx store.Tx) error {
			if err := tx.Put(store.KindKey, "sc", "k", []byte("v")); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	err := s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(store.KindKey, "sc", "k")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after a panicking Update: %v, want ErrNotFound", err)
	}
}

func TestTxAfterReturn(t *testing.T) {
	s := New()
	var leaked store.Tx
	s.Update(t.Context(), func(tx store.Tx) error { leaked = tx; return nil })
	if err := leaked.Put(store.KindKey, "sc", "k", []byte("v")); err == nil {
		t.Error("Put on a finished transaction succeeded")
	}
	if _, err := leaked.Get(store.KindKey, "sc", "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get on a finished transaction: %v, want a misuse error", err)
	}
}

// BenchmarkListDeep pages through the end of a large scope: the cost of a
// page must not grow with its depth.
func BenchmarkListDeep(b *testing.B) {
	s := New()
	const n = 100_000
	s.Update(b.Context(), func(tx store.Tx) error {
		for i := range n {
			tx.Put(store.KindKey, "sc", fmt.Sprintf("id%08d", i), []byte("v"))
		}
		return nil
	})
	after := fmt.Sprintf("id%08d", n-200)
	for b.Loop() {
		s.View(b.Context(), func(tx store.Tx) error {
			_, err := tx.List(store.KindKey, "sc", after, 100)
			return err
		})
	}
}
