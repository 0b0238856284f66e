package audit

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"strongroom/internal/rootkey"
	"strongroom/internal/store"
	"strongroom/internal/store/postgres"
)

// TestClusterOfTwoNodes: two nodes (two Trails over two connections to one
// PostgreSQL database) append concurrently. The trail is one chain that
// verifies, with every record once, and the effects applied with them are
// exact.
func TestClusterOfTwoNodes(t *testing.T) {
	base := os.Getenv("STRONGROOM_TEST_POSTGRES")
	if base == "" {
		t.Skip("set STRONGROOM_TEST_POSTGRES to a postgres:// URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at STRONGROOM_TEST_POSTGRES: %v", err)
	}
	defer admin.Close(context.Background())
	schema := "strongroom_audit_test_" + strconv.Itoa(os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	sealer := rootkey.NewEphemeral()
	var trails []*Trail
	for range 2 {
		st, err := postgres.Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		tr, err := Open(ctx, st, sealer, Options{DigestEvery: 50})
		if err != nil {
			t.Fatal(err)
		}
		tr.SetEffects(func(tx store.Tx, effects []any) error {
			n := 0
			if b, err := tx.Get(store.KindMeter, "test", "count"); err == nil {
				n, _ = strconv.Atoi(string(b))
			}
			return tx.Put(store.KindMeter, "test", "count", []byte(strconv.Itoa(n+len(effects))))
		})
		trails = append(trails, tr)
	}
	if !bytes.Equal(trails[0].PublicKey(), trails[1].PublicKey()) {
		t.Fatal("the nodes have different signing keys")
	}
	const perNode, writers = 100, 8
	var wg sync.WaitGroup
	for n, tr := range trails {
		for w := range writers {
			wg.Go(func() {
				for i := range perNode / writers {
					e := event(i, "Encrypt", fmt.Sprintf("node%d-%d", n, w), time.Now())
					if err := tr.Append(ctx, &Entry{Event: e, Effect: 1}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	rep := verify(t, exportAll(t, trails[1], ExportQuery{}))
	want := len(trails) * writers * (perNode / writers)
	if rep.Problem != nil || rep.Records != want {
		t.Fatalf("%d records, want %d: %v", rep.Records, want, rep.Problem)
	}
	var count []byte
	trails[0].st.View(ctx, func(tx store.Tx) error {
		count, _ = tx.Get(store.KindMeter, "test", "count")
		return nil
	})
	if string(count) != strconv.Itoa(want) {
		t.Fatalf("effects applied %s times, want %d", count, want)
	}
}
