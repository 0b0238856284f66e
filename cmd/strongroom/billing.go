package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"strongroom/internal/metering"
)

const billingUsage = `Usage:
  strongroom billing report --endpoint URL --account A --month 2026-11 [--json] [--prices FILE]
      the bill account A ran up in a month, by region: key-hours of customer
      managed keys and requests by price class, each line with its
      computation. --prices replaces members of the server's price table for
      this report (see docs/billing.md). Signed with your AWS credentials;
      your own account's bill needs strongroom:GetBillingReport (an account
      root has it), another account's is the operator account's.
`

func billingCmd(args []string) error {
	return subcommand("billing", billingUsage, args, map[string]func([]string, io.Writer) error{
		"report": billingReport,
	})
}

func billingReport(args []string, w io.Writer) error {
	fs, af := newAdminFlagSet("billing report")
	account := fs.String("account", "", "the account billed (default: the caller's)")
	month := fs.String("month", "", "the month billed, YYYY-MM (default: the current month)")
	asJSON := fs.Bool("json", false, "print the bill as JSON")
	prices := fs.String("prices", "", "JSON file of price table members to use instead of the server's")
	if done, err := parseNoOperands(fs, args); done {
		return err
	}
	var in struct {
		AccountId  *string         `json:",omitempty"`
		Month      *string         `json:",omitempty"`
		PriceTable json.RawMessage `json:",omitempty"`
	}
	if *account != "" {
		in.AccountId = account
	}
	if *month != "" {
		in.Month = month
	}
	if *prices != "" {
		b, err := os.ReadFile(*prices)
		if err != nil {
			return err
		}
		if _, err := metering.ParsePrices(b, nil); err != nil {
			return fmt.Errorf("--prices: %w", err)
		}
		in.PriceTable = b
	}
	ctx := context.Background()
	c, err := af.client(ctx)
	if err != nil {
		return err
	}
	var out struct{ Bill *metering.Bill }
	if err := c.call(ctx, "GetBillingReport", in, &out); err != nil {
		return err
	}
	if out.Bill == nil {
		return errors.New("the server answered without a bill")
	}
	if *asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out.Bill)
	}
	printBill(w, out.Bill)
	return nil
}

// printBill writes b for a person: every line's amount, then how it was
// computed.
func printBill(w io.Writer, b *metering.Bill) {
	fmt.Fprintf(w, "Strongroom bill: account %s, %s (as of %s), in %s\n", b.Account, b.Month, b.AsOf.Format("2006-01-02 15:04 MST"), b.Currency)
	width := len(b.Total)
	for _, r := range b.Regions {
		width = max(width, len(r.Subtotal))
	}
	line := func(amount, text string) { fmt.Fprintf(w, "    %*s  %s\n", width, amount, text) }
	if len(b.Regions) == 0 {
		fmt.Fprintln(w, "\nNothing to charge this month.")
	}
	for _, r := range b.Regions {
		fmt.Fprintf(w, "\n%s\n", r.Region)
		if len(r.Keys) > 0 {
			fmt.Fprintln(w, "  key storage")
			for _, k := range r.Keys {
				line(k.Amount, k.Explain)
			}
		}
		if len(r.Requests) > 0 {
			fmt.Fprintln(w, "  requests")
			for _, q := range r.Requests {
				line(q.Amount, q.Explain)
			}
		}
		line(r.Subtotal, "subtotal "+r.Region)
	}
	fmt.Fprintf(w, "\n  total %s %s\n", b.Total, b.Currency)
	p := b.Prices
	var classes []string
	for _, c := range p.Classes {
		classes = append(classes, fmt.Sprintf("%s %s", c.Class, c.Price))
	}
	fmt.Fprintf(w, "\nprices: key-month %s, rotation-month %s (first %d rotations), per %d requests: %s; free tier %d requests a month per region\n",
		p.KeyMonth, p.RotationMonth, p.ChargedRotations, p.RequestUnit, strings.Join(classes, ", "), p.FreeRequests)
}
