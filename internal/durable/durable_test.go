package durable

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFdatasyncAndSyncDir(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	if err := Fdatasync(f); err != nil {
		t.Errorf("Fdatasync: %v", err)
	}
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	f.Close()
	// Failures are reported, naming what failed.
	var pe *os.PathError
	if err := Fdatasync(f); err == nil || !errors.As(err, &pe) {
		t.Errorf("Fdatasync of a closed file: %v, want a *PathError", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir of a missing directory: %v", err)
	}
}
