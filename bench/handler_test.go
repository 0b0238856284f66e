package bench_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// BenchmarkHandler measures the API handler alone, in this process, without
// the network and net/http's connection handling: the work Strongroom does
// for a request beyond the bare-HTTP reference's, with everything serve
// does on its embedded store (SigV4, the key read, policy, the durable audit
// record, metering). One client, one request signed once and sent again
// and again (the server keeps no replay cache). Its figures move less than
// bench/run.sh's between runs, so it shows changes of a few per cent:
//
//	go test ./bench -run '^$' -bench Handler -count 6
//
// cpu-µs/op is the whole process's CPU time per request (the audit trail's
// syncer and applier included), ns/op the handler's wall time.
func BenchmarkHandler(b *testing.B) {
	a, creds := serveApp(b, nil)
	awsCreds := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}

	// call signs one request and returns a function that serves a copy of
	// it and checks the answer.
	call := func(b *testing.B, op string, in any) func() []byte {
		body, err := json.Marshal(in)
		if err != nil {
			b.Fatal(err)
		}
		signed, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", nil)
		if err != nil {
			b.Fatal(err)
		}
		signed.Header.Set("Content-Type", "application/x-amz-json-1.1")
		signed.Header.Set("X-Amz-Target", "TrentService."+op)
		signed.Header.Set("User-Agent", "aws-sdk-go-v2/1.41.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/kms#1.50.0 m/E")
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), awsCreds, signed, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
			b.Fatal(err)
		}
		w := &discardWriter{h: http.Header{}}
		return func() []byte {
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", bytes.NewReader(body))
			r.Header = signed.Header.Clone()
			r.RemoteAddr = "127.0.0.1:40000"
			clear(w.h)
			w.status, w.body = 0, w.body[:0]
			a.Handler.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("%s: HTTP %d: %s", op, w.status, w.body)
			}
			return w.body
		}
	}
	create := call(b, "CreateKey", map[string]any{})
	var out struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal(create(), &out); err != nil {
		b.Fatal(err)
	}
	key := out.KeyMetadata.KeyId
	pt := []byte("a small secret of the usual size")
	var enc struct{ CiphertextBlob []byte }
	if err := json.Unmarshal(call(b, "Encrypt", map[string]any{"KeyId": key, "Plaintext": pt})(), &enc); err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name, op string
		in       any
	}{
		{"encrypt64", "Encrypt", map[string]any{"KeyId": key, "Plaintext": pt}},
		{"decrypt64", "Decrypt", map[string]any{"CiphertextBlob": base64.StdEncoding.EncodeToString(enc.CiphertextBlob)}},
		{"gdk", "GenerateDataKey", map[string]any{"KeyId": key, "KeySpec": "AES_256"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			serve := call(b, bc.op, bc.in)
			serve()
			b.ReportAllocs()
			cpu0 := processCPUTime()
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPUTime()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}

// discardWriter is a ResponseWriter that keeps the status and body.
type discardWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// processCPUTime is the user and system CPU time this process has used.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
