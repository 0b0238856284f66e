// The profiling run: a Strongroom server assembled as `strongroom serve`
// assembles it (embedded store, root key file), in this test's process,
// under the load generator running in a child process, so that the CPU
// and allocation profiles hold the server's work only.
//
//	go test ./bench -run TestProfile -profile /tmp/prof [-profile.op encrypt64] [-profile.c 32] [-profile.d 10s]
//	go tool pprof -top /tmp/prof/encrypt64.cpu.pprof
//	go tool pprof -sample_index=alloc_space -top -base /tmp/prof/encrypt64.allocs0.pprof /tmp/prof/encrypt64.allocs.pprof
//
// It also prints the server's heap allocations per operation. Without
// -profile it is skipped: it is a tool, not a test.

package bench_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"strongroom/bench/internal/load"
	"strongroom/internal/metrics"
	"strongroom/internal/server"
)

var (
	profileDir      = flag.String("profile", "", "run TestProfile and write its profiles to this directory")
	profileOp       = flag.String("profile.op", "encrypt64", "operation to profile (see bench/loadgen)")
	profileClients  = flag.Int("profile.c", 32, "concurrent clients")
	profileDuration = flag.Duration("profile.d", 10*time.Second, "profiled duration")
)

// childEnv carries the load configuration to the child process.
const childEnv = "STRONGROOM_BENCH_LOADGEN"

// TestLoadgenChild is the load generator when this test binary is re-run
// as the child of TestProfile; otherwise it does nothing.
func TestLoadgenChild(t *testing.T) {
	cfgJSON := os.Getenv(childEnv)
	if cfgJSON == "" {
		t.Skip("only runs as TestProfile's child")
	}
	var cfg load.Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.OnMeasure = func() { fmt.Println("measure") }
	cfg.OnStop = func() { fmt.Println("stop") }
	r, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("result %s\n", b)
}

func TestProfile(t *testing.T) {
	if *profileDir == "" {
		t.Skip("a profiling tool: run with -profile DIR")
	}
	if err := os.MkdirAll(*profileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := metrics.NewSet() // as serve: the request metrics are part of the work
	a, creds := serveApp(t, m)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(ln, a.Handler, nil, server.WithMetrics(m), server.WithReadiness(a.Ready))
	go srv.Serve()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	cfg, _ := json.Marshal(load.Config{
		Label: "strongroom", Endpoint: "http://" + ln.Addr().String(), Region: "us-east-1",
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
		Op: *profileOp, Workers: *profileClients, Duration: *profileDuration, Warmup: 2 * time.Second,
	})
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadgenChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(*profileDir, *profileOp)
	var cpuFile *os.File
	var m0, m1 runtime.MemStats
	var result *load.Result
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "measure":
			writeHeap(t, base+".allocs0.pprof")
			runtime.ReadMemStats(&m0)
			if cpuFile, err = os.Create(base + ".cpu.pprof"); err != nil {
				t.Fatal(err)
			}
			if err := pprof.StartCPUProfile(cpuFile); err != nil {
				t.Fatal(err)
			}
		case line == "stop":
			pprof.StopCPUProfile()
			cpuFile.Close()
			runtime.ReadMemStats(&m1)
			writeHeap(t, base+".allocs.pprof")
		case strings.HasPrefix(line, "result "):
			result = new(load.Result)
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "result ")), result); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("load generator: %v", err)
	}
	if result == nil {
		t.Fatal("the load generator reported no result")
	}
	t.Log(result)
	if n := float64(result.Ops + result.Errors); n > 0 {
		t.Logf("server heap: %.1f allocations, %.0f bytes per operation (whole process, during the measured window)",
			float64(m1.Mallocs-m0.Mallocs)/n, float64(m1.TotalAlloc-m0.TotalAlloc)/n)
	}
	t.Logf("profiles: %s.cpu.pprof, %s.allocs.pprof (use -base %s.allocs0.pprof)", base, base, base)
}

func writeHeap(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}
