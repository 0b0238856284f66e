package process

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBoto3 drives `strongroom serve` with boto3, the client most users
// script with: testdata/boto3_suite.py exercises the foundation operations,
// their errors, grants, and IAM/STS on the same endpoint.
func TestBoto3(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed")
	}
	s := start(t, t.TempDir(), envCreds)
	script, _ := filepath.Abs("testdata/boto3_suite.py")
	cmd := exec.Command("python3", script)
	cmd.Env = append(cleanAWSEnv(),
		"ENDPOINT="+s.endpoint,
		"AWS_ACCESS_KEY_ID="+testAKID,
		"AWS_SECRET_ACCESS_KEY="+testSecret,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "BOTO3-OK") {
		t.Fatalf("boto3 suite failed: %v\n%s\nserver stderr:\n%s", err, out, s.stderr)
	}
}
