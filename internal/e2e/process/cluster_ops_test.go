package process

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/jackc/pgx/v5"
)

// Operations: request quotas, the regions served, /metrics and /readyz.

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestQuotasThrottle(t *testing.T) {
	ctx := context.Background()
	n := launch(t, "quota", t.TempDir(), envCreds, "--quotas", "aws,CreateKey=2,burst=1")
	waitHealthy(t, n)
	c := nodeKMS(n, testAKID, testSecret, "us-east-1")
	var throttled error
	for range 10 {
		if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
			throttled = err
			break
		}
	}
	if errorCode(throttled) != "ThrottlingException" {
		t.Fatalf("10 CreateKey at once under a quota of 2/s: %v, want ThrottlingException", throttled)
	}
	var re *smithyhttp.ResponseError
	if !errors.As(throttled, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("ThrottlingException with status %v, want 400", throttled)
	}
	// Other operations have their own buckets, and other regions too.
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("ListKeys while CreateKey is throttled: %v", err)
	}
	if _, err := nodeKMS(n, testAKID, testSecret, "eu-west-1").CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatalf("CreateKey in another region: %v", err)
	}
	// The SDK's standard retryer rides it out.
	retrying := kms.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
		BaseEndpoint: aws.String(n.endpoint()),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 10; o.MaxBackoff = time.Second })
		},
	})
	for range 4 {
		if _, err := retrying.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
			t.Fatalf("CreateKey with the standard retryer: %v", err)
		}
	}
	_, body := get(t, n.endpoint()+"/metrics")
	for _, want := range []string{
		`strongroom_throttled_requests_total{group="CreateKey"}`,
		`strongroom_requests_total{operation="CreateKey",outcome="ThrottlingException"}`,
		`strongroom_requests_total{operation="CreateKey",outcome="ok"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestQuotasOffByDefault: neither serve nor dev limits without --quotas.
func TestQuotasOffByDefault(t *testing.T) {
	ctx := context.Background()
	n := launch(t, "noquota", t.TempDir(), envCreds)
	waitHealthy(t, n)
	c := nodeKMS(n, testAKID, testSecret, "us-east-1")
	for i := range 20 {
		if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
			t.Fatalf("CreateKey %d: %v", i, err)
		}
	}
}

func TestRegionsServed(t *testing.T) {
	ctx := context.Background()
	n := launch(t, "regions", t.TempDir(), envCreds, "--regions", "us-east-1,eu-west-1")
	waitHealthy(t, n)
	us := nodeKMS(n, testAKID, testSecret, "us-east-1")
	key, err := us.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = nodeKMS(n, testAKID, testSecret, "ap-south-1").ListKeys(ctx, &kms.ListKeysInput{})
	if code := errorCode(err); code != "InvalidSignatureException" {
		t.Fatalf("a request in a region not served: %v", err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && !strings.Contains(ae.ErrorMessage(), "ap-south-1") {
		t.Errorf("message %q does not name the region", ae.ErrorMessage())
	}
	_, err = us.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: key.KeyMetadata.KeyId, ReplicaRegion: aws.String("ap-south-1")})
	if code := errorCode(err); code != "UnsupportedOperationException" {
		t.Fatalf("ReplicateKey to a region not served: %v", err)
	}
	if _, err := us.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: key.KeyMetadata.KeyId, ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsAndReadiness(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, 1, envCreds)
	n := c.nodes[0]
	cl := nodeKMS(n, testAKID, testSecret, "us-east-1")
	key, err := cl.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cl.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/none")})

	status, body := get(t, n.endpoint()+"/metrics")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		"# TYPE strongroom_requests_total counter",
		`strongroom_requests_total{operation="Encrypt",outcome="ok"} 3`,
		`strongroom_requests_total{operation="DescribeKey",outcome="NotFoundException"} 1`,
		"# TYPE strongroom_request_duration_seconds histogram",
		`strongroom_request_duration_seconds_bucket{operation="Encrypt",le="+Inf"} 3`,
		`strongroom_request_duration_seconds_count{operation="Encrypt"} 3`,
		`strongroom_store_transaction_duration_seconds_count{kind="view"}`,
		`strongroom_store_transaction_duration_seconds_count{kind="update"}`,
		"strongroom_requests_in_flight",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, testAKID) || strings.Contains(body, *key.KeyMetadata.KeyId) {
		t.Error("/metrics names an access key or a key id")
	}

	if status, _ := get(t, n.endpoint()+"/readyz"); status != 200 {
		t.Fatalf("/readyz with the database up: %d", status)
	}
	// The database refuses connections and drops the node's: /readyz
	// fails, /healthz does not; when the database is back, so is the node.
	u := postgresURL()
	admin, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := dbName(c.db)
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false")
	t.Cleanup(func() { admin.Exec(context.Background(), "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true") })
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "' AND pid <> pg_backend_pid()")
	within(t, 10*time.Second, "/readyz failing without the database", func() bool {
		s, _ := get(t, n.endpoint()+"/readyz")
		return s == http.StatusServiceUnavailable
	})
	if s, _ := get(t, n.endpoint()+"/healthz"); s != 200 {
		t.Errorf("/healthz without the database: %d", s)
	}
	if _, err := cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId}); errorCode(err) != "KMSInternalException" {
		t.Errorf("a request without the database: %v, want KMSInternalException", err)
	}
	exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true")
	within(t, 10*time.Second, "/readyz back with the database", func() bool {
		s, _ := get(t, n.endpoint()+"/readyz")
		return s == 200
	})
	if _, err := cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Errorf("after the database came back: %v", err)
	}
	// The node logged the failure with a request id, and no secret.
	logs := n.stderr.String()
	if !strings.Contains(logs, "request_id=") {
		t.Errorf("no request id in the logs:\n%s", logs)
	}
	if strings.Contains(logs, testSecret) {
		t.Error("the logs contain the secret access key")
	}
}

func dbName(u string) string {
	i := strings.LastIndexByte(u, '/')
	name := u[i+1:]
	if j := strings.IndexByte(name, '?'); j >= 0 {
		name = name[:j]
	}
	return name
}
