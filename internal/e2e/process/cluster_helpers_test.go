package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"strongroom/internal/store/postgres/pgtest"
	"strongroom/internal/testenv"
)

// The cluster tests run `strongroom serve` processes on one PostgreSQL
// database: at $STRONGROOM_TEST_POSTGRES (a postgres:// URL), or else the
// local server the CI machine runs. Each test creates a database of its
// own and drops it at the end. Without PostgreSQL they fail; they never
// skip.
func postgresURL() string { return pgtest.URL() }

// newDatabase creates an empty database and returns its URL; it is dropped
// when the test ends.
func newDatabase(t *testing.T) string { return pgtest.Database(t) }

// writeRootKey writes a fresh root key file, as `strongroom serve` would.
func writeRootKey(t *testing.T, path string) {
	t.Helper()
	var b [32]byte
	rand.Read(b[:])
	if err := os.WriteFile(path, []byte("strongroom-root-key-v1 "+hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// node is one `strongroom serve` process of a cluster.
type node struct {
	name     string
	addr     string
	dataDir  string
	cmd      *exec.Cmd
	stderr   *syncBuffer
	done     chan struct{} // closed when the process has exited
	exitErr  error
	killOnce sync.Once
}

// launch starts `strongroom serve` without waiting for it.
func launch(t *testing.T, name, dataDir string, env []string, args ...string) *node {
	t.Helper()
	n := &node{name: name, addr: freePort(t), dataDir: dataDir, stderr: &syncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(binary, append([]string{"serve", "--listen", n.addr, "--data-dir", dataDir}, args...)...)
	n.cmd.Env = append(os.Environ(), env...)
	n.cmd.Stderr = n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.exitErr = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.kill)
	return n
}

func (n *node) endpoint() string { return "http://" + n.addr }

func (n *node) kill() {
	n.killOnce.Do(func() {
		select {
		case <-n.done:
		default:
			n.cmd.Process.Signal(os.Kill)
			<-n.done
		}
	})
}

func (n *node) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// waitHealthy waits for every node's /healthz.
func waitHealthy(t *testing.T, nodes ...*node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			resp, err := http.Get(n.endpoint() + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if n.exited() || time.Now().After(deadline) {
				t.Fatalf("node %s did not become healthy (%v); stderr:\n%s", n.name, n.exitErr, n.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// cluster is a set of nodes on one database with one root key.
type cluster struct {
	t       *testing.T
	db      string
	rootKey string
	nodes   []*node
}

// startCluster starts n nodes at once on a new database, each with its
// own data directory and the same root key file, and waits for them.
func startCluster(t *testing.T, n int, env []string, args ...string) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, db: newDatabase(t), rootKey: filepath.Join(dir, "root.key")}
	writeRootKey(t, c.rootKey)
	for i := range n {
		name := string(rune('A' + i))
		c.nodes = append(c.nodes, launch(t, name, filepath.Join(dir, "node-"+name), env,
			append([]string{"--store", c.db, "--root-key-file", c.rootKey}, args...)...))
	}
	waitHealthy(t, c.nodes...)
	return c
}

// balancer is a client-side layer-4 load balancer: every new connection
// goes to the next node in turn, skipping nodes that refuse to connect, as
// a load balancer's health checks would. Keep-alives are off, so that
// every request is a new connection and requests spread evenly.
type balancer struct {
	nodes []*node
	next  atomic.Uint64
	// dials counts requests sent to each node.
	dials []atomic.Int64
}

func newBalancer(nodes []*node) *balancer {
	return &balancer{nodes: nodes, dials: make([]atomic.Int64, len(nodes))}
}

func (b *balancer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	var last error
	for range len(b.nodes) {
		i := int(b.next.Add(1) % uint64(len(b.nodes)))
		c, err := d.DialContext(ctx, network, b.nodes[i].addr)
		if err == nil {
			b.dials[i].Add(1)
			return c, nil
		}
		last = err
	}
	return nil, last
}

func (b *balancer) httpClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: b.dial, DisableKeepAlives: true},
	}
}

// awsConfig signs for a virtual endpoint that the balancer resolves.
func awsConfig(akid, secret, region string, hc *http.Client) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint: aws.String("http://strongroom.cluster.test"),
		HTTPClient:   hc,
		Retryer:      func() aws.Retryer { return testenv.TransportRetryer() },
	}
}

// kmsClient returns a KMS client through b.
func (b *balancer) kmsClient(akid, secret, region string) *kms.Client {
	return kms.NewFromConfig(awsConfig(akid, secret, region, b.httpClient()))
}

// nodeKMS returns a KMS client bound to node n alone.
func nodeKMS(n *node, akid, secret, region string) *kms.Client {
	return kms.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint: aws.String(n.endpoint()),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		Retryer:      func() aws.Retryer { return testenv.TransportRetryer() },
	})
}

// nodeIAM returns an IAM client bound to node n.
func nodeIAM(n *node, akid, secret string) *iam.Client {
	return iam.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint: aws.String(n.endpoint()),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
		Retryer:      func() aws.Retryer { return testenv.TransportRetryer() },
	})
}

// errorCode returns the AWS error code of err, or "" if it is not an API
// error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// within calls fn again and again until it returns true, and returns how
// long that took, or fails after limit.
func within(t *testing.T, limit time.Duration, what string, fn func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if fn() {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not after %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
}
