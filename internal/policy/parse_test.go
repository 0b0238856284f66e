package policy

import (
	"errors"
	"strings"
	"testing"
)

// parseErrorCase is a document one parser must refuse; want is a piece of
// the client-facing message.
type parseErrorCase struct {
	name     string
	identity bool // parse as an identity policy instead of a key policy
	doc      string
	want     string
}

const okStmt = `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`

var parseErrorCases = []parseErrorCase{
	{name: "empty document", doc: ``, want: "not valid JSON"},
	{name: "invalid JSON", doc: `{"Version":"2012-10-17",}`, want: "not valid JSON"},
	{name: "trailing data", doc: `{"Statement":` + okStmt + `} {}`, want: "not valid JSON"},
	{name: "not an object", doc: `["Statement"]`, want: "must be a JSON object"},
	{name: "unknown top-level element", doc: `{"Statement":` + okStmt + `,"Extra":1}`, want: `unknown element "Extra"`},
	{name: "bad Version", doc: `{"Version":"2012-10-18","Statement":` + okStmt + `}`, want: "invalid Version"},
	{name: "Version not a string", doc: `{"Version":2012,"Statement":` + okStmt + `}`, want: "invalid Version"},
	{name: "Id not a string", doc: `{"Id":1,"Statement":` + okStmt + `}`, want: "Id that is not a string"},
	{name: "no Statement", doc: `{"Version":"2012-10-17"}`, want: "no Statement"},
	{name: "empty Statement", doc: `{"Statement":[]}`, want: "no Statement"},
	{name: "Statement is a string", doc: `{"Statement":"Allow"}`, want: "neither an object nor an array"},
	{name: "statement not an object", doc: `{"Statement":["x"]}`, want: "not a JSON object"},
	{name: "duplicate element", doc: `{"Statement":{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`, want: `"Effect" more than once`},
	{name: "duplicate Sid", doc: `{"Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}`, want: "same Sid"},
	{name: "Sid not a string", doc: `{"Statement":{"Sid":1,"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`, want: "Sid is not a string"},
	{name: "unknown statement element", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Conditions":{}}}`, want: `unknown element "Conditions"`},
	{name: "no Effect", doc: `{"Statement":{"Principal":"*","Action":"kms:*","Resource":"*"}}`, want: "no Effect"},
	{name: "lowercase Effect", doc: `{"Statement":{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}}`, want: "invalid Effect"},
	{name: "unknown Effect", doc: `{"Statement":{"Effect":"Permit","Principal":"*","Action":"kms:*","Resource":"*"}}`, want: "invalid Effect"},
	{name: "key policy without principal", doc: `{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`, want: "statement with no principal"},
	{name: "Principal and NotPrincipal", doc: `{"Statement":{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"kms:*","Resource":"*"}}`, want: "both Principal and NotPrincipal"},
	{name: "identity policy with principal", identity: true, doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`, want: "should not specify a principal"},
	{name: "identity policy with NotPrincipal", identity: true, doc: `{"Statement":{"Effect":"Allow","NotPrincipal":"*","Action":"kms:*","Resource":"*"}}`, want: "should not specify a principal"},
	{name: "principal string not *", doc: `{"Statement":{"Effect":"Allow","Principal":"111122223333","Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "principal short account", doc: `{"Statement":{"Effect":"Allow","Principal":{"AWS":"11112222333"},"Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "principal group ARN", doc: `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/admins"},"Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "principal with wildcard", doc: `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "principal unknown type", doc: `{"Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"79a59df900b949e55d96a1e698fbaced"},"Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "principal empty object", doc: `{"Statement":{"Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "principal empty list", doc: `{"Statement":{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "principal malformed session", doc: `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/R"},"Action":"kms:*","Resource":"*"}}`, want: "invalid principals"},
	{name: "no Action", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}`, want: "no Action or NotAction"},
	{name: "Action and NotAction", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}}`, want: "both Action and NotAction"},
	{name: "action without service", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"}}`, want: "invalid action"},
	{name: "action not a string", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":["kms:Encrypt",1],"Resource":"*"}}`, want: "Action is not a string"},
	{name: "empty action list", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}}`, want: "Action is not a string"},
	{name: "no Resource", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}`, want: "no Resource or NotResource"},
	{name: "Resource and NotResource", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","NotResource":"*"}}`, want: "both Resource and NotResource"},
	{name: "resource not an ARN", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"my-key"}}`, want: "invalid resource"},
	{name: "condition not an object", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":[]}}`, want: "Condition is not an object"},
	{name: "unknown operator", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringMatches":{"aws:username":"bob"}}}}`, want: `unknown condition operator "StringMatches"`},
	{name: "operator wrong case", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"stringequals":{"aws:username":"bob"}}}}`, want: "unknown condition operator"},
	{name: "set prefix on Null", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAnyValue:Null":{"aws:username":"true"}}}}`, want: "unknown condition operator"},
	{name: "NullIfExists", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}}`, want: "unknown condition operator"},
	{name: "operator block not an object", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":"bob"}}}`, want: "not an object of condition keys"},
	{name: "condition key without prefix", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"username":"bob"}}}}`, want: "invalid condition key"},
	{name: "condition value object", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":1}}}}}`, want: "not a string, number or boolean"},
	{name: "condition value null", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:username":null}}}}`, want: "not a string, number or boolean"},
	{name: "condition empty values", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:username":[]}}}}`, want: "not a string, number or boolean"},
	{name: "numeric value", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"ten"}}}}`, want: "is not a number"},
	{name: "date value", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"next week"}}}}`, want: "ISO 8601"},
	{name: "bool value", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}}`, want: `"true" or "false"`},
	{name: "null value", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Null":{"aws:username":"maybe"}}}}`, want: `"true" or "false"`},
	{name: "ip value", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/33"}}}}`, want: "IP address or CIDR"},
	{name: "binary value", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"BinaryEquals":{"kms:EncryptionContext:t":"not base64!"}}}}`, want: "not base64"},
	{name: "duplicate condition key", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:username":"a","aws:username":"b"}}}}`, want: "more than once"},
	{name: "nesting too deep", doc: `{"Statement":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, want: "not valid JSON"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			parse := ParseKeyPolicy
			if tc.identity {
				parse = ParseIdentityPolicy
			}
			p, err := parse(tc.doc)
			if err == nil {
				t.Fatalf("accepted %s", tc.doc)
			}
			if p != nil {
				t.Error("returned a policy with the error")
			}
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v (%T) is not an *Error matching ErrMalformed", err, err)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Errorf("error %q does not start with \"policy: \"", err)
			}
			if !strings.Contains(pe.Message(), tc.want) {
				t.Errorf("message %q does not say %q", pe.Message(), tc.want)
			}
		})
	}
}

func TestParseErrorLocation(t *testing.T) {
	_, err := ParseKeyPolicy(`{"Statement":[` + okStmt + `,{"Sid":"Second","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("got %v", err)
	}
	if pe.Statement != 2 || pe.Sid != "Second" {
		t.Errorf("location = statement %d, Sid %q; want 2, Second", pe.Statement, pe.Sid)
	}
	const want = `Policy contains a statement with no principal. (statement 2, Sid "Second")`
	if pe.Message() != want {
		t.Errorf("Message() = %q, want %q", pe.Message(), want)
	}
	if err.Error() != "policy: "+want {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestKeyPolicySizeLimit(t *testing.T) {
	base := `{"Version":"2012-10-17","Statement":` + okStmt + `}`
	pad := func(n int) string { return base[:len(base)-1] + strings.Repeat(" ", n-len(base)) + "}" }
	if _, err := ParseKeyPolicy(pad(MaxKeyPolicySize)); err != nil {
		t.Errorf("a policy of exactly %d bytes: %v", MaxKeyPolicySize, err)
	}
	_, err := ParseKeyPolicy(pad(MaxKeyPolicySize + 1))
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrMalformed) {
		t.Errorf("a policy of %d bytes: %v, want ErrTooLarge", MaxKeyPolicySize+1, err)
	}
	// Identity policies have no such limit here (IAM's own limits are the
	// caller's business).
	id := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}` + strings.Repeat(" ", MaxKeyPolicySize) + `}`
	if _, err := ParseIdentityPolicy(id); err != nil {
		t.Errorf("large identity policy: %v", err)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, d := range []struct{ name, doc string }{
		{"default", fxDefault}, {"console", fxConsole}, {"locked", fxLocked}, {"cross", fxCross}, {"ebs", fxEBS},
		{"statement object", `{"Statement":` + okStmt + `}`},
		{"Version 2008", `{"Version":"2008-10-17","Statement":[` + okStmt + `]}`},
		{"NotPrincipal", `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/bob"]},"Action":"kms:*","Resource":"*"}}`},
		{"every principal form", `{"Statement":{"Effect":"Allow","Principal":{"AWS":["*","111122223333","arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:user/division/bob","arn:aws:iam::111122223333:role/path/R","arn:aws:sts::111122223333:assumed-role/R/s","arn:aws:sts::111122223333:federated-user/f","arn:aws-cn:iam::111122223333:root"],"Service":["logs.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com"},"Action":"kms:*","Resource":"*"}}`},
		{"every operator", everyOperatorPolicy},
	} {
		if _, err := ParseKeyPolicy(d.doc); err != nil {
			t.Errorf("%s: %v", d.name, err)
		}
	}
	for _, d := range []string{fxEncDecAll, fxDenyDel, fxPowerUser} {
		if _, err := ParseIdentityPolicy(d); err != nil {
			t.Errorf("identity fixture: %v", err)
		}
	}
	p, _ := ParseKeyPolicy(fxConsole)
	if p.Kind() != KindKey || p.Version() != "2012-10-17" || p.ID() != "key-consolepolicy-3" {
		t.Errorf("Kind, Version, ID = %v, %q, %q", p.Kind(), p.Version(), p.ID())
	}
}

// everyOperatorPolicy uses every operator in every form the grammar allows.
var everyOperatorPolicy = func() string {
	var conds []string
	for name, info := range operators {
		val := `"x"`
		switch info.base {
		case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
			val = `1`
		case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
			val = `"2026-01-01T00:00:00Z"`
		case opBool, opNull:
			val = `true`
		case opBinaryEquals:
			val = `"eA=="`
		case opIPAddress:
			val = `"10.0.0.0/8"`
		}
		forms := []string{name}
		if info.base != opNull {
			forms = append(forms, name+"IfExists", "ForAnyValue:"+name, "ForAllValues:"+name+"IfExists")
		}
		for _, f := range forms {
			conds = append(conds, `"`+f+`":{"ex:key":`+val+`}`)
		}
	}
	return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{` + strings.Join(conds, ",") + `}}}`
}()

// evalCase checks Evaluate: one policy alone, three outcomes.
var evalCases = []struct {
	name   string
	key    string
	req    Request
	want   Effect
	reason string
}{
	{"allow", fxConsole, on(appRole, "kms:Decrypt", nil), Allow, "an Allow statement applies"},
	{"no match", fxConsole, on(alice, "kms:Decrypt", nil), NoMatch, "an account principal in an Allow matches only its root in Evaluate"},
	{"root", fxDefault, on(rootA, "kms:Decrypt", nil), Allow, "an account principal matches its root"},
	{"deny wins", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), on(bob, "kms:Decrypt", nil), Deny, "a Deny beats an Allow in the same policy"},
	{"deny order", doc(`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`, `{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), on(bob, "kms:Decrypt", nil), Deny, "statement order does not matter"},
	{"account deny", doc(`{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`), on(bob, "kms:Decrypt", nil), Deny, "an account principal in a Deny matches all its principals"},
	{"other account deny", doc(`{"Effect":"Deny","Principal":{"AWS":"444455556666"},"Action":"kms:*","Resource":"*"}`), on(bob, "kms:Decrypt", nil), NoMatch, "a Deny for another account does not apply"},
	{"service is not in an account", doc(`{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`), on(logsSvc, "kms:Decrypt", nil), NoMatch, "a service principal belongs to no account"},
	{"federated never matches", doc(`{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"kms:*","Resource":"*"}`), on(bob, "kms:Decrypt", nil), NoMatch, "Federated principals do not match Strongroom principals"},
}

func TestEvaluate(t *testing.T) {
	for _, tc := range evalCases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if got := mustKey(t, tc.key).Evaluate(&req); got != tc.want {
				t.Errorf("%s: got %v, want %v", tc.reason, got, tc.want)
			}
		})
	}
	var nilPolicy *Policy
	if got := nilPolicy.Evaluate(&Request{}); got != NoMatch {
		t.Errorf("nil policy: %v", got)
	}
}

func TestDenyMessage(t *testing.T) {
	req := on(bob, "kms:Encrypt", nil)
	for _, tc := range []struct {
		reason Reason
		want   string
	}{
		{ReasonNoKeyPolicyAllow, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: " + keyARN + " because no resource-based policy allows the kms:Encrypt action"},
		{ReasonNoIdentityAllow, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: " + keyARN + " because no identity-based policy allows the kms:Encrypt action"},
		{ReasonKeyPolicyDeny, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: " + keyARN + " with an explicit deny in a resource-based policy"},
		{ReasonIdentityDeny, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: " + keyARN + " with an explicit deny in an identity-based policy"},
	} {
		if got := DenyMessage(&req, Decision{Reason: tc.reason}); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.reason, got, tc.want)
		}
	}
	if got := DenyMessage(&req, Decision{Allowed: true, Reason: ReasonKeyPolicy}); got != "" {
		t.Errorf("allowed decision gave %q", got)
	}
	// The trap end to end: the message says no resource-based policy allows.
	d := Authorize(KeyAccess{KeyAccount: acctA, KeyPolicy: mustKey(t, fxLocked), IdentityPolicies: []*Policy{mustIdentity(t, fxEncDecAll)}}, &req)
	if !strings.HasSuffix(DenyMessage(&req, d), "because no resource-based policy allows the kms:Encrypt action") {
		t.Errorf("trap message: %s", DenyMessage(&req, d))
	}
}

func TestDecisionSid(t *testing.T) {
	req := on(appRole, "kms:Encrypt", nil)
	d := Authorize(KeyAccess{KeyAccount: acctA, KeyPolicy: mustKey(t, fxConsole)}, &req)
	if d.Sid != "Allow use of the key" {
		t.Errorf("Sid = %q", d.Sid)
	}
	req = on(bob, "kms:Encrypt", nil)
	d = Authorize(KeyAccess{KeyAccount: acctA, KeyPolicy: mustKey(t, fxConsole), IdentityPolicies: []*Policy{mustIdentity(t, fxEncDecAll)}}, &req)
	if d.Reason != ReasonIAMDelegation || d.Sid != "Enable IAM User Permissions" {
		t.Errorf("delegation: %+v", d)
	}
}

// TestPatterns covers the matcher directly, including the backtracking a
// table of policies rarely reaches.
func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		pat   string
		flags patFlags
		s     string
		want  bool
	}{
		{"*", pfWild, "", true},
		{"a*b*c", pfWild, "aXbYbZc", true},
		{"a*b*c", pfWild, "aXbYbZ", false},
		{"*a*a*a", pfWild, "aaaa", true},
		{"??", pfWild, "é!", true}, // ? is one character, not one byte
		{"?", pfWild, "é", true},
		{"a**b", pfWild, "ab", true},
		{"kms:*", pfWild | pfFold, "KMS:Encrypt", true},
		{"x*", 0, "xy", false}, // wildcards off: * is literal
		{"x*", 0, "x*", true},
		{"arn:*:s3:::b", pfWild | pfArn, "arn:aws:s3:::b", true},
		{"arn:*:s3:::b", pfWild | pfArn, "arn:aws:x:s3:::b", false},
		{"*", pfWild | pfArn, "arn:aws:s3:::b", false}, // each component on its own
		{"${unterminated", pfVars, "${unterminated", true},
		{"${bad name}", pfVars, "${bad name}", true},
	} {
		p := compilePattern(tc.pat, tc.flags)
		st := &evalState{req: &Request{}}
		if got := p.match(tc.s, st); got != tc.want {
			t.Errorf("%q (flags %b) on %q: got %v", tc.pat, tc.flags, tc.s, got)
		}
	}
}

func TestDates(t *testing.T) {
	for _, s := range []string{"2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00", "2026-01-01T00:00", "2026-01-01", "20260101T000000Z", "20260101", "1767225600"} {
		got, ok := parseDate(s)
		if !ok {
			t.Errorf("%q: refused", s)
			continue
		}
		if got.Unix() != 1767225600 {
			t.Errorf("%q: %v", s, got)
		}
	}
	for _, s := range []string{"", "2026-13-01", "tomorrow", "99999999999999999999"} {
		if _, ok := parseDate(s); ok {
			t.Errorf("%q: accepted", s)
		}
	}
}

func TestAuthorizeKindMisuse(t *testing.T) {
	key, id := mustKey(t, fxDefault), mustIdentity(t, allowAll)
	req := on(bob, "kms:Decrypt", nil)
	for name, f := range map[string]func(){
		"identity as key policy":   func() { Authorize(KeyAccess{KeyPolicy: id}, &req) },
		"key as identity policy":   func() { Authorize(KeyAccess{KeyPolicy: key, IdentityPolicies: []*Policy{key}}, &req) },
		"key in AuthorizeIdentity": func() { AuthorizeIdentity([]*Policy{key}, &req) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
