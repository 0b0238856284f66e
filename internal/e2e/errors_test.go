package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/app"
	"strongroom/internal/testenv"
)

// The protocol's failure paths, over raw HTTP where the SDK would refuse to
// send the request: SigV4 failures, unknown operations, malformed bodies,
// missing fields, oversized bodies. Every response must carry
// x-amzn-RequestId and, on error, {"__type","message"}; none may be a 5xx
// (raw checks all of that on every response).

func TestSigV4FailuresThroughTheSDK(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	cases := []struct {
		name  string
		creds app.Credentials
		code  string
	}{
		{"wrong secret", app.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey + "x"}, "InvalidSignatureException"},
		{"unknown access key", app.NewCredentials(), "UnrecognizedClientException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := env.KMSAs(tc.creds, testenv.Region)
			_, err := c.ListKeys(ctx, &kms.ListKeysInput{})
			wantCode(t, err, tc.code)
			_, err = c.CreateKey(ctx, &kms.CreateKeyInput{})
			wantCode(t, err, tc.code)
		})
	}
	// Nothing was created by the refused calls.
	if n := len(must[*kms.ListKeysOutput](t)(env.KMS().ListKeys(ctx, &kms.ListKeysInput{})).Keys); n != 0 {
		t.Errorf("unauthenticated CreateKey calls created %d keys", n)
	}
}

func TestSigV4FailuresRaw(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	body := []byte(`{}`)
	cases := []struct {
		name string
		req  rawRequest
		code string
		msg  string // substring of the message, if AWS's is fixed
	}{
		{"no authentication at all", rawRequest{Unsigned: true}, "MissingAuthenticationTokenException", ""},
		{"signed 20 minutes ago", rawRequest{SigningTime: time.Now().Add(-20 * time.Minute)}, "InvalidSignatureException", "Signature expired"},
		{"signed 20 minutes ahead", rawRequest{SigningTime: time.Now().Add(20 * time.Minute)}, "InvalidSignatureException", "Signature not yet current"},
		{"body changed after signing", rawRequest{Mutate: func(r *http.Request) {
			b := []byte(`{"Limit":1}`)
			r.Body = readCloser(b)
			r.ContentLength = int64(len(b))
		}}, "InvalidSignatureException", ""},
		{"target changed after signing", rawRequest{Mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "TrentService.ListAliases")
		}}, "InvalidSignatureException", ""},
		{"service in scope is not kms", rawRequest{Mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/kms/aws4_request", "/s3/aws4_request", 1))
		}}, "InvalidSignatureException", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Target = "TrentService.ListKeys"
			tc.req.Body = body
			resp := raw(t, env, tc.req)
			if resp.Status < 400 || resp.Status > 499 {
				t.Fatalf("status %d, want 4xx: %s", resp.Status, resp.Body)
			}
			code, msg := resp.errorBody(t)
			if code != tc.code {
				t.Errorf("__type = %s, want %s (message %q)", code, tc.code, msg)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not contain %q", msg, tc.msg)
			}
		})
	}
	t.Run("the request is signed for another region", func(t *testing.T) {
		// Valid, and scoped to that region: the key is not visible there.
		id := aws.ToString(newKey(t, env.KMS(), "").KeyId)
		resp := raw(t, env, rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`{"KeyId":"` + id + `"}`), Region: "ap-south-1"})
		if code, _ := resp.errorBody(t); code != "NotFoundException" {
			t.Errorf("DescribeKey signed for ap-south-1 = %s", code)
		}
	})
}

func readCloser(b []byte) *nopCloser { return &nopCloser{bytes.NewReader(b)} }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func TestProtocolErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	id := aws.ToString(newKey(t, env.KMS(), "").KeyId)
	cases := []struct {
		name   string
		req    rawRequest
		status int    // 0: any 4xx
		code   string // "" with status 200: success
	}{
		{"unknown operation", rawRequest{Target: "TrentService.NoSuchOperation", Body: []byte(`{}`)}, 400, "UnknownOperationException"},
		{"unknown service prefix", rawRequest{Target: "DynamoDB_20120810.ListTables", Body: []byte(`{}`)}, 400, "UnknownOperationException"},
		{"operation name in the wrong case", rawRequest{Target: "TrentService.listkeys", Body: []byte(`{}`)}, 400, "UnknownOperationException"},
		{"no X-Amz-Target", rawRequest{Body: []byte(`{}`)}, 0, ""},
		{"GET instead of POST", rawRequest{Method: http.MethodGet, Target: "TrentService.ListKeys"}, 0, ""},
		{"malformed JSON", rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`{"KeyId": "` + id)}, 400, "SerializationException"},
		{"JSON that is not an object", rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`["KeyId"]`)}, 400, "SerializationException"},
		{"string where a number belongs", rawRequest{Target: "TrentService.ListKeys", Body: []byte(`{"Limit":"10"}`)}, 400, "SerializationException"},
		{"number where a string belongs", rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`{"KeyId":12}`)}, 400, "SerializationException"},
		{"object where a map of strings belongs", rawRequest{Target: "TrentService.Encrypt", Body: []byte(`{"KeyId":"` + id + `","Plaintext":"eA==","EncryptionContext":{"a":{"b":"c"}}}`)}, 400, "SerializationException"},
		{"blob that is not base64", rawRequest{Target: "TrentService.Encrypt", Body: []byte(`{"KeyId":"` + id + `","Plaintext":"not base64!"}`)}, 400, "SerializationException"},
		{"boolean that is a string", rawRequest{Target: "TrentService.Encrypt", Body: []byte(`{"KeyId":"` + id + `","Plaintext":"eA==","DryRun":"yes"}`)}, 400, "SerializationException"},
		{"missing KeyId", rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`{}`)}, 400, "ValidationException"},
		{"empty KeyId", rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`{"KeyId":""}`)}, 400, "ValidationException"},
		{"null KeyId", rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`{"KeyId":null}`)}, 400, "ValidationException"},
		{"missing Plaintext", rawRequest{Target: "TrentService.Encrypt", Body: []byte(`{"KeyId":"` + id + `"}`)}, 400, "ValidationException"},
		{"missing KeyId on Encrypt", rawRequest{Target: "TrentService.Encrypt", Body: []byte(`{"Plaintext":"eA=="}`)}, 400, "ValidationException"},
		{"missing DestinationKeyId", rawRequest{Target: "TrentService.ReEncrypt", Body: []byte(`{"CiphertextBlob":"eA=="}`)}, 400, ""},
		{"missing AliasName", rawRequest{Target: "TrentService.CreateAlias", Body: []byte(`{"TargetKeyId":"` + id + `"}`)}, 400, "ValidationException"},
		{"missing TargetKeyId", rawRequest{Target: "TrentService.CreateAlias", Body: []byte(`{"AliasName":"alias/x"}`)}, 400, "ValidationException"},
		{"unknown fields are ignored", rawRequest{Target: "TrentService.DescribeKey", Body: []byte(`{"KeyId":"` + id + `","NoSuchField":{"x":[1,2]}}`)}, 200, ""},
		{"empty body is an empty object", rawRequest{Target: "TrentService.ListKeys"}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := raw(t, env, tc.req)
			switch {
			case tc.status == 200:
				if resp.Status != 200 {
					t.Fatalf("status %d, want 200: %s", resp.Status, resp.Body)
				}
				return
			case tc.status != 0 && resp.Status != tc.status:
				t.Errorf("status %d, want %d", resp.Status, tc.status)
			case resp.Status < 400 || resp.Status > 499:
				t.Fatalf("status %d, want 4xx", resp.Status)
			}
			code, msg := resp.errorBody(t)
			if tc.code != "" && code != tc.code {
				t.Errorf("__type = %s, want %s (message %q)", code, tc.code, msg)
			}
			if msg == "" {
				t.Error("empty error message")
			}
		})
	}
}

func TestOversizedBodies(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	cases := []struct {
		name string
		op   string
		size int
	}{
		{"CreateKey with a 1 MiB description", "CreateKey", 1 << 20},
		{"Encrypt with a 3 MiB body", "Encrypt", 3 << 20},
		{"Decrypt with a 3 MiB body", "Decrypt", 3 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"Description":"` + strings.Repeat("a", tc.size) + `"}`)
			resp := raw(t, env, rawRequest{Target: "TrentService." + tc.op, Body: body})
			if resp.Status < 400 || resp.Status > 499 {
				t.Fatalf("status %d, want 4xx", resp.Status)
			}
		})
	}
	if n := len(must[*kms.ListKeysOutput](t)(env.KMS().ListKeys(ctx, &kms.ListKeysInput{})).Keys); n != 0 {
		t.Errorf("an oversized CreateKey created %d keys", n)
	}
}

// TestGarbageNeverFails5xx sends awkward but well-formed bodies to every
// foundation operation: whatever the answer, it must be 200 or a 4xx with
// an AWS-shaped error, never a panic or a 500.
func TestGarbageNeverFails5xx(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.TagResourceOutput](t)(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{tag("a", "b"), tag("c", "d")}}))
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/garbage"), TargetKeyId: aws.String(id)}))
	ops := []string{
		"CreateKey", "DescribeKey", "ListKeys", "EnableKey", "DisableKey", "ScheduleKeyDeletion",
		"CancelKeyDeletion", "UpdateKeyDescription", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey",
		"GenerateDataKeyWithoutPlaintext", "GenerateRandom", "CreateAlias", "UpdateAlias", "DeleteAlias",
		"ListAliases", "TagResource", "UntagResource", "ListResourceTags", "GetKeyPolicy", "ListKeyPolicies",
	}
	bodies := []string{
		`{}`, `null`, `[]`, `"string"`, `0`,
		`{"KeyId":null,"Limit":null,"Marker":null}`,
		`{"KeyId":"` + id + `","Limit":0}`,
		`{"KeyId":"` + id + `","Limit":-1}`,
		`{"KeyId":"` + id + `","Limit":2147483647}`,
		`{"KeyId":"` + id + `","Limit":1,"Marker":"zzzz"}`,
		`{"KeyId":"` + id + `","Marker":""}`,
		`{"KeyId":"alias/garbage","NumberOfBytes":-2147483648}`,
		`{"KeyId":"` + id + `","NumberOfBytes":4294967296}`,
		`{"KeyId":"` + id + `","PendingWindowInDays":-1}`,
		`{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/","Plaintext":"eA=="}`,
		`{"KeyId":"arn:aws:kms:::","CiphertextBlob":"AA=="}`,
		`{"KeyId":"arn:","DestinationKeyId":"arn:aws:kms:us-east-1:111122223333:alias/","CiphertextBlob":"AQ=="}`,
		`{"KeyId":"` + id + `","Tags":[{}],"TagKeys":[""]}`,
		`{"KeyId":"` + id + `","Tags":[{"TagKey":"","TagValue":""}]}`,
		`{"AliasName":"alias/garbage","TargetKeyId":"alias/garbage"}`,
		`{"AliasName":"","TargetKeyId":""}`,
		`{"KeyId":"` + id + `","Policy":"","PolicyName":""}`,
		`{"KeyId":"` + id + `","EncryptionContext":{"":""},"Plaintext":"","KeySpec":""}`,
		`{"KeyId":"` + strings.Repeat("k", 5000) + `"}`,
		`{"KeyId":"\u0000\ud800"}`,
	}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			for _, b := range bodies {
				resp := raw(t, env, rawRequest{Target: "TrentService." + op, Body: []byte(b)})
				if resp.Status != 200 && (resp.Status < 400 || resp.Status > 499) {
					t.Errorf("body %.80s: status %d", b, resp.Status)
				}
				if resp.Status == 200 && !json.Valid(resp.Body) {
					t.Errorf("body %.80s: 200 with invalid JSON %q", b, resp.Body)
				}
			}
		})
	}
}

func TestRequestIDs(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	seen := map[string]bool{}
	for _, req := range []rawRequest{
		{Target: "TrentService.ListKeys", Body: []byte(`{}`)},
		{Target: "TrentService.ListKeys", Body: []byte(`{}`)},
		{Target: "TrentService.Nope", Body: []byte(`{}`)},
		{Target: "TrentService.ListKeys", Unsigned: true},
	} {
		resp := raw(t, env, req)
		rid := resp.Header.Get("x-amzn-RequestId")
		if seen[rid] {
			t.Errorf("request id %s reused", rid)
		}
		seen[rid] = true
	}
	// The SDK reads it too.
	_, err := env.KMS().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(unknownKey)})
	var rid interface{ ServiceRequestID() string }
	if !errors.As(err, &rid) || rid.ServiceRequestID() == "" {
		t.Errorf("the SDK found no request id on an error: %v", err)
	}
}

// TestMemberNamesAreCaseSensitive checks that JSON member names match AWS's
// exactly: a member in another case is an unknown member, ignored.
func TestMemberNamesAreCaseSensitive(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)

	t.Run("keyid is not KeyId", func(t *testing.T) {
		resp := rawJSON(t, env, "DescribeKey", map[string]string{"keyid": id})
		if code, _ := resp.errorBody(t); resp.Status != 400 || code != "ValidationException" {
			t.Errorf("DescribeKey with only \"keyid\": status %d, %s; want 400 ValidationException", resp.Status, code)
		}
	})
	t.Run("description is not Description", func(t *testing.T) {
		resp := rawJSON(t, env, "CreateKey", map[string]string{"description": "lower", "Description": "Upper"})
		var out struct{ KeyMetadata struct{ Description string } }
		if resp.Status != 200 || json.Unmarshal(resp.Body, &out) != nil {
			t.Fatalf("CreateKey: %d %s", resp.Status, resp.Body)
		}
		if out.KeyMetadata.Description != "Upper" {
			t.Errorf("Description = %q, want the exactly named member's \"Upper\"", out.KeyMetadata.Description)
		}
	})
	t.Run("nested members too", func(t *testing.T) {
		body := `{"Tags":[{"TagKey":"team","tagvalue":"ignored","TagValue":"kept"},{"TagKey":"env","tagValue":"ignored","TagValue":""}]}`
		resp := raw(t, env, rawRequest{Target: "TrentService.CreateKey", Body: []byte(body)})
		var out struct{ KeyMetadata struct{ KeyId string } }
		if resp.Status != 200 || json.Unmarshal(resp.Body, &out) != nil {
			t.Fatalf("CreateKey: %d %s", resp.Status, resp.Body)
		}
		got := listTags(t, c, out.KeyMetadata.KeyId)
		if len(got) != 2 || got["team"] != "kept" || got["env"] != "" {
			t.Errorf("tags = %v, want team=kept, env=\"\"", got)
		}
	})
}

// TestUnsignedPayloadIsRefused: a KMS request signed with
// X-Amz-Content-Sha256: UNSIGNED-PAYLOAD has a signature that does not cover
// its body (sigv4.Auth.UnsignedPayload says callers that need an
// authenticated body must refuse it), so anyone on the path could rewrite
// the body of a signed request.
func TestUnsignedPayloadIsRefused(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	resp := raw(t, env, rawRequest{Target: "TrentService.CreateKey", Body: []byte(`{"Description":"rewritten in transit"}`), Unsigned: true,
		Mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey},
				r, "UNSIGNED-PAYLOAD", "kms", testenv.Region, time.Now())
			if err != nil {
				t.Fatal(err)
			}
		}})
	if resp.Status < 400 || resp.Status > 499 {
		t.Fatalf("status %d: a request whose body is not signed was served: %s", resp.Status, resp.Body)
	}
	if code, _ := resp.errorBody(t); code != "InvalidSignatureException" && code != "IncompleteSignatureException" {
		t.Errorf("__type = %s, want a signature error", code)
	}
}
