package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/server"
	"strongroom/internal/testenv"
)

// Hostile HTTP clients, over real sockets to a running server: slow
// headers, ambiguous framing, too many or too large headers, huge bodies, a
// flood of requests, probes for debug endpoints. Each must be refused
// cleanly (a 4xx, or the 503 of the in-flight cap, with AWS's error shape
// where the API answers) without hurting the other clients.

// hostOf returns the host:port of env's endpoint.
func hostOf(t testing.TB, env *testenv.Env) string {
	t.Helper()
	u, err := url.Parse(env.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// signedHead returns the request line and header lines of a KMS request
// for op with body, signed by env's root, in wire form without the final
// empty line; the Content-Length line comes last.
func signedHead(t testing.TB, env *testenv.Env, op string, body []byte) []string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "kms", testenv.Region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{"POST / HTTP/1.1", "Host: " + req.Host}
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range req.Header[k] {
			lines = append(lines, k+": "+v)
		}
	}
	return append(lines, "Content-Length: "+strconv.Itoa(len(body)))
}

// exchange writes payload on a new connection, reads one response, and
// reports whether the server then closed the connection (within a second).
func exchange(t testing.TB, env *testenv.Env, payload string) (resp *http.Response, body []byte, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", hostOf(t, env))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(c)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		// A server that closes on a client still sending makes the
		// kernel reset the connection, which can cut the body short.
		if !isReset(err) {
			t.Fatalf("reading the response body: %v", err)
		}
		return resp, body, true
	}
	// Anything more on this connection means the server read on: a closed
	// connection reads EOF at once.
	c.SetReadDeadline(time.Now().Add(time.Second))
	extra, err := br.ReadByte()
	closed = errors.Is(err, io.EOF) || (err != nil && !isTimeout(err))
	if err == nil {
		t.Errorf("unexpected byte %q after the response", extra)
	}
	return resp, body, closed
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// awsErrorShape fails unless body is exactly {"__type": …, "message": …}
// with the JSON 1.1 content type and a request id, and returns the code.
func awsErrorShape(t testing.TB, resp *http.Response, body []byte) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.1") {
		t.Errorf("Content-Type = %q, want application/x-amz-json-1.1", ct)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId header")
	}
	code, _ := rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}.errorBody(t)
	return code
}

// needFiles skips the test unless the process may open n files (client
// and server ends of every connection live in this process).
func needFiles(t *testing.T, n uint64) {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < n {
		t.Skipf("needs %d open files, the limit is %d (raise ulimit -n)", n, l.Cur)
	}
}

func wire(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// TestAmbiguousFraming: every way of framing a body other than one
// Content-Length is refused with a 400, and the connection is closed, so
// that nothing after the refused request is read as another request.
func TestAmbiguousFraming(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	body := []byte(`{}`)
	head := signedHead(t, env, "ListKeys", body)
	base := head[:len(head)-1] // without Content-Length
	smuggled := "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.CreateKey\r\nContent-Length: 2\r\n\r\n{}"

	t.Run("control: the same request framed plainly succeeds", func(t *testing.T) {
		resp, b, _ := exchange(t, env, wire(head...)+string(body))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	})
	cases := []struct {
		name    string
		payload string
		shaped  bool // refused by Strongroom (AWS shape) rather than net/http
	}{
		{"Content-Length and Transfer-Encoding", wire(append(base, "Content-Length: 2", "Transfer-Encoding: chunked")...) + "2\r\n{}\r\n0\r\n\r\n", true},
		{"Transfer-Encoding before Content-Length", wire(append(base, "Transfer-Encoding: chunked", "Content-Length: 40")...) + "2\r\n{}\r\n0\r\n\r\n" + smuggled, true},
		{"chunked body", wire(append(base, "Transfer-Encoding: chunked")...) + "2\r\n{}\r\n0\r\n\r\n", true},
		{"chunked in another case", wire(append(base, "Transfer-Encoding: Chunked")...) + "2\r\n{}\r\n0\r\n\r\n", true},
		{"duplicate Content-Length, same value", wire(append(base, "Content-Length: 2", "Content-Length: 2")...) + "{}", true},
		{"duplicate Content-Length, different values", wire(append(base, "Content-Length: 2", "Content-Length: 0")...) + "{}", false},
		{"Content-Length list", wire(append(base, "Content-Length: 2, 2")...) + "{}", false},
		{"negative Content-Length", wire(append(base, "Content-Length: -2")...) + "{}", false},
		{"Content-Length with a sign", wire(append(base, "Content-Length: +2")...) + "{}", false},
		{"hexadecimal Content-Length", wire(append(base, "Content-Length: 0x2")...) + "{}", false},
		{"Content-Length beyond int64", wire(append(base, "Content-Length: 99999999999999999999")...) + "{}", false},
		{"empty Content-Length", wire(append(base, "Content-Length: ")...) + "{}", false},
		{"unknown transfer coding", wire(append(base, "Transfer-Encoding: gzip")...) + "{}", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b, closed := exchange(t, env, tc.payload)
			if resp.StatusCode != 400 && resp.StatusCode != 501 {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, b)
			}
			if tc.shaped {
				awsErrorShape(t, resp, b)
			}
			if !closed {
				t.Error("the connection stayed open after an ambiguous request")
			}
		})
	}
	// Nothing smuggled was served.
	if n := len(must[*kms.ListKeysOutput](t)(env.KMS().ListKeys(ctx, &kms.ListKeysInput{})).Keys); n != 0 {
		t.Errorf("%d keys created by smuggled requests", n)
	}
}

// TestHeaderLimits: more header fields than server.MaxHeaders is a 400 in
// AWS's shape; a header block larger than server.MaxHeaderBytes is a 431.
func TestHeaderLimits(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	body := []byte(`{}`)
	head := signedHead(t, env, "ListKeys", body)

	t.Run("a few extra headers are fine", func(t *testing.T) {
		lines := append([]string{}, head...)
		for i := range 20 {
			lines = append(lines, fmt.Sprintf("X-Extra-%d: v", i))
		}
		resp, b, _ := exchange(t, env, wire(lines...)+string(body))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	})
	t.Run("too many header fields", func(t *testing.T) {
		lines := append([]string{}, head...)
		for i := range server.MaxHeaders + 1 {
			lines = append(lines, fmt.Sprintf("X-Extra-%d: v", i))
		}
		resp, b, _ := exchange(t, env, wire(lines...)+string(body))
		if resp.StatusCode != 400 {
			t.Fatalf("status %d, want 400: %s", resp.StatusCode, b)
		}
		if code := awsErrorShape(t, resp, b); code != "ValidationException" {
			t.Errorf("__type = %s", code)
		}
	})
	t.Run("too large a header block", func(t *testing.T) {
		lines := append([]string{}, head...)
		lines = append(lines, "X-Big: "+strings.Repeat("a", server.MaxHeaderBytes+4096))
		resp, b, closed := exchange(t, env, wire(lines...)+string(body))
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431: %s", resp.StatusCode, b)
		}
		if !closed {
			t.Error("connection left open")
		}
	})
}

// TestHugeBodyRefusedBeforeItIsSent: a request declaring a 100 MiB body is
// answered 413 in AWS's shape before the client sends any of it — the
// server decides on Content-Length, without reading (or buffering) the
// body. (internal/e2e/process checks the process's memory while a client
// streams all 100 MiB.)
func TestHugeBodyRefusedBeforeItIsSent(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	for _, op := range []string{"Encrypt", "CreateKey", "Decrypt"} {
		t.Run(op, func(t *testing.T) {
			head := signedHead(t, env, op, []byte(`{}`))
			head[len(head)-1] = "Content-Length: " + strconv.Itoa(100<<20)
			resp, b, closed := exchange(t, env, wire(head...)) // and no body at all
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413: %s", resp.StatusCode, b)
			}
			if code := awsErrorShape(t, resp, b); code != "ValidationException" {
				t.Errorf("__type = %s", code)
			}
			if !closed {
				t.Error("the connection stayed open with 100 MiB of body announced")
			}
		})
	}
	t.Run("with Expect: 100-continue the body is never asked for", func(t *testing.T) {
		head := signedHead(t, env, "Encrypt", []byte(`{}`))
		head[len(head)-1] = "Content-Length: " + strconv.Itoa(100<<20)
		resp, b, _ := exchange(t, env, wire(append(head, "Expect: 100-continue")...))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413 (and no 100 Continue): %s", resp.StatusCode, b)
		}
	})
}

// TestSlowHeaderClientIsDropped: a client that sends its header block a
// byte at a time is cut off after server.ReadHeaderTimeout (at most a
// minute, as the issue asks), while other clients are served meanwhile.
// It takes ReadHeaderTimeout; it runs in parallel with the other slow tests.
func TestSlowHeaderClientIsDropped(t *testing.T) {
	t.Parallel()
	if server.ReadHeaderTimeout <= 0 || server.ReadHeaderTimeout > time.Minute {
		t.Fatalf("server.ReadHeaderTimeout = %v, want (0, 1m]", server.ReadHeaderTimeout)
	}
	if server.ReadTimeout <= 0 || server.ReadTimeout > 5*time.Minute || server.IdleTimeout <= 0 || server.WriteTimeout <= 0 {
		t.Fatalf("timeouts: read %v, write %v, idle %v", server.ReadTimeout, server.WriteTimeout, server.IdleTimeout)
	}
	env := testenv.Start(t, testenv.Options{})
	c, err := net.Dial("tcp", hostOf(t, env))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	dropped := make(chan time.Duration, 1)
	go func() {
		// One byte every 200 ms of a header block that never ends.
		msg := "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 10000)
		for i := range len(msg) {
			if _, err := c.Write([]byte{msg[i]}); err != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
			if time.Since(start) > server.ReadHeaderTimeout+10*time.Second {
				break
			}
		}
		dropped <- time.Since(start)
	}()
	go func() {
		// The server answers the half request with a 408 or just closes.
		io.Copy(io.Discard, c)
		c.Close() // makes the writer fail
	}()

	// Meanwhile, other clients are served promptly.
	client := env.KMS()
	served := 0
	deadline := time.After(server.ReadHeaderTimeout + 10*time.Second)
	for {
		select {
		case d := <-dropped:
			if d > server.ReadHeaderTimeout+5*time.Second {
				t.Fatalf("slow client dropped after %v, want about %v", d, server.ReadHeaderTimeout)
			}
			if d < server.ReadHeaderTimeout-time.Second {
				t.Fatalf("slow client dropped after %v, before the %v timeout", d, server.ReadHeaderTimeout)
			}
			if served < 5 {
				t.Errorf("only %d requests served meanwhile", served)
			}
			t.Logf("slow client dropped after %v; %d requests served meanwhile", d, served)
			return
		case <-deadline:
			t.Fatalf("slow-header client still connected after %v", time.Since(start))
		case <-time.After(500 * time.Millisecond):
			t0 := time.Now()
			if _, err := client.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
				t.Fatalf("a normal client was not served: %v", err)
			}
			if d := time.Since(t0); d > 2*time.Second {
				t.Errorf("a normal request took %v while a slow client was connected", d)
			}
			served++
		}
	}
}

// TestInFlightCap: once server.MaxInFlight requests are being served, the
// next is refused at once with a 503 ThrottlingException in AWS's shape
// (which the SDKs retry), and the server recovers when they finish.
func TestInFlightCap(t *testing.T) {
	t.Parallel()
	needFiles(t, 2*server.MaxInFlight+200)
	env := testenv.Start(t, testenv.Options{})
	host := hostOf(t, env)
	head := signedHead(t, env, "ListKeys", []byte(`{}`))
	// Each holder sends its headers with "Expect: 100-continue" and then
	// stalls without a body. net/http answers "100 Continue" when the
	// handler starts reading the body: a holder that got it is in flight,
	// past the cap's semaphore, blocked reading.
	head = append(head, "Expect: 100-continue")
	holders := make([]net.Conn, 0, server.MaxInFlight)
	defer func() {
		for _, c := range holders {
			c.Close()
		}
	}()
	for range server.MaxInFlight {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("dial %d: %v", len(holders), err)
		}
		holders = append(holders, c)
		if _, err := io.WriteString(c, wire(head...)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var notIn atomic.Int64
	for _, c := range holders {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
				notIn.Add(1)
			}
			c.SetReadDeadline(time.Time{})
		})
	}
	wg.Wait()
	if n := notIn.Load(); n > 0 {
		t.Fatalf("%d of %d holders never got their request in flight", n, len(holders))
	}
	resp, body, _ := exchange(t, env, wire(head[:len(head)-1]...)+"{}")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with %d requests in flight: status %d, want 503: %s", server.MaxInFlight, resp.StatusCode, body)
	}
	if code := awsErrorShape(t, resp, body); code != "ThrottlingException" {
		t.Errorf("__type = %s, want ThrottlingException", code)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After header on the 503")
	}
	// The SDK sees a retryable throttling error.
	_, err := env.KMS().ListKeys(ctx, &kms.ListKeysInput{})
	if apiCode(err) != "ThrottlingException" || httpStatus(err) != 503 {
		t.Errorf("SDK call at the cap: %v", err)
	}
	// Let the holders go (closing their connections ends their requests).
	for _, c := range holders {
		c.Close()
	}
	holders = holders[:0]
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := env.KMS().ListKeys(ctx, &kms.ListKeysInput{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered after the holders left: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConnectionCap: with server.MaxConnections connections open, a new
// one waits (in the kernel's accept queue) rather than costing the server a
// descriptor; it is served as soon as a slot frees.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	needFiles(t, 2*server.MaxConnections+200)
	env := testenv.Start(t, testenv.Options{})
	host := hostOf(t, env)
	idle := make([]net.Conn, 0, server.MaxConnections)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range server.MaxConnections {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("dial %d: %v", len(idle), err)
		}
		idle = append(idle, c)
	}
	// Give the server time to accept them all.
	time.Sleep(300 * time.Millisecond)
	result := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := env.KMS().ListKeys(ctx, &kms.ListKeysInput{})
		result <- err
	}()
	select {
	case err := <-result:
		t.Fatalf("served beyond the connection cap (err %v)", err)
	case <-time.After(time.Second):
	}
	idle[0].Close()
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("after a slot freed: %v", err)
		}
		t.Logf("served %v after it connected, once a slot freed", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("not served after a slot freed")
	}
}

// TestNoDebugEndpoints: nothing but the API and the health probes answers;
// profiling and variable dumps in particular are 404.
func TestNoDebugEndpoints(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	for _, path := range []string{
		"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2", "/debug/pprof/cmdline",
		"/debug/vars", "/debug/requests", "/debug/events", "/debug/", "/admin", "/.env", "/server-status",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(method, env.Endpoint+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404: %.200s", method, path, resp.StatusCode, b)
			}
			if bytes.Contains(b, []byte("goroutine")) || bytes.Contains(b, []byte("memstats")) || bytes.Contains(b, []byte("cmdline")) {
				t.Errorf("%s %s leaks runtime data: %.200s", method, path, b)
			}
		}
	}
}

// TestHostileClientsDoNotHurtOthers runs several hostile clients at once
// (garbage bytes, half requests, resets) while a normal client works.
func TestHostileClientsDoNotHurtOthers(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	host := hostOf(t, env)
	garbage := []string{
		"\x00\x01\x02\x03\xff\xfe",
		"GET / HTTP/9.9\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{",
		"POST / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: y\r\n", 5000),
		"POST /" + strings.Repeat("a", 100000) + " HTTP/1.1\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" + strings.Repeat("\r\n", 1000),
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 8 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", host)
				if err != nil {
					continue
				}
				c.SetDeadline(time.Now().Add(500 * time.Millisecond))
				io.WriteString(c, garbage[(i+n)%len(garbage)])
				if n%3 == 0 {
					io.Copy(io.Discard, c)
				}
				if tc, ok := c.(*net.TCPConn); ok && n%2 == 0 {
					tc.SetLinger(0) // a reset instead of a close
				}
				c.Close()
			}
		})
	}
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	for i := range 100 {
		pt := []byte(fmt.Sprintf("message %d", i))
		blob := encrypt(t, c, id, pt, nil)
		out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
		if err != nil || !bytes.Equal(out.Plaintext, pt) {
			t.Fatalf("normal client during the abuse: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	var keys kms.ListKeysOutput
	b, _ := json.Marshal(must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{})))
	json.Unmarshal(b, &keys)
	if len(keys.Keys) != 1 {
		t.Errorf("%d keys after the abuse, want 1", len(keys.Keys))
	}
}
