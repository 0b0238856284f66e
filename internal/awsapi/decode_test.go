package awsapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"strongroom/internal/kms"
)

// allKinds holds every kind of field the decoder treats specially, and a
// few it leaves to encoding/json.
type allKinds struct {
	S        string
	PS       *string
	B        []byte
	Bool     bool
	PBool    *bool
	I32      int32
	PI32     *int32
	I64      int64
	I        int
	U8       uint8
	F        float64
	M        map[string]string
	L        []string
	Tagged   string `json:"renamed,omitempty"`
	Skipped  string `json:"-"`
	hidden   string //lint:ignore U1000 an unexported field the decoder must skip
	Nested   inner
	PNested  *inner
	List     []inner
	PList    []*inner
	T        kms.Time
	PT       *kms.Time
	Any      any
	Ints     []int
	MapOfAny map[string]any
}

type inner struct {
	K     string
	V     *string
	Deep  *inner
	Items []inner
}

// decodeTypes are the types the differential test decodes into.
var decodeTypes = []func() any{
	func() any { return new(allKinds) },
	func() any { return new(kms.EncryptInput) },
	func() any { return new(kms.CreateKeyInput) },
	func() any { return new(kms.CreateGrantInput) },
	func() any { return new(kms.GenerateDataKeyInput) },
	func() any { return new(kms.Empty) },
}

// decodeSeeds are bodies the decoder must treat as the reference does.
var decodeSeeds = []string{
	``, ` `, `{}`, `null`, ` null `, `[]`, `"x"`, `12`, `true`, `{`, `{"S":"a"`, `{"S":"a"} x`, `{"S":"a",}`, `{,}`,
	`{"S":"plain","PS":"p","B":"aGVsbG8=","Bool":true,"PBool":false,"I32":-7,"PI32":0,"I64":9007199254740993,"I":1,"U8":255,"F":1.5}`,
	`{"S":null,"PS":null,"B":null,"Bool":null,"PBool":null,"I32":null,"PI32":null,"M":null,"L":null,"Nested":null,"PNested":null,"List":null,"PList":null,"T":null,"PT":null}`,
	`{"S":"esc\"aped\u00e9\n","PS":"\ud83d\ude00","M":{"k\u0041":"v\t"},"L":["a\\b"]}`,
	`{"S":"caf\u00e9","M":{"é":"ü"},"L":["ω"]}`,
	"{\"S\":\"bad \xff utf8\",\"M\":{\"\xfe\":\"x\"},\"L\":[\"\xc3\"]}",
	`{"s":"lower","KEYID":"x","keyid":"y","S":"exact"}`,
	`{"S":"first","S":"last"}`,
	`{"S":1}`, `{"S":{}}`, `{"S":[]}`, `{"S":true}`,
	`{"B":"not base64!"}`, `{"B":"aGVsbG8"}`, `{"B":"aGVs\nbG8="}`, `{"B":1}`, `{"B":"aGVs\u0062G8="}`,
	`{"Bool":"true"}`, `{"Bool":1}`, `{"PBool":"x"}`,
	`{"I32":2147483648}`, `{"I32":1.0}`, `{"I32":1e2}`, `{"I32":"1"}`, `{"PI32":-2147483649}`, `{"I":-0}`, `{"U8":256}`, `{"U8":-1}`, `{"F":"x"}`,
	`{"M":{}}`, `{"M":{"a":"b","a":"c"}}`, `{"M":{"a":1}}`, `{"M":{"a":{"b":"c"}}}`, `{"M":{"a":null}}`, `{"M":[]}`, `{"M":"x"}`,
	`{"L":[]}`, `{"L":["a",null]}`, `{"L":[1]}`, `{"L":{}}`, `{"L":"x"}`,
	`{"renamed":"t","Tagged":"no","Skipped":"no","-":"no","hidden":"no"}`,
	`{"Nested":{"K":"k","V":"v","Deep":{"K":"d","Items":[{"K":"i"}]}}}`,
	`{"Nested":"x"}`, `{"Nested":[]}`, `{"PNested":{"K":1}}`, `{"PNested":{}}`, `{"PNested":null}`,
	`{"List":[{"K":"a"},{"K":"b","Deep":{"K":2}}]}`, `{"List":[null]}`, `{"List":["x"]}`, `{"List":{}}`, `{"List":[]}`,
	`{"PList":[{"K":"a"},null]}`, `{"PList":[1]}`,
	`{"T":1700000000.5,"PT":1700000000}`, `{"T":"x"}`, `{"PT":{}}`,
	`{"Any":{"a":[1,"b",null]},"Ints":[1,2],"MapOfAny":{"x":[]}}`, `{"Ints":["a"]}`,
	`{"K\u0065yId":"escaped name","KeyId":"k","Plaintext":"eA==","EncryptionContext":{"a":"b"},"GrantTokens":["t"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","DryRun":true}`,
	`{"KeyId":"k","Plaintext":"eA==","EncryptionContext":{"a":{"b":"c"}}}`,
	`{"Description":"d","Tags":[{"TagKey":"a","TagValue":"b"}],"MultiRegion":false,"Policy":null}`,
	`{"Tags":[{"TagKey":1}]}`,
	`{"KeyId":"k","GranteePrincipal":"p","Operations":["Encrypt"],"Constraints":{"EncryptionContextSubset":{"a":"b"}}}`,
	`{"Constraints":{"EncryptionContextEquals":{"a":2}}}`,
	`{"NumberOfBytes":32,"KeySpec":"AES_256"}`, `{"NumberOfBytes":99999999999}`,
	`{"a":[1,2,{"b":null}],"c":-0.5e-3,"d":"\u12ab","e":true,"f":false}`,
	`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `{"a" 1}`, `{1:2}`,
	"\t{\r\n\"S\" :\t\"ws\" }\n",
	strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001),
	`{"x":` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `}`,
}

func TestDecodeMatchesReference(t *testing.T) {
	for _, body := range decodeSeeds {
		for _, newV := range decodeTypes {
			compareDecode(t, []byte(body), newV)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, newV := range decodeTypes {
			compareDecode(t, body, newV)
		}
	})
}

// compareDecode checks that decodeJSON and the reference agree on body:
// the same error, or the same value.
func compareDecode(t *testing.T, body []byte, newV func() any) {
	t.Helper()
	got, want := newV(), newV()
	gotErr := decodeJSON(body, got)
	wantErr := refDecodeJSON(body, want)
	if errString(gotErr) != errString(wantErr) {
		t.Fatalf("%T %q:\ngot error  %v\nwant error %v", got, body, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%T %q:\ngot  %+v\nwant %+v", got, body, got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := kms.AsError(err); ok {
		return e.Code + ": " + e.Message
	}
	return "other: " + err.Error()
}

func TestDecodeExact(t *testing.T) {
	var in kms.EncryptInput
	body := `{"keyid":"wrong case","KeyId":"alias/x","Plaintext":"` + base64.StdEncoding.EncodeToString([]byte("hi")) + `","EncryptionContext":{"a":"b"},"Unknown":{"x":[1]}}`
	if err := decodeJSON([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if in.KeyId != "alias/x" || string(in.Plaintext) != "hi" || in.EncryptionContext["a"] != "b" {
		t.Fatalf("decoded %+v", in)
	}
	var ck kms.CreateKeyInput
	err := decodeJSON([]byte(`{"Tags":[{"TagKey":"a"},{"TagKey":7}]}`), &ck)
	if e, ok := kms.AsError(err); !ok || e.Message != "Unexpected value type for field Tags[1].TagKey" {
		t.Fatalf("error %v", err)
	}
}

// BenchmarkDecodeEncrypt decodes a typical Encrypt request, as the JSON
// API does after validating it.
func BenchmarkDecodeEncrypt(b *testing.B) {
	body := []byte(`{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",` +
		`"Plaintext":"` + base64.StdEncoding.EncodeToString(make([]byte, 64)) + `",` +
		`"EncryptionContext":{"tenant":"t-42","purpose":"session"}}`)
	b.Run("decodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var in kms.EncryptInput
			if err := decodeJSON(body, &in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var in kms.EncryptInput
			if err := refDecodeJSON(body, &in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeEncryptOutput encodes an Encrypt response, as serveKMS
// does.
func BenchmarkEncodeEncryptOutput(b *testing.B) {
	out := &kms.EncryptOutput{CiphertextBlob: make([]byte, 64+118), KeyId: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

// The reference: the decoder the JSON API used before decode.go, member
// by member with encoding/json. decodeJSON must answer as it does.

func refDecodeJSON(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	return refDecodeValue(body, reflect.ValueOf(v).Elem(), "")
}

func refDecodeValue(raw json.RawMessage, rv reflect.Value, path string) error {
	t := rv.Type()
	switch {
	case t.Kind() == reflect.Pointer && refIsPlainStruct(t.Elem()):
		if string(raw) == "null" {
			rv.SetZero()
			return nil
		}
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		return refDecodeValue(raw, rv.Elem(), path)
	case refIsPlainStruct(t):
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return refSerializationError(err, path)
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Name
			if tag := f.Tag.Get("json"); tag != "" {
				if n, _, _ := strings.Cut(tag, ","); n != "" {
					name = n
				}
			}
			m, ok := members[name]
			if !ok || name == "-" || !f.IsExported() {
				continue
			}
			if err := refDecodeValue(m, rv.Field(i), joinPath(path, name)); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Slice && (refIsPlainStruct(t.Elem()) || t.Elem().Kind() == reflect.Pointer && refIsPlainStruct(t.Elem().Elem())):
		if string(raw) == "null" {
			rv.SetZero()
			return nil
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return refSerializationError(err, path)
		}
		out := reflect.MakeSlice(t, len(elems), len(elems))
		for i, e := range elems {
			if err := refDecodeValue(e, out.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		rv.Set(out)
		return nil
	}
	if err := json.Unmarshal(raw, rv.Addr().Interface()); err != nil {
		return refSerializationError(err, path)
	}
	return nil
}

func refIsPlainStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return false
	}
	for i := range t.NumField() {
		if t.Field(i).Anonymous {
			return false
		}
	}
	return true
}

func refSerializationError(err error, path string) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "Malformed JSON request body"}
	case errors.As(err, &te):
		if te.Field != "" {
			path = joinPath(path, te.Field)
		}
		if path == "" {
			return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "The request body must be a JSON object"}
		}
		return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "Unexpected value type for field " + path}
	case path != "":
		return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "Invalid value for field " + path}
	}
	return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "Malformed JSON request body"}
}
