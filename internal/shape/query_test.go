package shape

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

const (
	vErr = "ValidationError"
	mIn  = "MalformedInput"
)

// form builds query parameters from alternating names and values.
func form(kv ...string) url.Values {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// tags sends n IAM tags, the last with value last.
func tags(n int, last string) []string {
	var kv []string
	for i := 1; i <= n; i++ {
		v := "v"
		if i == n {
			v = last
		}
		p := "Tags.member." + strconv.Itoa(i)
		kv = append(kv, p+".Key", "k"+strconv.Itoa(i), p+".Value", v)
	}
	return kv
}

var queryCases = []struct {
	name string
	svc  *Service
	op   string
	form url.Values
	code string
	msg  string
}{
	{"missing UserName", IAM, "CreateUser", form("Action", "CreateUser", "Version", "2010-05-08"), vErr,
		"1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
	{"valid user", IAM, "CreateUser", form("UserName", "alice", "Path", "/division/", "Tags.member.1.Key", "team", "Tags.member.1.Value", "a b"), "", ""},
	{"empty list", IAM, "CreateUser", form("UserName", "alice", "Tags", ""), "", ""},
	// A real IAM answer, reported in SWO-GS/auto-tag#90.
	{"tag value pattern", IAM, "CreateUser", form(append([]string{"UserName", "u"}, tags(6,
		"SourceIP: XX.xx.xxx.xxx, UserAgent: aws-cli/2.1.17 Python/3.7.4 Darwin/20.3.0 exe/x86_64 prompt/off command/iam.create-user")...)...), vErr,
		"1 validation error detected: Value 'SourceIP: XX.xx.xxx.xxx, UserAgent: aws-cli/2.1.17 Python/3.7.4 Darwin/20.3.0 exe/x86_64 prompt/off command/iam.create-user' " +
			"at 'tags.6.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"},
	{"tag without value", IAM, "TagUser", form("UserName", "u", "Tags.member.1.Key", "k"), vErr,
		"1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"},
	{"51 tags", IAM, "TagUser", form(append([]string{"UserName", "u"}, tags(51, "v")...)...), vErr,
		"1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"},
	{"tag keys listed", IAM, "UntagUser", form("UserName", "u", "TagKeys.member.1", "a", "TagKeys.member.2", ""), vErr,
		"2 validation errors detected: Value '' at 'tagKeys.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value '' at 'tagKeys.2.member' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"},
	{"user name pattern", IAM, "CreateUser", form("UserName", "bad name"), vErr,
		"1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
	{"MaxItems 0", IAM, "ListUsers", form("MaxItems", "0"), vErr,
		"1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	{"MaxItems 1001 and bad marker", IAM, "ListUsers", form("Marker", "", "MaxItems", "1001"), vErr,
		"3 validation errors detected: Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value '' at 'marker' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0020-\\u00FF]+; " +
			"Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"},
	{"MaxItems not a number", IAM, "ListUsers", form("MaxItems", "ten"), mIn, "int must follow xsd1.1 definition"},
	{"MaxItems beyond int", IAM, "ListUsers", form("MaxItems", "2147483648"), mIn, "int must follow xsd1.1 definition"},
	{"boolean", IAM, "UpdateAccountPasswordPolicy", form("RequireSymbols", "yes"), mIn, "boolean must follow xsd1.1 definition"},
	{"xsd booleans", IAM, "UpdateAccountPasswordPolicy", form("RequireSymbols", "1", "RequireNumbers", "false", "MinimumPasswordLength", "+8"), "", ""},
	{"sensitive password", IAM, "CreateLoginProfile", form("UserName", "u", "Password", strings.Repeat("p", 129)), vErr,
		"1 validation error detected: Value at 'password' failed to satisfy constraint: Member must have length less than or equal to 128"},
	{"invalid UTF-8", IAM, "CreateUser", form("UserName", "\xff"), mIn, ""},
	{"empty value slice", IAM, "CreateUser", url.Values{"UserName": {}}, vErr,
		"2 validation errors detected: Value '' at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value '' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
	{"lookahead not checked", IAM, "CreateAccountAlias", form("AccountAlias", "a--b"), "", ""},
	{"unknown action", IAM, "CreateUsers", form(), "InvalidAction", "Could not find operation CreateUsers for version 2010-05-08"},
	{"operation without input", IAM, "GetAccountSummary", form("Anything", "x"), "", ""},

	{"AssumeRole {}", STS, "AssumeRole", form(), vErr,
		"2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; " +
			"Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"},
	{"AssumeRole", STS, "AssumeRole", form("RoleArn", "arn:aws:iam::123456789012:role/demo", "RoleSessionName", "s1", "DurationSeconds", "3600",
		"PolicyArns.member.1.arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"), "", ""},
	{"DurationSeconds 100", STS, "AssumeRole", form("RoleArn", "arn:aws:iam::123456789012:role/demo", "RoleSessionName", "s1", "DurationSeconds", "100"), vErr,
		"1 validation error detected: Value '100' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
	{"session name too short", STS, "AssumeRole", form("RoleArn", "arn:aws:iam::123456789012:role/demo", "RoleSessionName", "s"), vErr,
		"1 validation error detected: Value 's' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
	{"SAML assertion", STS, "AssumeRoleWithSAML", form("RoleArn", "arn:aws:iam::123456789012:role/demo", "PrincipalArn", "arn:aws:iam::123456789012:saml-provider/x",
		"SAMLAssertion", "abc"), vErr,
		"1 validation error detected: Value at 'sAMLAssertion' failed to satisfy constraint: Member must have length greater than or equal to 4"},
	{"missing SAML assertion", STS, "AssumeRoleWithSAML", form("RoleArn", "arn:aws:iam::123456789012:role/demo", "PrincipalArn", "arn:aws:iam::123456789012:saml-provider/x"), vErr,
		"1 validation error detected: Value at 'sAMLAssertion' failed to satisfy constraint: Member must not be null"},
	{"token code", STS, "GetSessionToken", form("SerialNumber", "arn:aws:iam::123456789012:mfa/user", "TokenCode", "12345a"), vErr,
		"1 validation error detected: Value '12345a' at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*"},
}

func TestValidateQuery(t *testing.T) {
	for _, c := range queryCases {
		t.Run(c.svc.Name+"/"+c.name, func(t *testing.T) {
			err := ValidateQuery(c.svc, c.op, c.form)
			if c.code == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a %s", err, c.code)
			}
			if e.Code != c.code || e.Message != c.msg {
				t.Errorf("got\n  %s: %q\nwant\n  %s: %q", e.Code, e.Message, c.code, c.msg)
			}
		})
	}
}

// FuzzValidateQuery checks that ValidateQuery never panics and answers only
// with an *Error of a known code.
func FuzzValidateQuery(f *testing.F) {
	ops := append(IAM.Operations(), STS.Operations()...)
	for _, c := range queryCases {
		f.Add(uint16(0), c.form.Encode())
	}
	f.Add(uint16(3), "Tags.member.1.Key=a&Tags.member.2.Value=b&Tags=")
	f.Add(uint16(7), "X.entry.1.key=a&X.entry.1.value=b&UserName=")
	f.Fuzz(func(t *testing.T, opIndex uint16, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		i := int(opIndex) % len(ops)
		svc := IAM
		if i >= len(IAM.ops) {
			svc = STS
		}
		err = ValidateQuery(svc, ops[i], form)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || (e.Code != vErr && e.Code != mIn) {
			t.Fatalf("got %v", err)
		}
	})
}
