package shape

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTables checks that the generated tables hold together.
func TestTables(t *testing.T) {
	for _, s := range []*Service{KMS, IAM, STS, CloudTrail} {
		if !strings.HasPrefix(s.Protocol, "json") && s.Protocol != "query" {
			t.Errorf("%s: protocol %q", s.Name, s.Protocol)
		}
		ops := s.Operations()
		for i := 1; i < len(ops); i++ {
			if ops[i-1] >= ops[i] {
				t.Errorf("%s: operations not sorted at %s", s.Name, ops[i])
			}
		}
		for _, o := range s.ops {
			if s.shapes[o.input].k != kStructure {
				t.Errorf("%s.%s: input is not a structure", s.Name, o.Name)
			}
		}
		for i, sh := range s.shapes {
			switch sh.k {
			case kStructure:
				if int(sh.first)+int(sh.n) > len(s.members) || sh.n > 64 {
					t.Errorf("%s: shape %d: members out of range", s.Name, i)
				}
			case kList, kMap:
				if int(sh.elem) >= len(s.shapes) || (sh.k == kMap && s.shapes[sh.key].k != kString) {
					t.Errorf("%s: shape %d: bad element or key", s.Name, i)
				}
			}
			if (sh.enum != 0 && int(sh.enum) >= len(s.enums)) || (sh.pattern != 0 && int(sh.pattern) >= len(s.patterns)) {
				t.Errorf("%s: shape %d: enum or pattern out of range", s.Name, i)
			}
		}
		for i, m := range s.members {
			if int(m.shape) >= len(s.shapes) || m.f&mSkipMax != 0 {
				t.Errorf("%s: member %d (%s) is bad", s.Name, i, m.name)
			}
		}
	}
	if KMS.TargetPrefix != "TrentService" || KMS.Protocol != "json" || IAM.Protocol != "query" || STS.Protocol != "query" || CloudTrail.Protocol != "json" {
		t.Errorf("protocols: kms %s, iam %s, sts %s, cloudtrail %s", KMS.Protocol, IAM.Protocol, STS.Protocol, CloudTrail.Protocol)
	}
}

func TestKMSOperationFacts(t *testing.T) {
	for op, want := range map[string]struct {
		dryRun bool
		keys   string
	}{
		"Encrypt":     {true, "KeyId"},
		"ReEncrypt":   {true, "SourceKeyId,DestinationKeyId"},
		"CreateAlias": {false, "TargetKeyId"},
		"CreateKey":   {false, ""},
		"DescribeKey": {false, "KeyId"},
		"RetireGrant": {true, "KeyId"},
		"DeleteAlias": {false, ""},
	} {
		o, ok := KMS.Operation(op)
		if !ok {
			t.Fatalf("no %s", op)
		}
		if o.DryRun != want.dryRun || strings.Join(o.KeyMembers, ",") != want.keys {
			t.Errorf("%s: DryRun %v, KeyMembers %q", op, o.DryRun, o.KeyMembers)
		}
	}
}

// TestGeneratedFilesAreCurrent regenerates the tables when botocore is
// installed and compares them with the committed ones.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	if err := exec.Command("python3", "-c", "import botocore").Run(); err != nil {
		t.Skip("botocore is not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./gen", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "zz_generated_*.go"))
	if len(files) != 4 {
		t.Fatalf("generated %d files", len(files))
	}
	source := func(b []byte) string {
		_, rest, _ := bytes.Cut(b, []byte("// Source SHA-256: "))
		sum, _, _ := bytes.Cut(rest, []byte("\n"))
		return string(sum)
	}
	for _, f := range files {
		got, _ := os.ReadFile(f)
		committed, err := os.ReadFile(filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		if source(got) != source(committed) {
			t.Logf("%s: the installed botocore has another model; go generate would update it", filepath.Base(f))
			continue
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("%s is not what the generator makes of its own source model; run go generate", filepath.Base(f))
		}
	}
}
