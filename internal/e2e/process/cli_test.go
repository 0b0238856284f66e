package process

import (
	"bytes"
	"context"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLIWalkthrough runs the README's walk-through with the AWS CLI
// against `strongroom serve`: create a key and alias, envelope-encrypt a
// file with openssl and a data key, decrypt without a key id, and encrypt a
// small secret directly.
func TestAWSCLIWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the AWS CLI is not installed")
	}
	dir := t.TempDir()
	s := start(t, filepath.Join(dir, "data"), nil)
	script := `
set -euo pipefail
kms() { aws --endpoint-url "$ENDPOINT" kms "$@"; }
KEY=$(kms create-key --description demo --query KeyMetadata.KeyId --output text)
kms create-alias --alias-name alias/demo --target-key-id "$KEY"
kms generate-data-key --key-id alias/demo --key-spec AES_256 > dk.json
python3 -c 'import json,base64;d=json.load(open("dk.json"));open("key.enc","wb").write(base64.b64decode(d["CiphertextBlob"]));open("key.txt","w").write(d["Plaintext"])'
printf 'line one\nline two\n' > data.txt
openssl enc -aes-256-cbc -pbkdf2 -in data.txt -out data.enc -pass file:key.txt
rm key.txt dk.json
kms decrypt --ciphertext-blob fileb://key.enc --query Plaintext --output text > key.txt
openssl enc -d -aes-256-cbc -pbkdf2 -in data.enc -pass file:key.txt > data.out
cmp data.txt data.out
echo -n 's3cr3t' > secret.txt
kms encrypt --key-id alias/demo --plaintext fileb://secret.txt --query CiphertextBlob --output text | base64 -d > secret.enc
test "$(kms decrypt --ciphertext-blob fileb://secret.enc --query Plaintext --output text | base64 -d)" = s3cr3t
test "$(kms decrypt --ciphertext-blob fileb://secret.enc --query KeyId --output text)" = "arn:aws:kms:us-east-1:111122223333:key/$KEY"
# A mistake gets an AWS error, not a crash.
if kms describe-key --key-id alias/missing 2> err.txt; then exit 1; fi
grep -q NotFoundException err.txt
echo WALKTHROUGH-OK
`
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(cleanAWSEnv(),
		"ENDPOINT="+s.endpoint,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "data", "bootstrap-credentials"),
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null",
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "WALKTHROUGH-OK") {
		t.Fatalf("walk-through failed: %v\n%s\nserver stderr:\n%s", err, out, s.stderr)
	}
}

// cleanAWSEnv is the environment without any AWS_ variable, so that only
// what a test sets reaches the CLI.
func cleanAWSEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestAccountCreate runs `strongroom account create` against a running
// server with the bootstrap root's credentials, then uses the new account's
// root key: it works, and sees none of the first account's keys.
func TestAccountCreate(t *testing.T) {
	s := start(t, t.TempDir(), envCreds)
	ctx := context.Background()
	if _, err := s.client(testAKID, testSecret).CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	run := func(akid, secret string, args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"account", "create", "--endpoint", s.endpoint}, args...)...)
		cmd.Env = append(cleanAWSEnv(), "AWS_ACCESS_KEY_ID="+akid, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(testAKID, testSecret, "--account-id", "444455556666")
	if err != nil {
		t.Fatalf("account create: %v\n%s", err, out)
	}
	var akid, secret string
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			switch k {
			case "aws_access_key_id":
				akid = v
			case "aws_secret_access_key":
				secret = v
			}
		}
	}
	if !strings.Contains(out, "[444455556666]") || akid == "" || secret == "" {
		t.Fatalf("unexpected output:\n%s", out)
	}
	lk, err := s.client(akid, secret).ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatalf("the new account's root key does not work: %v", err)
	}
	if len(lk.Keys) != 0 {
		t.Fatalf("the new account sees %d keys of another account", len(lk.Keys))
	}
	// Only the bootstrap account's root may create accounts.
	if out, err := run(akid, secret); err == nil {
		t.Fatalf("a second account's root created an account:\n%s", out)
	}
	// The same id twice is refused.
	if out, err := run(testAKID, testSecret, "--account-id", "444455556666"); err == nil {
		t.Fatalf("account id reused:\n%s", out)
	}
}

// TestQuickStoreCheck: with --store-check quick, serve starts without
// walking the file, but a damaged record is still never served — it fails
// when read — and a truncated file is still refused at start.
func TestQuickStoreCheck(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, envCreds)
	ctx := context.Background()
	c := s.client(testAKID, testSecret)
	marker := "quick-check-marker-description"
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: &marker})
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	path := filepath.Join(dir, "strongroom.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage every copy (the key record, and the audit record of CreateKey).
	n := 0
	for i := bytes.Index(b, []byte(marker)); i >= 0; i = bytes.Index(b, []byte(marker)) {
		b[i] ^= 0x01
		n++
	}
	if n == 0 {
		t.Fatal("description not found in the store file")
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s = start(t, dir, envCreds, "--store-check", "quick")
	_, err = s.client(testAKID, testSecret).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: ck.KeyMetadata.KeyId})
	if err == nil || !strings.Contains(err.Error(), "KMSInternalException") {
		t.Fatalf("a damaged key record was served under --store-check quick: %v", err)
	}
	s.kill() // before reading its stderr, which the process writes
	if !strings.Contains(s.stderr.String(), "strongroom.db") {
		t.Errorf("the log does not name the damaged file:\n%s", s.stderr)
	}
	// The default full check refuses the same file at start.
	ctx20, cancel20 := context.WithTimeout(ctx, 20*time.Second)
	defer cancel20()
	cmd := exec.CommandContext(ctx20, binary, "serve", "--listen", freePort(t), "--data-dir", dir)
	cmd.Env = append(os.Environ(), envCreds...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "strongroom.db") {
		t.Fatalf("full check: err %v\n%s", err, out)
	}
	// A truncated file is refused even by the quick check.
	if err := os.Truncate(path, int64(highWater(t, dir)/2)); err != nil {
		t.Fatal(err)
	}
	ctx5, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd = exec.CommandContext(ctx5, binary, "serve", "--listen", freePort(t), "--data-dir", dir, "--store-check", "quick")
	cmd.Env = append(os.Environ(), envCreds...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "strongroom.db") {
		t.Fatalf("quick check on a truncated file: err %v\n%s", err, out)
	}
}
