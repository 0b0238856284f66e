package kms

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"strongroom/internal/audit"
)

// recordKinds has a member of every kind safeValue meets, and some it
// leaves out.
type recordKinds struct {
	S          string
	B          bool
	I          int
	I8         int8
	U          uint16
	U8         uint8
	F          float64
	P          *string
	PP         **int32
	Any        any
	Blob       []byte
	Arr        [2]string
	L          []string
	Tags       []*Tag
	M          map[string]string
	MI         map[string]int
	MN         map[namedKey]string
	MK         map[int]string
	MA         map[string]any
	T          Time
	PT         *Time
	ST         time.Time
	Nested     *recordKinds
	Plaintext  string // neverRecorded
	unexported string
	X          string `xml:"Renamed"`
}

type namedKey string

// twins has two members recorded under one name.
type twins struct {
	A string
	B string `xml:"A"`
}

type withTwins struct {
	KeyId string
	Both  twins
	List  []twins
}

var kindsNames = []string{"S", "B", "I", "I8", "U", "U8", "F", "P", "PP", "Any", "Blob", "Arr", "L", "Tags", "M", "MI", "MN", "MK", "MA", "T", "PT", "ST", "Nested", "Plaintext", "unexported", "X", "Missing"}

// whitelistTypes are the types FuzzAppendWhitelist fills from its input.
var whitelistTypes = []func() any{
	func() any { return new(recordKinds) },
	func() any { return new(withTwins) },
	func() any { return new(EncryptInput) },
	func() any { return new(DecryptInput) },
	func() any { return new(ReEncryptInput) },
	func() any { return new(CreateKeyInput) },
	func() any { return new(CreateKeyOutput) },
	func() any { return new(CreateGrantInput) },
	func() any { return new(ListGrantsInput) },
	func() any { return new(ScheduleKeyDeletionOutput) },
	func() any { return new(ImportKeyMaterialInput) },
	func() any { return new(LookupEventsInput) },
}

// whitelistLists are the name lists compared: every operation's, and the
// test types'.
func whitelistLists() [][]string {
	lists := [][]string{kindsNames, {"KeyId", "Both", "List"}, {"KeyId", "KeyId"}, serviceEventFields}
	for _, f := range auditFields {
		if len(f.req) > 0 {
			lists = append(lists, f.req)
		}
		if len(f.resp) > 0 {
			lists = append(lists, f.resp)
		}
	}
	return lists
}

// checkWhitelist fails t unless appendWhitelist gives what encoding
// whitelist's map gives.
func checkWhitelist(t *testing.T, v any, names []string) {
	t.Helper()
	want, err := audit.AppendJSON(nil, whitelist(v, names))
	if err != nil {
		t.Fatalf("%T %v: encoding the map: %v", v, names, err)
	}
	prefix := []byte("prefix")
	got := appendWhitelist(prefix[:len(prefix):len(prefix)], v, names)
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("%T %v:\n got %s\nwant %s", v, names, got, want)
	}
}

func TestAppendWhitelist(t *testing.T) {
	s, n := "str", int32(7)
	pn := &n
	at := Time{time.Date(2026, 11, 28, 9, 30, 15, 5e8, time.FixedZone("x", 3600))}
	full := &recordKinds{
		S: "a \"quoted\" \\ \u2028 \xff string", B: true, I: -3, I8: 4, U: 5, U8: 6, F: 1.5,
		P: &s, PP: &pn, Any: map[string]any{"z": "last", "a": []any{"x", "", 1.5, true, false, nil}, "e": map[string]any{}},
		Blob: []byte("secret"), Arr: [2]string{"", "b"}, L: []string{"", ""},
		Tags: []*Tag{{TagKey: "k", TagValue: "v"}, nil, {}},
		M:    map[string]string{"b": "2", "a": "1", "empty": "", "\u00e9": "accent", "<>&": "html"},
		MI:   map[string]int{"zero": 0, "one": 1}, MN: map[namedKey]string{"n": "named"}, MK: map[int]string{1: "int key"},
		MA: map[string]any{"nil": nil, "bytes": []byte("x"), "s": "x"},
		T:  at, PT: &at, ST: at.Time, Plaintext: "never", unexported: "never", X: "renamed",
	}
	deep := full
	for range 8 {
		deep = &recordKinds{S: "level", Nested: deep}
	}
	cases := []any{
		nil, (*recordKinds)(nil), recordKinds{}, &recordKinds{}, full, deep, "not a struct", 42,
		&recordKinds{M: map[string]string{"only": ""}}, &recordKinds{L: []string{""}, MI: map[string]int{"z": 0}},
		&withTwins{KeyId: "k", Both: twins{A: "a", B: "b"}, List: []twins{{A: "x"}, {B: "y"}, {}}},
		&withTwins{Both: twins{A: "a"}},
		&EncryptInput{KeyId: "alias/x", Plaintext: []byte("p"), EncryptionContext: map[string]string{"purpose": "test", "a": "b"}, GrantTokens: []string{"t"}},
		&CreateKeyOutput{KeyMetadata: &KeyMetadata{KeyId: "1234", Arn: "arn:aws:kms:us-east-1:111122223333:key/1234", CreationDate: &at, Enabled: true, KeyUsage: "ENCRYPT_DECRYPT"}},
		&ScheduleKeyDeletionOutput{KeyId: "k", DeletionDate: &at, PendingWindowInDays: 7},
		url.Values{"UserName": {"alice"}, "MaxItems": {"10"}, "Marker": {""}},
	}
	for _, v := range cases {
		for _, names := range whitelistLists() {
			checkWhitelist(t, v, names)
		}
		checkWhitelist(t, v, nil)
	}
	// What the cases exercise: a twin struct goes through the fallback, a
	// deep one is cut, blobs and secrets stay out.
	got := string(appendWhitelist(nil, full, kindsNames))
	for _, never := range []string{"secret", "never", `"blob"`, `"f"`} {
		if bytes.Contains([]byte(got), []byte(never)) {
			t.Errorf("record parameters hold %q: %s", never, got)
		}
	}
	if want := `"t":"2026-11-28T08:30:15Z"`; !bytes.Contains([]byte(got), []byte(want)) {
		t.Errorf("record parameters lack %s: %s", want, got)
	}
}

func FuzzAppendWhitelist(f *testing.F) {
	f.Add([]byte(`{"S":"x","M":{"b":"1","a":""},"Any":{"k":[1,"s",{"z":true}]},"Tags":[{"TagKey":"k","TagValue":"v"}],"Nested":{"I":3,"Nested":{"L":["a",""]}}}`))
	f.Add([]byte(`{"KeyId":"alias/x","EncryptionContext":{"purpose":"test"},"Both":{"A":"a","B":"b"},"List":[{"A":"x"}]}`))
	f.Add([]byte(`{"KeyMetadata":{"KeyId":"k","CreationDate":1700000000.5,"Enabled":true},"Constraints":{"EncryptionContextSubset":{"a":"b"}}}`))
	lists := whitelistLists()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range whitelistTypes {
			v := mk()
			if json.Unmarshal(data, v) != nil {
				continue
			}
			for _, names := range lists {
				checkWhitelist(t, v, names)
			}
		}
	})
}
