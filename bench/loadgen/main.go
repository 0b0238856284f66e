// Command loadgen is Strongroom's load generator (see package
// strongroom/bench/internal/load) and the small tools bench/run.sh needs
// around it.
//
//	loadgen run     -label L -endpoint URL -op OP -c N -d DUR [-warmup DUR] [-pid PID] [-out FILE]
//	loadgen report  [-subject strongroom] [-base ref] FILE
//	loadgen wait    -endpoint URL [-since UNIX_NANOS] [-timeout DUR]   time until /healthz answers
//	loadgen rss     -pid PID                                           resident memory in MB
//	loadgen fill    -endpoint URL -n N [-c 8]                           create N keys
//	loadgen freeport                                                   a free loopback port
//
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/bench/internal/load"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen run|report|wait|rss|fill|freeport [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "run":
		err = run(ctx, args)
	case "report":
		err = report(args)
	case "wait":
		err = wait(ctx, args)
	case "rss":
		err = rss(args)
	case "fill":
		err = fill(ctx, args)
	case "freeport":
		err = freeport()
	case "rsacost":
		err = rsaCost()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func clientFlags(fs *flag.FlagSet, c *load.Config) {
	fs.StringVar(&c.Endpoint, "endpoint", "http://127.0.0.1:4599", "server endpoint")
	fs.StringVar(&c.Region, "region", "us-east-1", "region to sign for")
	c.AccessKeyID = os.Getenv("AWS_ACCESS_KEY_ID")
	c.SecretAccessKey = os.Getenv("AWS_SECRET_ACCESS_KEY")
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var c load.Config
	clientFlags(fs, &c)
	fs.StringVar(&c.Label, "label", "server", "name of the server in the results")
	fs.StringVar(&c.Op, "op", "encrypt64", "operation: encrypt64, encrypt4k, decrypt, gdk, sign-p256, createkey")
	fs.IntVar(&c.Workers, "c", 8, "concurrent workers (closed loop)")
	fs.DurationVar(&c.Duration, "d", 10*time.Second, "measured duration")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "warm-up before measuring")
	fs.IntVar(&c.PID, "pid", 0, "server process id, for its CPU time per operation (0: not measured)")
	out := fs.String("out", "", "append the result as a JSON line to this file")
	fs.Parse(args)
	if c.AccessKeyID == "" {
		return errors.New("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	r, err := load.Run(ctx, c)
	if r != nil {
		fmt.Println(r)
		if *out != "" {
			b, _ := json.Marshal(r)
			f, ferr := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if ferr != nil {
				return ferr
			}
			f.Write(append(b, '\n'))
			if ferr := f.Close(); ferr != nil {
				return ferr
			}
		}
	}
	return err
}

// rsaCost prints the CPU time, in µs, that Go's own rsa.SignPSS takes for
// one RSA-2048 signature with SHA-256 (as KMS's RSASSA_PSS_SHA_256: the salt
// as long as the digest), measured on one goroutine for a second: issue 7's
// floor for Sign RSA-2048, with the reference's HTTP cost added.
func rsaCost() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte("a message of the usual size for a benchmark"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	for range 20 { // warm up
		if _, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], opts); err != nil {
			return err
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, n := threadCPU(), 0
	for start := time.Now(); time.Since(start) < time.Second; n++ {
		if _, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], opts); err != nil {
			return err
		}
	}
	fmt.Printf("%.1f\n", float64((threadCPU()-c0).Microseconds())/float64(n))
	return nil
}

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	// CLOCK_THREAD_CPUTIME_ID
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	subject := fs.String("subject", "strongroom", "label of the server measured")
	base := fs.String("base", "ref", "label of the reference")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("report takes one results file")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	results, err := load.ReadResults(f)
	if err != nil {
		return err
	}
	load.Report(os.Stdout, results, *subject, *base)
	return nil
}

// wait polls GET /healthz until it answers 200 and prints how long after
// -since (the server's start, in Unix nanoseconds) that was.
func wait(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:4599", "server endpoint")
	since := fs.Int64("since", 0, "start time in Unix nanoseconds (0: now)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after")
	fs.Parse(args)
	start := time.Now()
	if *since > 0 {
		start = time.Unix(0, *since)
	}
	deadline := time.Now().Add(*timeout)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(*endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("%.1f\n", float64(time.Since(start))/float64(time.Millisecond))
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v (last: %v)", *endpoint, *timeout, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
}

func rss(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process id")
	fs.Parse(args)
	n, err := load.RSS(*pid)
	if err != nil {
		return err
	}
	fmt.Printf("%.1f\n", float64(n)/(1<<20))
	return nil
}

// fill creates n symmetric keys with c concurrent clients.
func fill(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	var c load.Config
	clientFlags(fs, &c)
	n := fs.Int("n", 1000, "keys to create")
	fs.IntVar(&c.Workers, "c", 8, "concurrent clients")
	fs.Parse(args)
	client := load.Client(&c)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range c.Workers {
		wg.Go(func() {
			for next.Add(1) <= int64(*n) && ctx.Err() == nil {
				if _, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("fill")}); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("created %d keys in %v\n", *n, time.Since(start).Round(time.Millisecond))
	return nil
}

func freeport() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}
