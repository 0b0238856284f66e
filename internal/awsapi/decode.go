// This file holds the decoder of AWS JSON 1.1 request bodies: members
// matched to fields by exact name, as AWS matches them.

package awsapi

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"strongroom/internal/kms"
)

// decodeJSON decodes an AWS JSON 1.1 body into v, a pointer to a struct; an
// empty body is an empty object. Member names match field names (or their
// json tag names) exactly, as AWS's do: encoding/json alone would also fill
// KeyId from "keyid", a member AWS ignores as unknown. Unknown members are
// ignored. When a member appears twice, the last one counts.
//
// Its results and errors are those of encoding/json applied member by
// member (see decode_test.go, which checks this against that reference):
// a body that is not JSON is "Malformed JSON request body"; a value of the
// wrong type is "Unexpected value type for field <path>", and any other
// value a field cannot take "Invalid value for field <path>", the fields
// checked in their declaration order. The common field types (strings,
// blobs, booleans, integers, string maps and lists, nested structures) are
// decoded here without encoding/json; a value this decoder does not handle
// itself (escaped strings, unusual types, any value in error) is handed to
// encoding/json, so both agree by construction.
func decodeJSON(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if !validJSON(body) {
		return errMalformed
	}
	rv := reflect.ValueOf(v).Elem()
	return decoderFor(rv.Type())(trimSpace(body), rv, "")
}

var errMalformed = &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "Malformed JSON request body"}

// A decoder decodes raw, one whole valid JSON value without surrounding
// white space, into rv. path names the value in errors.
type decoder func(raw []byte, rv reflect.Value, path string) error

// decoders caches the decoder of each type: reflect.Type → decoder. They
// are built under buildMu, and stored only once complete.
var (
	decoders sync.Map
	buildMu  sync.Mutex
)

func decoderFor(t reflect.Type) decoder {
	if d, ok := decoders.Load(t); ok {
		return d.(decoder)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	return (&builder{building: map[reflect.Type]*decoder{}}).get(t)
}

// builder builds the decoders of a type and the types it holds. A type
// that holds itself gets a decoder that calls its own once built.
type builder struct {
	building map[reflect.Type]*decoder
}

func (b *builder) get(t reflect.Type) decoder {
	if d, ok := decoders.Load(t); ok {
		return d.(decoder)
	}
	if p, ok := b.building[t]; ok {
		return func(raw []byte, rv reflect.Value, path string) error { return (*p)(raw, rv, path) }
	}
	p := new(decoder)
	b.building[t] = p
	*p = b.newDecoder(t)
	decoders.Store(t, *p)
	return *p
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	stringMapType       = reflect.TypeFor[map[string]string]()
	stringListType      = reflect.TypeFor[[]string]()
	bytesType           = reflect.TypeFor[[]byte]()
)

func (b *builder) newDecoder(t reflect.Type) decoder {
	switch {
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return decodeGeneric
	case t.Kind() == reflect.Pointer && isPlainStruct(t.Elem()):
		return pointerDecoder(t, b.get(t.Elem()))
	case isPlainStruct(t):
		return b.structDecoder(t)
	case t.Kind() == reflect.Slice && (isPlainStruct(t.Elem()) || t.Elem().Kind() == reflect.Pointer && isPlainStruct(t.Elem().Elem())):
		return sliceDecoder(t, b.get(t.Elem()))
	case hasOwnDecoding(t) || t.Kind() == reflect.Pointer && hasOwnDecoding(t.Elem()):
		return decodeGeneric
	case t == stringMapType:
		return decodeStringMap
	case t == stringListType:
		return decodeStringList
	case t == bytesType:
		return decodeBytes
	case t.Kind() == reflect.String:
		return decodeString
	case t.Kind() == reflect.Bool:
		return decodeBool
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return decodeInt
	case t.Kind() == reflect.Pointer &&
		(t.Elem().Kind() == reflect.String || t.Elem().Kind() == reflect.Bool || t.Elem().Kind() >= reflect.Int && t.Elem().Kind() <= reflect.Int64):
		return scalarPointerDecoder(t, b.get(t.Elem()))
	}
	return decodeGeneric
}

// hasOwnDecoding reports whether encoding/json would decode t with t's own
// method.
func hasOwnDecoding(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType)
}

// isPlainStruct reports whether t is a struct decoded member by member: not
// one with its own UnmarshalJSON (such as kms.Time), and without embedded
// fields, whose promotion encoding/json handles.
func isPlainStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	for i := range t.NumField() {
		if t.Field(i).Anonymous {
			return false
		}
	}
	return true
}

// decodeGeneric leaves raw to encoding/json.
func decodeGeneric(raw []byte, rv reflect.Value, path string) error {
	if err := json.Unmarshal(raw, rv.Addr().Interface()); err != nil {
		return serializationError(err, path)
	}
	return nil
}

type field struct {
	name  string
	index int
	dec   decoder
}

// structDecoder decodes an object member by member into a struct: first
// the member each field takes is found (the last of a name), then the
// fields are decoded in their order.
func (b *builder) structDecoder(t reflect.Type) decoder {
	var fields []field
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Name
		if tag := f.Tag.Get("json"); tag != "" {
			if n, _, _ := strings.Cut(tag, ","); n != "" {
				name = n
			}
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		fields = append(fields, field{name: name, index: i, dec: b.get(f.Type)})
	}
	return func(raw []byte, rv reflect.Value, path string) error {
		switch raw[0] {
		case '{':
		case 'n': // null leaves the struct as it is
			return nil
		default:
			return typeError(path)
		}
		var stack [32][]byte
		var values [][]byte
		if len(fields) <= len(stack) {
			values = stack[:len(fields)]
		} else {
			values = make([][]byte, len(fields))
		}
		found := false
		for it := (members{b: raw}); it.next(); {
			key, ok := it.key()
			if !ok {
				// An escaped member name: compare it unescaped.
				var s string
				if err := json.Unmarshal(it.rawKey, &s); err != nil {
					return errMalformed
				}
				key = []byte(s)
			}
			for i := range fields {
				if fields[i].name == string(key) {
					values[i] = it.val
					found = true
					break
				}
			}
		}
		if !found {
			return nil
		}
		for i := range fields {
			if values[i] == nil {
				continue
			}
			if err := fields[i].dec(values[i], rv.Field(fields[i].index), joinPath(path, fields[i].name)); err != nil {
				return err
			}
		}
		return nil
	}
}

// pointerDecoder decodes into a pointer to a plain struct: null sets it to
// nil, anything else is decoded into the struct it points to (a new one
// if nil).
func pointerDecoder(t reflect.Type, elem decoder) decoder {
	return func(raw []byte, rv reflect.Value, path string) error {
		if raw[0] == 'n' {
			rv.SetZero()
			return nil
		}
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		return elem(raw, rv.Elem(), path)
	}
}

// sliceDecoder decodes an array into a slice of (pointers to) plain
// structs.
func sliceDecoder(t reflect.Type, elem decoder) decoder {
	return func(raw []byte, rv reflect.Value, path string) error {
		switch raw[0] {
		case '[':
		case 'n':
			rv.SetZero()
			return nil
		default:
			return typeError(path)
		}
		n := 0
		for it := (elements{b: raw}); it.next(); {
			n++
		}
		out := reflect.MakeSlice(t, n, n)
		i := 0
		for it := (elements{b: raw}); it.next(); i++ {
			if err := elem(it.val, out.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		rv.Set(out)
		return nil
	}
}

// plainString returns the contents of raw if it is a string literal without
// escapes holding valid UTF-8: one that encoding/json would return as is.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf {
			if !utf8.Valid(s) || strings.IndexByte(string(s), '\\') >= 0 {
				return nil, false
			}
			break
		}
	}
	return s, true
}

func decodeString(raw []byte, rv reflect.Value, path string) error {
	if s, ok := plainString(raw); ok {
		rv.SetString(string(s))
		return nil
	}
	if raw[0] == 'n' {
		return nil
	}
	return decodeGeneric(raw, rv, path)
}

func decodeBool(raw []byte, rv reflect.Value, path string) error {
	switch raw[0] {
	case 't':
		rv.SetBool(true)
	case 'f':
		rv.SetBool(false)
	case 'n':
	default:
		return decodeGeneric(raw, rv, path)
	}
	return nil
}

func decodeInt(raw []byte, rv reflect.Value, path string) error {
	if raw[0] == 'n' {
		return nil
	}
	if n, err := strconv.ParseInt(string(raw), 10, rv.Type().Bits()); err == nil {
		rv.SetInt(n)
		return nil
	}
	return decodeGeneric(raw, rv, path)
}

// scalarPointerDecoder decodes into a *string, *bool or *intN: null sets
// nil, anything else a new value.
func scalarPointerDecoder(t reflect.Type, elem decoder) decoder {
	return func(raw []byte, rv reflect.Value, path string) error {
		if raw[0] == 'n' {
			rv.SetZero()
			return nil
		}
		p := reflect.New(t.Elem())
		if err := elem(raw, p.Elem(), path); err != nil {
			// encoding/json leaves a new value behind on error too, but
			// nothing reads a request that failed to decode.
			return err
		}
		rv.Set(p)
		return nil
	}
}

func decodeBytes(raw []byte, rv reflect.Value, path string) error {
	if raw[0] == 'n' {
		rv.SetZero()
		return nil
	}
	s, ok := plainString(raw)
	if !ok {
		return decodeGeneric(raw, rv, path)
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return decodeGeneric(raw, rv, path)
	}
	rv.SetBytes(b[:n])
	return nil
}

func decodeStringMap(raw []byte, rv reflect.Value, path string) error {
	switch raw[0] {
	case '{':
	case 'n':
		rv.SetZero()
		return nil
	default:
		return decodeGeneric(raw, rv, path)
	}
	m := rv.Interface().(map[string]string)
	if m == nil {
		m = make(map[string]string)
	}
	for it := (members{b: raw}); it.next(); {
		k, ok := plainString(it.rawKey)
		v, vok := plainString(it.val)
		if !ok || !vok {
			return decodeGeneric(raw, rv, path)
		}
		m[string(k)] = string(v)
	}
	rv.Set(reflect.ValueOf(m))
	return nil
}

func decodeStringList(raw []byte, rv reflect.Value, path string) error {
	switch raw[0] {
	case '[':
	case 'n':
		rv.SetZero()
		return nil
	default:
		return decodeGeneric(raw, rv, path)
	}
	var out []string
	for it := (elements{b: raw}); it.next(); {
		s, ok := plainString(it.val)
		if !ok {
			return decodeGeneric(raw, rv, path)
		}
		out = append(out, string(s))
	}
	if out == nil {
		out = []string{}
	}
	rv.Set(reflect.ValueOf(out))
	return nil
}

func typeError(path string) error {
	if path == "" {
		return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "The request body must be a JSON object"}
	}
	return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "Unexpected value type for field " + path}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// serializationError turns a decoding failure into the SerializationException
// AWS answers for a body that does not fit the operation's shapes.
func serializationError(err error, path string) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return errMalformed
	case errors.As(err, &te):
		if te.Field != "" {
			path = joinPath(path, te.Field)
		}
		return typeError(path)
	case path != "":
		return &kms.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "Invalid value for field " + path}
	}
	return errMalformed
}

// members iterates over the members of a valid JSON object.
type members struct {
	b      []byte
	i      int
	rawKey []byte // the member name, quoted
	val    []byte // the value, without surrounding white space
}

func (m *members) next() bool {
	if m.i == 0 {
		m.i = 1 // after '{'
	}
	i := skipSpace(m.b, m.i)
	if m.b[i] == ',' {
		i = skipSpace(m.b, i+1)
	}
	if m.b[i] == '}' {
		return false
	}
	end, _ := scanString(m.b, i)
	m.rawKey = m.b[i:end]
	i = skipSpace(m.b, end)
	i = skipSpace(m.b, i+1) // ':'
	end, _ = scanValue(m.b, i, 0)
	m.val = m.b[i:end]
	m.i = end
	return true
}

// key returns the member name if it has no escapes.
func (m *members) key() ([]byte, bool) {
	k := m.rawKey[1 : len(m.rawKey)-1]
	for _, c := range k {
		if c == '\\' {
			return nil, false
		}
	}
	return k, true
}

// elements iterates over the elements of a valid JSON array.
type elements struct {
	b   []byte
	i   int
	val []byte
}

func (e *elements) next() bool {
	if e.i == 0 {
		e.i = 1 // after '['
	}
	i := skipSpace(e.b, e.i)
	if e.b[i] == ',' {
		i = skipSpace(e.b, i+1)
	}
	if e.b[i] == ']' {
		return false
	}
	end, _ := scanValue(e.b, i, 0)
	e.val = e.b[i:end]
	e.i = end
	return true
}

// maxDepth is encoding/json's nesting limit, past which it calls a body
// malformed.
const maxDepth = 10000

// validJSON reports whether b is one JSON value, with optional white space
// around it, by the grammar encoding/json accepts (RFC 8259; strings may
// hold invalid UTF-8).
func validJSON(b []byte) bool {
	i := skipSpace(b, 0)
	end, ok := scanValue(b, i, 0)
	return ok && skipSpace(b, end) == len(b)
}

func trimSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanValue returns the end of the value starting at b[i], and whether it
// is valid.
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{':
		if depth++; depth > maxDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			var ok bool
			if i, ok = scanString(b, i); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = scanValue(b, skipSpace(b, i+1), depth); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '[':
		if depth++; depth > maxDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = scanValue(b, i, depth); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return i, false
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// scanString scans the string literal at b[i] (b[i] == '"').
func scanString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 {
					return i, false
				}
				for _, h := range b[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		case c < 0x20:
			return i, false
		default:
			i++
		}
	}
	return i, false
}

func scanNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(i + 1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}
