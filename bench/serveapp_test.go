package bench_test

import (
	"context"
	"path/filepath"
	"testing"

	"strongroom/internal/app"
	"strongroom/internal/clock"
	"strongroom/internal/metrics"
	"strongroom/internal/rootkey"
	"strongroom/internal/store/bolt"
)

// serveApp assembles Strongroom in this process as `strongroom serve`
// assembles it on an empty data directory: the embedded store, a root key
// file, the audit trail in segment files synced as by default, and m (may
// be nil) for the request metrics. It returns the app and the bootstrap
// account's root credentials; the test's end closes both.
func serveApp(tb testing.TB, m *metrics.Set) (*app.App, app.Credentials) {
	tb.Helper()
	dir := tb.TempDir()
	sealer, err := rootkey.OpenFile(filepath.Join(dir, "root.key"), true)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	creds := app.NewCredentials()
	a, err := app.New(context.Background(), app.Options{
		Metrics: m,
		Store:   st, Sealer: sealer, Clock: clock.System{},
		Account: "111122223333", Region: "us-east-1", EncryptLimit: 1 << 20,
		BootstrapKey:   creds,
		AuditDir:       filepath.Join(dir, "audit"),
		AuditSyncDelay: app.DefaultAuditSyncDelay,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a, creds
}
