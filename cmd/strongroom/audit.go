package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/app"
	"strongroom/internal/audit"
	"strongroom/internal/metering"
)

// `strongroom audit export|verify`, the serve flags of the audit trail and
// the bill, and the signed admin call both admin commands make.

const auditUsage = `Usage:
  strongroom audit export --endpoint URL [--start T] [--end T] [--region R] > trail.jsonl
      write the audit trail (records, signed digests, signed end) as JSON lines;
      T is RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01) or Unix seconds.
      Signed with your AWS credentials (environment, shared credentials file);
      allowed to the operator account's root and to principals granted
      strongroom:ExportAuditTrail.
  strongroom audit verify [--key-id ID] FILE
      check an export offline; names the first record altered, removed,
      inserted or moved, and exits 1 if anything is wrong. --key-id pins the
      signing key's fingerprint.
`

// auditServeFlags are serve's settings of the audit trail and the bill.
type auditServeFlags struct {
	retention  string
	sync       string
	priceTable string
}

func (f *auditServeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.retention, "audit-retention", envOr("STRONGROOM_AUDIT_RETENTION", "365d"), "how long audit records are kept: days (365d) or a Go duration (8760h); 0 keeps them forever")
	fs.StringVar(&f.sync, "audit-sync", envOr("STRONGROOM_AUDIT_SYNC", app.DefaultAuditSyncDelay.String()), "when the audit record of a call that changes nothing (Encrypt, Decrypt, a denied call…) is on disk, with the embedded store: a duration D: written to the operating system before the response (a crash or kill of strongroom loses none) and synced within D (a power cut can lose the last D); always: synced before the response")
	fs.StringVar(&f.priceTable, "price-table", envOr("STRONGROOM_PRICE_TABLE", ""), "JSON file of the bill's price table (default: the chapter's prices; see docs/billing.md)")
}

// apply checks the flags and sets them on o.
func (f *auditServeFlags) apply(o *app.Options) error {
	d, err := parseRetention(f.retention)
	if err != nil {
		return fmt.Errorf("--audit-retention: %w", err)
	}
	o.AuditRetention = d
	if o.AuditSyncDelay, err = parseAuditSync(f.sync); err != nil {
		return fmt.Errorf("--audit-sync: %w", err)
	}
	if f.priceTable != "" {
		b, err := os.ReadFile(f.priceTable)
		if err != nil {
			return fmt.Errorf("--price-table: %w", err)
		}
		if o.Prices, err = metering.ParsePrices(b, nil); err != nil {
			return fmt.Errorf("--price-table %s: %w", f.priceTable, err)
		}
	}
	return nil
}

// parseAuditSync reads --audit-sync: "always" (0), or a duration from 1 µs
// to 1 s.
func parseAuditSync(s string) (time.Duration, error) {
	if s == "always" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Microsecond || d > time.Second {
		return 0, fmt.Errorf("%q is neither always nor a duration from 1µs to 1s", s)
	}
	return d, nil
}

func parseRetention(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is neither days (365d) nor a duration (8760h)", s)
	}
	return d, nil
}

func auditCmd(args []string) error {
	return subcommand("audit", auditUsage, args, map[string]func([]string, io.Writer) error{
		"export": auditExport,
		"verify": auditVerify,
	})
}

// errUsage: the usage was printed; exit 2.
var errUsage = errors.New("usage")

// subcommand runs the subcommand of `strongroom name` that args name, with
// the rest of args, writing to standard output; help prints usage.
func subcommand(name, usage string, args []string, cmds map[string]func([]string, io.Writer) error) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errUsage
	}
	if run, ok := cmds[args[0]]; ok {
		return run(args[1:], os.Stdout)
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprintf(os.Stderr, "strongroom %s: unknown command %q\n\n%s", name, args[0], usage)
	return errUsage
}

// adminFlags are the flags of commands that call a running server.
type adminFlags struct {
	endpoint string
	region   string
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint", envOr("STRONGROOM_ENDPOINT", ""), "the server's endpoint URL (http://127.0.0.1:4599)")
	fs.StringVar(&f.region, "region", "", "region to sign for (default: AWS_REGION, the profile's region, or us-east-1)")
}

// newAdminFlagSet returns the flag set of the admin command name, with the
// admin flags registered on it.
func newAdminFlagSet(name string) (*flag.FlagSet, *adminFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	af := new(adminFlags)
	af.register(fs)
	return fs, af
}

// parseNoOperands parses args with fs for a command that takes flags only.
// done is true when the command must return err at once: nil after -h,
// errUsage on a bad flag, an error on an operand.
func parseNoOperands(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, errUsage
	}
	if fs.NArg() > 0 {
		return true, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return false, nil
}

// trailClient calls the admin API of the audit trail and the bill: AWS
// JSON 1.1, X-Amz-Target StrongroomAdmin.<Op>, SigV4 for the service
// "strongroom", with the caller's AWS credentials (admin.go).
type trailClient struct{ *adminClient }

func (f *adminFlags) client(ctx context.Context) (*trailClient, error) {
	c, err := newAdminClient(ctx, f.endpoint, f.region)
	if err != nil {
		return nil, err
	}
	return &trailClient{c}, nil
}

func (c *trailClient) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	rb, err := c.do(ctx, "strongroom", "application/x-amz-json-1.1", map[string]string{"X-Amz-Target": "StrongroomAdmin." + op}, body)
	if err != nil {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(rb, &e) == nil && e.Type != "" {
			return fmt.Errorf("%s: %s: %s", op, e.Type, e.Message)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return json.Unmarshal(rb, out)
}

// parseTime reads --start/--end: RFC 3339, a date, or Unix seconds.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01) or Unix seconds", s)
}

func auditExport(args []string, w io.Writer) error {
	fs, af := newAdminFlagSet("audit export")
	start := fs.String("start", "", "first eventTime exported")
	end := fs.String("end", "", "last eventTime exported")
	if done, err := parseNoOperands(fs, args); done {
		return err
	}
	var in struct { // times in epoch seconds, as AWS JSON 1.1 sends them
		StartTime *int64  `json:",omitempty"`
		EndTime   *int64  `json:",omitempty"`
		NextToken *string `json:",omitempty"`
	}
	for _, t := range []struct {
		s   string
		dst **int64
	}{{*start, &in.StartTime}, {*end, &in.EndTime}} {
		if t.s == "" {
			continue
		}
		v, err := parseTime(t.s)
		if err != nil {
			return err
		}
		e := v.Unix()
		*t.dst = &e
	}
	ctx := context.Background()
	c, err := af.client(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for {
		var out struct {
			Lines     []string
			NextToken string
		}
		if err := c.call(ctx, "ExportAuditTrail", in, &out); err != nil {
			return err
		}
		for _, l := range out.Lines {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
		if out.NextToken == "" {
			break
		}
		in.NextToken = &out.NextToken
	}
	return bw.Flush()
}

func auditVerify(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	keyID := fs.String("key-id", "", "expected fingerprint of the signing key (hex SHA-256 of its public key)")
	publicKey := fs.String("public-key", "", "expected Ed25519 public key, base64")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprint(os.Stderr, auditUsage)
		return errUsage
	}
	var o audit.VerifyOptions
	if *publicKey != "" {
		k, err := base64.StdEncoding.DecodeString(*publicKey)
		if err != nil || len(k) != 32 {
			return errors.New("--public-key must be a base64 Ed25519 public key")
		}
		o.PublicKey = k
	}
	var r io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := audit.Verify(r, o)
	if err != nil {
		return err
	}
	if rep.Problem == nil && *keyID != "" && !strings.EqualFold(*keyID, rep.KeyID) {
		rep.Problem = &audit.Problem{Kind: audit.BadKey, Line: 1, Message: "the export is signed by key " + rep.KeyID + ", not " + *keyID}
	}
	if p := rep.Problem; p != nil {
		fmt.Fprintf(w, "FAILED: line %d: %s [%s]\n", p.Line, p.Message, p.Kind)
		return errors.New("audit verify: the trail does not verify")
	}
	span := "no records"
	if rep.Records > 0 {
		span = fmt.Sprintf("records seq %d..%d", rep.FirstSeq, rep.LastSeq)
	}
	fmt.Fprintf(w, "OK: %d records (%s), %d digests, signed by key %s\n", rep.Records, span, rep.Digests, rep.KeyID)
	return nil
}
