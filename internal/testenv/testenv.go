// Package testenv starts real Strongroom servers for tests: the same app
// assembly as `strongroom serve`, on a real loopback HTTP listener, with an
// injectable fake clock, and hands out aws-sdk-go-v2 clients that talk to it
// over the wire with SigV4. Nothing in it is used by the server binary.
package testenv

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/app"
	"strongroom/internal/clock"
	"strongroom/internal/metrics"
	"strongroom/internal/rootkey"
	"strongroom/internal/server"
	"strongroom/internal/store"
	"strongroom/internal/store/memory"
)

// Account is the bootstrap account of test servers.
const Account = "111122223333"

// Region is the default region of test clients.
const Region = "us-east-1"

// Env is a running test server.
type Env struct {
	T        testing.TB
	App      *app.App
	Clock    *clock.Fake
	Store    store.Store
	Endpoint string
	Root     app.Credentials
}

// Options tune Start.
type Options struct {
	Store        store.Store
	Sealer       rootkey.Sealer
	EncryptLimit int
	Dev          bool
	// AuditInStore keeps the audit trail's records in the store, as on
	// PostgreSQL; by default they go to segment files in a temporary
	// directory, as `serve` does on its embedded store.
	AuditInStore bool
	// AuditDir, if set, is where the segment files go.
	AuditDir string
	// AuditSync is how soon a read-only call's record is synced
	// (app.Options.AuditSyncDelay): 0 as serve does by default
	// (app.DefaultAuditSyncDelay), below 0 before the response.
	AuditSync time.Duration
	// Setup, if set, is called with the assembled app before the server
	// serves its first request: to replace a part of it (the recorder).
	Setup func(a *app.App)
	// Metrics serves GET /metrics, as `serve` does: the app's gauges and
	// counters, and the store's transactions timed.
	Metrics bool
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Store == nil {
		o.Store = memory.New()
	}
	if o.Sealer == nil {
		o.Sealer = rootkey.NewEphemeral()
	}
	if o.EncryptLimit == 0 {
		o.EncryptLimit = 1 << 20
	}
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	root := app.NewCredentials()
	if o.AuditDir == "" && !o.AuditInStore {
		o.AuditDir = filepath.Join(t.TempDir(), "audit")
	}
	switch {
	case o.AuditSync == 0:
		o.AuditSync = app.DefaultAuditSyncDelay
	case o.AuditSync < 0:
		o.AuditSync = 0
	}
	st := o.Store
	var m *metrics.Set
	var srvOpts []server.Option
	if o.Metrics {
		m = metrics.NewSet()
		st = metrics.InstrumentStore(o.Store, m)
		srvOpts = append(srvOpts, server.WithMetrics(m))
	}
	a, err := app.New(context.Background(), app.Options{
		Metrics:        m,
		Store:          st,
		Sealer:         o.Sealer,
		Clock:          clk,
		Account:        Account,
		Region:         Region,
		Dev:            o.Dev,
		EncryptLimit:   o.EncryptLimit,
		BootstrapKey:   root,
		AuditDir:       o.AuditDir,
		AuditSyncDelay: o.AuditSync,
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if o.Setup != nil {
		o.Setup(a)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(ln, a.Handler, nil, srvOpts...)
	go srv.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		a.Close()
		o.Store.Close()
	})
	return &Env{T: t, App: a, Clock: clk, Store: o.Store, Endpoint: "http://" + ln.Addr().String(), Root: root}
}

// AWSConfig returns an SDK configuration for creds in region, pointed at
// the server, signing with the server's fake clock (so that moving the
// clock does not make signatures look expired).
func (e *Env) AWSConfig(creds app.Credentials, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		BaseEndpoint: aws.String(e.Endpoint),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		Retryer:      func() aws.Retryer { return TransportRetryer() },
	}
}

// KMS returns a KMS client signed with the bootstrap root credentials in
// the default region.
func (e *Env) KMS() *kms.Client { return e.KMSAs(e.Root, Region) }

// KMSAs returns a KMS client for creds in region.
func (e *Env) KMSAs(creds app.Credentials, region string) *kms.Client {
	cfg := e.AWSConfig(creds, region)
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		o.Retryer = TransportRetryer()
	})
}

// TransportRetryer retries a call only when the client's own connection
// was closed under it ("use of closed network connection": a race between
// net/http's idle-connection handling and the SDK, aws-sdk-go-v2#2737, seen
// on loaded machines, not a server answer; the SDK's own retryer retries it
// too). Every AWS error, 4xx or 5xx, reaches the test as it came, so tests
// keep asserting exactly what the server said. Five attempts: a run of
// go test ./... on a busy machine once met it three times in a row.
func TransportRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if err != nil && strings.Contains(err.Error(), "use of closed network connection") {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}
