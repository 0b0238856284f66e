package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"strongroom/internal/audit"
	"strongroom/internal/testenv"
)

// Helpers of the audit and billing wire tests.

// adminCall calls the admin API (X-Amz-Target StrongroomAdmin.<op>, SigV4
// service "strongroom") as creds and decodes the answer into out. It
// returns the HTTP status and, on error, the AWS error code.
func adminCall(t testing.TB, env *testenv.Env, creds idCreds, op string, in, out any) (int, string) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "StrongroomAdmin."+op)
	sum := sha256.Sum256(body)
	ac := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	if err := v4.NewSigner().SignHTTP(ctx, ac, req, hex.EncodeToString(sum[:]), "strongroom", testenv.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type string `json:"__type"`
		}
		json.Unmarshal(rb, &e)
		return resp.StatusCode, e.Type
	}
	if out != nil {
		if err := json.Unmarshal(rb, out); err != nil {
			t.Fatalf("%s answer %s: %v", op, rb, err)
		}
	}
	return resp.StatusCode, ""
}

// exportTrail exports the whole trail over the admin API as creds, page by
// page, and returns it as JSON lines.
func exportTrail(t testing.TB, env *testenv.Env, creds idCreds) []byte {
	t.Helper()
	var buf bytes.Buffer
	in := map[string]any{"MaxLines": 50}
	for {
		var out struct {
			Lines     []string
			NextToken string
		}
		if status, code := adminCall(t, env, creds, "ExportAuditTrail", in, &out); status != 200 {
			t.Fatalf("ExportAuditTrail: %d %s", status, code)
		}
		for _, l := range out.Lines {
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
		if out.NextToken == "" {
			return buf.Bytes()
		}
		in["NextToken"] = out.NextToken
	}
}

// trailRecord is a record line of an export, with its event decoded.
type trailRecord struct {
	Seq   uint64
	Raw   json.RawMessage // the event's bytes
	Event struct {
		EventVersion string `json:"eventVersion"`
		EventName    string `json:"eventName"`
		EventSource  string `json:"eventSource"`
		EventType    string `json:"eventType"`
		EventID      string `json:"eventID"`
		RequestID    string `json:"requestID"`
		ErrorCode    string `json:"errorCode"`
		ReadOnly     bool   `json:"readOnly"`
		AWSRegion    string `json:"awsRegion"`
		EventTime    string `json:"eventTime"`
		UserIdentity struct {
			Type        string `json:"type"`
			PrincipalID string `json:"principalId"`
			ARN         string `json:"arn"`
			AccountID   string `json:"accountId"`
			AccessKeyID string `json:"accessKeyId"`
			UserName    string `json:"userName"`
			InvokedBy   string `json:"invokedBy"`
		} `json:"userIdentity"`
		RequestParameters  map[string]any `json:"requestParameters"`
		ResponseElements   map[string]any `json:"responseElements"`
		Resources          []audit.Resource
		RecipientAccountID string `json:"recipientAccountId"`
	}
}

// records parses the record lines of an export.
func records(t testing.TB, export []byte) []trailRecord {
	t.Helper()
	var out []trailRecord
	for _, line := range bytes.Split(bytes.TrimSpace(export), []byte("\n")) {
		var l struct {
			Type  string          `json:"type"`
			Seq   uint64          `json:"seq"`
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if l.Type != "record" {
			continue
		}
		r := trailRecord{Seq: l.Seq, Raw: l.Event}
		if err := json.Unmarshal(l.Event, &r.Event); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// verifyExport fails the test unless export verifies.
func verifyExport(t testing.TB, export []byte) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(bytes.NewReader(export), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problem != nil {
		t.Fatalf("an untouched export does not verify: %v", rep.Problem)
	}
	return rep
}

// cloudTrailAs returns a CloudTrail client for creds.
func cloudTrailAs(env *testenv.Env, creds idCreds) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(idConfig(env, creds, testenv.Region))
}

// mustNotContain fails if haystack contains any needle (or its base64 or
// hex form).
func mustNotContain(t testing.TB, what string, haystack []byte, needles map[string][]byte) {
	t.Helper()
	for name, n := range needles {
		if len(n) == 0 {
			continue
		}
		for _, form := range [][]byte{n, []byte(base64.StdEncoding.EncodeToString(n)), []byte(strings.TrimRight(base64.StdEncoding.EncodeToString(n), "=")), []byte(hex.EncodeToString(n))} {
			if bytes.Contains(haystack, form) {
				t.Errorf("%s contains %s", what, name)
			}
		}
	}
}

// newAccountRoot creates account id and returns its root's credentials.
func newAccountRoot(t testing.TB, env *testenv.Env, id string) idCreds {
	t.Helper()
	a, err := env.App.Directory.CreateAccount(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return idCreds{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey}
}
