package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	bbolt "go.etcd.io/bbolt"
)

// Corruption at start: bytes of strongroom.db changed while the server was
// down. `strongroom serve` must refuse to start, exit non-zero, and say
// which file is damaged (and, where it can, which record) — never serve
// altered data.

func copyDataDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	return to
}

// serveOnce runs strongroom serve on dir until it exits or is healthy, and
// returns whether it became healthy and what it wrote to stderr.
func serveOnce(t *testing.T, dir string) (healthy bool, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--listen", freePort(t), "--data-dir", dir)
	cmd.Env = append(os.Environ(), envCreds...)
	var buf bytes.Buffer
	cmd.Stderr = &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("serve exited 0 on %s", dir)
		}
		return false, buf.String()
	case <-waitHealthz(cmd, 15):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true, buf.String()
	case <-time.After(20 * time.Second):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("serve neither started nor exited:\n%s", buf.String())
		return false, ""
	}
}

// highWater returns how far the pages of dir's database reach (the file
// itself is allocated further ahead, sparsely).
func highWater(t *testing.T, dir string) int {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "strongroom.db"), 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.View(func(tx *bbolt.Tx) error { n = int(tx.Size()); return nil })
	return n
}

func TestCorruptionRefusedAtStart(t *testing.T) {
	base := t.TempDir()
	s := start(t, base, envCreds)
	c := s.client(testAKID, testSecret)
	var r [8]byte
	rand.Read(r[:])
	marker := "CORRUPTME" + hex.EncodeToString(r[:])
	var ids []string
	for range 20 {
		ck, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *ck.KeyMetadata.KeyId)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	if ok, log := serveOnce(t, copyDataDir(t, base)); !ok {
		t.Fatalf("an undamaged copy does not start:\n%s", log)
	}
	cases := []struct {
		name   string
		damage func(db []byte) []byte
		says   []string // besides the file's path and "corrupt"
	}{
		{"a bit flipped in a key's description", func(db []byte) []byte {
			return bytes.ReplaceAll(db, []byte(marker), []byte("CORRUPTMf"+marker[9:]))
		}, []string{"checksum mismatch"}},
		{"a byte changed in a key id", func(db []byte) []byte {
			return bytes.ReplaceAll(db, []byte(ids[7]), []byte(ids[7][:10]+"X"+ids[7][11:]))
		}, nil},
		{"the file cut in half", func(db []byte) []byte { return db[:highWater(t, base)/2] }, nil},
		{"the file's last page cut", func(db []byte) []byte { return db[:highWater(t, base)-os.Getpagesize()] }, []string{"truncated"}},
		{"both meta pages zeroed", func(db []byte) []byte {
			ps := os.Getpagesize()
			clear(db[:2*ps])
			return db
		}, nil},
		{"the file emptied", func(db []byte) []byte { return nil }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDataDir(t, base)
			path := filepath.Join(dir, "strongroom.db")
			db, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			damaged := tc.damage(bytes.Clone(db))
			if bytes.Equal(damaged, db) {
				t.Fatal("the damage changed nothing")
			}
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			ok, log := serveOnce(t, dir)
			if ok {
				t.Fatalf("serve started on a damaged strongroom.db:\n%s", log)
			}
			for _, want := range append([]string{path}, tc.says...) {
				if !strings.Contains(log, want) {
					t.Errorf("the refusal does not say %q:\n%s", want, log)
				}
			}
			if !strings.Contains(log, "corrupt") && !strings.Contains(log, "not a strongroom database") {
				t.Errorf("the refusal does not say the file is damaged:\n%s", log)
			}
		})
	}
}
