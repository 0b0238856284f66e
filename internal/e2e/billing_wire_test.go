package e2e

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/metering"
	"strongroom/internal/testenv"
)

// burst makes n calls of fn, 8 at a time, and fails the test on any error.
func burst(t *testing.T, n int, fn func() error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := fn(); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
}

func billAt(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestBillingByHand runs a month of an account on the injected clock —
// keys created, deleted, cancelled and rotated mid-month, 25,000 requests of
// every price class, an AWS managed key, failed requests — and checks
// `GetBillingReport` against a bill computed by hand, to the cent.
func TestBillingByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("25,000 requests")
	}
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	west := env.KMSAs(env.Root, "us-west-2")
	create := func(c *kms.Client, in *kms.CreateKeyInput) string {
		t.Helper()
		return *must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, in)).KeyMetadata.KeyId
	}
	symmetric := 0 // November's symmetric-class requests in us-east-1, counted as made

	env.Clock.Set(billAt("2026-10-31 23:30"))
	e := create(c, &kms.CreateKeyInput{}) // October's request; November: all 720 hours

	env.Clock.Set(billAt("2026-11-01 00:00"))
	a := create(c, &kms.CreateKeyInput{})
	symmetric++

	env.Clock.Set(billAt("2026-11-03 10:30"))
	b := create(c, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	symmetric++
	burst(t, 1500, func() error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &b, Plaintext: []byte("rsa"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		return err
	})

	env.Clock.Set(billAt("2026-11-05 06:00"))
	cc := create(c, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	symmetric++
	burst(t, 1000, func() error {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: &cc, Message: []byte("m"), MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		return err
	})

	env.Clock.Set(billAt("2026-11-07 00:00"))
	burst(t, 200, func() error {
		_, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: &a, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
		return err
	})
	burst(t, 25, func() error {
		_, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: &a, KeyPairSpec: types.DataKeyPairSpecRsa2048})
		return err
	})

	env.Clock.Set(billAt("2026-11-08 00:00"))
	// The AWS managed key: created on first use, never charged; its
	// requests are.
	burst(t, 300, func() error {
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")})
		return err
	})
	symmetric += 300
	for range 5 { // refused (not through EBS): failed requests are not charged
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/ebs"), Plaintext: []byte("x")})
		wantCode(t, err, "AccessDeniedException")
	}

	env.Clock.Set(billAt("2026-11-10 12:15"))
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &b, PendingWindowInDays: aws.Int32(7)}))
	symmetric++
	env.Clock.Set(billAt("2026-11-12 00:00"))
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &cc, PendingWindowInDays: aws.Int32(30)}))
	symmetric++

	env.Clock.Set(billAt("2026-11-15 00:00"))
	w := create(west, &kms.CreateKeyInput{})
	burst(t, 10, func() error {
		_, err := west.Encrypt(ctx, &kms.EncryptInput{KeyId: &w, Plaintext: []byte("west")})
		return err
	})

	env.Clock.Set(billAt("2026-11-17 13:00"))
	if deleted, err := env.App.Service.DeleteDueKeys(ctx); err != nil || len(deleted) != 1 {
		t.Fatalf("DeleteDueKeys: %v %v", deleted, err)
	}

	env.Clock.Set(billAt("2026-11-20 00:00"))
	must[*kms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &cc}))
	symmetric++

	env.Clock.Set(billAt("2026-11-20 08:45"))
	d := create(c, &kms.CreateKeyInput{})
	symmetric++
	for _, when := range []string{"2026-11-25 00:00", "2026-11-26 00:00", "2026-11-27 00:00"} {
		env.Clock.Set(billAt(when))
		must[*kms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &d}))
		symmetric++
	}

	env.Clock.Set(billAt("2026-11-28 00:00"))
	n := 25000 - 1500 - 1000 - 200 - 25 - symmetric // 25,000 requests in us-east-1 in all
	burst(t, n, func() error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &a, Plaintext: []byte("symmetric")})
		return err
	})
	symmetric += n
	if symmetric != 22275 {
		t.Fatalf("symmetric requests %d", symmetric)
	}

	env.Clock.Set(billAt("2026-12-02 00:00"))
	var out struct{ Bill *metering.Bill }
	if status, code := adminCall(t, env, rootCreds(env), "GetBillingReport", map[string]any{"Month": "2026-11"}, &out); status != 200 {
		t.Fatalf("GetBillingReport: %d %s", status, code)
	}
	ids := map[string]string{e: "E", a: "A", b: "B", cc: "C", d: "D", w: "W"}
	var lines []string
	for _, r := range out.Bill.Regions {
		for _, k := range r.Keys {
			lines = append(lines, fmt.Sprintf("%s %s %s %dh %s", r.Region, k.Item, ids[k.KeyID], k.Hours, k.Amount))
		}
		for _, q := range r.Requests {
			lines = append(lines, fmt.Sprintf("%s %s %d-%d %s", r.Region, q.Class, q.Requests, q.Free, q.Amount))
		}
		lines = append(lines, r.Region+" subtotal "+r.Subtotal)
	}
	// The bill by hand. November 2026 has 720 hours; a key is charged for
	// every clock hour it is not pending deletion, a month's hours = $1.
	want := []string{
		"us-east-1 key E 720h 1.00",              // created October 31, 23:30
		"us-east-1 key A 720h 1.00",              // created November 1, 00:00
		"us-east-1 key B 171h 0.24",              // Nov 3 10:00 to Nov 10 13:00 (scheduled 12:15, deleted Nov 17): 0.2375
		"us-east-1 key C 618h 0.86",              // Nov 5 06:00 to the end (deletion cancelled): 0.858333…
		"us-east-1 key D 256h 0.36",              // Nov 20 08:00 to the end: 0.355555…
		"us-east-1 rotation 1 D 144h 0.20",       // from Nov 25
		"us-east-1 rotation 2 D 120h 0.17",       // from Nov 26: 0.166666…; the third rotation is free
		"us-east-1 symmetric 22275-20000 0.01",   // 2,275 × 0.03 / 10,000 = 0.006825
		"us-east-1 rsa_2048 1500-0 0.00",         // × 0.03 / 10,000 = 0.0045
		"us-east-1 asymmetric 1000-0 0.02",       // × 0.15 / 10,000 = 0.015, half up
		"us-east-1 data_key_pair_ecc 200-0 0.00", // × 0.10 / 10,000 = 0.002
		"us-east-1 data_key_pair_rsa 25-0 0.03",  // × 12.00 / 10,000 = 0.03
		"us-east-1 subtotal 3.89",
		"us-west-2 key W 384h 0.53", // from Nov 15: 0.533333…
		"us-west-2 symmetric 11-11 0.00",
		"us-west-2 subtotal 0.53",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("bill:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if out.Bill.Total != "4.42" || out.Bill.Account != testenv.Account || out.Bill.Month != "2026-11" {
		t.Fatalf("total %s for %s %s, want 4.42", out.Bill.Total, out.Bill.Account, out.Bill.Month)
	}

	// October: one hour of key E, one request in the free tier.
	if status, code := adminCall(t, env, rootCreds(env), "GetBillingReport", map[string]any{"Month": "2026-10"}, &out); status != 200 {
		t.Fatalf("GetBillingReport: %d %s", status, code)
	}
	if r := out.Bill.Regions; len(r) != 1 || len(r[0].Keys) != 1 || r[0].Keys[0].Hours != 1 || r[0].Keys[0].MonthHours != 744 || r[0].Requests[0].Requests != 1 || out.Bill.Total != "0.00" {
		t.Fatalf("October: %+v", out.Bill)
	}
	// A price table sent with the request.
	in := map[string]any{"Month": "2026-11", "PriceTable": map[string]any{"KeyMonth": "2.00", "Classes": []map[string]any{{"Class": "data_key_pair_rsa", "Price": "20.00"}}}}
	if status, code := adminCall(t, env, rootCreds(env), "GetBillingReport", in, &out); status != 200 {
		t.Fatalf("GetBillingReport: %d %s", status, code)
	}
	if out.Bill.Regions[0].Keys[0].Amount != "2.00" || out.Bill.Regions[0].Requests[4].Amount != "0.05" {
		t.Fatalf("with the request's prices: %+v", out.Bill.Regions[0])
	}
}
