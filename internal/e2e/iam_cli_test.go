package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/testenv"
)

// awsCLI runs the AWS CLI against env with creds and returns its decoded
// JSON output, or its stderr and false if it failed.
func awsCLI(t *testing.T, env *testenv.Env, creds idCreds, args ...string) (map[string]any, string, bool) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", env.Endpoint, "--output", "json"}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_DEFAULT_REGION=" + testenv.Region,
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
	}
	if creds.SessionToken != "" {
		cmd.Env = append(cmd.Env, "AWS_SESSION_TOKEN="+creds.SessionToken)
	}
	if p := os.Getenv("PYENV_ROOT"); p != "" {
		cmd.Env = append(cmd.Env, "PYENV_ROOT="+p)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), false
	}
	out := map[string]any{}
	if s := strings.TrimSpace(stdout.String()); s != "" {
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			t.Fatalf("aws %s: %v in %q", strings.Join(args, " "), err, s)
		}
	}
	return out, stderr.String(), true
}

func mustCLI(t *testing.T, env *testenv.Env, creds idCreds, args ...string) map[string]any {
	t.Helper()
	out, stderr, ok := awsCLI(t, env, creds, args...)
	if !ok {
		t.Fatalf("aws %s failed: %s", strings.Join(args, " "), stderr)
	}
	return out
}

func field(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

// TestAWSCLIv1 drives IAM, STS and KMS with the AWS CLI: create a user, a
// key pair and a policy as root, then act as the user, then as a role.
func TestAWSCLIv1(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the aws CLI is not on PATH")
	}
	env := testenv.Start(t, testenv.Options{})
	root := rootCreds(env)

	u := mustCLI(t, env, root, "iam", "create-user", "--user-name", "cli-user")
	if field(u, "User", "UserName") != "cli-user" || field(u, "User", "Arn") != "arn:aws:iam::"+testenv.Account+":user/cli-user" {
		t.Fatalf("create-user = %v", u)
	}
	k := mustCLI(t, env, root, "iam", "create-access-key", "--user-name", "cli-user")
	user := idCreds{AccessKeyID: field(k, "AccessKey", "AccessKeyId"), SecretAccessKey: field(k, "AccessKey", "SecretAccessKey")}
	if !strings.HasPrefix(user.AccessKeyID, "AKIA") || len(user.SecretAccessKey) != 40 {
		t.Fatalf("create-access-key = %v", k)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	policy := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "sts:AssumeRole"], "Resource": "*"}]}`
	if err := os.WriteFile(policyFile, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, root, "iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "encrypt", "--policy-document", "file://"+policyFile)
	// The CLI decodes the URL-encoded document back into JSON.
	g := mustCLI(t, env, root, "iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "encrypt")
	if doc, _ := g["PolicyDocument"].(map[string]any); doc == nil || doc["Version"] != "2012-10-17" {
		t.Fatalf("get-user-policy = %v", g)
	}
	l := mustCLI(t, env, root, "iam", "list-user-policies", "--user-name", "cli-user")
	if names, _ := l["PolicyNames"].([]any); len(names) != 1 || names[0] != "encrypt" {
		t.Fatalf("list-user-policies = %v", l)
	}

	id := mustCLI(t, env, user, "sts", "get-caller-identity")
	if field(id, "Arn") != "arn:aws:iam::"+testenv.Account+":user/cli-user" || field(id, "Account") != testenv.Account || !strings.HasPrefix(field(id, "UserId"), "AIDA") {
		t.Fatalf("get-caller-identity = %v", id)
	}
	key := ok[*kms.CreateKeyOutput](t)(env.KMS().CreateKey(ctx, &kms.CreateKeyInput{}))
	enc := mustCLI(t, env, user, "kms", "encrypt", "--key-id", *key.KeyMetadata.KeyId, "--plaintext", "aGVsbG8=")
	if field(enc, "KeyId") != *key.KeyMetadata.Arn || field(enc, "CiphertextBlob") == "" {
		t.Fatalf("kms encrypt = %v", enc)
	}
	// Denied: an action the identity policy does not allow …
	if _, stderr, ok := awsCLI(t, env, user, "kms", "generate-data-key", "--key-id", *key.KeyMetadata.KeyId, "--key-spec", "AES_256"); ok || !strings.Contains(stderr, "AccessDeniedException") {
		t.Fatalf("generate-data-key without permission: ok=%v %s", ok, stderr)
	}
	// … and Encrypt itself on a key whose policy does not let the account
	// delegate to IAM (the chapter's trap).
	noRoot := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testenv.Account + `:user/nobody-else"},"Action":"kms:*","Resource":"*"}]}`
	trap := ok[*kms.CreateKeyOutput](t)(env.KMS().CreateKey(ctx, &kms.CreateKeyInput{Policy: &noRoot, BypassPolicyLockoutSafetyCheck: true}))
	if _, stderr, ok := awsCLI(t, env, user, "kms", "encrypt", "--key-id", *trap.KeyMetadata.KeyId, "--plaintext", "aGVsbG8="); ok || !strings.Contains(stderr, "AccessDeniedException") {
		t.Fatalf("encrypt under a key policy without the root statement: ok=%v %s", ok, stderr)
	}

	// A role, assumed through the CLI, and its session.
	mustCLI(t, env, root, "iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", trustAccount(testenv.Account))
	ar := mustCLI(t, env, user, "sts", "assume-role", "--role-arn", roleARN(testenv.Account, "cli-role"), "--role-session-name", "cli-session")
	session := idCreds{AccessKeyID: field(ar, "Credentials", "AccessKeyId"), SecretAccessKey: field(ar, "Credentials", "SecretAccessKey"), SessionToken: field(ar, "Credentials", "SessionToken")}
	sid := mustCLI(t, env, session, "sts", "get-caller-identity")
	if field(sid, "Arn") != "arn:aws:sts::"+testenv.Account+":assumed-role/cli-role/cli-session" {
		t.Fatalf("session get-caller-identity = %v", sid)
	}

	// An inactive key is refused.
	mustCLI(t, env, root, "iam", "update-access-key", "--user-name", "cli-user", "--access-key-id", user.AccessKeyID, "--status", "Inactive")
	if _, stderr, ok := awsCLI(t, env, user, "sts", "get-caller-identity"); ok || !strings.Contains(stderr, "InvalidClientTokenId") {
		t.Fatalf("inactive key: ok=%v %s", ok, stderr)
	}
	// Errors come back with their codes.
	if _, stderr, ok := awsCLI(t, env, root, "iam", "delete-user", "--user-name", "cli-user"); ok || !strings.Contains(stderr, "DeleteConflict") {
		t.Fatalf("delete-user with keys: ok=%v %s", ok, stderr)
	}
}
