package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	acctA  = "111122223333" // owns the key
	acctB  = "444455556666" // an external account
	keyARN = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

var (
	rootA    = Principal{Account: acctA, ARN: "arn:aws:iam::111122223333:root", Type: TypeRoot}
	bob      = Principal{Account: acctA, ARN: "arn:aws:iam::111122223333:user/bob", Type: TypeIAMUser, UserName: "bob"}
	alice    = Principal{Account: acctA, ARN: "arn:aws:iam::111122223333:user/alice", Type: TypeIAMUser, UserName: "alice"}
	kmsAdmin = Principal{Account: acctA, ARN: "arn:aws:iam::111122223333:user/KMSAdmin", Type: TypeIAMUser, UserName: "KMSAdmin"}
	appRole  = Principal{Account: acctA, ARN: "arn:aws:sts::111122223333:assumed-role/ExampleRole/app-1",
		RoleARN: "arn:aws:iam::111122223333:role/ExampleRole", Type: TypeAssumedRole}
	otherRole = Principal{Account: acctA, ARN: "arn:aws:sts::111122223333:assumed-role/Other/s",
		RoleARN: "arn:aws:iam::111122223333:role/Other", Type: TypeAssumedRole}
	rootB    = Principal{Account: acctB, ARN: "arn:aws:iam::444455556666:root", Type: TypeRoot}
	carol    = Principal{Account: acctB, ARN: "arn:aws:iam::444455556666:user/carol", Type: TypeIAMUser, UserName: "carol"}
	bSession = Principal{Account: acctB, ARN: "arn:aws:sts::444455556666:assumed-role/Reader/r-1",
		RoleARN: "arn:aws:iam::444455556666:role/Reader", Type: TypeAssumedRole}
	logsSvc = Principal{ARN: "logs.us-west-2.amazonaws.com", Type: TypeAWSService}
)

// fixture reads a file of testdata/.
func fixture(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

var (
	fxDefault   = fixture("key-policy-default.json")
	fxConsole   = fixture("key-policy-console.json")
	fxLocked    = fixture("key-policy-locked.json")
	fxCross     = fixture("key-policy-cross-account.json")
	fxEBS       = fixture("key-policy-aws-ebs.json")
	fxEncDecAll = fixture("identity-encrypt-decrypt-account.json")
	fxDenyDel   = fixture("identity-deny-disable-delete.json")
	fxPowerUser = fixture("identity-kms-power-user.json")
)

// ctx builds a request context from key, value pairs; a key given twice
// gets two values. ctx("k") (odd length, no value) gives k an empty list.
func ctx(kv ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i < len(kv); i += 2 {
		if i+1 == len(kv) {
			m[kv[i]] = []string{}
			break
		}
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

// on is a request on the test key.
func on(p Principal, action string, c map[string][]string) Request {
	return Request{Principal: p, Action: action, Resource: keyARN, Context: c}
}

// keyless is a request of an operation without a key.
func keyless(p Principal, action string, c map[string][]string) Request {
	return Request{Principal: p, Action: action, Resource: "*", Context: c}
}

// stmt is one statement; doc wraps statements into a 2012-10-17 document.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// rootStmt is the "Enable IAM User Permissions" statement for account A.
const rootStmt = `{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`

// bobIf is a key policy that lets bob do anything with the key if cond holds.
func bobIf(cond string) string {
	return doc(`{"Sid":"BobIf","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*","Condition":` + cond + `}`)
}

// denyIf is the default key policy plus a Deny of everything when cond holds.
func denyIf(cond string) string {
	return doc(rootStmt, `{"Sid":"DenyIf","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":`+cond+`}`)
}

// allowAll is an identity policy allowing every KMS action on every key.
const allowAll = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`

// idIf is an identity policy allowing every KMS action when cond holds.
func idIf(cond string) string {
	return `{"Version":"2012-10-17","Statement":{"Sid":"IdIf","Effect":"Allow","Action":"kms:*","Resource":"*","Condition":` + cond + `}}`
}

func mustKey(t testing.TB, d string) *Policy {
	t.Helper()
	p, err := ParseKeyPolicy(d)
	if err != nil {
		t.Fatalf("ParseKeyPolicy: %v\n%s", err, d)
	}
	return p
}

func mustIdentity(t testing.TB, d string) *Policy {
	t.Helper()
	p, err := ParseIdentityPolicy(d)
	if err != nil {
		t.Fatalf("ParseIdentityPolicy: %v\n%s", err, d)
	}
	return p
}
