package identity

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"strongroom/internal/policy"
)

var trustPolicyCases = []struct {
	name string
	doc  string
	code string // "" when accepted
}{
	{"account root", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}`, ""},
	{"statement list with a condition", `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:user/bob"]},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}`, ""},
	{"service principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`, ""},
	{"Resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}`, CodeMalformedPolicyDocument},
	{"NotResource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","NotResource":"*"}]}`, CodeMalformedPolicyDocument},
	{"no principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, CodeMalformedPolicyDocument},
	{"duplicate member deep inside", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"1","AWS":"111122223333"},"Action":"sts:AssumeRole"}}`, CodeMalformedPolicyDocument},
	{"duplicate top-level member", `{"Version":"2012-10-17","Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`, CodeMalformedPolicyDocument},
	{"not an object", `[]`, CodeMalformedPolicyDocument},
	{"truncated", `{"Version":"2012-10-17","Statement":{`, CodeMalformedPolicyDocument},
	{"statement not an object", `{"Version":"2012-10-17","Statement":[1]}`, CodeMalformedPolicyDocument},
	{"empty", ``, CodeValidationError},
	{"control character", "{\"Version\":\"2012-10-17\",\x01}", CodeMalformedPolicyDocument},
	{"over the quota", `{"Version":"2012-10-17","Statement":{"Sid":"` + strings.Repeat("a", 2100) + `","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`, CodeLimitExceeded},
}

func TestParseTrustPolicy(t *testing.T) {
	for _, tc := range trustPolicyCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTrustPolicy(tc.doc)
			if tc.code == "" {
				if err != nil || p == nil || p.Kind() != policy.KindKey {
					t.Fatalf("got %v, %v", p, err)
				}
				return
			}
			e, ok := AsError(err)
			if !ok || e.Code != tc.code || e.Message == "" {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

// TestTrustPolicyEvaluation: the derived Resource "*" matches the role,
// and a trust policy is a resource policy to the engine.
func TestTrustPolicyEvaluation(t *testing.T) {
	p, err := ParseTrustPolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}}`)
	if err != nil {
		t.Fatal(err)
	}
	bob := Principal{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/bob", Type: TypeIAMUser, Name: "bob"}
	req := &policy.Request{Principal: bob.ForPolicy(), Action: "sts:AssumeRole", Resource: "arn:aws:iam::111122223333:role/r"}
	if got := p.Evaluate(req); got != policy.Allow {
		t.Fatalf("bob: %v", got)
	}
	req.Principal.ARN = "arn:aws:iam::111122223333:user/eve"
	if got := p.Evaluate(req); got != policy.NoMatch {
		t.Fatalf("eve: %v", got)
	}
}

func TestPageNames(t *testing.T) {
	names := []string{"c", "a", "d", "b"}
	got, next := pageNames(slices.Clone(names), "", 3)
	if !slices.Equal(got, []string{"a", "b", "c"}) || next != "c" {
		t.Fatalf("page 1 = %v %q", got, next)
	}
	got, next = pageNames(slices.Clone(names), next, 3)
	if !slices.Equal(got, []string{"d"}) || next != "" {
		t.Fatalf("page 2 = %v %q", got, next)
	}
	got, next = pageNames(slices.Clone(names), "bb", 10)
	if !slices.Equal(got, []string{"c", "d"}) || next != "" {
		t.Fatalf("after a marker between names = %v %q", got, next)
	}
}

// TestSecretsNeverPrinted: the types that carry a secret print REDACTED in
// every format and log encoding.
func TestSecretsNeverPrinted(t *testing.T) {
	const secret, token = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSIONTOKENSESSIONTOKEN"
	values := []any{
		AccessKey{Account: "111122223333", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: secret, Status: StatusActive},
		SessionCredentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: secret, SessionToken: token, Expiration: time.Unix(0, 0)},
		AssumedRole{Credentials: SessionCredentials{SecretAccessKey: secret, SessionToken: token}},
	}
	for _, v := range values {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s", v, v, v, v), buf.String()} {
			if strings.Contains(s, secret) || strings.Contains(s, token) {
				t.Fatalf("%T printed a secret: %s", v, s)
			}
		}
	}
}

func TestErrorsAreClientErrors(t *testing.T) {
	err := error(errNoSuchUser("bob"))
	wrapped := fmt.Errorf("ctx: %w", err)
	e, ok := AsError(wrapped)
	if !ok || e.Code != CodeNoSuchEntity || e.Status != 404 || !errors.Is(wrapped, err) {
		t.Fatalf("AsError = %+v %v", e, ok)
	}
	for code, status := range map[string]int{CodeEntityAlreadyExists: 409, CodeDeleteConflict: 409, CodeLimitExceeded: 409,
		CodeAccessDenied: 403, CodeMalformedPolicyDocument: 400, CodeValidationError: 400} {
		if got := newError(code, "m").Status; got != status {
			t.Errorf("%s: status %d, want %d", code, got, status)
		}
	}
}
