package policy

import "testing"

// contextFuncTests: Request.ContextFunc is called only when a condition
// or policy variable reads the context, and then once, whatever the
// number of statements and policies that read it.
var contextFuncTests = []struct {
	name   string
	policy string
	calls  int
	want   bool
}{
	{"no conditions", doc(rootStmt), 0, true},
	{"a condition", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"billing"}}}`), 1, true},
	{"two conditions", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"billing"}}}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`), 1, true},
	{"the condition fails", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"payroll"}}}`), 1, false},
}

func TestContextFunc(t *testing.T) {
	for _, tt := range contextFuncTests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			req := Request{Principal: rootA, Action: "kms:Encrypt", Resource: keyARN, ContextFunc: func() map[string][]string {
				calls++
				return ctx("kms:encryptioncontext:app", "billing", "aws:securetransport", "true")
			}}
			d := Authorize(KeyAccess{KeyAccount: acctA, KeyPolicy: mustKey(t, tt.policy)}, &req)
			if d.Allowed != tt.want || calls != tt.calls {
				t.Fatalf("allowed %v after %d calls, want %v after %d", d.Allowed, calls, tt.want, tt.calls)
			}
		})
	}
}
