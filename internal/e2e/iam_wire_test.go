package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"strongroom/internal/testenv"
)

var requestIDPattern = regexp.MustCompile(`<RequestId>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}</RequestId>`)

// TestQueryWireShapes checks the XML of the query protocol byte for byte
// where it is deterministic.
func TestQueryWireShapes(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	rc := rootCreds(env)

	r := rawQuery(t, env, &rc, "sts", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
	body := requestIDPattern.ReplaceAllString(r.Body, "<RequestId>ID</RequestId>")
	want := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
		`<Arn>arn:aws:iam::111122223333:root</Arn><UserId>111122223333</UserId><Account>111122223333</Account>` +
		`</GetCallerIdentityResult><ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
	if r.Status != 200 || body != want || r.Header.Get("Content-Type") != "text/xml" {
		t.Fatalf("GetCallerIdentity: %d %s\n%s\nwant %s", r.Status, r.Header.Get("Content-Type"), body, want)
	}

	// Empty results and empty lists.
	r = rawQuery(t, env, &rc, "iam", url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}})
	body = requestIDPattern.ReplaceAllString(r.Body, "<RequestId>ID</RequestId>")
	want = `<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users></Users><IsTruncated>false</IsTruncated>` +
		`</ListUsersResult><ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata></ListUsersResponse>`
	if r.Status != 200 || body != want {
		t.Fatalf("ListUsers: %d %s", r.Status, body)
	}
	if r = rawQuery(t, env, &rc, "iam", url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"u"}}); r.Status != 200 {
		t.Fatalf("CreateUser: %d %s", r.Status, r.Body)
	}
	r = rawQuery(t, env, &rc, "iam", url.Values{"Action": {"PutUserPolicy"}, "Version": {"2010-05-08"}, "UserName": {"u"}, "PolicyName": {"p"},
		"PolicyDocument": {`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`}})
	body = requestIDPattern.ReplaceAllString(r.Body, "<RequestId>ID</RequestId>")
	if want := `<PutUserPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata></PutUserPolicyResponse>`; r.Status != 200 || body != want {
		t.Fatalf("PutUserPolicy: %d %s", r.Status, body)
	}
	r = rawQuery(t, env, &rc, "iam", url.Values{"Action": {"GetUserPolicy"}, "Version": {"2010-05-08"}, "UserName": {"u"}, "PolicyName": {"p"}})
	if !strings.Contains(r.Body, `<PolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22kms%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D</PolicyDocument>`) {
		t.Fatalf("GetUserPolicy: %s", r.Body)
	}

	// Errors: the envelope, with AWS's codes and statuses.
	r = rawQuery(t, env, &rc, "iam", url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}, "UserName": {"nobody"}})
	body = requestIDPattern.ReplaceAllString(r.Body, "<RequestId>ID</RequestId>")
	want = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>` +
		`<Message>The user with name nobody cannot be found.</Message></Error><RequestId>ID</RequestId></ErrorResponse>`
	if r.Status != 404 || body != want {
		t.Fatalf("GetUser nobody: %d %s", r.Status, body)
	}
	wantQueryError(t, rawQuery(t, env, &rc, "iam", url.Values{"Action": {"FlyToTheMoon"}, "Version": {"2010-05-08"}}), 400, "InvalidAction")
	wantQueryError(t, rawQuery(t, env, &rc, "iam", url.Values{"Action": {"CreateGroup"}, "Version": {"2010-05-08"}, "GroupName": {"g"}}), 400, "InvalidAction")
	wantQueryError(t, rawQuery(t, env, &rc, "iam", url.Values{"Version": {"2010-05-08"}}), 400, "MissingAction")
	wantQueryError(t, rawQuery(t, env, &rc, "iam", url.Values{"Action": {"ListUsers"}, "Version": {"2011-06-15"}}), 400, "InvalidAction")
	wantQueryError(t, rawQuery(t, env, &rc, "iam", url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}, "MaxItems": {"many"}}), 400, "MalformedInput")
	wantQueryError(t, rawQuery(t, env, &rc, "iam", url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"t"}, "Tags.member.1.Key": {"k"}, "Tags.member.1.Value": {"v"}}), 400, "ValidationError")
	wantQueryError(t, rawQuery(t, env, &rc, "sts", url.Values{"Action": {"GetSessionToken"}, "Version": {"2011-06-15"}}), 400, "InvalidAction")

	// Authentication failures use the query protocol's codes.
	wantQueryError(t, rawQuery(t, env, nil, "iam", url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}}), 403, "MissingAuthenticationToken")
	if !strings.Contains(rawQuery(t, env, nil, "sts", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}).Body, "https://sts.amazonaws.com/doc/2011-06-15/") {
		t.Fatal("an unsigned STS request is answered in IAM's namespace")
	}
	bad := idCreds{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: strings.Repeat("x", 40)}
	wantQueryError(t, rawQuery(t, env, &bad, "iam", url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}}), 403, "SignatureDoesNotMatch")
	unknown := idCreds{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: env.Root.SecretAccessKey}
	wantQueryError(t, rawQuery(t, env, &unknown, "sts", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}), 403, "InvalidClientTokenId")
}

// TestQueryRouting: IAM accepts any region in the scope; GET and presigned
// requests work; a form POST signed for KMS is not a query request.
func TestQueryRouting(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	sign := func(method, target, body, service, region string, presign bool) *http.Request {
		r, _ := http.NewRequestWithContext(context.Background(), method, env.Endpoint+target, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
		if presign {
			u, h, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, region, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			r, _ = http.NewRequestWithContext(context.Background(), method, u, nil)
			for k, v := range h {
				if k != "Host" {
					r.Header[k] = v
				}
			}
			return r
		}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, region := range []string{"us-east-1", "eu-west-3"} {
		if r := doRaw(t, sign("POST", "/", "Action=ListUsers&Version=2010-05-08", "iam", region, false)); r.Status != 200 {
			t.Fatalf("IAM signed for %s: %d %s", region, r.Status, r.Body)
		}
	}
	if r := doRaw(t, sign("GET", "/?Action=GetCallerIdentity&Version=2011-06-15", "", "sts", "us-east-1", false)); r.Status != 200 || !strings.Contains(r.Body, "<Account>111122223333</Account>") {
		t.Fatalf("GET: %d %s", r.Status, r.Body)
	}
	if r := doRaw(t, sign("GET", "/?Action=GetCallerIdentity&Version=2011-06-15", "", "sts", "us-east-1", true)); r.Status != 200 || !strings.Contains(r.Body, "<Account>111122223333</Account>") {
		t.Fatalf("presigned GET: %d %s", r.Status, r.Body)
	}
	if r := doRaw(t, sign("POST", "/", "Action=ListUsers&Version=2010-05-08", "kms", "us-east-1", false)); r.Status != 400 || !strings.Contains(r.Body, "UnknownOperationException") {
		t.Fatalf("form POST signed for KMS: %d %s", r.Status, r.Body)
	}
	// STS answers an IAM action with InvalidAction, and the other way round.
	if r := doRaw(t, sign("POST", "/", "Action=ListUsers&Version=2011-06-15", "sts", "us-east-1", false)); r.Status != 400 || !strings.Contains(r.Body, "<Code>InvalidAction</Code>") {
		t.Fatalf("IAM action on STS: %d %s", r.Status, r.Body)
	}
}
