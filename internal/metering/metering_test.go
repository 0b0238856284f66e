package metering

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"strongroom/internal/store"
	"strongroom/internal/store/memory"
)

var ctx = context.Background()

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func add(t *testing.T, st store.Store, u *Usage) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error { return Add(tx, u) }); err != nil {
		t.Fatal(err)
	}
}

func keyChange(region, id, what, when string) *Usage {
	return &Usage{Key: &KeyChange{Account: "111122223333", Region: region, KeyID: id, What: what, Time: at(when)}}
}

func requests(t *testing.T, st store.Store, region, class, when string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { // concurrently: the counts must still be exact
			add(t, st, &Usage{Request: &Request{Account: "111122223333", Region: region, Time: at(when), Class: class}})
		})
	}
	wg.Wait()
}

var chargedHoursCases = []struct {
	from, to string
	hours    int64
}{
	{"2026-11-03 10:30", "2026-11-10 12:15", 171}, // every started clock hour
	{"2026-11-03 10:00", "2026-11-03 11:00", 1},
	{"2026-11-03 10:30", "2026-11-03 10:45", 1},
	{"2026-10-31 23:30", "2026-12-05 00:00", 720}, // clipped to November
	{"2026-11-30 23:59", "2026-12-01 00:00", 1},
	{"2026-12-01 00:00", "2026-12-02 00:00", 0},
	{"2026-11-10 00:00", "2026-11-10 00:00", 0},
}

func TestChargedHours(t *testing.T) {
	start, end := at("2026-11-01 00:00"), at("2026-12-01 00:00")
	for _, c := range chargedHoursCases {
		if h, _, _ := chargedHours(at(c.from), at(c.to), start, end); h != c.hours {
			t.Errorf("%s to %s: %d hours, want %d", c.from, c.to, h, c.hours)
		}
	}
}

// TestBillByHand checks a month against a bill computed by hand.
func TestBillByHand(t *testing.T) {
	st := memory.New()
	// Keys (November 2026 has 720 hours):
	add(t, st, keyChange("us-east-1", "a", KeyCreated, "2026-10-20 00:00"))   // all month: 720 h = 1.00
	add(t, st, keyChange("us-east-1", "b", KeyCreated, "2026-11-03 10:30"))   // 10:00 …
	add(t, st, keyChange("us-east-1", "b", KeyScheduled, "2026-11-10 12:15")) // … 13:00: 171 h = 0.2375 → 0.24
	add(t, st, keyChange("us-east-1", "b", KeyDeleted, "2026-11-17 12:15"))
	add(t, st, keyChange("us-east-1", "c", KeyCreated, "2026-11-05 06:00"))   // to the end: 618 h = 0.858333… → 0.86
	add(t, st, keyChange("us-east-1", "c", KeyScheduled, "2026-11-12 00:00")) // cancelled: as if never
	add(t, st, keyChange("us-east-1", "c", KeyCancelled, "2026-11-20 00:00"))
	add(t, st, keyChange("us-east-1", "d", KeyCreated, "2026-11-20 08:45")) // 256 h = 0.355… → 0.36
	add(t, st, keyChange("us-east-1", "d", KeyRotated, "2026-11-25 00:00")) // 144 h = 0.20
	add(t, st, keyChange("us-east-1", "d", KeyRotated, "2026-11-26 00:00")) // 120 h = 0.1666… → 0.17
	add(t, st, keyChange("us-east-1", "d", KeyRotated, "2026-11-27 00:00")) // third: free
	add(t, st, keyChange("us-east-1", "e", KeyCreated, "2026-12-01 00:00")) // December: not in November
	add(t, st, keyChange("us-east-1", "gone", KeyScheduled, "2026-11-01 00:00"))
	add(t, st, keyChange("us-west-2", "w", KeyCreated, "2026-11-15 00:00")) // 384 h = 0.5333… → 0.53
	// Requests.
	requests(t, st, "us-east-1", ClassSymmetric, "2026-11-08 00:00", 150)
	st.Update(ctx, func(tx store.Tx) error { // and 22,125 more, written directly
		return tx.Put(store.KindMeter, "111122223333", counterID("2026-11", "us-east-1", ClassSymmetric), []byte("22275"))
	})
	requests(t, st, "us-east-1", ClassRSA2048, "2026-11-08 00:00", 30)
	st.Update(ctx, func(tx store.Tx) error {
		return tx.Put(store.KindMeter, "111122223333", counterID("2026-11", "us-east-1", ClassRSA2048), []byte("1500"))
	})
	st.Update(ctx, func(tx store.Tx) error {
		for class, n := range map[string]string{ClassAsymmetric: "1000", ClassDataKeyPairECC: "200", ClassDataKeyPairRSA: "25"} {
			if err := tx.Put(store.KindMeter, "111122223333", counterID("2026-11", "us-east-1", class), []byte(n)); err != nil {
				return err
			}
		}
		return nil
	})
	requests(t, st, "us-west-2", ClassSymmetric, "2026-11-16 00:00", 11)
	requests(t, st, "us-east-1", ClassSymmetric, "2026-12-01 00:00", 5) // December

	bill, err := Report(ctx, st, "111122223333", "2026-11", at("2026-12-02 00:00"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range bill.Regions {
		for _, k := range r.Keys {
			lines = append(lines, r.Region+" "+k.Item+" "+k.KeyID+" "+k.Amount)
		}
		for _, q := range r.Requests {
			lines = append(lines, r.Region+" "+q.Class+" "+q.Amount)
		}
		lines = append(lines, r.Region+" subtotal "+r.Subtotal)
	}
	want := []string{
		"us-east-1 key a 1.00",
		"us-east-1 key b 0.24",
		"us-east-1 key c 0.86",
		"us-east-1 key d 0.36",
		"us-east-1 rotation 1 d 0.20",
		"us-east-1 rotation 2 d 0.17",
		"us-east-1 symmetric 0.01",         // 22,275 − 20,000 = 2,275 × 0.03 / 10,000 = 0.006825
		"us-east-1 rsa_2048 0.00",          // 1,500 × 0.03 / 10,000 = 0.0045
		"us-east-1 asymmetric 0.02",        // 1,000 × 0.15 / 10,000 = 0.015, half up
		"us-east-1 data_key_pair_ecc 0.00", // 200 × 0.10 / 10,000 = 0.002
		"us-east-1 data_key_pair_rsa 0.03", // 25 × 12.00 / 10,000 = 0.03
		"us-east-1 subtotal 2.89",
		"us-west-2 key w 0.53",
		"us-west-2 symmetric 0.00", // within its own region's free tier
		"us-west-2 subtotal 0.53",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("bill:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if bill.Total != "3.42" {
		t.Fatalf("total %s, want 3.42", bill.Total)
	}
	k := bill.Regions[0].Keys[1]
	if k.Hours != 171 || k.MonthHours != 720 || k.Exact != "0.2375" || !strings.Contains(k.Explain, "171 of 720 hours (2026-11-03 10:30 to 2026-11-10 12:15)") {
		t.Errorf("key b's line: %+v", k)
	}
	q := bill.Regions[0].Requests[0]
	if q.Requests != 22275 || q.Free != 20000 || q.Billable != 2275 || q.Exact != "0.006825" ||
		q.Explain != "Symmetric requests: 22,275 requests − 20,000 free = 2,275 × 0.03 per 10,000 = 0.006825 → 0.01" {
		t.Errorf("symmetric line: %+v", q)
	}

	// Mid-month, a live key is charged up to now.
	mid, err := Report(ctx, st, "111122223333", "2026-11", at("2026-11-10 00:30"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if k := mid.Regions[0].Keys[0]; k.KeyID != "a" || k.Hours != 9*24+1 {
		t.Errorf("key a on November 10 at 00:30: %+v", k)
	}
	// Another price table.
	p, err := ParsePrices([]byte(`{"KeyMonth":"2.00","FreeRequests":0,"Classes":[{"Class":"symmetric","Price":"0.10"}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Report(ctx, st, "111122223333", "2026-11", at("2026-12-02 00:00"), p)
	if err != nil {
		t.Fatal(err)
	}
	if k, q := other.Regions[0].Keys[0], other.Regions[0].Requests[0]; k.Amount != "2.00" || q.Amount != "0.22" || q.Free != 0 {
		t.Errorf("with other prices: key %s, symmetric %s (%s)", k.Amount, q.Amount, q.Explain)
	}
}

func TestPriceTables(t *testing.T) {
	if err := DefaultPrices().Check(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"KeyMonth":"one dollar"}`,
		`{"Classes":[{"Class":"quantum","Price":"1"}]}`,
		`{"RequestUnit":0}`,
		`{"Classes":[{"Class":"symmetric","Price":"-1"}]}`,
		`not json`,
	} {
		if _, err := ParsePrices([]byte(bad), nil); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	base, _ := ParsePrices([]byte(`{"Currency":"EUR"}`), nil)
	p, err := ParsePrices([]byte(`{"FreeRequests":5}`), base)
	if err != nil || p.Currency != "EUR" || p.FreeRequests != 5 || base.FreeRequests != 20000 {
		t.Fatalf("over a base: %+v %v", p, err)
	}
}

func TestRounding(t *testing.T) {
	for _, c := range []struct{ exact, cents string }{{"0.005", "0.01"}, {"0.0049999", "0.00"}, {"1.235", "1.24"}, {"0", "0.00"}} {
		r, _ := parseMoney(c.exact)
		if got := money(roundCents(r)); got != c.cents {
			t.Errorf("%s → %s, want %s", c.exact, got, c.cents)
		}
	}
}
