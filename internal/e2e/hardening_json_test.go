package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"strongroom/internal/testenv"
)

// Hostile JSON, signed and sent over the wire: nesting, element counts,
// numbers that do not fit, bytes that are not UTF-8, trailing data,
// duplicate keys. Each is a 400 SerializationException or
// ValidationException in AWS's shape (raw checks the shape, the request id
// and that no answer is a 5xx); none changes anything.

func nest(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

func TestHostileJSON(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	enc := func(rest string) string { return `{"KeyId":"` + id + `","Plaintext":"eA=="` + rest + `}` }
	many := func(elem string, n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(elem+",", n), ",") + "]"
	}

	cases := []struct {
		name string
		op   string
		body string
		code string // "": any of SerializationException, ValidationException; "OK": 200
	}{
		// Nesting: at most 32 levels, wherever they are.
		{"33 levels in an unknown member", "ListKeys", `{"X":` + nest("[", "]", 32) + `}`, "SerializationException"},
		{"100,000 levels", "CreateKey", `{"X":` + nest("[", "]", 100000) + `}`, "SerializationException"},
		{"deep objects", "CreateKey", `{"X":` + strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40) + `}`, "SerializationException"},
		{"deep in a map value", "Encrypt", enc(`,"EncryptionContext":{"a":` + nest("[", "]", 40) + `}`), "SerializationException"},
		// Element counts: at most 10,000 values per body.
		{"20,000 numbers in an unknown member", "ListKeys", `{"X":` + many("0", 20000) + `}`, "SerializationException"},
		{"20,000 tags", "CreateKey", `{"Tags":` + many(`{}`, 20000) + `}`, "SerializationException"},
		{"20,000 grant tokens", "Encrypt", enc(`,"GrantTokens":` + many(`"t"`, 20000)), ""},
		{"a context of 20,000 entries", "Encrypt", enc(`,"EncryptionContext":{` + strings.TrimSuffix(strings.Repeat(`"k":"v",`, 20000), ",") + `}`), "SerializationException"},
		// Numbers: exact integers only, no wrap-around, no floats.
		{"integer beyond int64", "ListKeys", `{"Limit":99999999999999999999999}`, ""},
		{"integer beyond int32", "ListKeys", `{"Limit":4294967297}`, ""},
		{"bytes that wrap to 1 in 32 bits", "GenerateRandom", `{"NumberOfBytes":4294967297}`, ""},
		{"negative bytes", "GenerateRandom", `{"NumberOfBytes":-1}`, ""},
		{"a fraction", "ListKeys", `{"Limit":10.5}`, "SerializationException"},
		{"an exponent", "ListKeys", `{"Limit":1e2}`, "SerializationException"},
		{"a huge exponent", "ListKeys", `{"Limit":1e400}`, "SerializationException"},
		{"negative zero fraction", "ListKeys", `{"Limit":-0.0}`, "SerializationException"},
		{"leading zeros", "ListKeys", `{"Limit":010}`, "SerializationException"},
		{"NaN", "ListKeys", `{"Limit":NaN}`, "SerializationException"},
		{"Infinity", "ListKeys", `{"Limit":Infinity}`, "SerializationException"},
		{"hexadecimal", "ListKeys", `{"Limit":0x10}`, "SerializationException"},
		{"a 5,000-digit integer", "ListKeys", `{"Limit":` + strings.Repeat("9", 5000) + `}`, ""},
		{"a 5,000-digit number in an unknown member is ignored", "ListKeys", `{"X":` + strings.Repeat("9", 5000) + `}`, "OK"},
		{"pending window of 2^64+7 days", "ScheduleKeyDeletion", `{"KeyId":"` + id + `","PendingWindowInDays":18446744073709551623}`, ""},
		// Strings: valid UTF-8 only.
		{"invalid UTF-8 in a value", "CreateKey", "{\"Description\":\"a\xffb\"}", "SerializationException"},
		{"invalid UTF-8 in a key", "CreateKey", "{\"Desc\xc3\x28\":\"x\"}", "SerializationException"},
		{"an overlong encoding", "CreateKey", "{\"Description\":\"\xc0\xaf\"}", "SerializationException"},
		{"a UTF-8 surrogate", "CreateKey", "{\"Description\":\"\xed\xa0\x80\"}", "SerializationException"},
		{"a raw control character", "CreateKey", "{\"Description\":\"a\x01b\"}", "SerializationException"},
		{"a bad escape", "CreateKey", `{"Description":"\q"}`, "SerializationException"},
		{"a short unicode escape", "CreateKey", `{"Description":"\u12"}`, "SerializationException"},
		{"an unterminated string", "CreateKey", `{"Description":"abc}`, "SerializationException"},
		// Trailing and leading data.
		{"garbage after the object", "ListKeys", `{}x`, "SerializationException"},
		{"a second object", "ListKeys", `{} {}`, "SerializationException"},
		{"a stray bracket", "ListKeys", `{}]`, "SerializationException"},
		{"a NUL after the object", "ListKeys", "{}\x00", "SerializationException"},
		{"a byte-order mark", "ListKeys", "\xef\xbb\xbf{}", "SerializationException"},
		{"a comment", "ListKeys", `{} // x`, "SerializationException"},
		{"a trailing comma", "CreateKey", `{"Description":"x",}`, "SerializationException"},
		{"single quotes", "CreateKey", `{'Description':'x'}`, "SerializationException"},
		{"an unquoted key", "CreateKey", `{Description:"x"}`, "SerializationException"},
		// Duplicate keys, which decoders resolve differently.
		{"a duplicate member", "CreateKey", `{"Description":"a","Description":"b"}`, "SerializationException"},
		// Member names are exact, as AWS's: "keyid" is an unknown member.
		{"a member in another case is another member", "DescribeKey", `{"KeyId":"` + id + `","keyid":"alias/other","KEYID":5}`, "OK"},
		{"a duplicate through an escape", "CreateKey", `{"Description":"a","Descr\u0069ption":"b"}`, "SerializationException"},
		{"a duplicate context key", "Encrypt", enc(`,"EncryptionContext":{"a":"1","a":"2"}`), "SerializationException"},
		{"a duplicate nested member", "CreateKey", `{"Tags":[{"TagKey":"a","TagKey":"b","TagValue":"v"}]}`, "SerializationException"},
		// Types.
		{"a number for a blob", "Encrypt", `{"KeyId":"` + id + `","Plaintext":5}`, "SerializationException"},
		{"a boolean as a number", "Encrypt", enc(`,"DryRun":1`), "SerializationException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := raw(t, env, rawRequest{Target: "TrentService." + tc.op, Body: []byte(tc.body)})
			if tc.code == "OK" {
				if resp.Status != 200 {
					t.Fatalf("status %d, want 200: %.300s", resp.Status, resp.Body)
				}
				return
			}
			if resp.Status != 400 {
				t.Fatalf("status %d, want 400: %.300s", resp.Status, resp.Body)
			}
			code, _ := resp.errorBody(t)
			switch {
			case tc.code != "" && code != tc.code:
				t.Errorf("__type = %s, want %s", code, tc.code)
			case tc.code == "" && code != "SerializationException" && code != "ValidationException":
				t.Errorf("__type = %s, want SerializationException or ValidationException", code)
			}
		})
	}
	// Nothing was created or changed by any of them.
	keys := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{})).Keys
	if len(keys) != 1 {
		t.Errorf("%d keys after the hostile bodies, want 1", len(keys))
	}
	if s := keyState(t, c, id); s != "Enabled" {
		t.Errorf("key state %s after the hostile bodies", s)
	}
}
