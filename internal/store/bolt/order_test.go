package bolt

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"strongroom/internal/store"
)

// leafFill returns how full the leaf pages of (kind, scope) are, in use
// over allocated, in a closed store file.
func leafFill(t *testing.T, path string, kind store.Kind, scope string) float64 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var st bbolt.BucketStats
	db.View(func(tx *bbolt.Tx) error {
		st = tx.Bucket([]byte(kind)).Bucket(scopeName(scope)).Stats()
		return nil
	})
	return float64(st.LeafInuse) / float64(st.LeafAlloc)
}

// wantRecords fails t unless (kind, scope) holds n records, read back.
func wantRecords(t *testing.T, s *Store, kind store.Kind, scope string, n int) {
	t.Helper()
	err := s.View(t.Context(), func(tx store.Tx) error {
		items, err := tx.List(kind, scope, "", 0)
		if err != nil || len(items) != n {
			t.Errorf("%s/%s: %d records, %v; want %d", kind, scope, len(items), err, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAppendOrderPacksPages checks that a bucket whose ids only grow (the
// audit trail) is packed full at each apply, that one written out of
// order keeps bbolt's half-full split, and that both read back whole.
func TestAppendOrderPacksPages(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	value := bytes.Repeat([]byte{'v'}, 300)
	const groups, each = 40, 25
	for g := range groups {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			for i := range each {
				n := g*each + i
				if err := tx.Put(store.KindAudit, "", fmt.Sprintf("%08d", n), value); err != nil {
					return err
				}
				// The same ids, in an order that is not ascending.
				if err := tx.Put(store.KindKey, "s", fmt.Sprintf("%08d", (n*7919)%(groups*each)), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.apply(); err != nil { // one apply per group, as under load
			t.Fatal(err)
		}
	}
	wantRecords(t, s, store.KindAudit, "", groups*each)
	wantRecords(t, s, store.KindKey, "s", groups*each)
	s.Close()
	if f := leafFill(t, s.Path(), store.KindAudit, ""); f < 0.85 {
		t.Errorf("appended bucket: leaf pages %.0f%% full, want ≥ 85%%", 100*f)
	}
	if f := leafFill(t, s.Path(), store.KindKey, "s"); f > 0.8 {
		t.Errorf("bucket written out of order: leaf pages %.0f%% full: packed full, every insert would split a page", 100*f)
	}
	s = openTest(t, dir) // and the file verifies
	s.Close()
}

// TestLazyKindsSkippedByOpenWalk: a damaged record of a lazy kind does not
// stop Open (the walk skips it) but is still refused when read; a damaged
// record of any other kind stops Open.
func TestLazyKindsSkippedByOpenWalk(t *testing.T) {
	for _, lazy := range []bool{true, false} {
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Put(store.KindAudit, "", "00000001", []byte("record-value-to-damage"))
		}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		path := filepath.Join(dir, FileName)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte("record-value-to-damage"))
		if i < 0 {
			t.Fatal("record not found in the file")
		}
		b[i] ^= 0x01
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		var opts Options
		if lazy {
			opts.LazyKinds = []store.Kind{store.KindAudit}
		}
		s, err = Open(dir, opts)
		if !lazy {
			if err == nil {
				s.Close()
				t.Fatal("a damaged record of a non-lazy kind did not stop Open")
			}
			continue
		}
		if err != nil {
			t.Fatalf("lazy kind: Open refused: %v", err)
		}
		err = s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(store.KindAudit, "", "00000001")
			return err
		})
		s.Close()
		if err == nil {
			t.Fatal("a damaged lazy record was served")
		}
	}
}

// TestLateFewStillPacks: a bucket given ids that grow, but for a few in
// each apply that sort just below the last one applied (calls that took
// their time-ordered ids before others and committed after them), is still
// packed full; one where the late ids are many is not.
func TestLateFewStillPacks(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	value := bytes.Repeat([]byte{'v'}, 300)
	const groups, each = 40, 30
	for g := range groups {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			for i := range each {
				n := g*each + i
				if err := tx.Put(store.KindKey, "few", fmt.Sprintf("%08d", n), value); err != nil {
					return err
				}
				// Half the puts land below the last id applied.
				id := fmt.Sprintf("%08d", n)
				if i%2 == 0 && g > 0 {
					id = fmt.Sprintf("%08dm%02d", g*each-2, i)
				}
				if err := tx.Put(store.KindKey, "many", id, value); err != nil {
					return err
				}
			}
			if g > 0 { // two late ones: the ids of calls that committed after the last apply
				for _, id := range []string{fmt.Sprintf("%08dx", g*each-2), fmt.Sprintf("%08dy", g*each-3)} {
					if err := tx.Put(store.KindKey, "few", id, value); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.apply(); err != nil { // one apply per group
			t.Fatal(err)
		}
	}
	wantRecords(t, s, store.KindKey, "few", groups*each+2*(groups-1))
	wantRecords(t, s, store.KindKey, "many", groups*each)
	s.Close()
	if f := leafFill(t, s.Path(), store.KindKey, "few"); f < 0.85 {
		t.Errorf("appended bucket with a few late ids per apply: leaf pages %.0f%% full, want ≥ 85%%", 100*f)
	}
	if f := leafFill(t, s.Path(), store.KindKey, "many"); f > 0.8 {
		t.Errorf("bucket with half its ids late: leaf pages %.0f%% full: packed full, every late insert would split a page", 100*f)
	}
	s = openTest(t, dir) // and the file verifies
	s.Close()
}
