package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"
)

// adminEnv is the environment of `strongroom audit|billing` and the AWS CLI:
// the bootstrap root's credentials, and nothing else of the caller's AWS
// configuration.
func adminEnv() []string {
	return append(cleanAWSEnv(),
		"AWS_ACCESS_KEY_ID="+testAKID,
		"AWS_SECRET_ACCESS_KEY="+testSecret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
}

// strongroom runs the binary with args and returns its stdout, stderr and
// exit status.
func strongroom(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = adminEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// answered is a response the client saw: its request id and whether it
// succeeded.
type answered struct {
	id string
	ok bool
}

// TestAuditSurvivesSIGKILLUnderLoad kills the server with SIGKILL while
// clients hammer it, restarts it, and checks that every request the clients
// saw answered — success or error — has its record, that the exported trail
// verifies, and that the meter counted every acknowledged request: with
// serve's default --audit-sync (records of read-only calls written to the
// operating system before the answer, synced behind it), and with
// --audit-sync always (synced before the answer).
func TestAuditSurvivesSIGKILLUnderLoad(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{{"default", nil}, {"always", []string{"--audit-sync", "always"}}} {
		t.Run(mode.name, func(t *testing.T) { auditSurvivesSIGKILL(t, mode.args) })
	}
	for _, bad := range []string{"sometimes", "0", "2s"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, binary, "serve", "--listen", freePort(t), "--data-dir", t.TempDir(), "--audit-sync", bad)
		cmd.Env = append(os.Environ(), envCreds...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "--audit-sync") {
			t.Errorf("serve --audit-sync %s: err %v\n%s", bad, err, out)
		}
	}
}

func auditSurvivesSIGKILL(t *testing.T, args []string) {
	dir := t.TempDir()
	s := start(t, dir, envCreds, args...)
	c := s.client(testAKID, testSecret)
	ctx := context.Background()
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyID := *ck.KeyMetadata.KeyId

	var mu sync.Mutex
	var seen []answered
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var md middleware.Metadata
				var err error
				var id string
				if i%10 == 9 { // a failing call now and then
					var out *kms.DescribeKeyOutput
					out, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/missing")})
					if out != nil {
						md = out.ResultMetadata
					}
				} else {
					var out *kms.EncryptOutput
					out, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: []byte(fmt.Sprintf("w%d-%d", w, i))})
					if out != nil {
						md = out.ResultMetadata
					}
				}
				if err == nil {
					id, _ = awsmw.GetRequestIDMetadata(md)
				} else {
					var re *awshttp.ResponseError
					if !errors.As(err, &re) || re.HTTPStatusCode() == 0 || re.ServiceRequestID() == "" {
						continue // no answer: the server died first
					}
					id = re.ServiceRequestID()
				}
				mu.Lock()
				seen = append(seen, answered{id: id, ok: err == nil})
				mu.Unlock()
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	s.kill() // SIGKILL under load
	close(stop)
	wg.Wait()
	if len(seen) < 100 {
		t.Fatalf("only %d answers before the kill", len(seen))
	}

	s = start(t, dir, envCreds, args...)
	trail := filepath.Join(t.TempDir(), "trail.jsonl")
	out, errOut, code := strongroom(t, "audit", "export", "--endpoint", s.endpoint)
	if code != 0 {
		t.Fatalf("audit export: exit %d: %s", code, errOut)
	}
	os.WriteFile(trail, []byte(out), 0o600)
	if out, _, code := strongroom(t, "audit", "verify", trail); code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("audit verify after SIGKILL: exit %d: %s", code, out)
	}
	recorded := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var l struct {
			Type  string `json:"type"`
			Event struct {
				RequestID string `json:"requestID"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if l.Type == "record" {
			recorded[l.Event.RequestID] = true
		}
	}
	acked := 0
	for _, a := range seen {
		if !recorded[a.id] {
			t.Fatalf("request %s was answered before SIGKILL but has no record", a.id)
		}
		if a.ok {
			acked++
		}
	}
	t.Logf("%d answers before SIGKILL (%d successful), all recorded; %d records in all", len(seen), acked, len(recorded))

	// The meter counted every acknowledged request (and perhaps a few that
	// were recorded but not answered before the kill).
	bill, errOut, code := strongroom(t, "billing", "report", "--endpoint", s.endpoint, "--json")
	if code != 0 {
		t.Fatalf("billing report: exit %d: %s", code, errOut)
	}
	var b struct {
		Regions []struct {
			Requests []struct {
				Class    string
				Requests int
			}
		}
	}
	if err := json.Unmarshal([]byte(bill), &b); err != nil {
		t.Fatalf("%v: %s", err, bill)
	}
	metered := 0
	for _, r := range b.Regions {
		for _, q := range r.Requests {
			metered += q.Requests
		}
	}
	if metered < acked+1 { // + the CreateKey
		t.Fatalf("metered %d requests, but %d were acknowledged", metered, acked+1)
	}
}

// TestAuditCLI drives the operator commands end to end against `strongroom
// serve`: `aws cloudtrail lookup-events` (AWS CLI v1), `strongroom audit
// export` and `verify` (an untouched trail verifies; an edited one fails
// with exit status 1 naming the record), and `strongroom billing report`.
func TestAuditCLI(t *testing.T) {
	s := start(t, t.TempDir(), envCreds)
	c := s.client(testAKID, testSecret)
	ctx := context.Background()
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("cli")})
	if err != nil {
		t.Fatal(err)
	}
	for range 7 {
		if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("TOPSECRET")}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := exec.LookPath("aws"); err == nil {
		cmd := exec.Command("aws", "--endpoint-url", s.endpoint, "cloudtrail", "lookup-events",
			"--lookup-attributes", "AttributeKey=EventName,AttributeValue=Encrypt", "--page-size", "3",
			"--start-time", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
		cmd.Env = adminEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws cloudtrail lookup-events: %v\n%s\nserver:\n%s", err, out, s.stderr)
		}
		var res struct {
			Events []struct {
				EventName       string
				EventSource     string
				Username        string
				ReadOnly        string
				CloudTrailEvent string
				Resources       []struct{ ResourceType, ResourceName string }
			}
			NextToken string
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		// The CLI follows NextToken itself: all seven, three at a time.
		if len(res.Events) != 7 || res.NextToken != "" {
			t.Fatalf("lookup-events: %d events: %s", len(res.Events), out)
		}
		for _, e := range res.Events {
			var ev map[string]any
			if e.EventName != "Encrypt" || e.EventSource != "kms.amazonaws.com" || e.Username != "root" || e.ReadOnly != "true" ||
				len(e.Resources) != 1 || e.Resources[0].ResourceType != "AWS::KMS::Key" || json.Unmarshal([]byte(e.CloudTrailEvent), &ev) != nil || ev["eventName"] != "Encrypt" {
				t.Fatalf("event %+v", e)
			}
			if strings.Contains(e.CloudTrailEvent, "TOPSECRET") {
				t.Fatal("a plaintext in the trail")
			}
		}
	} else {
		t.Log("the AWS CLI is not installed: lookup-events not run")
	}

	out, errOut, code := strongroom(t, "audit", "export", "--endpoint", s.endpoint, "--start", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("audit export: exit %d: %s", code, errOut)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "trail.jsonl")
	os.WriteFile(good, []byte(out), 0o600)
	// CreateKey, 7 Encrypt, and the CLI's LookupEvents calls.
	if res, _, code := strongroom(t, "audit", "verify", good); code != 0 || !strings.HasPrefix(res, "OK: ") || !strings.Contains(res, "(records seq 1..") {
		t.Fatalf("verify an untouched export: exit %d: %s", code, res)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, c := range []struct {
		name string
		edit func([]string) []string
		says string
	}{
		{"edited", func(ls []string) []string {
			ls[3] = strings.Replace(ls[3], `"eventName":"Encrypt"`, `"eventName":"Decrypt"`, 1)
			return ls
		}, "record seq 3"},
		{"deleted", func(ls []string) []string { return append(ls[:3], ls[4:]...) }, "record seq 3 was removed"},
		{"reordered", func(ls []string) []string { ls[3], ls[4] = ls[4], ls[3]; return ls }, "records out of order: record seq 4"},
		{"truncated", func(ls []string) []string { return ls[:6] }, "truncated"},
	} {
		tampered := filepath.Join(dir, c.name+".jsonl")
		os.WriteFile(tampered, []byte(strings.Join(c.edit(append([]string(nil), lines...)), "\n")+"\n"), 0o600)
		res, _, code := strongroom(t, "audit", "verify", tampered)
		if code != 1 || !strings.HasPrefix(res, "FAILED: ") || !strings.Contains(res, c.says) {
			t.Errorf("verify a %s export: exit %d: %s", c.name, code, res)
		}
	}

	text, errOut, code := strongroom(t, "billing", "report", "--endpoint", s.endpoint, "--account", "111122223333", "--month", time.Now().UTC().Format("2006-01"))
	if code != 0 || !strings.Contains(text, "Strongroom bill: account 111122223333") || !strings.Contains(text, "Symmetric requests: ") ||
		!strings.Contains(text, "key "+*ck.KeyMetadata.KeyId) || !strings.Contains(text, "total") {
		t.Fatalf("billing report: exit %d: %s%s", code, text, errOut)
	}
	// The operator may read any account's bill; this one has run up nothing.
	if text, errOut, code := strongroom(t, "billing", "report", "--endpoint", s.endpoint, "--account", "444455556666"); code != 0 || !strings.Contains(text, "Nothing to charge") {
		t.Fatalf("another account's bill: exit %d: %s%s", code, text, errOut)
	}
}
