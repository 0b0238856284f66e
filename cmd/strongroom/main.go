// Command strongroom is Strongroom's one binary: the server (serve, dev)
// and its admin commands. It is the only place that picks concrete
// implementations of the store and the root of trust.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"strongroom/internal/app"
	"strongroom/internal/clock"
	"strongroom/internal/metrics"
	"strongroom/internal/rootkey"
	"strongroom/internal/server"
	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
	"strongroom/internal/store/memory"
)

const usage = `Strongroom: a self-hosted key management service that speaks the AWS KMS API.

Usage:
  strongroom serve [flags]   run the server (embedded store in --data-dir, or PostgreSQL with --store)
  strongroom dev [flags]     run an in-memory development server that accepts any credentials
  strongroom account create --endpoint URL [--account-id ID]
                             create a further account (as the bootstrap account's root)
  strongroom audit export|verify   export the audit trail from a server; verify an export offline
  strongroom billing report        an account's bill for a month, from a server
  strongroom version         print the version

Run 'strongroom serve -h' for the flags.
`

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:], false)
	case "dev":
		err = serve(os.Args[2:], true)
	case "account":
		err = accountCmd(os.Args[2:])
	case "audit":
		err = auditCmd(os.Args[2:])
	case "billing":
		err = billingCmd(os.Args[2:])
	case "version", "--version", "-version":
		fmt.Println("strongroom", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "strongroom: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, errUsage) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "strongroom:", err)
		os.Exit(1)
	}
}

type serveFlags struct {
	listen       string
	dataDir      string
	rootKeyFile  string
	region       string
	account      string
	encryptLimit int
	logLevel     string
	// storeCheck is "auto", "full" or "quick": how much of the embedded
	// store is verified at start (bolt.CheckMode).
	storeCheck string
	// awsManagedRotationDays is how often AWS managed keys rotate.
	awsManagedRotationDays int
	net                    netFlags        // cluster.go: store, TLS, regions, quotas
	audit                  auditServeFlags // audit.go: retention, price table
}

func parseServeFlags(args []string, dev bool) (*serveFlags, error) {
	name := "serve"
	if dev {
		name = "dev"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &serveFlags{}
	fs.StringVar(&f.listen, "listen", envOr("STRONGROOM_LISTEN", "127.0.0.1:4599"), "address to listen on")
	fs.StringVar(&f.region, "region", envOr("STRONGROOM_REGION", "us-east-1"), "default region")
	fs.StringVar(&f.account, "account", envOr("STRONGROOM_ACCOUNT", "111122223333"), "bootstrap account id (12 digits)")
	fs.IntVar(&f.encryptLimit, "encrypt-limit", envInt("STRONGROOM_ENCRYPT_LIMIT", 1<<20), "largest Encrypt plaintext in bytes (the chapter's 1 MiB by default; 4096 for AWS's limit)")
	fs.StringVar(&f.logLevel, "log-level", envOr("STRONGROOM_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	if !dev {
		fs.StringVar(&f.storeCheck, "store-check", envOr("STRONGROOM_STORE_CHECK", "auto"), "what the embedded store checks at start: auto (full before serving after an unclean stop or a change to the file, otherwise quick and then full in the background, refusing every request if it finds damage), full (every page and record checksum before serving; time grows with the file) or quick (file size only; records are still checked when read)")
	}
	fs.IntVar(&f.awsManagedRotationDays, "aws-managed-rotation-days", envInt("STRONGROOM_AWS_MANAGED_ROTATION_DAYS", 1095), "rotation period of AWS managed keys: the chapter's 1095 days (about three years), or 365 as AWS does today")
	if !dev {
		fs.StringVar(&f.dataDir, "data-dir", envOr("STRONGROOM_DATA_DIR", "./strongroom-data"), "data directory")
		fs.StringVar(&f.rootKeyFile, "root-key-file", envOr("STRONGROOM_ROOT_KEY_FILE", ""), "root key file (default DATA_DIR/root.key); keep it on another volume than the data")
	}
	f.net.register(fs, dev)
	f.audit.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := f.net.check(f.listen, f.region, dev); err != nil {
		return nil, err
	}
	if len(f.account) != 12 || !strings12Digits(f.account) {
		return nil, fmt.Errorf("--account must be 12 digits, got %q", f.account)
	}
	if _, ok := storeChecks[f.storeCheck]; !dev && !ok {
		return nil, fmt.Errorf("--store-check must be auto, full or quick, got %q", f.storeCheck)
	}
	if f.encryptLimit < 1 {
		return nil, fmt.Errorf("--encrypt-limit must be positive")
	}
	return f, nil
}

// storeChecks maps --store-check to the embedded store's check mode.
var storeChecks = map[string]bolt.CheckMode{"auto": bolt.CheckAuto, "full": bolt.CheckFull, "quick": bolt.CheckQuick}

func strings12Digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(args []string, dev bool) error {
	f, err := parseServeFlags(args, dev)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := newLogger(f.logLevel, os.Stderr)
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	var st store.Store
	var sealer rootkey.Sealer
	opts := app.Options{
		Clock:        clock.System{},
		Account:      f.account,
		Region:       f.region,
		Dev:          dev,
		EncryptLimit: f.encryptLimit,
		Logger:       log,
		BootstrapKey: app.Credentials{
			AccessKeyID:     os.Getenv("STRONGROOM_BOOTSTRAP_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("STRONGROOM_BOOTSTRAP_SECRET_ACCESS_KEY"),
		},
	}
	if err := f.audit.apply(&opts); err != nil {
		return err
	}
	if (opts.BootstrapKey.AccessKeyID == "") != (opts.BootstrapKey.SecretAccessKey == "") {
		return errors.New("set both STRONGROOM_BOOTSTRAP_ACCESS_KEY_ID and STRONGROOM_BOOTSTRAP_SECRET_ACCESS_KEY, or neither")
	}
	if dev {
		st = memory.New()
		sealer = rootkey.NewEphemeral()
	} else {
		if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
			return err
		}
		keyFile := f.rootKeyFile
		if keyFile == "" {
			keyFile = filepath.Join(f.dataDir, "root.key")
		}
		if f.net.postgres() {
			st, sealer, err = openPostgres(ctx, f.net.store, keyFile)
			if err != nil {
				return err
			}
		} else {
			// The root key is created only alongside a new store: a missing root
			// key next to existing data must not silently become a new root.
			_, statErr := os.Stat(filepath.Join(f.dataDir, bolt.FileName))
			sealer, err = rootkey.OpenFile(keyFile, errors.Is(statErr, os.ErrNotExist))
			if err != nil {
				return err
			}
			// The audit trail grows with every request and has its own hash
			// chain: Open's record walk skips it so start-up time does not
			// grow with the trail (its records are still checked on read).
			b, err := bolt.Open(f.dataDir, bolt.Options{
				Check:     storeChecks[f.storeCheck],
				LazyKinds: []store.Kind{store.KindAudit, store.KindAuditDigest, store.KindKeyUsage},
				OnCheck: func(err error, took time.Duration) {
					if err != nil {
						log.Error("STORE DAMAGED: the embedded store failed the verification run after start; every request is refused from now on. Stop strongroom and restore the data directory from a backup", "err", err)
						return
					}
					log.Info("embedded store verified", "took", took.Round(time.Millisecond))
				},
			})
			if err != nil {
				return err
			}
			log.Info("embedded store open", "file", b.Path(), "checked", b.Checked())
			st = b
			// The trail's records go to segment files beside the store
			// (one fdatasync per group commit, docs/audit.md).
			opts.AuditDir = filepath.Join(f.dataDir, "audit")
		}
	}
	defer st.Close()
	m := metrics.NewSet()
	opts.Metrics = m
	opts.Store, opts.Sealer = metrics.InstrumentStore(st, m), sealer
	opts.AWSManagedRotationDays = f.awsManagedRotationDays
	opts.Regions = f.net.regionList()
	if opts.Quota = f.net.limiter(); opts.Quota != nil {
		opts.Quota.OnThrottle = func(group string) { m.Throttled.Inc(group) }
	}
	tlsCfg, certs, err := f.net.tlsSetup(f.dataDir, f.listen, log)
	if err != nil {
		return err
	}
	if !dev {
		if opts.NodeID, err = nodeIDFile(f.dataDir); err != nil {
			return err
		}
		opts.NewBootstrapKey = func() (app.Credentials, error) {
			return bootstrapCredentials(f.dataDir, f.account)
		}
	}

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, opts)
	if err != nil {
		ln.Close()
		return err
	}
	srvOpts := []server.Option{server.WithMetrics(m), server.WithReadiness(a.Ready)}
	if tlsCfg != nil {
		srvOpts = append(srvOpts, server.WithTLS(tlsCfg))
	}
	srv := server.New(ln, a.Handler, log, srvOpts...)
	bg, cancelBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		a.RunBackground(bg, f.net.backgroundEvery)
	}()
	if certs != nil {
		go reloadOnHUP(bg, certs, log)
	}

	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	endpoint := scheme + "://" + ln.Addr().String()
	if dev {
		fmt.Printf("strongroom dev: in-memory, any credentials accepted as the root of account %s\n", f.account)
		fmt.Printf("endpoint: %s\n", endpoint)
		fmt.Printf("try: AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --region %s --endpoint-url %s kms create-key\n", f.region, endpoint)
	} else {
		log.Info("strongroom serving", "endpoint", endpoint, "data_dir", f.dataDir, "store", f.net.redactedStore(), "root_of_trust", sealer.Name(), "account", f.account)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		cancelBG()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	cancelBG()
	<-bgDone // background work ends (and gives up its lease) before the store closes
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

// bootstrapCredentials generates the bootstrap access key and writes it
// once, mode 0600, in the AWS shared-credentials format, before the store
// records it. If a crash left the file behind without the store's record,
// the key in the file is used.
func bootstrapCredentials(dir, account string) (app.Credentials, error) {
	path := filepath.Join(dir, "bootstrap-credentials")
	if b, err := os.ReadFile(path); err == nil {
		var c app.Credentials
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			}
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return c, fmt.Errorf("%s exists but holds no credentials; remove it to generate new ones", path)
		}
		return c, nil
	}
	c := app.NewCredentials()
	content := fmt.Sprintf("# Strongroom bootstrap credentials: root of account %s. Keep this file secret.\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", account, c.AccessKeyID, c.SecretAccessKey)
	// Written whole under a name of its own, synced, then linked into
	// place: a crash never leaves the file empty or half written.
	stale, _ := filepath.Glob(path + ".new-*")
	for _, f := range stale {
		os.Remove(f)
	}
	tmp := fmt.Sprintf("%s.new-%d", path, os.Getpid())
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return c, fmt.Errorf("writing bootstrap credentials: %w", err)
	}
	defer os.Remove(tmp)
	if _, err := fh.WriteString(content); err != nil {
		fh.Close()
		return c, fmt.Errorf("writing bootstrap credentials: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return c, fmt.Errorf("writing bootstrap credentials: %w", err)
	}
	if err := fh.Close(); err != nil {
		return c, fmt.Errorf("writing bootstrap credentials: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return c, fmt.Errorf("writing bootstrap credentials: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	fmt.Fprintf(os.Stderr, "strongroom: bootstrap credentials for the root of account %s written to %s\n", account, path)
	return c, nil
}

// tuneGC sets the garbage collector for a server whose live heap is small
// and whose requests allocate a few KB each, unless the operator set GOGC
// or GOMEMLIMIT: collect when the heap has grown by 4× its live size (not
// 2×: a quarter of the collections under load), within a soft limit of
// 256 MiB, past which the runtime collects as often as it must. Idle
// memory is unchanged (the live heap is what it is); docs/performance.md
// has the measurement.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(256 << 20)
}
