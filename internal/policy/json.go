package policy

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// The policy grammar is read from a small JSON tree rather than through
// encoding/json's struct decoding, for two reasons: a member repeated in one
// object ({"Effect":"Deny","Effect":"Allow"}) must be refused, not resolved
// silently in favour of the last one, and element values are polymorphic
// (string or array, object or array).

type jkind uint8

const (
	jString jkind = iota
	jNumber
	jBool
	jNull
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"a string", "a number", "a boolean", "null", "an array", "an object"}[k]
}

type jvalue struct {
	kind jkind
	s    string    // string and number text; "true"/"false" for booleans
	arr  []*jvalue // array elements
	keys []string  // object member names, in document order
	vals []*jvalue // object member values, parallel to keys
}

func (v *jvalue) get(key string) *jvalue {
	for i, k := range v.keys {
		if k == key {
			return v.vals[i]
		}
	}
	return nil
}

// maxDepth bounds nesting; a valid policy needs five levels.
const maxDepth = 32

var errDepth = errors.New("nesting is too deep")

func decodeJSON(doc string) (*jvalue, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("unexpected data after the top-level value")
		}
		return nil, err
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (*jvalue, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case string:
		return &jvalue{kind: jString, s: t}, nil
	case json.Number:
		return &jvalue{kind: jNumber, s: t.String()}, nil
	case bool:
		return &jvalue{kind: jBool, s: strconv.FormatBool(t)}, nil
	case nil:
		return &jvalue{kind: jNull}, nil
	case json.Delim:
		switch t {
		case '[':
			v := &jvalue{kind: jArray}
			for dec.More() {
				e, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return v, nil
		case '{':
			v := &jvalue{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object member name is not a string")
				}
				for _, seen := range v.keys {
					if seen == k {
						return nil, &dupError{name: k}
					}
				}
				e, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, k)
				v.vals = append(v.vals, e)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return v, nil
		}
	}
	return nil, errors.New("unexpected token")
}

// dupError reports a member name repeated within one JSON object.
type dupError struct{ name string }

func (e *dupError) Error() string { return "duplicate member " + strconv.Quote(e.name) }
