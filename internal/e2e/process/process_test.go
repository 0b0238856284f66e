// Package process tests the strongroom binary as operators and outside
// checks run it: built with `go build ./cmd/strongroom`, started with
// `strongroom serve --listen … --data-dir …`, probed on /healthz, driven
// with the AWS CLI and aws-sdk-go-v2, killed with SIGKILL and restarted.
package process

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strongroom-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "strongroom")
	cmd := exec.Command("go", "build", "-o", binary, "../../../cmd/strongroom")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building strongroom:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testAKID   = "AKIAPROCESSTEST00001"
	testSecret = "processTestSecretKey0000000000000000000"
)

// server is a running strongroom serve subprocess.
type server struct {
	t        *testing.T
	cmd      *exec.Cmd
	endpoint string
	dataDir  string
	stderr   *syncBuffer
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// start runs `strongroom serve` on dataDir and waits for /healthz.
func start(t *testing.T, dataDir string, extraEnv []string, args ...string) *server {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(binary, append([]string{"serve", "--listen", addr, "--data-dir", dataDir}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, endpoint: "http://" + addr, dataDir: dataDir, stderr: stderr}
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server did not become healthy; stderr:\n%s", stderr.String())
	return nil
}

func (s *server) kill() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
}

func (s *server) client(akid, secret string) *kms.Client {
	return kms.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint: aws.String(s.endpoint),
		Retryer:      func() aws.Retryer { return testenv.TransportRetryer() },
	})
}

var envCreds = []string{
	"STRONGROOM_BOOTSTRAP_ACCESS_KEY_ID=" + testAKID,
	"STRONGROOM_BOOTSTRAP_SECRET_ACCESS_KEY=" + testSecret,
}

// TestKill9AfterAcknowledge kills the server with SIGKILL right after it
// acknowledged CreateKey and Encrypt, restarts it, and checks that the key
// exists and every ciphertext decrypts.
func TestKill9AfterAcknowledge(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	type acked struct {
		keyID string
		blob  []byte
		pt    []byte
	}
	var all []acked
	for round := 0; round < 3; round++ {
		s := start(t, dir, envCreds)
		c := s.client(testAKID, testSecret)
		for _, a := range all { // everything from earlier rounds survived
			out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: a.blob})
			if err != nil {
				t.Fatalf("round %d: decrypting a ciphertext acknowledged before SIGKILL: %v", round, err)
			}
			if !bytes.Equal(out.Plaintext, a.pt) {
				t.Fatalf("round %d: plaintext changed", round)
			}
			if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &a.keyID}); err != nil {
				t.Fatalf("round %d: key acknowledged before SIGKILL is gone: %v", round, err)
			}
		}
		ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		pt := []byte(fmt.Sprintf("round %d", round))
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: pt})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, acked{keyID: *ck.KeyMetadata.KeyId, blob: enc.CiphertextBlob, pt: pt})
		s.kill() // SIGKILL right after the acknowledgement
	}
}

// TestBootstrapCredentialsFile checks the generated bootstrap credentials:
// written once, mode 0600, usable, and not regenerated on restart.
func TestBootstrapCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, nil)
	path := filepath.Join(dir, "bootstrap-credentials")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap-credentials mode %v", fi.Mode().Perm())
	}
	akid, secret := readCreds(t, path)
	if _, err := s.client(akid, secret).ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatalf("bootstrap credentials do not work: %v", err)
	}
	if _, err := s.client(akid, secret+"x").ListKeys(context.Background(), &kms.ListKeysInput{}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	for _, name := range []string{"root.key", "strongroom.db"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", name, fi.Mode().Perm())
		}
	}
	s.kill()
	s = start(t, dir, nil)
	a2, s2 := readCreds(t, path)
	if a2 != akid || s2 != secret {
		t.Fatal("bootstrap credentials regenerated on restart")
	}
	if _, err := s.client(akid, secret).ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func readCreds(t *testing.T, path string) (string, string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var akid, secret string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			akid = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if akid == "" || secret == "" {
		t.Fatalf("no credentials in %s", path)
	}
	return akid, secret
}

// TestSIGTERMExitsCleanly checks the operator contract's shutdown.
func TestSIGTERMExitsCleanly(t *testing.T) {
	s := start(t, t.TempDir(), envCreds)
	if _, err := s.client(testAKID, testSecret).CreateKey(context.Background(), &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
}

// TestRootKeyFileElsewhere keeps the root key on "another volume" and
// checks that the data directory alone cannot be opened.
func TestRootKeyFileElsewhere(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(keyDir, "root.key")
	s := start(t, dir, envCreds, "--root-key-file", keyFile)
	c := s.client(testAKID, testSecret)
	ck, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	s.kill()
	if _, err := os.Stat(filepath.Join(dir, "root.key")); err == nil {
		t.Fatal("root.key written into the data directory despite --root-key-file")
	}
	// Without the root key file, the server must refuse to start rather
	// than create a new root over existing data.
	cmd := exec.Command(binary, "serve", "--listen", freePort(t), "--data-dir", dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("server started without its root key:\n%s", out)
	}
	// With a different root key, it must refuse too.
	other := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(other, []byte("strongroom-root-key-v1 "+strings.Repeat("ab", 32)+"\n"), 0o600)
	cmd = exec.Command(binary, "serve", "--listen", freePort(t), "--data-dir", dir, "--root-key-file", other)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "root of trust") {
		t.Fatalf("server started with a foreign root key (err %v):\n%s", err, out)
	}
	s = start(t, dir, envCreds, "--root-key-file", keyFile)
	if _, err := s.client(testAKID, testSecret).Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
}
