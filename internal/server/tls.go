package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// TLS: Strongroom answers with plaintext data keys, so anything but a
// loopback listener serves HTTPS. The configuration is TLS 1.2 and 1.3 only,
// with forward-secret AEAD suites only (TLS 1.3's suites are fixed by Go and
// all qualify), HTTP/1.1 (the AWS SDKs' protocol for KMS). The certificate
// is read through a Certificates holder so that SIGHUP can swap it without
// dropping a connection: a handshake takes whichever certificate is current.

// modernSuites are the TLS 1.2 suites offered: ECDHE key exchange (forward
// secrecy) and AEAD ciphers only.
var modernSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Certificates holds the serving certificate, reloadable from its files.
type Certificates struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertificates reads a PEM certificate chain and its private key.
func LoadCertificates(certFile, keyFile string) (*Certificates, error) {
	c := &Certificates{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// StaticCertificate holds a certificate that is never reloaded (a
// generated one).
func StaticCertificate(cert tls.Certificate) *Certificates {
	c := &Certificates{}
	c.cur.Store(&cert)
	return c
}

// Reload reads the files again. On any error the current certificate stays
// in use. Connections already open keep theirs; new handshakes get the new
// one.
func (c *Certificates) Reload() error {
	if c.certFile == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("server: loading the TLS certificate: %w", err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		cert.Leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	c.cur.Store(&cert)
	return nil
}

// Current returns the certificate in use.
func (c *Certificates) Current() *tls.Certificate { return c.cur.Load() }

// TLSConfig returns the server's TLS configuration over certs. With a
// non-nil clientCAs, clients may present a certificate signed by one of
// them, and RequireClientCert then refuses API requests without one.
func TLSConfig(certs *Certificates, clientCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: modernSuites,
		NextProtos:   []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return certs.Current(), nil
		},
	}
	if clientCAs != nil {
		// Verified when given; required (by RequireClientCert) for all but
		// the health probes, so load balancers can probe without one.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		cfg.ClientCAs = clientCAs
	}
	return cfg
}

// LoadCertPool reads PEM certificates (the client CAs of mTLS).
func LoadCertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("server: reading client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("server: %s holds no PEM certificate", file)
	}
	return pool, nil
}

// requireClientCert refuses, over TLS, any request other than the health
// probes that did not present a verified client certificate: mTLS as a
// second factor in front of SigV4.
func requireClientCert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) == 0 && !isProbe(r) {
			reject(w, http.StatusForbidden, "AccessDeniedException", "A client certificate signed by a trusted CA is required.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isProbe(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz")
}

// SelfSigned generates an ECDSA P-256 certificate for hosts (names or IP
// addresses), valid for a year, and returns it and its key in PEM.
func SelfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "strongroom self-signed", Organization: []string{"Strongroom"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that it can be its own trust anchor in a CA bundle
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	return certPEM, keyPEM, nil
}

// SelfSignedHosts are the names a self-signed certificate for a listen
// address covers: the address's host (unless it is unspecified), the
// machine's host name, localhost and the loopback addresses.
func SelfSignedHosts(listen string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, h)
		}
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	return hosts
}

// Fingerprint is the SHA-256 fingerprint of a DER certificate, as
// `openssl x509 -fingerprint -sha256` prints it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// IsLoopback reports whether a listen address (host:port) only accepts
// connections from this machine. An empty or unspecified host listens
// everywhere.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrInsecureListen is returned for a non-loopback listener without TLS.
var ErrInsecureListen = errors.New("server: refusing to serve plain HTTP on a non-loopback address: responses carry plaintext data keys; give --tls-cert and --tls-key (or --tls-self-signed), or --insecure-http to accept the risk (e.g. behind a TLS-terminating proxy)")
