package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"strongroom/internal/testenv"
)

// Calls that never reach kms.Service.Invoke — requests refused before the
// core, IAM and STS calls — are recorded too: one record each.

// callRecord is what one call must leave in the trail.
type callRecord struct {
	source, name string
	principal    string // userIdentity.type; "" for an unknown access key
	user         string // userIdentity.userName
	account      string // userIdentity.accountId
	accessKeyID  string // userIdentity.accessKeyId, when known
	errorCode    string
}

// once returns a configuration for creds that sends every call once, so
// that a refused call is one request (and one record).
func once(env *testenv.Env, creds idCreds) aws.Config {
	cfg := idConfig(env, creds, testenv.Region)
	cfg.RetryMaxAttempts = 1
	return cfg
}

// codeOf returns the AWS error code of err, failing unless it is one.
func codeOf(t testing.TB, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an AWS error", err)
	}
	return ae.ErrorCode()
}

// TestAuditCallsOutsideTheCore drives refused KMS requests (a bad
// signature, an unknown access key, an unknown target, a body over the
// limit), IAM calls (allowed, denied, with a bad signature) and STS calls
// (AssumeRole, GetCallerIdentity with the session, then with it expired)
// and checks that each left exactly one record with the right source,
// name, error code and principal, that no record holds a secret access
// key or session token, and that the export verifies.
func TestAuditCallsOutsideTheCore(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := rootCreds(env)
	before := len(records(t, exportTrail(t, env, root)))
	const (
		kmsSrc = "kms.amazonaws.com"
		iamSrc = "iam.amazonaws.com"
		stsSrc = "sts.amazonaws.com"
		ctSrc  = "cloudtrail.amazonaws.com"
	)
	acct := testenv.Account
	var want []callRecord
	secrets := map[string][]byte{"root secret key": []byte(root.SecretAccessKey)}

	// KMS refused before the core.
	badSig := idCreds{AccessKeyID: root.AccessKeyID, SecretAccessKey: "not-the-secret-0123456789abcdefghijklmn"}
	_, err := kms.NewFromConfig(once(env, badSig)).ListKeys(ctx, &kms.ListKeysInput{})
	want = append(want, callRecord{kmsSrc, "ListKeys", "Root", "", acct, root.AccessKeyID, codeOf(t, err)})
	if want[len(want)-1].errorCode != "InvalidSignatureException" {
		t.Fatalf("bad signature: %v", err)
	}

	unknown := idCreds{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "whatever-0123456789abcdefghijklmnopqrstu"}
	_, err = kms.NewFromConfig(once(env, unknown)).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/x")})
	want = append(want, callRecord{kmsSrc, "DescribeKey", "", "", "", unknown.AccessKeyID, codeOf(t, err)})
	if want[len(want)-1].errorCode != "UnrecognizedClientException" {
		t.Fatalf("unknown access key: %v", err)
	}

	r := raw(t, env, rawRequest{Target: "TrentService.NoSuchOperation", Body: []byte(`{"Plaintext":"c2VjcmV0LWluLWFuLXVua25vd24tb3A="}`)})
	if code, _ := r.errorBody(t); code != "UnknownOperationException" {
		t.Fatalf("unknown target: %d %s", r.Status, r.Body)
	}
	want = append(want, callRecord{kmsSrc, "NoSuchOperation", "Root", "", acct, root.AccessKeyID, "UnknownOperationException"})
	secrets["an unknown operation's body"] = []byte("secret-in-an-unknown-op")

	big := append([]byte(`{"Limit":10,"Marker":"`), bytes.Repeat([]byte("A"), 300<<10)...)
	big = append(big, `"}`...)
	r = raw(t, env, rawRequest{Target: "TrentService.ListKeys", Body: big})
	if code, _ := r.errorBody(t); r.Status != http.StatusRequestEntityTooLarge || code != "ValidationException" {
		t.Fatalf("oversized body: %d %s", r.Status, r.Body)
	}
	// The body was not read to its end: the caller is only claimed.
	want = append(want, callRecord{kmsSrc, "ListKeys", "", "", "", root.AccessKeyID, "ValidationException"})

	// IAM, allowed.
	rootIAM := iam.NewFromConfig(once(env, root))
	must[*iam.CreateUserOutput](t)(rootIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dave")}))
	want = append(want, callRecord{iamSrc, "CreateUser", "Root", "", acct, root.AccessKeyID, ""})
	k := must[*iam.CreateAccessKeyOutput](t)(rootIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dave")}))
	want = append(want, callRecord{iamSrc, "CreateAccessKey", "Root", "", acct, root.AccessKeyID, ""})
	dave := idCreds{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
	secrets["dave's secret key"] = []byte(dave.SecretAccessKey)
	policy := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`
	must[*iam.PutUserPolicyOutput](t)(rootIAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dave"), PolicyName: aws.String("assume"), PolicyDocument: aws.String(policy)}))
	want = append(want, callRecord{iamSrc, "PutUserPolicy", "Root", "", acct, root.AccessKeyID, ""})
	must[*iam.CreateRoleOutput](t)(rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("auditor"), AssumeRolePolicyDocument: aws.String(trustAccount(acct))}))
	want = append(want, callRecord{iamSrc, "CreateRole", "Root", "", acct, root.AccessKeyID, ""})

	// IAM, denied, and with a bad signature.
	_, err = iam.NewFromConfig(once(env, dave)).ListUsers(ctx, &iam.ListUsersInput{})
	want = append(want, callRecord{iamSrc, "ListUsers", "IAMUser", "dave", acct, dave.AccessKeyID, codeOf(t, err)})
	if want[len(want)-1].errorCode != "AccessDenied" {
		t.Fatalf("dave's ListUsers: %v", err)
	}
	_, err = iam.NewFromConfig(once(env, idCreds{AccessKeyID: dave.AccessKeyID, SecretAccessKey: badSig.SecretAccessKey})).GetUser(ctx, &iam.GetUserInput{})
	want = append(want, callRecord{iamSrc, "GetUser", "IAMUser", "dave", acct, dave.AccessKeyID, codeOf(t, err)})
	if want[len(want)-1].errorCode != "SignatureDoesNotMatch" {
		t.Fatalf("dave's GetUser with a bad signature: %v", err)
	}

	// STS.
	ar := must[*sts.AssumeRoleOutput](t)(sts.NewFromConfig(once(env, dave)).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN(acct, "auditor")), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(900)}))
	want = append(want, callRecord{stsSrc, "AssumeRole", "IAMUser", "dave", acct, dave.AccessKeyID, ""})
	session := sessionCreds(ar.Credentials)
	secrets["the session's secret key"] = []byte(session.SecretAccessKey)
	secrets["the session token"] = []byte(session.SessionToken)
	id := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(once(env, session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	want = append(want, callRecord{stsSrc, "GetCallerIdentity", "AssumedRole", "", acct, session.AccessKeyID, ""})

	// CloudTrail refused before the core.
	_, err = cloudtrail.NewFromConfig(once(env, badSig)).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	want = append(want, callRecord{ctSrc, "LookupEvents", "Root", "", acct, root.AccessKeyID, codeOf(t, err)})

	// An expired session: the token is checked before its principal is
	// known, so only the access key id is recorded.
	env.Clock.Advance(time.Hour)
	_, err = sts.NewFromConfig(once(env, session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	want = append(want, callRecord{stsSrc, "GetCallerIdentity", "", "", "", session.AccessKeyID, codeOf(t, err)})
	if want[len(want)-1].errorCode != "ExpiredToken" {
		t.Fatalf("an expired session: %v", err)
	}

	export := exportTrail(t, env, root)
	verifyExport(t, export)
	var got []trailRecord
	for _, rec := range records(t, export)[before:] {
		if rec.Event.EventName != "ExportAuditTrail" {
			got = append(got, rec)
		}
	}
	if len(got) != len(want) {
		for _, rec := range got {
			t.Logf("record %d: %s %s by %q %s", rec.Seq, rec.Event.EventSource, rec.Event.EventName, rec.Event.UserIdentity.Type, rec.Event.ErrorCode)
		}
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		e := got[i].Event
		u := e.UserIdentity
		if e.EventSource != w.source || e.EventName != w.name || e.ErrorCode != w.errorCode ||
			u.Type != w.principal || u.UserName != w.user || u.AccountID != w.account || u.AccessKeyID != w.accessKeyID {
			t.Errorf("record %d = %s %s by %q/%q account %q key %q error %q\nwant %+v\n%s", i, e.EventSource, e.EventName,
				u.Type, u.UserName, u.AccountID, u.AccessKeyID, e.ErrorCode, w, got[i].Raw)
		}
		if w.principal == "" && (u.ARN != "" || u.PrincipalID != "" || e.RecipientAccountID != "") {
			t.Errorf("record %d (%s) names a principal it does not know: %s", i, w.name, got[i].Raw)
		}
		if w.errorCode != "" && (e.RequestParameters != nil || e.ResponseElements != nil) {
			t.Errorf("record %d (%s) of a refused call keeps parameters: %s", i, w.name, got[i].Raw)
		}
		if e.EventType != "AwsApiCall" || e.EventID == "" || e.RequestID == "" || e.AWSRegion != testenv.Region {
			t.Errorf("record %d (%s) lacks CloudTrail fields: %s", i, w.name, got[i].Raw)
		}
	}

	// What the IAM and STS records keep, as CloudTrail does.
	byName := func(name string) trailRecord {
		for _, rec := range got {
			if rec.Event.EventName == name && rec.Event.ErrorCode == "" {
				return rec
			}
		}
		t.Fatalf("no record of %s", name)
		return trailRecord{}
	}
	member := func(m map[string]any, name string) map[string]any { v, _ := m[name].(map[string]any); return v }
	if rec := byName("CreateAccessKey"); rec.Event.RequestParameters["userName"] != "dave" || rec.Event.ReadOnly ||
		fmt.Sprint(member(rec.Event.ResponseElements, "accessKey")) != fmt.Sprintf("map[accessKeyId:%s createDate:%s status:Active userName:dave]", dave.AccessKeyID, k.AccessKey.CreateDate.UTC().Format(time.RFC3339)) {
		t.Errorf("CreateAccessKey's record: %s", rec.Raw)
	}
	if rec := byName("PutUserPolicy"); rec.Event.RequestParameters["policyDocument"] != policy || rec.Event.RequestParameters["policyName"] != "assume" {
		t.Errorf("PutUserPolicy's record: %s", rec.Raw)
	}
	if rec := byName("AssumeRole"); rec.Event.RequestParameters["roleArn"] != roleARN(acct, "auditor") || rec.Event.RequestParameters["durationSeconds"] != float64(900) ||
		fmt.Sprint(member(rec.Event.ResponseElements, "credentials")) != fmt.Sprintf("map[accessKeyId:%s expiration:%s]", session.AccessKeyID, ar.Credentials.Expiration.UTC().Format(time.RFC3339)) ||
		member(rec.Event.ResponseElements, "assumedRoleUser")["arn"] != aws.ToString(ar.AssumedRoleUser.Arn) || !rec.Event.ReadOnly {
		t.Errorf("AssumeRole's record: %s", rec.Raw)
	}
	if rec := byName("GetCallerIdentity"); rec.Event.UserIdentity.ARN != aws.ToString(id.Arn) || rec.Event.RequestParameters != nil {
		t.Errorf("GetCallerIdentity's record: %s", rec.Raw)
	}

	// No secret access key or session token anywhere in the trail, nor
	// the body of a request that was refused.
	mustNotContain(t, "the exported trail", export, secrets)

	// The account's root finds its IAM and STS events with LookupEvents.
	ct := cloudTrailAs(env, root)
	for _, c := range []struct{ name, source string }{{"CreateUser", iamSrc}, {"AssumeRole", stsSrc}} {
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(c.name)}}})
		if err != nil || len(out.Events) != 1 || aws.ToString(out.Events[0].EventSource) != c.source {
			t.Errorf("LookupEvents %s: %v %+v", c.name, err, out)
		}
	}
}

// TestAuditRefusalsWithoutTarget: requests with no operation at all (a
// POST without X-Amz-Target, another path) are recorded too, without a
// name, and still answered as before.
func TestAuditRefusalsWithoutTarget(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := rootCreds(env)
	before := len(records(t, exportTrail(t, env, root)))
	r := raw(t, env, rawRequest{Body: []byte(`{}`)})
	if code, _ := r.errorBody(t); code != "UnknownOperationException" {
		t.Fatalf("no target: %d %s", r.Status, r.Body)
	}
	r = raw(t, env, rawRequest{Target: "Nonsense.Op", Body: []byte(`{}`)})
	if code, _ := r.errorBody(t); code != "UnknownOperationException" {
		t.Fatalf("unknown target: %d %s", r.Status, r.Body)
	}
	var got []trailRecord
	for _, rec := range records(t, exportTrail(t, env, root))[before:] {
		if rec.Event.EventName != "ExportAuditTrail" {
			got = append(got, rec)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	// Both are signed for kms by the root: its principal is named.
	for i, name := range []string{"", "Nonsense.Op"} {
		e := got[i].Event
		if e.EventName != name || e.ErrorCode != "UnknownOperationException" || e.EventSource != "kms.amazonaws.com" ||
			e.UserIdentity.Type != "Root" || e.UserIdentity.AccessKeyID != root.AccessKeyID {
			t.Errorf("record %d: %s", i, got[i].Raw)
		}
	}
}
