// Encrypt throughput of a cluster: 1, 2 and 3 nodes sharing one PostgreSQL
// database, against one node on the embedded store. The nodes run in this
// process (each a full app: its own store connection pool, kms core, API
// handler and loopback HTTP listener); the clients — aws-sdk-go-v2 with
// SigV4, 32 at once — take the nodes in turn, one node per request, as a
// round-robin load balancer would.
//
//	go test -run '^$' -bench Cluster -benchtime 5s ./bench/
//
// Needs PostgreSQL at $STRONGROOM_TEST_POSTGRES or 127.0.0.1:5432 (it is
// skipped without). On one machine the nodes share its cores, so more
// nodes cannot add CPU: what the figures show is the cost of the database
// round trips each request makes, and that nodes add no contention of
// their own.

package bench_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/app"
	"strongroom/internal/clock"
	"strongroom/internal/rootkey"
	"strongroom/internal/server"
	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
	"strongroom/internal/store/postgres"
	"strongroom/internal/store/postgres/pgtest"
)

func BenchmarkClusterEncrypt(b *testing.B) {
	b.Run("embedded/1node", func(b *testing.B) {
		dir := b.TempDir()
		st, err := bolt.Open(dir, bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchmarkClusterEncrypt(b, []store.Store{st})
	})
	for n := 1; n <= 3; n++ {
		b.Run(fmt.Sprintf("postgres/%dnodes", n), func(b *testing.B) {
			dbURL := clusterDatabase(b)
			var stores []store.Store
			for range n {
				st, err := postgres.Open(context.Background(), dbURL)
				if err != nil {
					b.Fatal(err)
				}
				stores = append(stores, st)
			}
			benchmarkClusterEncrypt(b, stores)
		})
	}
}

// clusterDatabase creates a database for one benchmark and drops it after;
// without PostgreSQL the benchmark is skipped.
func clusterDatabase(b *testing.B) string {
	if err := pgtest.Available(); err != nil {
		b.Skipf("no PostgreSQL at %s: %v", pgtest.URL(), err)
	}
	return pgtest.Database(b)
}

// benchmarkClusterEncrypt serves one node per store (all with one root of
// trust and one bootstrap key) and encrypts 64 bytes from 32 clients,
// spreading requests over the nodes.
func benchmarkClusterEncrypt(b *testing.B, stores []store.Store) {
	ctx := context.Background()
	sealer := rootkey.NewEphemeral()
	root := app.NewCredentials()
	var clients []*kms.Client
	for _, st := range stores {
		clients = append(clients, startNode(b, st, sealer, root))
	}
	key, err := clients[0].CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	in := &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: make([]byte, 64)}
	for _, c := range clients { // warm every node: identity cache, unsealed material
		if _, err := c.Encrypt(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Uint64
	b.SetParallelism(16) // 32 clients on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := clients[next.Add(1)%uint64(len(clients))]
			if _, err := c.Encrypt(ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// startNode runs a node (a full app on st, as serve assembles it, with its
// loopback HTTP listener) until the benchmark ends, and returns a client
// of it signing as root, without retries.
func startNode(b *testing.B, st store.Store, sealer rootkey.Sealer, root app.Credentials) *kms.Client {
	a, err := app.New(context.Background(), app.Options{
		Store: st, Sealer: sealer, Clock: clock.System{},
		Account: "111122223333", Region: "us-east-1", EncryptLimit: 1 << 20, BootstrapKey: root,
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := server.New(ln, a.Handler, nil)
	go srv.Serve()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		a.Close()
		st.Close()
	})
	return kms.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, ""),
		BaseEndpoint: aws.String("http://" + ln.Addr().String()),
		HTTPClient:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	})
}
