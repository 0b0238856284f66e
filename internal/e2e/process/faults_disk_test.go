package process

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// A full disk under the real binary: strongroom serve with its data
// directory on a small tmpfs (root only; skipped elsewhere), filled up by
// another file. Writes must fail with a 500 KMSInternalException and a log
// line naming the full file system, nothing acknowledged may be lost, and
// writes must resume once there is room.

// faultsTmpfs mounts a tmpfs of size bytes, or skips the test.
func faultsTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillUp writes path until the file system is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestFullDiskUnderTheServer(t *testing.T) {
	mnt := faultsTmpfs(t, "16m")
	dir := filepath.Join(mnt, "data")
	filler := filepath.Join(mnt, "filler")
	ctx := context.Background()
	s := start(t, dir, envCreds)
	c := s.client(testAKID, testSecret)

	type acked struct {
		id   string
		blob []byte
	}
	var keys []acked
	newAcked := func() error {
		ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("full disk")})
		if err != nil {
			return err
		}
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte(*ck.KeyMetadata.KeyId)})
		if err != nil {
			return err
		}
		keys = append(keys, acked{*ck.KeyMetadata.KeyId, enc.CiphertextBlob})
		return nil
	}
	for range 5 {
		if err := newAcked(); err != nil {
			t.Fatal(err)
		}
	}

	fillUp(t, filler)
	// The store may still have free pages inside its file: write until a
	// write fails.
	var writeErr error
	for i := 0; i < 500 && writeErr == nil; i++ {
		writeErr = newAcked()
	}
	if writeErr == nil {
		t.Fatal("500 keys created on a full disk")
	}
	var ae interface{ ErrorCode() string }
	if !errors.As(writeErr, &ae) || ae.ErrorCode() != "KMSInternalException" || statusOf(writeErr) != 500 {
		t.Fatalf("a write on a full disk: %v, want a 500 KMSInternalException", writeErr)
	}
	t.Logf("full after %d acknowledged keys: %v", len(keys), writeErr)

	t.Run("reads are served while writes fail", func(t *testing.T) {
		// Their audit records wait in memory for the disk (see
		// TestStorageFaults in internal/e2e).
		k := keys[0]
		if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &k.id}); err != nil {
			t.Errorf("DescribeKey on a full disk: %v", err)
		}
		if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: k.blob}); err != nil {
			t.Errorf("Decrypt on a full disk: %v", err)
		}
	})

	// Room again: writes resume without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := newAcked(); err != nil {
		t.Fatalf("a write once the disk has room again: %v", err)
	}

	// A crash, a restart: all acknowledged keys are there and decrypt.
	s.kill()
	log := s.stderr.String()
	if !strings.Contains(log, "is full") || !strings.Contains(log, "strongroom.db") {
		t.Errorf("the log does not say the disk holding strongroom.db is full:\n%s", log)
	}
	s = start(t, dir, envCreds)
	c = s.client(testAKID, testSecret)
	for _, k := range keys {
		out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: k.blob})
		if err != nil || string(out.Plaintext) != k.id {
			t.Fatalf("after the full disk and a restart, key %s: %v", k.id, err)
		}
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.id)})
		if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled {
			t.Fatalf("key %s after restart: %v", k.id, err)
		}
	}

	t.Run("a restart on a full disk", func(t *testing.T) {
		fillUp(t, filler)
		s.kill()
		cmd := exec.Command(binary, "serve", "--listen", freePort(t), "--data-dir", dir)
		cmd.Env = append(os.Environ(), envCreds...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		// Either it starts and serves reads (tested below), or it refuses
		// with a message that says why.
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			msg := stderr.String()
			if err == nil || !strings.Contains(msg, "full") {
				t.Errorf("serve on a full disk exited (%v) without saying the disk is full:\n%s", err, msg)
			} else {
				t.Logf("serve on a full disk refuses to start: %s", strings.TrimSpace(msg))
			}
		case <-waitHealthz(cmd, 10):
			t.Logf("serve on a full disk started")
			cmd.Process.Kill()
			<-done
		}
		os.Remove(filler)
	})
}

// waitHealthz returns a channel closed when the server cmd answers /healthz
// on its --listen address, polling for up to secs seconds.
func waitHealthz(cmd *exec.Cmd, secs int) <-chan struct{} {
	ch := make(chan struct{})
	addr := ""
	for i, a := range cmd.Args {
		if a == "--listen" && i+1 < len(cmd.Args) {
			addr = cmd.Args[i+1]
		}
	}
	go func() {
		hc := &http.Client{Timeout: time.Second}
		for deadline := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			resp, err := hc.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					close(ch)
					return
				}
			}
		}
	}()
	return ch
}
