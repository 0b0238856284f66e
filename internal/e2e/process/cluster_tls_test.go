package process

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/testenv"
)

// TLS as operators run it: --tls-cert/--tls-key with reload on SIGHUP,
// --tls-self-signed, --tls-client-ca, and the refusal of plain HTTP on a
// non-loopback address. Clients: aws-sdk-go-v2 with a custom CA pool, and
// the AWS CLI with --ca-bundle.

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "strongroom test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by ca: a server
// certificate for 127.0.0.1 and localhost, or a client certificate.
func (ca *testCA) issue(t *testing.T, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "strongroom test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitHealthyTLS waits for /healthz over TLS with client.
func waitHealthyTLS(t *testing.T, n *node, client *http.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("https://" + n.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if n.exited() || time.Now().After(deadline) {
			t.Fatalf("node did not become healthy over TLS (%v, %v); stderr:\n%s", err, n.exitErr, n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func poolOf(t *testing.T, pemBytes []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in PEM")
	}
	return pool
}

func tlsKMS(addr string, cfg *tls.Config) *kms.Client {
	return kms.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
		BaseEndpoint: aws.String("https://" + addr),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}},
		Retryer:      func() aws.Retryer { return testenv.TransportRetryer() },
	})
}

func TestTLSSelfSigned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := launch(t, "tls", dir, envCreds, "--tls-self-signed")
	certFile := filepath.Join(dir, "tls-self-signed.crt")
	deadline := time.Now().Add(30 * time.Second)
	for !fileExists(certFile) {
		if n.exited() || time.Now().After(deadline) {
			t.Fatalf("no self-signed certificate at %s; stderr:\n%s", certFile, n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := poolOf(t, certPEM)
	waitHealthyTLS(t, n, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})

	// The printed fingerprint is the certificate's.
	block, _ := pem.Decode(certPEM)
	sum := sha256.Sum256(block.Bytes)
	fp := strings.ToUpper(hex.EncodeToString(sum[:]))
	if printed := strings.ReplaceAll(n.stderr.String(), ":", ""); !strings.Contains(printed, fp) {
		t.Errorf("the SHA-256 fingerprint %s is not printed:\n%s", fp, n.stderr)
	}

	c := tlsKMS(n.addr, &tls.Config{RootCAs: pool})
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("over TLS")})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(out.Plaintext) != "over TLS" {
		t.Fatalf("Decrypt over TLS: %v", err)
	}
	// A client that does not trust the certificate is refused.
	if _, err := tlsKMS(n.addr, &tls.Config{}).ListKeys(ctx, &kms.ListKeysInput{}); err == nil {
		t.Error("a client without the certificate in its pool connected")
	}
	// TLS 1.1 is refused; TLS 1.2 with a modern suite is accepted.
	if _, err := tls.Dial("tcp", n.addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
	conn, err := tls.Dial("tcp", n.addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	st := conn.ConnectionState()
	conn.Close()
	if name := tls.CipherSuiteName(st.CipherSuite); !strings.HasPrefix(name, "TLS_ECDHE_") || strings.Contains(name, "CBC") {
		t.Errorf("TLS 1.2 suite %s: want ECDHE with an AEAD", name)
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if resp, err := http.Get("http://" + n.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}

	t.Run("AWS CLI with --ca-bundle", func(t *testing.T) {
		if _, err := exec.LookPath("aws"); err != nil {
			t.Skip("the AWS CLI is not installed")
		}
		cli := func(args ...string) (string, error) {
			cmd := exec.Command("aws", append([]string{"--endpoint-url", "https://127.0.0.1:" + port(n.addr), "--ca-bundle", certFile, "--output", "text"}, args...)...)
			cmd.Env = append(cleanAWSEnv(), "AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+testSecret,
				"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
			out, err := cmd.CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		id, err := cli("kms", "create-key", "--query", "KeyMetadata.KeyId")
		if err != nil {
			t.Fatalf("aws kms create-key over TLS: %v\n%s", err, id)
		}
		if out, err := cli("kms", "describe-key", "--key-id", id, "--query", "KeyMetadata.KeyState"); err != nil || out != "Enabled" {
			t.Fatalf("describe-key: %v %s", err, out)
		}
		// Without the bundle the CLI refuses the certificate.
		cmd := exec.Command("aws", "--endpoint-url", "https://127.0.0.1:"+port(n.addr), "kms", "list-keys")
		cmd.Env = append(cleanAWSEnv(), "AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+testSecret,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("the CLI trusted a self-signed certificate without --ca-bundle:\n%s", out)
		}
	})

	// A restart keeps the certificate (clients keep trusting it).
	n.cmd.Process.Signal(syscall.SIGTERM)
	<-n.done
	n2 := launch(t, "tls2", dir, envCreds, "--tls-self-signed")
	waitHealthyTLS(t, n2, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestTLSReloadOnSIGHUP replaces the certificate files and sends SIGHUP:
// new connections get the new certificate, open ones keep working.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	c1, k1 := ca.issue(t, 101, false)
	writeFile(t, certFile, c1)
	writeFile(t, keyFile, k1)
	n := launch(t, "tls", filepath.Join(dir, "data"), envCreds, "--tls-cert", certFile, "--tls-key", keyFile)
	pool := poolOf(t, ca.pem)
	waitHealthyTLS(t, n, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})

	serial := func(tr *http.Transport) int64 {
		t.Helper()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + n.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	kept := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}} // keeps its connection
	if s := serial(kept); s != 101 {
		t.Fatalf("serving serial %d, want 101", s)
	}
	c := tlsKMS(n.addr, &tls.Config{RootCAs: pool})
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}

	c2, k2 := ca.issue(t, 202, false)
	writeFile(t, keyFile, k2)
	writeFile(t, certFile, c2)
	n.cmd.Process.Signal(syscall.SIGHUP)
	within(t, 5*time.Second, "the new certificate after SIGHUP", func() bool {
		return serial(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}) == 202
	})
	if s := serial(kept); s != 101 {
		t.Errorf("the open connection's certificate changed to %d", s)
	}
	if n.exited() {
		t.Fatalf("the server exited on SIGHUP: %v\n%s", n.exitErr, n.stderr)
	}
	// A broken file on the next SIGHUP keeps the current certificate.
	writeFile(t, certFile, []byte("not a certificate"))
	n.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	if s := serial(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}); s != 202 || n.exited() {
		t.Errorf("after a failed reload: serial %d, exited %v", s, n.exited())
	}
}

// TestTLSClientCertificates: with --tls-client-ca, API requests need a
// client certificate from that CA; the health probes do not.
func TestTLSClientCertificates(t *testing.T) {
	ctx := context.Background()
	ca, clientCA := newCA(t), newCA(t)
	dir := t.TempDir()
	sc, sk := ca.issue(t, 1, false)
	writeFile(t, filepath.Join(dir, "server.crt"), sc)
	writeFile(t, filepath.Join(dir, "server.key"), sk)
	writeFile(t, filepath.Join(dir, "clients.pem"), clientCA.pem)
	n := launch(t, "mtls", filepath.Join(dir, "data"), envCreds, "--tls-cert", filepath.Join(dir, "server.crt"),
		"--tls-key", filepath.Join(dir, "server.key"), "--tls-client-ca", filepath.Join(dir, "clients.pem"))
	pool := poolOf(t, ca.pem)
	waitHealthyTLS(t, n, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})

	_, err := tlsKMS(n.addr, &tls.Config{RootCAs: pool}).ListKeys(ctx, &kms.ListKeysInput{})
	if code := errorCode(err); code != "AccessDeniedException" {
		t.Fatalf("without a client certificate: %v, want AccessDeniedException", err)
	}
	// A certificate from another CA is refused at the handshake.
	oc, ok := ca.issue(t, 7, true)
	other, _ := tls.X509KeyPair(oc, ok)
	if _, err := tlsKMS(n.addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{other}}).ListKeys(ctx, &kms.ListKeysInput{}); err == nil {
		t.Fatal("a client certificate from an untrusted CA was accepted")
	}
	cc, ck := clientCA.issue(t, 8, true)
	good, _ := tls.X509KeyPair(cc, ck)
	c := tlsKMS(n.addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{good}})
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	// SigV4 still applies behind mTLS.
	bad := kms.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testAKID, "wrong-secret", ""),
		BaseEndpoint: aws.String("https://" + n.addr),
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{good}}}},
		Retryer:      func() aws.Retryer { return testenv.TransportRetryer() },
	})
	if _, err := bad.ListKeys(ctx, &kms.ListKeysInput{}); errorCode(err) != "InvalidSignatureException" {
		t.Fatalf("a wrong secret behind mTLS: %v", err)
	}
}

// TestPlainHTTPRefusedOffLoopback: serve on every interface without TLS
// refuses to start, unless --insecure-http.
func TestPlainHTTPRefusedOffLoopback(t *testing.T) {
	p := port(freePort(t))
	cmd := exec.Command(binary, "serve", "--listen", "0.0.0.0:"+p, "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), envCreds...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--insecure-http") || !strings.Contains(string(out), "TLS") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v\n%s", err, out)
	}
	cmd = exec.Command(binary, "serve", "--listen", "0.0.0.0:"+p, "--data-dir", t.TempDir(), "--insecure-http")
	cmd.Env = append(os.Environ(), envCreds...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	within(t, 20*time.Second, "serve on 0.0.0.0 with --insecure-http", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + p + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}
