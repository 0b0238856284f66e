package process

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"
)

// Request quotas across a cluster, and the metrics of caches and the audit
// trail.

// metricValue reads the sample name (with its labels, if any) from a
// node's /metrics: -1 when it is absent.
func metricValue(t *testing.T, n *node, name string) float64 {
	t.Helper()
	_, body := get(t, n.endpoint()+"/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %q", name, m[1])
	}
	return v
}

// TestQuotasAcrossCluster: two nodes on one database, each loaded beyond
// the quota, admit together about the configured rate, not twice it.
func TestQuotasAcrossCluster(t *testing.T) {
	const rate = 40.0 // requests per second, burst one second
	c := startCluster(t, 2, envCreds, "--quotas", fmt.Sprintf("symmetric=%g,burst=1", rate))
	for _, n := range c.nodes {
		within(t, 15*time.Second, "node "+n.name+" sees two nodes", func() bool {
			return metricValue(t, n, "strongroom_quota_nodes") == 2
		})
	}

	const perNode = 4
	const window = 4 * time.Second
	var mu sync.Mutex
	admitted, throttled := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for _, n := range c.nodes {
		cl := nodeKMS(n, testAKID, testSecret, "us-east-1")
		for range perNode {
			wg.Go(func() {
				for time.Since(start) < window {
					_, err := cl.GenerateRandom(context.Background(), &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(1)})
					mu.Lock()
					switch code := errorCode(err); {
					case err == nil:
						admitted[n.name]++
					case code == "ThrottlingException":
						throttled[n.name]++
					default:
						mu.Unlock()
						t.Errorf("node %s: %v", n.name, err)
						return
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := admitted["A"] + admitted["B"]
	want := rate*elapsed.Seconds() + rate // refill over the window, plus the full buckets at the start
	t.Logf("admitted %v (%d in all, %.0f expected at %g/s over %v), throttled %v", admitted, total, want, rate, elapsed.Round(time.Millisecond), throttled)
	for _, n := range c.nodes {
		if throttled[n.name] == 0 {
			t.Fatalf("node %s throttled nothing: the load did not exceed its share", n.name)
		}
	}
	if f := float64(total) / want; f < 0.75 || f > 1.25 {
		t.Errorf("the cluster admitted %d requests, %.2f times the %.0f the quota allows", total, f, want)
	}

	// A node that stops gives its share back to the others.
	c.nodes[1].cmd.Process.Signal(os.Interrupt)
	<-c.nodes[1].done
	within(t, 15*time.Second, "node A back to one node", func() bool {
		return metricValue(t, c.nodes[0], "strongroom_quota_nodes") == 1
	})
}

// TestMetricsCachesAndAudit scrapes /metrics before and after calls: the
// cache counters and the audit counters move, and records the store
// refuses are counted as held until it accepts them again.
func TestMetricsCachesAndAudit(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, 1, envCreds)
	n := c.nodes[0]
	cl := nodeKMS(n, testAKID, testSecret, "us-east-1")
	key, err := cl.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	series := []string{
		`strongroom_cache_hits_total{cache="key_record"}`,
		`strongroom_cache_hits_total{cache="key_material"}`,
		`strongroom_cache_hits_total{cache="policy"}`,
		`strongroom_cache_hits_total{cache="access_key"}`,
		`strongroom_cache_misses_total{cache="access_key"}`,
		`strongroom_audit_records_total`,
		`strongroom_audit_commits_total`,
	}
	before := map[string]float64{}
	for _, s := range series {
		before[s] = metricValue(t, n, s)
		if before[s] < 0 {
			t.Fatalf("/metrics lacks %s", s)
		}
	}
	for range 5 {
		if _, err := cl.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // past the access key cache's second
	if _, err := cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		after := metricValue(t, n, s)
		t.Logf("%s: %g -> %g", s, before[s], after)
		if after <= before[s] {
			t.Errorf("%s did not move: %g -> %g", s, before[s], after)
		}
	}
	if v := metricValue(t, n, "strongroom_audit_held_records"); v != 0 {
		t.Fatalf("strongroom_audit_held_records = %g with the store up", v)
	}

	// The database goes read-only: a read-only call still succeeds, its
	// audit record held in memory, and the gauge says so.
	admin, err := pgx.Connect(ctx, postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	db := dbName(c.db)
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	readOnly := func(on bool) {
		exec(fmt.Sprintf("ALTER DATABASE %s SET default_transaction_read_only = %v", db, on))
		exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "' AND pid <> pg_backend_pid()")
	}
	readOnly(true)
	t.Cleanup(func() {
		admin.Exec(context.Background(), "ALTER DATABASE "+db+" SET default_transaction_read_only = false")
	})
	within(t, 10*time.Second, "a held audit record", func() bool {
		cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId})
		return metricValue(t, n, "strongroom_audit_held_records") >= 1
	})
	readOnly(false)
	within(t, 30*time.Second, "held audit records written", func() bool {
		cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId})
		return metricValue(t, n, "strongroom_audit_held_records") == 0
	})
}
