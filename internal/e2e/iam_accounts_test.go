package e2e

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"strongroom/internal/testenv"
)

type createAccountResponse struct {
	Result struct {
		Account struct {
			AccountID  string `xml:"AccountId"`
			Arn        string `xml:"Arn"`
			CreateDate string `xml:"CreateDate"`
		} `xml:"Account"`
		AccessKey struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			Status          string `xml:"Status"`
			SecretAccessKey string `xml:"SecretAccessKey"`
		} `xml:"AccessKey"`
	} `xml:"CreateAccountResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type queryError struct {
	Type      string `xml:"Error>Type"`
	Code      string `xml:"Error>Code"`
	Message   string `xml:"Error>Message"`
	RequestID string `xml:"RequestId"`
}

func createAccount(t testing.TB, env *testenv.Env, creds idCreds, id string) (queryResponse, createAccountResponse) {
	t.Helper()
	form := url.Values{"Action": {"CreateAccount"}, "Version": {"2010-05-08"}}
	if id != "" {
		form.Set("AccountId", id)
	}
	r := rawQuery(t, env, &creds, "iam", form)
	var out createAccountResponse
	if r.Status == 200 {
		if err := xml.Unmarshal([]byte(r.Body), &out); err != nil {
			t.Fatalf("%v in %s", err, r.Body)
		}
	}
	return r, out
}

func wantQueryError(t testing.TB, r queryResponse, status int, code string) queryError {
	t.Helper()
	var e queryError
	if err := xml.Unmarshal([]byte(r.Body), &e); err != nil || r.Status != status || e.Code != code || e.Type != "Sender" || e.RequestID == "" {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
	if e.RequestID != r.Header.Get("X-Amzn-Requestid") {
		t.Fatalf("RequestId %q, header %q", e.RequestID, r.Header.Get("X-Amzn-Requestid"))
	}
	return e
}

func TestIAMCreateAccount(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	r, out := createAccount(t, env, rootCreds(env), "")
	if r.Status != 200 {
		t.Fatalf("CreateAccount: %d %s", r.Status, r.Body)
	}
	a, k := out.Result.Account, out.Result.AccessKey
	if len(a.AccountID) != 12 || a.AccountID == testenv.Account || a.Arn != "arn:aws:iam::"+a.AccountID+":root" ||
		k.Status != "Active" || len(k.AccessKeyID) != 20 || len(k.SecretAccessKey) != 40 || out.RequestID == "" {
		t.Fatalf("CreateAccount = %+v", out)
	}
	newRoot := idCreds{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
	id := ok[*sts.GetCallerIdentityOutput](t)(stsAs(env, newRoot).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Account != a.AccountID || *id.Arn != a.Arn {
		t.Fatalf("new root is %s %s", *id.Account, *id.Arn)
	}
	// The new account is empty and its root administers it.
	ok[*iam.CreateUserOutput](t)(iamAs(env, newRoot).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ops")}))
	if l := ok[*iam.ListUsersOutput](t)(iamAs(env, rootCreds(env)).ListUsers(ctx, &iam.ListUsersInput{})); len(l.Users) != 0 {
		t.Fatalf("the bootstrap account sees %+v", l.Users)
	}

	// Only the bootstrap account's root may create accounts.
	r, _ = createAccount(t, env, newRoot, "")
	wantQueryError(t, r, http.StatusForbidden, "AccessDenied")
	admin := newUserWithKey(t, env, "admin")
	putUserPolicy(t, env, "admin", "all", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	r, _ = createAccount(t, env, admin, "")
	wantQueryError(t, r, http.StatusForbidden, "AccessDenied")

	// A chosen id; taken ids and malformed ids are refused.
	r, out = createAccount(t, env, rootCreds(env), "777788889999")
	if r.Status != 200 || out.Result.Account.AccountID != "777788889999" {
		t.Fatalf("CreateAccount 777788889999: %d %s", r.Status, r.Body)
	}
	r, _ = createAccount(t, env, rootCreds(env), "777788889999")
	wantQueryError(t, r, http.StatusConflict, "EntityAlreadyExists")
	r, _ = createAccount(t, env, rootCreds(env), testenv.Account)
	wantQueryError(t, r, http.StatusConflict, "EntityAlreadyExists")
	r, _ = createAccount(t, env, rootCreds(env), "12345")
	wantQueryError(t, r, http.StatusBadRequest, "ValidationError")
}
