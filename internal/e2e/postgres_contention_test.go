package e2e

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/store/postgres"
	"strongroom/internal/store/postgres/pgtest"
	"strongroom/internal/testenv"
)

// TestPostgresChangingCallsQueue: on PostgreSQL every changing call writes
// its audit record, and so the trail's head, inside its own transaction;
// concurrent ones used to conflict (SERIALIZABLE) and run again, most of
// them (0.6 to 0.8 retries per call from 8 or 32 clients, bench/
// conflicts_test.go). They now wait for each other
// (store.WithContention): concurrent CreateKey and TagResource calls on
// shared keys make no retry, as strongroom_store_retries_total shows.
func TestPostgresChangingCallsQueue(t *testing.T) {
	st, err := postgres.Open(ctx, pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, testenv.Options{Store: st, AuditInStore: true, Metrics: true})
	c := env.KMS()
	var shared []string
	for range 2 {
		shared = append(shared, aws.ToString(newKey(t, c, "shared").KeyId))
	}
	before := scrape(t, env)
	const clients, calls = 16, 10
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				var err error
				if i%2 == 0 {
					_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("contention")})
				} else {
					_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(shared[(w+i)%len(shared)]),
						Tags: []types.Tag{{TagKey: aws.String(fmt.Sprintf("client-%d", w)), TagValue: aws.String(fmt.Sprint(i))}}})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	after := scrape(t, env)
	retries := series(t, after, "strongroom_store_retries_total") - series(t, before, "strongroom_store_retries_total")
	inTx := series(t, after, mInTx) - series(t, before, mInTx)
	t.Logf("%d concurrent clients, %d changing calls: %v store retries, %v records in their calls' transactions", clients, clients*calls, retries, inTx)
	if inTx != clients*calls {
		t.Errorf("%v records written in their calls' transactions, want %d", inTx, clients*calls)
	}
	if retries != 0 || st.Retries() != 0 {
		t.Errorf("%v retried transactions (store: %d): changing calls conflicted instead of waiting for each other", retries, st.Retries())
	}
	// Every tag arrived.
	for _, id := range shared {
		out := must[*kms.ListResourceTagsOutput](t)(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)}))
		if len(out.Tags) == 0 {
			t.Errorf("%s has no tags", id)
		}
	}
}
