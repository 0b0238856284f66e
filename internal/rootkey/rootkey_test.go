package rootkey

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFileRootCreatesOnceAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "root.key")
	s1, err := OpenFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("root key mode %v, want 0600", fi.Mode().Perm())
	}
	sealed, err := s1.Seal([]byte("material"), []byte("key-1/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("material")) {
		t.Fatal("sealed value contains the plaintext")
	}
	s2, err := OpenFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if s1.CheckValue() != s2.CheckValue() {
		t.Fatal("check value changed across reopen")
	}
	pt, err := s2.Open(sealed, []byte("key-1/v1"))
	if err != nil || string(pt) != "material" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if _, err := s2.Open(sealed, []byte("key-2/v1")); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong aad: %v", err)
	}
	other := NewEphemeral()
	if other.CheckValue() == s1.CheckValue() {
		t.Fatal("different roots share a check value")
	}
	if _, err := other.Open(sealed, []byte("key-1/v1")); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong root: %v", err)
	}
}

func TestFileRootMissingOrDamaged(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFile(filepath.Join(dir, "none"), false); err == nil {
		t.Fatal("missing root key opened without create")
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("strongroom-root-key-v1 abcd\n"), 0o600)
	if _, err := OpenFile(bad, true); err == nil {
		t.Fatal("damaged root key accepted")
	}
	os.WriteFile(bad, []byte("hello"), 0o600)
	if _, err := OpenFile(bad, true); err == nil {
		t.Fatal("foreign file accepted as root key")
	}
}

func TestSealTamper(t *testing.T) {
	s := NewEphemeral()
	sealed, _ := s.Seal([]byte("x"), nil)
	for i := range sealed {
		c := bytes.Clone(sealed)
		c[i] ^= 0x80
		if _, err := s.Open(c, nil); !errors.Is(err, ErrOpen) {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
}
