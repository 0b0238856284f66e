package metering

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/store"
)

// PriceTable is what a bill charges. Prices are decimal strings in
// Currency ("1.00", "0.03").
type PriceTable struct {
	Currency string
	// KeyMonth is the price of one customer managed key for a whole
	// month, prorated by the hour (hours charged ÷ hours in the month).
	KeyMonth string
	// RotationMonth is what each charged rotation adds per month, prorated
	// the same way; ChargedRotations is how many rotations of a key are
	// charged (AWS: the first and second).
	RotationMonth    string
	ChargedRotations int
	// RequestUnit is the number of requests a class's Price is for.
	RequestUnit int64
	// FreeRequests is the free tier per account, region and month, shared
	// by the classes marked FreeTier in table order.
	FreeRequests int64
	Classes      []ClassPrice
}

// ClassPrice prices one request class.
type ClassPrice struct {
	Class    string
	Name     string
	Price    string // per RequestUnit requests
	FreeTier bool
}

// DefaultPrices is the chapter's price table ($1 per key-month prorated
// hourly, $0.03 per 10,000 symmetric requests, 20,000 free requests a
// month), with AWS's published rates where the chapter only says
// "asymmetric requests cost more".
func DefaultPrices() *PriceTable {
	return &PriceTable{
		Currency:         "USD",
		KeyMonth:         "1.00",
		RotationMonth:    "1.00",
		ChargedRotations: 2,
		RequestUnit:      10000,
		FreeRequests:     20000,
		Classes: []ClassPrice{
			{Class: ClassSymmetric, Name: "Symmetric requests", Price: "0.03", FreeTier: true},
			{Class: ClassRSA2048, Name: "Asymmetric requests, RSA 2048", Price: "0.03"},
			{Class: ClassAsymmetric, Name: "Asymmetric requests, except RSA 2048", Price: "0.15"},
			{Class: ClassDataKeyPairECC, Name: "GenerateDataKeyPair requests, ECC key pairs", Price: "0.10"},
			{Class: ClassDataKeyPairRSA, Name: "GenerateDataKeyPair requests, RSA key pairs", Price: "12.00"},
		},
	}
}

// Check reports a price table that cannot be applied.
func (p *PriceTable) Check() error {
	if _, err := parseMoney(p.KeyMonth); err != nil {
		return fmt.Errorf("metering: KeyMonth: %w", err)
	}
	if _, err := parseMoney(p.RotationMonth); err != nil {
		return fmt.Errorf("metering: RotationMonth: %w", err)
	}
	if p.RequestUnit <= 0 || p.FreeRequests < 0 || p.ChargedRotations < 0 {
		return fmt.Errorf("metering: RequestUnit must be positive, FreeRequests and ChargedRotations not negative")
	}
	seen := map[string]bool{}
	for _, c := range p.Classes {
		if _, err := parseMoney(c.Price); err != nil {
			return fmt.Errorf("metering: price of %s: %w", c.Class, err)
		}
		if seen[c.Class] {
			return fmt.Errorf("metering: class %s priced twice", c.Class)
		}
		seen[c.Class] = true
	}
	for _, c := range []string{ClassSymmetric, ClassRSA2048, ClassAsymmetric, ClassDataKeyPairECC, ClassDataKeyPairRSA} {
		if !seen[c] {
			return fmt.Errorf("metering: the price table has no price for class %s", c)
		}
	}
	return nil
}

// ParsePrices reads a price table from JSON over base (nil: the default
// table): members it omits keep base's value, and Classes given replace
// base's prices of those classes.
func ParsePrices(b []byte, base *PriceTable) (*PriceTable, error) {
	var in struct {
		Currency         *string
		KeyMonth         *string
		RotationMonth    *string
		ChargedRotations *int
		RequestUnit      *int64
		FreeRequests     *int64
		Classes          []ClassPrice
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("metering: price table: %w", err)
	}
	if base == nil {
		base = DefaultPrices()
	}
	p := *base
	p.Classes = slices.Clone(base.Classes)
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&p.Currency, in.Currency)
	set(&p.KeyMonth, in.KeyMonth)
	set(&p.RotationMonth, in.RotationMonth)
	if in.ChargedRotations != nil {
		p.ChargedRotations = *in.ChargedRotations
	}
	if in.RequestUnit != nil {
		p.RequestUnit = *in.RequestUnit
	}
	if in.FreeRequests != nil {
		p.FreeRequests = *in.FreeRequests
	}
	for _, c := range in.Classes {
		i := slices.IndexFunc(p.Classes, func(d ClassPrice) bool { return d.Class == c.Class })
		if i < 0 {
			return nil, fmt.Errorf("metering: price table: unknown class %q", c.Class)
		}
		if c.Name == "" {
			c.Name = p.Classes[i].Name
		}
		if c.Price == "" {
			c.Price = p.Classes[i].Price
		}
		p.Classes[i] = c
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Bill is what one account ran up in one month.
type Bill struct {
	Account  string
	Month    string
	Currency string
	// AsOf is when the bill was computed; a bill for the current month
	// counts key-hours up to it.
	AsOf    time.Time
	Regions []RegionBill
	// Total is the sum of the regions' subtotals.
	Total  string
	Prices *PriceTable
}

// RegionBill is a bill's part for one region.
type RegionBill struct {
	Region   string
	Keys     []KeyLine
	Requests []RequestLine
	Subtotal string
}

// KeyLine charges one key (or one of its rotations) for the hours of the
// month it was charged.
type KeyLine struct {
	KeyID string
	// Item is "key", or "rotation 1", "rotation 2".
	Item string
	// From and To bound the charged time within the month; Hours counts
	// the clock hours it touches, of MonthHours.
	From, To   time.Time
	Hours      int64
	MonthHours int64
	UnitPrice  string // per month
	Exact      string // Hours ÷ MonthHours × UnitPrice, exactly
	Amount     string // Exact rounded half up to the cent
	Explain    string
}

// RequestLine charges one request class.
type RequestLine struct {
	Class     string
	Name      string
	Requests  int64
	Free      int64
	Billable  int64
	UnitPrice string // per Unit requests
	Unit      int64
	Exact     string
	Amount    string
	Explain   string
}

// Report computes account's bill for month ("2006-01") as of now.
func Report(ctx context.Context, st store.Store, account, month string, now time.Time, p *PriceTable) (*Bill, error) {
	if p == nil {
		p = DefaultPrices()
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	start, err := time.Parse("2006-01", month)
	if err != nil {
		return nil, fmt.Errorf("metering: month %q: want YYYY-MM", month)
	}
	end := start.AddDate(0, 1, 0)
	counts := map[string]map[string]int64{} // region → class → count
	lives := map[string]map[string]keyLife{}
	err = st.View(ctx, func(tx store.Tx) error {
		clear(counts)
		clear(lives)
		prefix := "r/" + month + "/"
		if err := listPrefix(tx, account, prefix, func(id string, v []byte) error {
			region, class, ok := strings.Cut(strings.TrimPrefix(id, prefix), "/")
			if !ok {
				return nil
			}
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("metering: counter %s: %w", id, err)
			}
			if counts[region] == nil {
				counts[region] = map[string]int64{}
			}
			counts[region][class] += n
			return nil
		}); err != nil {
			return err
		}
		return listPrefix(tx, account, "k/", func(id string, v []byte) error {
			region, key, ok := strings.Cut(strings.TrimPrefix(id, "k/"), "/")
			if !ok {
				return nil
			}
			var l keyLife
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("metering: key %s: %w", id, err)
			}
			if lives[region] == nil {
				lives[region] = map[string]keyLife{}
			}
			lives[region][key] = l
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	b := &Bill{Account: account, Month: month, Currency: p.Currency, AsOf: now.UTC(), Prices: p}
	regions := map[string]bool{}
	for r := range counts {
		regions[r] = true
	}
	for r := range lives {
		regions[r] = true
	}
	total := new(big.Rat)
	for _, region := range slices.Sorted(mapsKeys(regions)) {
		rb := RegionBill{Region: region}
		sub := new(big.Rat)
		rb.Keys = keyLines(lives[region], start, end, now, p, sub)
		rb.Requests = requestLines(counts[region], p, sub)
		if len(rb.Keys) == 0 && len(rb.Requests) == 0 {
			continue
		}
		rb.Subtotal = money(sub)
		total.Add(total, sub)
		b.Regions = append(b.Regions, rb)
	}
	b.Total = money(total)
	return b, nil
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func listPrefix(tx store.Tx, account, prefix string, fn func(id string, v []byte) error) error {
	after := prefix
	for {
		items, err := tx.List(store.KindMeter, account, after, 1000)
		if err != nil {
			return err
		}
		for _, it := range items {
			if !strings.HasPrefix(it.ID, prefix) {
				return nil
			}
			if err := fn(it.ID, it.Value); err != nil {
				return err
			}
		}
		if len(items) < 1000 {
			return nil
		}
		after = items[len(items)-1].ID
	}
}

// chargedHours returns the clock hours (UTC) that [from, to) touches within
// [start, end), and the clipped interval.
func chargedHours(from, to, start, end time.Time) (int64, time.Time, time.Time) {
	from, to = later(from, start), earlier(to, end)
	if !to.After(from) {
		return 0, from, to
	}
	first := from.Truncate(time.Hour)
	last := to.Truncate(time.Hour)
	if last.Before(to) {
		last = last.Add(time.Hour)
	}
	return int64(last.Sub(first) / time.Hour), from, to
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func keyLines(lives map[string]keyLife, start, end, now time.Time, p *PriceTable, sub *big.Rat) []KeyLine {
	ids := make([]string, 0, len(lives))
	for id := range lives {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := lives[a].Created - lives[b].Created; c != 0 {
			if c < 0 {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	monthHours := int64(end.Sub(start) / time.Hour)
	keyPrice, _ := parseMoney(p.KeyMonth)
	rotPrice, _ := parseMoney(p.RotationMonth)
	var out []KeyLine
	for _, id := range ids {
		l := lives[id]
		stop := now // charged until now, unless scheduled for deletion
		if l.Scheduled != 0 {
			stop = earlier(stop, time.Unix(l.Scheduled, 0))
		}
		line := func(item string, from time.Time, price *big.Rat, priceStr string) {
			h, f, t := chargedHours(from, stop, start, end)
			if h == 0 {
				return
			}
			exact := new(big.Rat).Mul(big.NewRat(h, monthHours), price)
			amount := roundCents(exact)
			sub.Add(sub, amount)
			out = append(out, KeyLine{
				KeyID: id, Item: item, From: f.UTC(), To: t.UTC(), Hours: h, MonthHours: monthHours,
				UnitPrice: priceStr, Exact: decimal(exact), Amount: money(amount),
				Explain: fmt.Sprintf("%s %s: %d of %d hours (%s to %s) × %s per month = %s → %s",
					item, id, h, monthHours, f.UTC().Format("2006-01-02 15:04"), t.UTC().Format("2006-01-02 15:04"), priceStr, decimal(exact), money(amount)),
			})
		}
		line("key", time.Unix(l.Created, 0), keyPrice, p.KeyMonth)
		for i, r := range l.Rotations {
			if i >= p.ChargedRotations {
				break
			}
			line(fmt.Sprintf("rotation %d", i+1), time.Unix(r, 0), rotPrice, p.RotationMonth)
		}
	}
	return out
}

func requestLines(counts map[string]int64, p *PriceTable, sub *big.Rat) []RequestLine {
	free := p.FreeRequests
	var out []RequestLine
	for _, c := range p.Classes {
		n := counts[c.Class]
		if n == 0 {
			continue
		}
		var f int64
		if c.FreeTier {
			f = min(n, free)
			free -= f
		}
		price, _ := parseMoney(c.Price)
		billable := n - f
		exact := new(big.Rat).Mul(big.NewRat(billable, p.RequestUnit), price)
		amount := roundCents(exact)
		sub.Add(sub, amount)
		explain := fmt.Sprintf("%s: %s requests", c.Name, thousands(n))
		if c.FreeTier {
			explain += fmt.Sprintf(" − %s free = %s", thousands(f), thousands(billable))
		}
		explain += fmt.Sprintf(" × %s per %s = %s → %s", c.Price, thousands(p.RequestUnit), decimal(exact), money(amount))
		out = append(out, RequestLine{
			Class: c.Class, Name: c.Name, Requests: n, Free: f, Billable: billable,
			UnitPrice: c.Price, Unit: p.RequestUnit, Exact: decimal(exact), Amount: money(amount), Explain: explain,
		})
	}
	return out
}

func parseMoney(s string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return nil, fmt.Errorf("%q is not a price", s)
	}
	return r, nil
}

// roundCents rounds r (not negative) half up to a whole cent.
func roundCents(r *big.Rat) *big.Rat {
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	c.Add(c, big.NewRat(1, 2))
	q := new(big.Int).Quo(c.Num(), c.Denom())
	return new(big.Rat).SetFrac(q, big.NewInt(100))
}

// money formats a whole number of cents: "12.34".
func money(r *big.Rat) string { return r.FloatString(2) }

// decimal formats r exactly when it has at most 6 decimals, otherwise to 6
// with a trailing "…".
func decimal(r *big.Rat) string {
	s := r.FloatString(6)
	back, _ := new(big.Rat).SetString(s)
	exact := back.Cmp(r) == 0
	s = strings.TrimRight(s, "0")
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 < 2 {
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	if !exact {
		s += "…"
	}
	return s
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
