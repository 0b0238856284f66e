package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/identity"
	kmscore "strongroom/internal/kms"
	"strongroom/internal/store/bolt"
	"strongroom/internal/testenv"
)

// What the audit trail costs Encrypt: the same server (embedded store,
// fsync on every commit) with and without its Recorder, over the wire with
// 32 concurrent clients, and in the core alone. Run both modes in one go,
// alternating:
//
//	go test ./internal/e2e -run '^$' -bench 'EncryptAudit' -count 5
//
// The figure to compare is ops/s of audit=on against audit=off.

// benchEnv is a server over a bolt store in a fresh directory; audit off
// removes the recorder before any request.
func benchEnv(b *testing.B, audit bool) *testenv.Env {
	st, err := bolt.Open(b.TempDir(), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	env := testenv.Start(b, testenv.Options{Store: st})
	if !audit {
		env.App.Service.SetRecorder(nil)
	}
	return env
}

func benchKMS(env *testenv.Env) *kms.Client {
	cfg := env.AWSConfig(env.Root, testenv.Region)
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
	return kms.NewFromConfig(cfg)
}

func BenchmarkEncryptAudit(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run("wire/audit="+mode, func(b *testing.B) {
			env := benchEnv(b, mode == "on")
			c := benchKMS(env)
			key := newKey(b, c, "bench").KeyId
			pt := []byte("a small secret of the usual size")
			b.SetParallelism(128) // 256 clients on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: pt}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
	for _, mode := range []string{"off", "on"} {
		b.Run("core/audit="+mode, func(b *testing.B) {
			env := benchEnv(b, mode == "on")
			svc := env.App.Service
			key := newKey(b, env.KMS(), "bench").KeyId
			pt := []byte("a small secret of the usual size")
			call := &kmscore.Call{Principal: identity.Root(testenv.Account), Region: testenv.Region, SourceIP: "127.0.0.1", UserAgent: "bench"}
			b.SetParallelism(128)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c := *call
					c.RequestID = "bench"
					in := &kmscore.EncryptInput{KeyId: aws.ToString(key), Plaintext: pt}
					if _, err := svc.Invoke(ctx, &c, "Encrypt", in, func() (any, error) { return svc.Encrypt(ctx, &c, in) }); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// TestAuditOverheadPaired measures what the trail costs Encrypt over the
// wire, robustly on a shared machine: two servers run as separate processes
// (this test binary, as TestAuditBenchServer), one without its recorder;
// 64 clients in this process drive them in alternating rounds. The clients
// are as cheap as can be (a request signed once per round and sent again
// and again: the server verifies every copy, and has no replay cache), so
// that the servers, not the clients, are what the 2 cores spend themselves
// on. Each round gives the throughput and the server's CPU time per request
// (from /proc/PID/stat), which other processes' load barely changes:
//
//	STRONGROOM_AUDIT_BENCH=1 go test ./internal/e2e -run AuditOverheadPaired -v
//
// The trail runs as serve's does by default (--audit-sync 5ms);
// STRONGROOM_AUDIT_BENCH_SYNC=always syncs every group before its calls
// are answered (--audit-sync always).
func TestAuditOverheadPaired(t *testing.T) {
	if os.Getenv("STRONGROOM_AUDIT_BENCH") == "" {
		t.Skip("set STRONGROOM_AUDIT_BENCH=1 to measure")
	}
	rounds, clients, each := 6, 64, 3*time.Second
	if n, err := strconv.Atoi(os.Getenv("STRONGROOM_AUDIT_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	if n, err := strconv.Atoi(os.Getenv("STRONGROOM_AUDIT_BENCH_CLIENTS")); err == nil && n > 0 {
		clients = n
	}
	type side struct {
		pid      int
		endpoint string
		creds    aws.Credentials
		c        *kms.Client
		key      *string
		ops      []float64
		cpu      []float64 // µs of server CPU per request
	}
	// STRONGROOM_AUDIT_BENCH_CLIENT=sdk: the clients are aws-sdk-go-v2's
	// (a request built and signed for every call), as bench/loadgen's:
	// the throughput a user on the same 2 cores sees.
	sdk := os.Getenv("STRONGROOM_AUDIT_BENCH_CLIENT") == "sdk"
	sides := map[bool]*side{}
	for _, audit := range []bool{false, true} {
		mode := map[bool]string{false: "off", true: "on"}[audit]
		args := []string{"-test.run=^TestAuditBenchServer$"}
		if dir := os.Getenv("STRONGROOM_AUDIT_BENCH_PROFILE"); dir != "" { // CPU profiles of the servers
			args = append(args, "-test.cpuprofile="+filepath.Join(dir, "audit-"+mode+".pprof"))
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "STRONGROOM_AUDIT_BENCH_SERVER="+mode)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stdin.Close(); cmd.Wait() })
		var endpoint, akid, secret string
		if _, err := fmt.Fscanln(bufio.NewReader(stdout), &endpoint, &akid, &secret); err != nil {
			t.Fatalf("benchmark server (%s): %v", mode, err)
		}
		cfg := aws.Config{Region: testenv.Region, BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
			HTTPClient:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}},
			Retryer:     func() aws.Retryer { return aws.NopRetryer{} }}
		c := kms.NewFromConfig(cfg)
		sides[audit] = &side{pid: cmd.Process.Pid, endpoint: endpoint, creds: aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
			c: c, key: newKey(t, c, "bench").KeyId}
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024}}
	run := func(s *side) (opsPerSec, cpuPerOp float64) {
		body := []byte(`{"KeyId":"` + *s.key + `","Plaintext":"YSBzbWFsbCBzZWNyZXQgb2YgdGhlIHVzdWFsIHNpemU="}`)
		signed, err := http.NewRequest(http.MethodPost, s.endpoint+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		signed.Header.Set("Content-Type", "application/x-amz-json-1.1")
		signed.Header.Set("X-Amz-Target", "TrentService.Encrypt")
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(ctx, s.creds, signed, hex.EncodeToString(sum[:]), "kms", testenv.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		cpu0 := processCPU(t, s.pid)
		start := time.Now()
		deadline := start.Add(each)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for sdk && time.Now().Before(deadline) { // aws-sdk-go-v2 signs every request
					if _, err := s.c.Encrypt(ctx, &kms.EncryptInput{KeyId: s.key, Plaintext: []byte("a small secret of the usual size")}); err != nil {
						t.Error(err)
						return
					}
					n.Add(1)
				}
				for !sdk && time.Now().Before(deadline) {
					req, _ := http.NewRequest(http.MethodPost, s.endpoint+"/", bytes.NewReader(body))
					req.Header = signed.Header
					resp, err := hc.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("Encrypt: HTTP %d", resp.StatusCode)
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		el := time.Since(start)
		cpu := processCPU(t, s.pid) - cpu0
		return float64(n.Load()) / el.Seconds(), float64(cpu.Microseconds()) / float64(n.Load())
	}
	run(sides[false]) // warm up both
	run(sides[true])
	for r := range rounds {
		for _, audit := range []bool{r%2 == 1, r%2 == 0} { // alternate which goes first
			ops, cpu := run(sides[audit])
			sides[audit].ops = append(sides[audit].ops, ops)
			sides[audit].cpu = append(sides[audit].cpu, cpu)
		}
		off, on := sides[false], sides[true]
		t.Logf("round %d: audit off %.0f ops/s (%.0f µs CPU/op), on %.0f ops/s (%.0f µs CPU/op)", r+1, off.ops[r], off.cpu[r], on.ops[r], on.cpu[r])
	}
	med := func(xs []float64) float64 { xs = slices.Clone(xs); slices.Sort(xs); return xs[len(xs)/2] }
	off, on := sides[false], sides[true]
	t.Logf("median throughput: audit off %.0f ops/s, on %.0f ops/s (%.1f%% of it)", med(off.ops), med(on.ops), 100*med(on.ops)/med(off.ops))
	t.Logf("median server CPU per Encrypt: audit off %.1f µs, on %.1f µs: a CPU-bound server keeps %.1f%% of its throughput (cost %.1f%%)",
		med(off.cpu), med(on.cpu), 100*med(off.cpu)/med(on.cpu), 100-100*med(off.cpu)/med(on.cpu))
}

// TestAuditBenchServer is TestAuditOverheadPaired's server process: a
// server over a bolt store, with (on) or without (off) its recorder, that
// prints its endpoint and root credentials and serves until stdin closes.
func TestAuditBenchServer(t *testing.T) {
	mode := os.Getenv("STRONGROOM_AUDIT_BENCH_SERVER")
	if mode == "" {
		t.Skip("the server process of TestAuditOverheadPaired")
	}
	st, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sync time.Duration // serve's default
	if os.Getenv("STRONGROOM_AUDIT_BENCH_SYNC") == "always" {
		sync = -1 // each group synced before its calls are answered
	}
	env := testenv.Start(t, testenv.Options{Store: st, AuditSync: sync})
	if mode == "off" {
		env.App.Service.SetRecorder(nil)
	}
	fmt.Println(env.Endpoint, env.Root.AccessKeyID, env.Root.SecretAccessKey)
	io.Copy(io.Discard, os.Stdin)
	if n, groups := env.App.Trail.Stats(); groups > 0 {
		fmt.Fprintf(os.Stderr, "audit %s: %d records in %d transactions (%.1f a transaction)\n", mode, n, groups, float64(n)/float64(groups))
	}
}

// processCPU returns the user and system CPU time process pid has used.
func processCPU(t testing.TB, pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
