package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmoke runs fill and measure on a small store: the tool works (the
// store fills, serve starts on it, every key is listed, alias markers reach
// their depth, SIGTERM exits 0). It asserts nothing about speed or memory.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds strongroom and starts it eight times")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "strongroom")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/strongroom").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	f, err := Fill(t.Context(), FillConfig{Dir: data, Keys: 1500, Aliases: 300, Workers: 16, Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.Keys != 1500 || f.Aliases != 300 {
		t.Fatalf("fill created %d keys and %d aliases", f.Keys, f.Aliases)
	}
	r, err := Measure(t.Context(), MeasureConfig{Binary: bin, Dir: data, Keys: 1500, Aliases: 300, Repeat: 2, Baseline: true, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if r.KeysListed != 1500 || len(r.KeysAtDepth) != 3 || len(r.AliasesAtDepth) != 3 || r.Idle.RSS == 0 || len(r.DevStartMs) != 5 {
		t.Errorf("incomplete result: %+v", r)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
