package e2e

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/store/bolt"
	"strongroom/internal/testenv"
)

// The audit trail's figures on /metrics: records written (by the group
// commit and inside a changing call's own transaction), the queues, and
// the age of the last signed digest.

// scrape reads /metrics into a map from series (name and labels, as
// written) to value.
func scrape(t *testing.T, env *testenv.Env) map[string]float64 {
	t.Helper()
	resp, err := http.Get(env.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// series returns a series' value, failing if /metrics lacks it or it is
// not a number.
func series(t *testing.T, m map[string]float64, name string) float64 {
	t.Helper()
	v, ok := m[name]
	if !ok {
		t.Fatalf("/metrics lacks %s", name)
	}
	if math.IsNaN(v) {
		t.Fatalf("%s is NaN", name)
	}
	return v
}

const (
	mRecords  = "strongroom_audit_records_total"
	mInTx     = "strongroom_audit_records_in_tx_total"
	mCommits  = "strongroom_audit_commits_total"
	mQueued   = `strongroom_audit_queue_records{stage="group_commit"}`
	mApply    = `strongroom_audit_queue_records{stage="apply"}`
	mAge      = "strongroom_audit_digest_age_seconds"
	mUnsigned = "strongroom_audit_unsigned_records"
)

// syncTrail waits until every record acknowledged so far is written and
// applied: with segment files a changing call's record may reach the group
// commit after the call has been answered.
func syncTrail(t *testing.T, env *testenv.Env) {
	t.Helper()
	if err := env.App.Trail.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsAuditRecords: a CreateKey moves strongroom_audit_records_total
// whichever way its record is written: inside its own transaction where the
// trail is in the store (as on PostgreSQL: strongroom_audit_records_in_tx_total
// moves with it, the group commit does not), or by the group commit into the
// segment files (as `serve` on its embedded store; a record written in a
// transaction there passes through the outbox, and the group commit that
// moves it counts it).
func TestMetricsAuditRecords(t *testing.T) {
	for _, inStore := range []bool{true, false} {
		t.Run(trailMode(inStore), func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Metrics: true, AuditInStore: inStore})
			c := env.KMS()
			before := scrape(t, env)
			id := newKey(t, c, "counted").KeyId
			syncTrail(t, env)
			after := scrape(t, env)
			dRecords := series(t, after, mRecords) - series(t, before, mRecords)
			dInTx := series(t, after, mInTx) - series(t, before, mInTx)
			dCommits := series(t, after, mCommits) - series(t, before, mCommits)
			if dRecords < 1 {
				t.Fatalf("after a CreateKey %s moved by %v", mRecords, dRecords)
			}
			if inStore {
				if dInTx != dRecords || dCommits != 0 {
					t.Errorf("CreateKey with its record in its own transaction: %s +%v, %s +%v, %s +%v; want the in-transaction count to move with the total, and no group commit",
						mRecords, dRecords, mInTx, dInTx, mCommits, dCommits)
				}
			} else if dInTx != 0 || dCommits < 1 {
				t.Errorf("CreateKey through the group commit: %s +%v, %s +%v", mInTx, dInTx, mCommits, dCommits)
			}

			// A read-only call's record always goes through the group
			// commit.
			must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id}))
			syncTrail(t, env)
			read := scrape(t, env)
			if d := series(t, read, mRecords) - series(t, after, mRecords); d < 1 {
				t.Errorf("after a DescribeKey %s moved by %v", mRecords, d)
			}
			if d := series(t, read, mInTx) - series(t, after, mInTx); d != 0 {
				t.Errorf("after a DescribeKey %s moved by %v", mInTx, d)
			}
			if d := series(t, read, mCommits) - series(t, after, mCommits); d < 1 {
				t.Errorf("after a DescribeKey %s moved by %v", mCommits, d)
			}
		})
	}
}

// TestMetricsAuditLag: the queues are empty once the trail is synced, the
// records since the last digest are counted, and the digest's age follows
// the clock until the trail is sealed.
func TestMetricsAuditLag(t *testing.T) {
	for _, inStore := range []bool{true, false} {
		t.Run(trailMode(inStore), func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Metrics: true, AuditInStore: inStore})
			c := env.KMS()
			for range 3 {
				newKey(t, c, "lag")
			}
			if err := env.App.Trail.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			m := scrape(t, env)
			if q, a := series(t, m, mQueued), series(t, m, mApply); q != 0 || a != 0 {
				t.Errorf("synced trail with nothing in flight: queued %v, to apply %v", q, a)
			}
			if u := series(t, m, mUnsigned); u < 3 {
				t.Errorf("%s = %v after three calls and no digest", mUnsigned, u)
			}
			age := series(t, m, mAge)
			env.Clock.Advance(2 * time.Hour)
			if got := series(t, scrape(t, env), mAge); got < age+2*3600 {
				t.Errorf("%s = %v two hours after %v", mAge, got, age)
			}
			// Sealing signs a digest now: nothing unsigned, age 0 (the
			// fake clock stands still).
			if err := env.App.Trail.Seal(ctx); err != nil {
				t.Fatal(err)
			}
			m = scrape(t, env)
			if u, a := series(t, m, mUnsigned), series(t, m, mAge); u != 0 || a != 0 {
				t.Errorf("after Seal: %s %v, %s %v", mUnsigned, u, mAge, a)
			}
			// The segment files' backlog after one more call: that call's
			// record, or nothing if the applier has run (which of the two
			// is not asserted: the applier runs on its own clock).
			if !inStore {
				newKey(t, c, "lag")
				if a := series(t, scrape(t, env), mApply); a != 0 && a != 1 {
					t.Errorf("%s = %v after one call", mApply, a)
				}
			}
		})
	}
}

// TestMetricsStoreUnapplied: on the embedded store, /metrics shows the
// commits durable in the redo log that the file does not hold yet — none
// once the store has written them (Backup writes them first); the memory
// store has no such series.
func TestMetricsStoreUnapplied(t *testing.T) {
	const name = "strongroom_store_unapplied_commits"
	st, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, testenv.Options{Store: st, Metrics: true})
	newKey(t, env.KMS(), "unapplied")
	series(t, scrape(t, env), name) // there, and a number
	if _, err := st.Backup(ctx, io.Discard); err != nil {
		t.Fatal(err)
	}
	// Only the trail's background commits (one every 100 ms at most) can
	// come between the two.
	if v := series(t, scrape(t, env), name); v > 2 {
		t.Errorf("%s = %v right after the store wrote its log into the file", name, v)
	}
	mem := testenv.Start(t, testenv.Options{Metrics: true})
	if _, ok := scrape(t, mem)[name]; ok {
		t.Errorf("%s on the memory store", name)
	}
}
