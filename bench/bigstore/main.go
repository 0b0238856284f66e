// Command bigstore measures Strongroom on a large embedded store: issue 7's
// start and memory targets (serve answers within 50 ms of exec on 100,000
// keys, ≤ 20 MB RSS idle, ≤ 300 bytes of resident memory per stored key,
// ListKeys and ListAliases pages in constant time at any depth).
//
//	bigstore fill -data-dir DIR -keys N [-aliases M] [-c 64] [-audit=true]
//	bigstore measure -binary strongroom -data-dir DIR -keys N [-aliases M] [-unclean] [-args '--store-check full']
//
// fill assembles the node as `strongroom serve` does (root key file in DIR,
// bolt store with the same options, app.New) and creates keys and aliases
// through the kms core, through kms.Service.Invoke as the API does, so the
// store holds the records a server writes: the key records, the aliases
// and, with -audit, the audit trail's record of every call. It skips HTTP
// and SigV4 only, which is what makes a million keys take minutes instead
// of the better part of an hour.
//
// measure starts `strongroom serve` on DIR with the default flags (only
// --listen and --data-dir), and reports: the time from exec to the first
// 200 from /healthz; when the embedded store's background verification
// ended; RSS idle (VmRSS, RssAnon, RssFile from /proc/PID/status) on an
// empty store and on DIR, and the difference per stored key; ListKeys paged
// through every key (1000 a page) with the latency of the first and the
// deepest pages, then single pages at chosen depths repeated; ListAliases
// pages at chosen depths (the fill names aliases in order, so a marker
// reaches any depth at once); RSS after the listing and after the store's
// trim; the exit status of SIGTERM; and `strongroom dev`'s start. It prints
// one line per figure and, with -json, the whole result.
//
// A benchmark, not a test: nothing here asserts a speed.
// bigstore_test.go runs both commands on a small store to prove they work.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bigstore fill|measure [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "fill":
		err = fillCmd(ctx, os.Args[2:])
	case "measure":
		err = measureCmd(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bigstore:", err)
		os.Exit(1)
	}
}

func fillCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	var c FillConfig
	fs.StringVar(&c.Dir, "data-dir", "", "data directory (created if missing; filled further if not)")
	fs.IntVar(&c.Keys, "keys", 100000, "keys to create")
	fs.IntVar(&c.Aliases, "aliases", 0, "aliases to create, one for each of the first keys created")
	fs.IntVar(&c.Workers, "c", 64, "concurrent callers (the store commits them in groups)")
	fs.BoolVar(&c.Audit, "audit", true, "record every call in the audit trail, as the API does")
	fs.Parse(args)
	if c.Dir == "" {
		return errors.New("fill: -data-dir is required")
	}
	c.Progress = os.Stdout
	r, err := Fill(ctx, c)
	if err != nil {
		return err
	}
	fmt.Printf("created %d keys and %d aliases in %v; %s is %.0f MB\n", r.Keys, r.Aliases, r.Took.Round(1e6), r.File, float64(r.FileBytes)/(1<<20))
	return nil
}

func measureCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	var c MeasureConfig
	fs.StringVar(&c.Binary, "binary", "", "the strongroom binary")
	fs.StringVar(&c.Dir, "data-dir", "", "a data directory filled by bigstore fill")
	fs.IntVar(&c.Keys, "keys", 0, "keys the fill created (to check ListKeys; 0: do not check)")
	fs.IntVar(&c.Aliases, "aliases", 0, "aliases the fill created")
	fs.IntVar(&c.Repeat, "repeat", 20, "requests per depth for the latency at depth")
	fs.BoolVar(&c.Baseline, "baseline", true, "measure an empty store first, for RSS per key")
	fs.BoolVar(&c.Trim, "trim", true, "after the listing, wait for the store's trim and read RSS again")
	fs.BoolVar(&c.Unclean, "unclean", false, "remove the clean-close marker first, as a crash would have left the directory")
	fs.IntVar(&c.Starts, "starts", 0, "only start serve this many times (SIGTERM after each) and report the time to the first answer")
	extra := fs.String("args", "", "further flags of serve, space-separated (default: none, the defaults)")
	asJSON := fs.Bool("json", false, "print the result as JSON too")
	fs.Parse(args)
	if c.Binary == "" || c.Dir == "" {
		return errors.New("measure: -binary and -data-dir are required")
	}
	c.Args = strings.Fields(*extra)
	c.Log = os.Stdout
	r, err := Measure(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Println(string(b))
	}
	return nil
}
