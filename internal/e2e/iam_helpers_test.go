package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"strongroom/internal/app"
	"strongroom/internal/testenv"
)

// idCreds are credentials for the IAM and STS tests: a long-term key pair,
// or temporary credentials with a session token.
type idCreds struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

func rootCreds(env *testenv.Env) idCreds {
	return idCreds{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
}

func sessionCreds(c *ststypes.Credentials) idCreds {
	return idCreds{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

// idConfig is env's SDK configuration for creds in region.
func idConfig(env *testenv.Env, creds idCreds, region string) aws.Config {
	cfg := env.AWSConfig(app.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}, region)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	return cfg
}

// iamAs returns an IAM client for creds. IAM is global: the SDK signs it
// for us-east-1 whatever the region.
func iamAs(env *testenv.Env, creds idCreds) *iam.Client {
	return iam.NewFromConfig(idConfig(env, creds, testenv.Region))
}

func stsAs(env *testenv.Env, creds idCreds) *sts.Client {
	return sts.NewFromConfig(idConfig(env, creds, testenv.Region))
}

func kmsAs(env *testenv.Env, creds idCreds) *kms.Client {
	return kms.NewFromConfig(idConfig(env, creds, testenv.Region))
}

// wantAPIError fails unless err is an AWS error with code and, if status
// is not 0, that HTTP status; it returns the message.
func wantAPIError(t testing.TB, err error, code string, status int) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if status != 0 {
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != status {
			t.Fatalf("%s: got status %v, want %d", code, err, status)
		}
	}
	return ae.ErrorMessage()
}

func ok[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// newUserWithKey creates a user with an access key, as env's root.
func newUserWithKey(t testing.TB, env *testenv.Env, name string) idCreds {
	t.Helper()
	c := iamAs(env, rootCreds(env))
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return idCreds{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
}

func putUserPolicy(t testing.TB, env *testenv.Env, user, name, doc string) {
	t.Helper()
	_, err := iamAs(env, rootCreds(env)).PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(user), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatal(err)
	}
}

// queryResponse is a raw answer of the query protocol.
type queryResponse struct {
	Status int
	Header http.Header
	Body   string
}

// rawQuery sends form as a query-protocol POST signed for service with
// creds (unsigned if creds is nil).
func rawQuery(t testing.TB, env *testenv.Env, creds *idCreds, service string, form url.Values) queryResponse {
	t.Helper()
	body := form.Encode()
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, env.Endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if creds != nil {
		sum := sha256.Sum256([]byte(body))
		ac := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
		if err := v4.NewSigner().SignHTTP(context.Background(), ac, r, hex.EncodeToString(sum[:]), service, testenv.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return doRaw(t, r)
}

func doRaw(t testing.TB, r *http.Request) queryResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	io.Copy(&buf, resp.Body)
	return queryResponse{Status: resp.StatusCode, Header: resp.Header, Body: buf.String()}
}
