// Package load is the load generator behind bench/loadgen and the
// in-process profiling run: a closed loop of N workers, each sending one
// KMS request at a time with aws-sdk-go-v2 for a fixed duration after a
// warm-up, measuring throughput, latency percentiles, errors and — when the
// server's process id is known — the server's CPU time per operation, read
// from /proc/PID/stat.
//
// It works against any endpoint that speaks the KMS JSON API: Strongroom,
// the reference server in bench/refserver, or another emulator.
package load

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Ops are the operations the generator knows, by the name given on the
// command line.
var Ops = []string{"encrypt64", "encrypt4k", "decrypt", "gdk", "sign-p256", "sign-rsa2048", "createkey"}

// Config configures one run.
type Config struct {
	// Label names the server in the results ("strongroom", "ref").
	Label    string
	Endpoint string
	Region   string
	// AccessKeyID and SecretAccessKey sign the requests.
	AccessKeyID, SecretAccessKey string
	// Op is one of Ops.
	Op       string
	Workers  int
	Duration time.Duration
	Warmup   time.Duration
	// PID is the server's process id, for its CPU time; 0: not measured.
	PID int
	// OnMeasure and OnStop, if set, are called when the measured window
	// opens and closes (the profiling run starts and stops its profiles).
	OnMeasure, OnStop func() `json:"-"`
}

// Result is what one run measured.
type Result struct {
	Label     string  `json:"label"`
	Op        string  `json:"op"`
	Workers   int     `json:"workers"`
	Seconds   float64 `json:"seconds"`
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`
	OpsPerSec float64 `json:"ops_per_s"`
	P50us     float64 `json:"p50_us"`
	P90us     float64 `json:"p90_us"`
	P99us     float64 `json:"p99_us"`
	MaxUs     float64 `json:"max_us"`
	// CPUus is the server's CPU time (user + system) per completed
	// operation in microseconds; 0 when PID was not given.
	CPUus float64 `json:"cpu_us_per_op"`
}

func (r *Result) String() string {
	s := fmt.Sprintf("%-10s %-10s c=%-3d %8.0f ops/s  p50 %7.0fµs  p90 %7.0fµs  p99 %7.0fµs  max %7.0fµs  errors %d",
		r.Label, r.Op, r.Workers, r.OpsPerSec, r.P50us, r.P90us, r.P99us, r.MaxUs, r.Errors)
	if r.CPUus > 0 {
		s += fmt.Sprintf("  server CPU %.1fµs/op", r.CPUus)
	}
	if r.FirstErr != "" {
		s += "\n    first error: " + r.FirstErr
	}
	return s
}

// Client returns a KMS client for cfg with a connection pool large enough
// for its workers and no retries (an error is counted, not hidden).
func Client(cfg *Config) *kms.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Workers + 16,
		MaxIdleConnsPerHost: cfg.Workers + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	awsCfg := aws.Config{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		BaseEndpoint: aws.String(cfg.Endpoint),
		HTTPClient:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
		Retryer:      retryClosedConn,
	}
	return kms.NewFromConfig(awsCfg)
}

// retryClosedConn retries a request once, at once, when Go's transport
// closed the connection under it (net.ErrClosed: a known race between the
// SDK and net/http's idle-connection handling, on the client side), and
// never for anything else: every server error is counted, not hidden.
func retryClosedConn() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, net.ErrClosed) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}

// opFunc sends one request.
type opFunc func(ctx context.Context) error

// prepare creates what op needs (a key, a ciphertext) and returns the
// function that sends one request.
func prepare(ctx context.Context, c *kms.Client, op string) (opFunc, error) {
	symmetric := func() (string, error) {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("bench")})
		if err != nil {
			return "", fmt.Errorf("creating the benchmark key: %w", err)
		}
		return aws.ToString(out.KeyMetadata.KeyId), nil
	}
	ec := map[string]string{"tenant": "t-42", "purpose": "bench"}
	switch op {
	case "encrypt64", "encrypt4k":
		id, err := symmetric()
		if err != nil {
			return nil, err
		}
		n := 64
		if op == "encrypt4k" {
			n = 4096
		}
		pt := random(n)
		return func(ctx context.Context) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: pt, EncryptionContext: ec})
			return err
		}, nil
	case "decrypt":
		id, err := symmetric()
		if err != nil {
			return nil, err
		}
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: random(64), EncryptionContext: ec})
		if err != nil {
			return nil, fmt.Errorf("encrypting the benchmark ciphertext: %w", err)
		}
		blob := out.CiphertextBlob
		return func(ctx context.Context) error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
			return err
		}, nil
	case "gdk":
		id, err := symmetric()
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
			return err
		}, nil
	case "sign-p256":
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
		if err != nil {
			return nil, fmt.Errorf("creating the ECC_NIST_P256 signing key: %w", err)
		}
		id := aws.ToString(out.KeyMetadata.KeyId)
		msg := random(64)
		return func(ctx context.Context) error {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: &id, Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		}, nil
	case "sign-rsa2048":
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
		if err != nil {
			return nil, fmt.Errorf("creating the RSA_2048 signing key: %w", err)
		}
		id := aws.ToString(out.KeyMetadata.KeyId)
		msg := random(64)
		return func(ctx context.Context) error {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: &id, Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
			return err
		}, nil
	case "createkey":
		return func(ctx context.Context) error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("bench")})
			return err
		}, nil
	}
	return nil, fmt.Errorf("load: unknown operation %q (known: %s)", op, strings.Join(Ops, ", "))
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// phases of a run.
const (
	phaseWarm = iota
	phaseMeasure
	phaseStop
)

// Run runs cfg's load and returns what it measured. Setup failures (the
// key cannot be created) are errors; failures of measured requests are
// counted in the result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c := Client(&cfg)
	send, err := prepare(ctx, c, cfg.Op)
	if err != nil {
		return nil, err
	}

	var phase atomic.Int32
	var errs atomic.Int64
	var firstErr atomic.Pointer[string]
	lat := make([][]time.Duration, cfg.Workers)
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		lat[w] = make([]time.Duration, 0, 1<<14)
		wg.Go(func() {
			for {
				p := phase.Load()
				if p == phaseStop {
					return
				}
				start := time.Now()
				err := send(ctx)
				d := time.Since(start)
				if phase.Load() != phaseMeasure {
					continue
				}
				if err != nil {
					if errs.Add(1) == 1 {
						s := err.Error()
						firstErr.Store(&s)
					}
					if ctx.Err() != nil {
						return
					}
					continue
				}
				lat[w] = append(lat[w], d)
			}
		})
	}

	sleep(ctx, cfg.Warmup)
	cpu0, cpuErr := processCPU(cfg.PID)
	if cfg.OnMeasure != nil {
		cfg.OnMeasure()
	}
	t0 := time.Now()
	phase.Store(phaseMeasure)
	sleep(ctx, cfg.Duration)
	phase.Store(phaseStop)
	elapsed := time.Since(t0)
	cpu1, cpuErr1 := processCPU(cfg.PID)
	if cfg.OnStop != nil {
		cfg.OnStop()
	}
	wg.Wait()

	all := slices.Concat(lat...)
	slices.Sort(all)
	r := &Result{Label: cfg.Label, Op: cfg.Op, Workers: cfg.Workers, Seconds: elapsed.Seconds(), Ops: int64(len(all)), Errors: errs.Load()}
	if p := firstErr.Load(); p != nil {
		r.FirstErr = *p
	}
	r.OpsPerSec = float64(r.Ops) / elapsed.Seconds()
	if n := len(all); n > 0 {
		us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
		r.P50us = us(all[n*50/100])
		r.P90us = us(all[n*90/100])
		r.P99us = us(all[n*99/100])
		r.MaxUs = us(all[n-1])
	}
	if cfg.PID > 0 && cpuErr == nil && cpuErr1 == nil && r.Ops+r.Errors > 0 {
		r.CPUus = float64(cpu1-cpu0) / float64(time.Microsecond) / float64(r.Ops+r.Errors)
	}
	if cfg.PID > 0 && (cpuErr != nil || cpuErr1 != nil) {
		return r, errors.Join(cpuErr, cpuErr1)
	}
	return r, ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// clockTick is Linux's USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every architecture Go supports (the kernel converts to it for userspace).
const clockTick = 10 * time.Millisecond

// processCPU returns the user and system CPU time that process pid has
// used, all its threads included.
func processCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("load: server CPU time: %w", err)
	}
	// The command name (field 2) may hold spaces; fields after it are
	// plain. utime and stime are fields 14 and 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("load: unreadable /proc/PID/stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("load: short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("load: unreadable times in /proc/PID/stat")
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// RSS returns the resident set size of process pid in bytes, from
// /proc/PID/status.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, errors.New("load: no VmRSS in /proc/PID/status")
}
