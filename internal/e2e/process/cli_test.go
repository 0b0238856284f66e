package process

import (
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
python3 -c 'import json,base64;d=json.load(open("dk.json"));open("key.enc","wb").write(base64.b64decode(d["CiphertextBlob"]));open("key.bin","wb").write(base64.b64decode(d["Plaintext"]))'
printf 'line one\nline two\n' > data.txt
openssl enc -aes-256-cbc -pbkdf2 -in data.txt -out data.enc -pass file:key.bin
rm key.bin dk.json
kms decrypt --ciphertext-blob fileb://key.enc --query Plaintext --output text | base64 -d > key.bin
openssl enc -d -aes-256-cbc -pbkdf2 -in data.enc -pass file:key.bin > data.out
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
