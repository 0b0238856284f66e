package policy

import "testing"

// FuzzParse feeds arbitrary documents to both parsers: they must never
// panic, and whatever they accept must evaluate and authorize without
// panicking, deterministically, against a spread of requests.
func FuzzParse(f *testing.F) {
	for _, d := range []string{fxDefault, fxConsole, fxLocked, fxCross, fxEBS, fxEncDecAll, fxDenyDel, fxPowerUser, everyOperatorPolicy,
		bobIf(`{"StringLike":{"kms:EncryptionContext:glob":"a${*}${aws:username, 'x'}*?"}}`),
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"NotAction":"kms:Decrypt","NotResource":"arn:aws:kms:*:111122223333:key/*"}}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:${aws:PrincipalAccount}:key/*"}]}`,
		`{}`, `[]`, `{"Statement":[]}`, `{"Statement":{"Effect":"Allow"}}`} {
		f.Add(d)
	}
	reqs := []Request{
		on(rootA, "kms:Encrypt", nil),
		on(bob, "kms:Decrypt", ctx("kms:encryptioncontext:glob", "a*bob", "aws:currenttime", "2026-01-01T00:00:00Z", "aws:sourceip", "10.1.2.3", "ex:key", "x")),
		on(appRole, "kms:CreateGrant", ctx("kms:grantoperations", "Decrypt", "kms:grantoperations", "Encrypt", "kms:grantisforawsresource", "true", "ex:key", "1")),
		on(carol, "kms:ReEncryptFrom", ctx("ex:key", "eA==", "aws:sourcearn", "arn:aws:s3:::b")),
		on(logsSvc, "kms:GenerateDataKey", ctx("ex:key")),
		keyless(bSession, "kms:CreateKey", ctx("ex:key", "arn:aws:iam::1:role/x", "ex:key", "2026-01-01")),
	}
	anyone := mustKey(f, doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`))
	f.Fuzz(func(t *testing.T, doc string) {
		for _, kind := range []Kind{KindKey, KindIdentity} {
			parse := ParseKeyPolicy
			if kind == KindIdentity {
				parse = ParseIdentityPolicy
			}
			p, err := parse(doc)
			if err != nil {
				if p != nil {
					t.Fatal("policy returned with an error")
				}
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error of type %T", err)
				}
				continue
			}
			for i := range reqs {
				r := reqs[i]
				e1, e2 := p.Evaluate(&r), p.Evaluate(&r)
				if e1 != e2 {
					t.Fatalf("Evaluate is not deterministic: %v then %v", e1, e2)
				}
				a := KeyAccess{KeyAccount: acctA, KeyPolicy: p}
				if kind == KindIdentity {
					a = KeyAccess{KeyAccount: acctA, KeyPolicy: anyone, IdentityPolicies: []*Policy{p}}
					_ = AuthorizeIdentity(a.IdentityPolicies, &r)
				}
				d := Authorize(a, &r)
				if d.Allowed && e1 == Deny {
					t.Fatalf("allowed although the policy denies: %+v", d)
				}
				_ = DenyMessage(&r, d)
			}
		}
	})
}
