package main

// The serve flags of issue 8: the store (embedded or PostgreSQL), TLS,
// the regions served and request quotas.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"strongroom/internal/app"
	"strongroom/internal/quota"
	"strongroom/internal/rootkey"
	"strongroom/internal/server"
	"strongroom/internal/store"
	"strongroom/internal/store/postgres"
)

type netFlags struct {
	store         string
	tlsCert       string
	tlsKey        string
	tlsClientCA   string
	tlsSelfSigned bool
	insecureHTTP  bool
	regions       string
	quotas        string
	// backgroundEvery is the period of background work (deletion at the
	// end of a waiting period, due rotations, …).
	backgroundEvery time.Duration
}

func (n *netFlags) register(fs *flag.FlagSet, dev bool) {
	if !dev {
		fs.StringVar(&n.store, "store", envOr("STRONGROOM_STORE", ""), "where state lives: empty for the embedded store in --data-dir, or a postgres:// URL shared by the nodes of a cluster")
		fs.BoolVar(&n.insecureHTTP, "insecure-http", envBool("STRONGROOM_INSECURE_HTTP"), "allow plain HTTP on a non-loopback address (e.g. behind a TLS-terminating proxy)")
	}
	fs.StringVar(&n.tlsCert, "tls-cert", envOr("STRONGROOM_TLS_CERT", ""), "serve HTTPS with this PEM certificate chain (with --tls-key; reloaded on SIGHUP)")
	fs.StringVar(&n.tlsKey, "tls-key", envOr("STRONGROOM_TLS_KEY", ""), "the PEM private key of --tls-cert")
	fs.BoolVar(&n.tlsSelfSigned, "tls-self-signed", envBool("STRONGROOM_TLS_SELF_SIGNED"), "serve HTTPS with a generated self-signed certificate (kept in DATA_DIR) and print its SHA-256 fingerprint")
	fs.StringVar(&n.tlsClientCA, "tls-client-ca", envOr("STRONGROOM_TLS_CLIENT_CA", ""), "require API clients to present a certificate signed by a CA in this PEM file (mTLS, in front of SigV4)")
	fs.StringVar(&n.regions, "regions", envOr("STRONGROOM_REGIONS", ""), "comma-separated regions served (default: any region)")
	fs.DurationVar(&n.backgroundEvery, "background-every", envDuration("STRONGROOM_BACKGROUND_EVERY", 10*time.Second), "period of background work (deletions at the end of their window, due rotations); one node of a cluster does it at a time")
	fs.StringVar(&n.quotas, "quotas", envOr("STRONGROOM_QUOTAS", "off"), "request quotas per account and region: off, aws (AWS's default rates), then group=rate overrides and burst=SECONDS, e.g. aws,symmetric=20000,CreateKey=50")
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envBool(name string) bool {
	switch strings.ToLower(os.Getenv(name)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// check validates the flags against the listen address and default region.
func (n *netFlags) check(listen, region string, dev bool) error {
	if (n.tlsCert == "") != (n.tlsKey == "") {
		return errors.New("give --tls-cert and --tls-key together")
	}
	if n.tlsSelfSigned && n.tlsCert != "" {
		return errors.New("--tls-self-signed and --tls-cert exclude each other")
	}
	if n.tlsClientCA != "" && !n.tls() {
		return errors.New("--tls-client-ca needs TLS: give --tls-cert and --tls-key, or --tls-self-signed")
	}
	if !dev && !n.tls() && !n.insecureHTTP && !server.IsLoopback(listen) {
		return server.ErrInsecureListen
	}
	if rs := n.regionList(); len(rs) > 0 {
		for _, r := range rs {
			if !regionName(r) {
				return fmt.Errorf("--regions: %q is not a region name", r)
			}
		}
		found := false
		for _, r := range rs {
			found = found || r == region
		}
		if !found {
			return fmt.Errorf("--regions must include the default region %s", region)
		}
	}
	if n.backgroundEvery < 100*time.Millisecond {
		return errors.New("--background-every must be at least 100ms")
	}
	if _, err := quota.Parse(n.quotas); err != nil {
		return fmt.Errorf("--quotas: %w", err)
	}
	if n.store != "" && !n.postgres() && n.store != "embedded" {
		return fmt.Errorf("--store: want a postgres:// URL, or nothing for the embedded store")
	}
	return nil
}

func regionName(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts) > 4 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range p {
			last := i == len(parts)-1
			if last && (c < '0' || c > '9') || !last && (c < 'a' || c > 'z') {
				return false
			}
		}
	}
	return true
}

func (n *netFlags) tls() bool { return n.tlsCert != "" || n.tlsSelfSigned }

func (n *netFlags) postgres() bool {
	return strings.HasPrefix(n.store, "postgres://") || strings.HasPrefix(n.store, "postgresql://")
}

func (n *netFlags) regionList() []string {
	var out []string
	for _, r := range strings.Split(n.regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

func (n *netFlags) limiter() *quota.Limiter {
	cfg, _ := quota.Parse(n.quotas) // checked
	return quota.New(cfg)
}

// redactedStore names the store for logs without a password.
func (n *netFlags) redactedStore() string {
	if !n.postgres() {
		return "embedded"
	}
	u, err := url.Parse(n.store)
	if err != nil {
		return "postgres"
	}
	return u.Redacted()
}

// openPostgres opens the PostgreSQL store and, for it, the root key file:
// created only if the database has never recorded a root of trust, so that
// a node joining a cluster without the cluster's root key fails instead of
// minting a root of its own.
func openPostgres(ctx context.Context, url, keyFile string) (store.Store, rootkey.Sealer, error) {
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := postgres.Open(openCtx, url)
	if err != nil {
		return nil, nil, err
	}
	initialized, err := app.StoreInitialized(openCtx, st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	sealer, err := rootkey.OpenFile(keyFile, !initialized)
	if err != nil {
		st.Close()
		if initialized && errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: the database already belongs to a cluster; give this node the cluster's root key with --root-key-file", err)
		}
		return nil, nil, err
	}
	return st, sealer, nil
}

// tlsSetup builds the TLS configuration the flags ask for, or nil for
// plain HTTP. With --tls-self-signed the certificate is generated once and
// kept in dataDir (memory only in dev mode, dataDir ""), and its
// fingerprint is printed.
func (n *netFlags) tlsSetup(dataDir, listen string, log *slog.Logger) (*tls.Config, *server.Certificates, error) {
	if !n.tls() {
		return nil, nil, nil
	}
	var certs *server.Certificates
	var err error
	if n.tlsSelfSigned {
		certs, err = selfSigned(dataDir, listen)
	} else {
		certs, err = server.LoadCertificates(n.tlsCert, n.tlsKey)
	}
	if err != nil {
		return nil, nil, err
	}
	var pool *x509.CertPool
	if n.tlsClientCA != "" {
		if pool, err = server.LoadCertPool(n.tlsClientCA); err != nil {
			return nil, nil, err
		}
	}
	if cur := certs.Current(); len(cur.Certificate) > 0 {
		fp := server.Fingerprint(cur.Certificate[0])
		if n.tlsSelfSigned {
			fmt.Fprintf(os.Stderr, "strongroom: TLS with a self-signed certificate, SHA-256 fingerprint %s\n", fp)
		}
		log.Info("TLS certificate", "sha256", fp, "client_certificates", n.tlsClientCA != "")
	}
	return server.TLSConfig(certs, pool), certs, nil
}

// selfSigned loads DATA_DIR/tls-self-signed.{crt,key}, or generates them
// (again when the certificate has expired or is close to it).
func selfSigned(dataDir, listen string) (*server.Certificates, error) {
	if dataDir == "" {
		certPEM, keyPEM, err := server.SelfSigned(server.SelfSignedHosts(listen), time.Now())
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		return server.StaticCertificate(cert), nil
	}
	certFile := filepath.Join(dataDir, "tls-self-signed.crt")
	keyFile := filepath.Join(dataDir, "tls-self-signed.key")
	if c, err := server.LoadCertificates(certFile, keyFile); err == nil {
		if leaf := c.Current().Leaf; leaf != nil && time.Until(leaf.NotAfter) > 7*24*time.Hour {
			return c, nil
		}
	}
	certPEM, keyPEM, err := server.SelfSigned(server.SelfSignedHosts(listen), time.Now())
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "strongroom: generated a self-signed TLS certificate: %s (give it to clients as their CA bundle)\n", certFile)
	return server.LoadCertificates(certFile, keyFile)
}

// nodeIDFile returns the node id kept in DATA_DIR/node-id, creating it on
// first use: a node restarted on its data directory (after a crash, say)
// takes its leases back at once rather than waiting for them to expire.
// Every node needs its own data directory.
func nodeIDFile(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	host, _ := os.Hostname()
	var r [8]byte
	rand.Read(r[:])
	id := host + "/" + hex.EncodeToString(r[:])
	if err := writeFileAtomic(path, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing the node id: %w", err)
	}
	return id, nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// reloadOnHUP reloads the certificate files on every SIGHUP until ctx
// ends. Open connections keep their certificate; new handshakes get the
// new one. A failed reload keeps the old certificate.
func reloadOnHUP(ctx context.Context, certs *server.Certificates, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := certs.Reload(); err != nil {
				log.Error("SIGHUP: keeping the current TLS certificate", "err", err)
				continue
			}
			fp := ""
			if cur := certs.Current(); len(cur.Certificate) > 0 {
				fp = server.Fingerprint(cur.Certificate[0])
			}
			log.Info("SIGHUP: TLS certificate reloaded", "sha256", fp)
		}
	}
}
