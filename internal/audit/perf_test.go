package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"strongroom/internal/store/bolt"
)

// BenchmarkAppendParallel appends Encrypt-sized records from 256
// goroutines to a trail over the embedded store, every Append durable, and
// reports records/s and the process's CPU time per record (user + system,
// from getrusage): what the trail costs a request, without HTTP.
//
//	go test ./internal/audit -run '^$' -bench AppendParallel -count 4
func BenchmarkAppendParallel(b *testing.B) {
	st, err := bolt.Open(b.TempDir(), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tr, _ := newTrail(b, st, Options{})
	ev := event(1, "Encrypt", "alice", t0)
	ev.UserAgent = "aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.26 md/GOOS#linux md/GOARCH#amd64 api/kms#1.41.0"
	ev.SourceIPAddress = "127.0.0.1"
	ev.RequestID = "6f1c2a5e-3b7d-4e0f-9a8b-1c2d3e4f5a6b"
	ev.RequestParameters = map[string]any{"keyId": "arn:aws:kms:us-east-1:111122223333:key/k1",
		"encryptionContext": map[string]any{"purpose": "bench", "tenant": "t-0001"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
	ev.ResponseElements = nil
	const goroutines = 256
	var next atomic.Int64
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				e := *ev
				e.EventID = NewEventID()
				if err := tr.Append(ctx, &Entry{Event: &e}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(b.N), "µs-cpu/record")
	if fi, err := os.Stat(st.Path()); err == nil {
		b.ReportMetric(float64(fi.Size())/float64(b.N), "file-B/record")
	}
	if n, groups := tr.Stats(); groups > 0 {
		b.ReportMetric(float64(n)/float64(groups), "records/tx")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSeqIDAndRecordHash holds the allocation-free seqID and recordHash to
// their plain definitions.
func TestSeqIDAndRecordHash(t *testing.T) {
	for _, n := range []uint64{0, 1, 9, 10, 12345, 1<<63 - 1, 1<<64 - 1} {
		want := fmt.Sprintf("%020d", n)
		if got := seqID(n); got != want {
			t.Errorf("seqID(%d) = %q, want %q", n, got, want)
		}
		prev := strings.Repeat("ab", 32)
		sum := sha256.Sum256([]byte(recordDomain + strconv.FormatUint(n, 10) + "\n" + prev + "\n" + `{"e":1}`))
		if got, want := recordHash(n, prev, []byte(`{"e":1}`)), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("recordHash(%d) = %s, want %s", n, got, want)
		}
	}
}
