package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
)

// TestDamageFoundAfterCleanStart: with the default --store-check auto, a
// start after a clean stop serves at once and verifies the file in the
// background. Damage the clean stop could not see — bytes that changed
// under the running server, as bit rot does, so the file's fingerprint
// matches what the stop recorded — is found by that verification: /readyz
// fails, every request is refused, the log names the damage, and the next
// start, which finds no clean-stop marker, refuses the file before serving.
func TestDamageFoundAfterCleanStart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := start(t, dir, envCreds) // creates the store and its root key
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, s.stderr)
	}
	// Records of a kind the server does not use, for a file large enough
	// that its verification is still running when the server serves (as
	// it is for the stores the background verification is for): a small
	// file is verified before the server has finished starting, and then
	// the start fails, which is right too, but not what this test is for.
	st, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	filler := bytes.Repeat([]byte("filler"), 200)
	for batch := range 40 {
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := range 1000 {
				if err := tx.Put("filler", "", fmt.Sprintf("%08d", batch*1000+i), filler); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	s = start(t, dir, envCreds)
	c := s.client(testAKID, testSecret)
	var r [8]byte
	rand.Read(r[:])
	marker := "BITROT" + hex.EncodeToString(r[:])
	for range 5 {
		if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(marker)}); err != nil {
			t.Fatal(err)
		}
	}
	intact, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("intact")})
	if err != nil {
		t.Fatal(err)
	}
	// The CreateKeys' records, which name the description too, wait in the
	// store's outbox until the trail moves them to its segment files; a
	// query of the trail moves them first. (Damaged there, they would be
	// found at the SIGTERM below, when the trail is closed.)
	if _, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: intact.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}

	// Damage every copy of the description in place, under the server,
	// once it has stopped writing: the trail applies the last call's
	// record within 100 ms, and a commit after the file was read could put
	// a live record (the trail's head) where a stale copy of the
	// description was, and the damage would hit it instead.
	path := filepath.Join(dir, "strongroom.db")
	data := quietFile(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(marker))
		if i < 0 {
			break
		}
		off += i
		if _, err := f.WriteAt([]byte{'b'}, int64(off)); err != nil { // 'B' → 'b'
			t.Fatal(err)
		}
		off += len(marker)
		n++
	}
	f.Close()
	if n == 0 {
		t.Fatal("description not found in the store file")
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, s.stderr)
	}

	s = start(t, dir, envCreds)
	within(t, 20*time.Second, "/readyz to fail", func() bool {
		code, _ := get(t, s.endpoint+"/readyz")
		return code == 503
	})
	_, err = s.client(testAKID, testSecret).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: intact.KeyMetadata.KeyId})
	if errorCode(err) != "KMSInternalException" {
		t.Errorf("DescribeKey of an intact key on a store found damaged: %v, want KMSInternalException", err)
	}
	s.kill() // before reading its stderr, which the process writes
	log := s.stderr.String()
	for _, want := range []string{"STORE DAMAGED", path, "checksum mismatch"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}

	// The next start verifies before serving, and refuses the file.
	if ok, log := serveOnce(t, dir); ok {
		t.Fatalf("serve started again on the damaged file:\n%s", log)
	} else if !strings.Contains(log, path) || !strings.Contains(log, "corrupt") {
		t.Errorf("the refusal does not name the damaged file:\n%s", log)
	}
}

// TestStartVerifiesAfterKill: after SIGKILL (no clean stop) the default
// check verifies the whole file before serving; after SIGTERM it does not.
// The store says which it did.
func TestStartVerifiesAfterKill(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, envCreds)
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, s.stderr)
	}
	s = start(t, dir, envCreds)
	s.kill()
	if log := s.stderr.String(); !strings.Contains(log, `checked="quick (clean close), full in the background"`) {
		t.Errorf("after SIGTERM, the start did not defer the verification:\n%s", log)
	}
	s = start(t, dir, envCreds)
	s.kill()
	if log := s.stderr.String(); !strings.Contains(log, `checked="full, before serving"`) {
		t.Errorf("after SIGKILL, the start did not verify before serving:\n%s", log)
	}
}

// quietFile returns the content of path once two reads 300 ms apart are
// the same: the server has stopped writing to it.
func quietFile(t *testing.T, path string) []byte {
	t.Helper()
	var last []byte
	for range 100 {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if last != nil && bytes.Equal(data, last) {
			return data
		}
		last = data
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s kept changing for 30 s", path)
	return nil
}
