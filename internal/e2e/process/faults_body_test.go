package process

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// procKiB reads a "Vm…: N kB" line of /proc/PID/status.
func procKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// streamHugeBody sends a request announcing size bytes of body and then
// sends them, 64 KiB at a time, while reading the answer. It returns the
// status, how many body bytes the server took before answering, and how
// long the answer took.
func streamHugeBody(t *testing.T, addr, head string, size int) (status, sent int, took time.Duration) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return 0, 0, 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(c, head+"Content-Length: "+strconv.Itoa(size)+"\r\n\r\n"); err != nil {
		t.Error(err)
		return 0, 0, 0
	}
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'a'
	}
	for sent < size {
		select {
		case status = <-answered:
			return status, sent, time.Since(start)
		default:
		}
		n, err := c.Write(chunk[:min(len(chunk), size-sent)])
		sent += n
		if err != nil {
			break // the server closed: the answer is on its way or lost
		}
	}
	select {
	case status = <-answered:
	case <-time.After(10 * time.Second):
	}
	return status, sent, time.Since(start)
}

// TestHugeBodiesDoNotGrowTheProcess streams 100 MiB bodies at the API —
// several at once — and checks, from /proc, that the server's peak
// resident memory hardly moved: bodies are refused on their announced
// length and never buffered.
func TestHugeBodiesDoNotGrowTheProcess(t *testing.T) {
	s := start(t, t.TempDir(), envCreds)
	pid := s.cmd.Process.Pid
	c := s.client(testAKID, testSecret)
	ctx := context.Background()
	// Warm up, so that the baseline includes a served request's memory.
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: make([]byte, 4096)}); err != nil {
			t.Fatal(err)
		}
	}
	before := procKiB(t, pid, "VmHWM")
	addr := strings.TrimPrefix(s.endpoint, "http://")
	heads := map[string]string{
		"Encrypt (the largest limit)": "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.Encrypt\r\n",
		"CreateKey":                   "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.CreateKey\r\n",
		"an IAM query":                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n",
		"no operation at all":         "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n",
	}
	const size = 100 << 20
	var wg sync.WaitGroup
	for name, head := range heads {
		for i := range 3 {
			wg.Go(func() {
				status, sent, took := streamHugeBody(t, addr, head, size)
				if status < 400 || status > 499 {
					t.Errorf("%s #%d: status %d after %d bytes, want a 4xx", name, i, status, sent)
				}
				if sent > 16<<20 {
					t.Errorf("%s #%d: the server read %d MiB before refusing", name, i, sent>>20)
				}
				if took > 5*time.Second {
					t.Errorf("%s #%d: refused after %v", name, i, took)
				}
			})
		}
	}
	wg.Wait()
	after := procKiB(t, pid, "VmHWM")
	t.Logf("peak RSS %d KiB before, %d KiB after %d concurrent 100 MiB bodies", before, after, 3*len(heads))
	if grew := after - before; grew > 24<<10 {
		t.Errorf("peak RSS grew by %d KiB while refusing 100 MiB bodies", grew)
	}
	// And the server still serves.
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("still here")}); err != nil {
		t.Fatalf("after the huge bodies: %v", err)
	}
}
