// Serialization conflicts on PostgreSQL under concurrent changing calls.
// Every changing call that succeeds writes its audit record inside its own
// transaction, so every one of them reads and writes the trail's head: two
// at once conflict. The benchmark runs CreateKey and TagResource (on a few
// shared keys) from 8 and 32 clients at once against one or two nodes on one
// database, and reports, beside the throughput, the retries the store made
// (postgres.Store.Retries: a transaction run again after a serialization
// failure or deadlock) per call.
//
//	go test -run '^$' -bench Conflicts -benchtime 2000x ./bench/
//
// Needs PostgreSQL at $STRONGROOM_TEST_POSTGRES or 127.0.0.1:5432 (it is
// skipped without).

package bench_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/app"
	"strongroom/internal/rootkey"
	"strongroom/internal/store/postgres"
)

func BenchmarkConflicts(b *testing.B) {
	for _, nodes := range []int{1, 2} {
		for _, clients := range []int{8, 32} {
			b.Run(fmt.Sprintf("postgres/%dnodes/%dclients", nodes, clients), func(b *testing.B) {
				benchmarkConflicts(b, nodes, clients)
			})
		}
	}
}

func benchmarkConflicts(b *testing.B, nodes, clients int) {
	ctx := context.Background()
	dbURL := clusterDatabase(b)
	sealer := rootkey.NewEphemeral()
	root := app.NewCredentials()
	var stores []*postgres.Store
	var kc []*kms.Client
	for range nodes {
		st, err := postgres.Open(ctx, dbURL)
		if err != nil {
			b.Fatal(err)
		}
		stores = append(stores, st)
		kc = append(kc, startNode(b, st, sealer, root))
	}
	// A few shared keys for TagResource: calls on one key also write the
	// same key record.
	var shared []string
	for range 4 {
		out, err := kc[0].CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			b.Fatal(err)
		}
		shared = append(shared, aws.ToString(out.KeyMetadata.KeyId))
	}
	retries := func() (n int64) {
		for _, st := range stores {
			n += st.Retries()
		}
		return n
	}
	before := retries()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				c := kc[int(i)%len(kc)]
				var err error
				if i%2 == 0 {
					_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("conflicts")})
				} else {
					_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(shared[(int(i)/2+w)%len(shared)]),
						Tags: []types.Tag{{TagKey: aws.String(fmt.Sprintf("k%d", w)), TagValue: aws.String(fmt.Sprint(i))}}})
				}
				if err != nil {
					if failed.Add(1) == 1 {
						b.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	r := retries() - before
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(r)/float64(b.N), "retries/call")
	b.ReportMetric(float64(r), "retries")
}
