package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/store/bolt"
)

// MeasureConfig says what Measure measures.
type MeasureConfig struct {
	Binary string
	Dir    string
	// Keys and Aliases are what the fill created: ListKeys must list
	// exactly Keys keys (0: not checked), and ListAliases is measured at
	// depths up to Aliases.
	Keys, Aliases int
	Repeat        int
	// Baseline measures an empty store first, for RSS per key.
	Baseline bool
	// Trim waits for the store's trim after the listing and reads RSS
	// again.
	Trim bool
	// Args are further flags of serve on Dir (none: the defaults).
	Args []string
	// Unclean removes the clean-close marker before the start, as a crash
	// would have left the directory.
	Unclean bool
	// Starts, when positive, only starts serve on Dir that many times
	// (each stopped with SIGTERM once its verification ended) and reports
	// the time to the first answer of each.
	Starts int
	Log    io.Writer // nil: quiet
}

// Memory is a process's resident memory, in bytes.
type Memory struct {
	RSS, Anon, File int64
}

func (m Memory) String() string {
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	return fmt.Sprintf("RSS %.1f MB (anon %.1f, file %.1f)", mb(m.RSS), mb(m.Anon), mb(m.File))
}

// PageLatency is the latency of one list page at a depth.
type PageLatency struct {
	Depth  int     // entries before the page
	Median float64 // ms
	Max    float64 // ms
}

// MeasureResult is what Measure measured.
type MeasureResult struct {
	EmptyStartMs float64 `json:",omitempty"`
	EmptyIdle    Memory  `json:",omitempty"`
	StartMs      float64
	// VerifiedMs is when, after exec, the log said the store's background
	// verification ended (0: it did not say).
	VerifiedMs     float64
	Idle           Memory
	PerKeyBytes    float64 `json:",omitempty"` // (Idle.RSS - EmptyIdle.RSS) / keys
	KeysListed     int
	ListAllMs      float64
	FirstPagesMs   float64 // median of the first ten 1000-key pages
	LastPagesMs    float64 // median of the last ten
	KeysAtDepth    []PageLatency
	AliasesAtDepth []PageLatency `json:",omitempty"`
	// PeakVerify and PeakList are the largest RSS sampled (every 50 ms)
	// while the background verification ran and while ListKeys paged
	// through every key.
	PeakVerify Memory
	PeakList   Memory
	AfterList  Memory
	AfterTrim  Memory `json:",omitempty"`
	StopMs     float64
	DevStartMs []float64
	StartsMs   []float64 `json:",omitempty"`
}

// server is a running strongroom subprocess.
type server struct {
	cmd      *exec.Cmd
	endpoint string
	started  time.Time
	healthy  time.Time
	mu       sync.Mutex
	verified time.Time
	damaged  string
	// opened is the log's "embedded store open" line; background is
	// whether it says the verification runs in the background.
	opened     bool
	background bool
	checked    string // what the store says it checked at start
	exited     chan error
	stderr     strings.Builder
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer execs the binary with args (after the listen flag) and
// waits for /healthz to answer 200.
func startServer(ctx context.Context, binary string, args ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, append([]string{args[0], "--listen", addr}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "STRONGROOM_BOOTSTRAP_ACCESS_KEY_ID="+accessKey, "STRONGROOM_BOOTSTRAP_SECRET_ACCESS_KEY="+secretKey)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	s := &server{cmd: cmd, endpoint: "http://" + addr, exited: make(chan error, 1)}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			switch {
			case strings.Contains(line, "embedded store open"):
				s.opened, s.background = true, strings.Contains(line, "background")
				if _, c, ok := strings.Cut(line, "checked="); ok {
					s.checked = strings.Trim(c, `"`)
				}
			case strings.Contains(line, "embedded store verified"):
				s.verified = time.Now()
			case strings.Contains(line, "STORE DAMAGED"):
				s.damaged = line
			}
			s.mu.Unlock()
		}
		s.exited <- cmd.Wait()
	}()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		resp, err := hc.Get(s.endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.healthy = time.Now()
				return s, nil
			}
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("%s exited before answering: %v\n%s", binary, err, s.log())
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.kill()
			return nil, fmt.Errorf("%s did not answer /healthz: %v", binary, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func (s *server) startMs() float64 { return ms(s.healthy.Sub(s.started)) }

// waitVerified waits for the log line of the background verification, if
// the store said one runs; the zero time if none does.
func (s *server) waitVerified(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		s.mu.Lock()
		v, d, opened, bg := s.verified, s.damaged, s.opened, s.background
		s.mu.Unlock()
		switch {
		case d != "":
			return time.Time{}, fmt.Errorf("the store was found damaged: %s", d)
		case !v.IsZero():
			return v, nil
		case opened && !bg:
			return time.Time{}, nil // verified before serving
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("no verification reported within %v", timeout)
}

// stop sends SIGTERM and waits for the exit status.
func (s *server) stop() (time.Duration, error) {
	t0 := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		return time.Since(t0), err
	case <-time.After(2 * time.Minute):
		s.kill()
		return 0, errors.New("no exit two minutes after SIGTERM")
	}
}

func (s *server) kill() {
	s.cmd.Process.Kill()
}

func (s *server) memory() (Memory, error) { return readMemory(s.cmd.Process.Pid) }

// readMemory reads VmRSS, RssAnon and RssFile from /proc/PID/status.
func readMemory(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for line := range strings.Lines(string(b)) {
		name, v, ok := strings.Cut(line, ":")
		f := strings.Fields(v)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "VmRSS":
			m.RSS = n << 10
		case "RssAnon":
			m.Anon = n << 10
		case "RssFile":
			m.File = n << 10
		}
	}
	if m.RSS == 0 {
		return m, errors.New("no VmRSS in /proc/PID/status")
	}
	return m, nil
}

func (s *server) client() *kms.Client {
	return kms.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		BaseEndpoint: aws.String(s.endpoint),
		HTTPClient:   &http.Client{Timeout: time.Minute},
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// sampler records the largest RSS of a process until stopped.
type sampler struct {
	stop chan struct{}
	done chan Memory
}

func sample(pid int) *sampler {
	sm := &sampler{stop: make(chan struct{}), done: make(chan Memory, 1)}
	go func() {
		var peak Memory
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := readMemory(pid); err == nil && m.RSS > peak.RSS {
				peak = m
			}
			select {
			case <-sm.stop:
				sm.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return sm
}

func (sm *sampler) peak() Memory {
	close(sm.stop)
	return <-sm.done
}

// Measure runs the measurements of the package comment.
func Measure(ctx context.Context, c MeasureConfig) (*MeasureResult, error) {
	logf := func(format string, args ...any) {
		if c.Log != nil {
			fmt.Fprintf(c.Log, format+"\n", args...)
		}
	}
	if c.Repeat < 1 {
		c.Repeat = 1
	}
	r := &MeasureResult{}
	const settle = 2 * time.Second

	if c.Unclean {
		if err := os.Remove(filepath.Join(c.Dir, bolt.FileName+".clean")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if c.Starts > 0 {
		for range c.Starts {
			s, err := startServer(ctx, c.Binary, append([]string{"serve", "--data-dir", c.Dir}, c.Args...)...)
			if err != nil {
				return nil, err
			}
			r.StartsMs = append(r.StartsMs, s.startMs())
			_, err = s.waitVerified(ctx, 30*time.Minute)
			if _, serr := s.stop(); err == nil && serr != nil {
				err = fmt.Errorf("SIGTERM: %v", serr)
			}
			if err != nil {
				return nil, err
			}
		}
		logf("%d starts on %s: first answer after %.1f ms (median), %.1f min, %.1f max: %.1f",
			c.Starts, c.Dir, median(r.StartsMs), slices.Min(r.StartsMs), slices.Max(r.StartsMs), r.StartsMs)
		return r, nil
	}
	if c.Baseline {
		empty, err := os.MkdirTemp("", "bigstore-empty")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(empty)
		// The first start creates the store; the second is the one to
		// compare with.
		for i := range 2 {
			s, err := startServer(ctx, c.Binary, "serve", "--data-dir", empty)
			if err != nil {
				return nil, err
			}
			r.EmptyStartMs = s.startMs()
			if _, err := s.waitVerified(ctx, time.Minute); err != nil {
				s.kill()
				return nil, err
			}
			time.Sleep(settle)
			if r.EmptyIdle, err = s.memory(); err != nil {
				s.kill()
				return nil, err
			}
			if _, err := s.stop(); err != nil {
				return nil, fmt.Errorf("SIGTERM on the empty store: %v", err)
			}
			if i == 1 {
				logf("empty store: first answer %.1f ms after exec; idle %v", r.EmptyStartMs, r.EmptyIdle)
			}
		}
	}

	s, err := startServer(ctx, c.Binary, append([]string{"serve", "--data-dir", c.Dir}, c.Args...)...)
	if err != nil {
		return nil, err
	}
	defer s.kill()
	r.StartMs = s.startMs()
	logf("store in %s: first answer %.1f ms after exec", c.Dir, r.StartMs)
	sm := sample(s.cmd.Process.Pid)
	v, err := s.waitVerified(ctx, 30*time.Minute)
	r.PeakVerify = sm.peak()
	if err != nil {
		return nil, err
	}
	if !v.IsZero() {
		r.VerifiedMs = ms(v.Sub(s.started))
		logf("background verification ended %.0f ms after exec; peak %v", r.VerifiedMs, r.PeakVerify)
	} else {
		s.mu.Lock()
		checked := s.checked
		s.mu.Unlock()
		logf("no background verification (the store checked at start: %s)", checked)
	}
	time.Sleep(settle)
	if r.Idle, err = s.memory(); err != nil {
		return nil, err
	}
	logf("idle: %v", r.Idle)
	if c.Baseline && c.Keys > 0 {
		r.PerKeyBytes = float64(r.Idle.RSS-r.EmptyIdle.RSS) / float64(c.Keys)
		logf("resident memory per stored key (idle, against the empty store): %.1f bytes", r.PerKeyBytes)
	}

	kc := s.client()
	// Every key, 1000 a page, remembering each page's marker.
	var markers []string // markers[i] starts page i ("" for the first)
	var pageMs []float64
	marker := ""
	sm = sample(s.cmd.Process.Pid)
	t0 := time.Now()
	for {
		in := &kms.ListKeysInput{Limit: aws.Int32(1000)}
		if marker != "" {
			in.Marker = aws.String(marker)
		}
		t := time.Now()
		out, err := kc.ListKeys(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ListKeys after %d keys: %w", r.KeysListed, err)
		}
		pageMs = append(pageMs, ms(time.Since(t)))
		markers = append(markers, marker)
		r.KeysListed += len(out.Keys)
		if !out.Truncated {
			break
		}
		marker = *out.NextMarker
	}
	r.ListAllMs = ms(time.Since(t0))
	r.PeakList = sm.peak()
	r.FirstPagesMs = median(pageMs[:min(10, len(pageMs))])
	r.LastPagesMs = median(pageMs[max(0, len(pageMs)-10):])
	logf("ListKeys: %d keys in %d pages of 1000 in %.1f s; median page %.1f ms for the first ten, %.1f ms for the last ten; peak %v",
		r.KeysListed, len(pageMs), r.ListAllMs/1000, r.FirstPagesMs, r.LastPagesMs, r.PeakList)
	if c.Keys > 0 && r.KeysListed < c.Keys {
		return nil, fmt.Errorf("ListKeys listed %d keys, the fill created %d", r.KeysListed, c.Keys)
	}
	if r.AfterList, err = s.memory(); err != nil {
		return nil, err
	}
	logf("after listing every key: %v", r.AfterList)

	// Single pages at depth, repeated.
	for _, p := range []int{0, len(markers) / 2, len(markers) - 1} {
		var xs []float64
		for range c.Repeat {
			in := &kms.ListKeysInput{Limit: aws.Int32(100)}
			if markers[p] != "" {
				in.Marker = aws.String(markers[p])
			}
			t := time.Now()
			if _, err := kc.ListKeys(ctx, in); err != nil {
				return nil, err
			}
			xs = append(xs, ms(time.Since(t)))
		}
		l := PageLatency{Depth: p * 1000, Median: median(xs), Max: slices.Max(xs)}
		r.KeysAtDepth = append(r.KeysAtDepth, l)
		logf("ListKeys page of 100 at depth %d: median %.2f ms, max %.2f ms", l.Depth, l.Median, l.Max)
	}
	for _, d := range []int{0, c.Aliases / 2, c.Aliases - 100} {
		if c.Aliases < 200 {
			break
		}
		var xs []float64
		for range c.Repeat {
			in := &kms.ListAliasesInput{Limit: aws.Int32(100)}
			if d > 0 {
				in.Marker = aws.String(aliasName(d))
			}
			t := time.Now()
			out, err := kc.ListAliases(ctx, in)
			if err != nil {
				return nil, err
			}
			xs = append(xs, ms(time.Since(t)))
			if d > 0 && (len(out.Aliases) == 0 || *out.Aliases[0].AliasName != aliasName(d+1)) {
				return nil, fmt.Errorf("ListAliases after %s does not start with %s", aliasName(d), aliasName(d+1))
			}
		}
		l := PageLatency{Depth: d, Median: median(xs), Max: slices.Max(xs)}
		r.AliasesAtDepth = append(r.AliasesAtDepth, l)
		logf("ListAliases page of 100 at depth %d: median %.2f ms, max %.2f ms", l.Depth, l.Median, l.Max)
	}

	if c.Trim {
		time.Sleep(3 * time.Second) // the store checks every second
		if r.AfterTrim, err = s.memory(); err != nil {
			return nil, err
		}
		logf("after the store's trim: %v", r.AfterTrim)
	}
	d, err := s.stop()
	if err != nil {
		return nil, fmt.Errorf("SIGTERM: %v\n%s", err, s.log())
	}
	r.StopMs = ms(d)
	logf("SIGTERM: exit 0 after %.0f ms", r.StopMs)

	for range 5 {
		s, err := startServer(ctx, c.Binary, "dev")
		if err != nil {
			return nil, err
		}
		r.DevStartMs = append(r.DevStartMs, s.startMs())
		s.kill()
		<-s.exited
	}
	logf("strongroom dev: first answer %.1f ms after exec (median of 5; %v)", median(r.DevStartMs), r.DevStartMs)
	return r, nil
}
