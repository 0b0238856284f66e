package policy

import (
	"fmt"
	"testing"
)

// benchPolicy is a 20-statement key policy in the shape real ones take:
// the root statement, administrators, users, grants, and Deny guards, most
// with conditions.
func benchPolicy() string {
	stmts := []string{rootStmt}
	for i := 0; i < 19; i++ {
		var s string
		switch i % 5 {
		case 0:
			s = fmt.Sprintf(`{"Sid":"Users%d","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/App%d","arn:aws:iam::111122223333:user/u%d"]},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"app-%d"},"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["app","tenant*"]}}}`, i, i, i, i)
		case 1:
			s = fmt.Sprintf(`{"Sid":"Grants%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App%d"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}`, i, i)
		case 2:
			s = fmt.Sprintf(`{"Sid":"DenyNet%d","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["172.16.%d.0/24","10.0.0.0/8","192.0.2.0/24","2001:db8::/32"]},"StringNotEqualsIfExists":{"kms:ViaService":"s3.us-west-2.amazonaws.com"}}}`, i, i)
		case 3:
			s = fmt.Sprintf(`{"Sid":"Admins%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin%d"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*"],"Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}`, i, i)
		case 4:
			s = fmt.Sprintf(`{"Sid":"Owner%d","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:EncryptionContext:owner":"${aws:username}"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/team%d/*"}}}`, i, i)
		}
		stmts = append(stmts, s)
	}
	return doc(stmts...)
}

func BenchmarkEvaluate(b *testing.B) {
	p := mustKey(b, benchPolicy())
	if n := len(p.stmts); n != 20 {
		b.Fatalf("%d statements", n)
	}
	req := on(Principal{Account: acctA, ARN: "arn:aws:sts::111122223333:assumed-role/App15/s", RoleARN: "arn:aws:iam::111122223333:role/App15", Type: TypeAssumedRole},
		"kms:Decrypt", ctx("kms:encryptioncontext:app", "app-15", "kms:encryptioncontextkeys", "app", "kms:encryptioncontextkeys", "tenant-id",
			"aws:sourceip", "10.17.3.4", "aws:currenttime", "2026-05-31T12:00:00Z", "aws:securetransport", "true"))
	if got := p.Evaluate(&req); got != Allow {
		b.Fatalf("Evaluate = %v, want Allow", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(&req)
	}
}

func BenchmarkAuthorize(b *testing.B) {
	a := KeyAccess{KeyAccount: acctA, KeyPolicy: mustKey(b, benchPolicy()), IdentityPolicies: []*Policy{mustIdentity(b, fxEncDecAll), mustIdentity(b, fxDenyDel)}}
	req := on(bob, "kms:Decrypt", ctx("aws:sourceip", "192.0.2.1", "aws:currenttime", "2026-05-31T12:00:00Z"))
	if d := Authorize(a, &req); !d.Allowed {
		b.Fatalf("denied: %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Authorize(a, &req)
	}
}

func BenchmarkParseKeyPolicy(b *testing.B) {
	d := benchPolicy()
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseKeyPolicy(d); err != nil {
			b.Fatal(err)
		}
	}
}
