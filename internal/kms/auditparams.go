package kms

import (
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"strongroom/internal/audit"
)

// appendWhitelist appends to b the JSON encoding of whitelist(v, names)
// (null when that is nil), as the audit package encodes such a map, but
// without building it: the members are rendered straight from v, in the
// order the map's sorted keys would give. Every call's record pays for
// this, so strings are not boxed, maps not copied and the encryption
// context not walked by reflection. FuzzAppendWhitelist holds the two
// byte for byte equal.
func appendWhitelist(b []byte, v any, names []string) []byte {
	if v == nil || len(names) == 0 {
		return append(b, "null"...)
	}
	if q, ok := v.(url.Values); ok {
		return appendJSON(b, whitelistQuery(q, names))
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return append(b, "null"...)
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return append(b, "null"...)
	}
	fs, ok := sortedWhitelistFields(rv.Type(), names)
	if !ok {
		return appendJSON(b, whitelist(v, names))
	}
	start := len(b)
	b = append(b, '{')
	for _, f := range fs {
		var wrote bool
		if b, wrote = appendMember(b, f.name, rv.FieldByIndex(f.index), 0); wrote {
			b = append(b, ',')
		}
	}
	if b, ok = closeOpen(b, start, '}'); !ok {
		return append(b, "null"...)
	}
	return b
}

// appendJSON appends the audit package's encoding of m (nil: null).
func appendJSON(b []byte, m map[string]any) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	out, err := audit.AppendJSON(b, m)
	if err != nil { // whitelisted values are strings, numbers, booleans, lists and maps of them
		return append(b, "null"...)
	}
	return out
}

// appendMember appends "name":value for a value safeValue would keep, and
// reports whether it did (b is unchanged when not).
func appendMember(b []byte, name string, v reflect.Value, depth int) ([]byte, bool) {
	start := len(b)
	b = audit.AppendJSONString(b, name)
	b = append(b, ':')
	b, ok := appendSafe(b, v, depth)
	if !ok {
		return b[:start], false
	}
	return b, true
}

var stringMapType = reflect.TypeFor[map[string]string]()

// appendSafe appends the JSON of what safeValue(v, depth) renders, and
// reports whether safeValue keeps v at all (when it does not, what was
// appended is to be dropped by the caller).
func appendSafe(b []byte, v reflect.Value, depth int) ([]byte, bool) {
	if depth > 6 {
		return b, false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return b, false
		}
		return appendSafe(b, v.Elem(), depth)
	case reflect.String:
		if v.Len() == 0 {
			return b, false
		}
		return audit.AppendJSONString(b, v.String()), true
	case reflect.Bool:
		if !v.Bool() {
			return b, false
		}
		return append(b, "true"...), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Int() == 0 {
			return b, false
		}
		return strconv.AppendInt(b, v.Int(), 10), true
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if v.Uint() == 0 {
			return b, false
		}
		return strconv.AppendUint(b, v.Uint(), 10), true
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 || v.Len() == 0 {
			return b, false // blobs, never recorded
		}
		start := len(b)
		b = append(b, '[')
		for i := range v.Len() {
			var ok bool
			if b, ok = appendSafe(b, v.Index(i), depth+1); ok {
				b = append(b, ',')
			}
		}
		return closeOpen(b, start, ']')
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.Len() == 0 {
			return b, false
		}
		if v.Type() == stringMapType {
			return appendStringMap(b, v.Interface().(map[string]string))
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		start := len(b)
		b = append(b, '{')
		for _, k := range keys {
			var ok bool
			if b, ok = appendMember(b, k.String(), v.MapIndex(k), depth+1); ok {
				b = append(b, ',')
			}
		}
		return closeOpen(b, start, '}')
	case reflect.Struct:
		switch v.Type() {
		case timeType:
			return appendTime(b, v.Interface().(Time).Time), true
		case stdTimeType:
			t := v.Interface().(time.Time)
			if t.IsZero() {
				return b, false
			}
			return appendTime(b, t), true
		}
		ms, ok := sortedMembers(v.Type())
		if !ok {
			x, ok := safeValue(v, depth)
			if !ok {
				return b, false
			}
			return appendJSON(b, x.(map[string]any)), true
		}
		start := len(b)
		b = append(b, '{')
		for _, m := range ms {
			var ok bool
			if b, ok = appendMember(b, m.name, v.Field(m.i), depth+1); ok {
				b = append(b, ',')
			}
		}
		return closeOpen(b, start, '}')
	}
	return b, false
}

// closeOpen ends the list or object opened at b[start], whose members
// are each followed by a comma: the last comma becomes end. An empty one
// is taken out again, and ok is false.
func closeOpen(b []byte, start int, end byte) (_ []byte, ok bool) {
	if len(b) == start+1 {
		return b[:start], false
	}
	b[len(b)-1] = end
	return b, true
}

// appendStringMap is appendSafe of a map[string]string (an encryption
// context): members with an empty value are left out.
func appendStringMap(b []byte, m map[string]string) ([]byte, bool) {
	var arr [16]string
	keys := arr[:0]
	for k, x := range m {
		if x != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return b, false
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = audit.AppendJSONString(b, k)
		b = append(b, ':')
		b = audit.AppendJSONString(b, m[k])
	}
	return append(b, '}'), true
}

// appendTime appends t as a record's time string.
func appendTime(b []byte, t time.Time) []byte {
	var tb [40]byte
	return audit.AppendJSONString(b, string(t.UTC().AppendFormat(tb[:0], audit.TimeFormat)))
}

var sortedFieldsCache sync.Map // whitelistKey → sortedList[recordedField]

// sortedList is a list of members in the order of their recorded names;
// ok is false when two share a name (the map whitelist and safeValue
// build keeps one of them: appendWhitelist leaves those to them).
type sortedList[T any] struct {
	xs []T
	ok bool
}

func sortByName[T any](xs []T, name func(T) string) sortedList[T] {
	xs = slices.Clone(xs)
	slices.SortStableFunc(xs, func(x, y T) int { return strings.Compare(name(x), name(y)) })
	for i := 1; i < len(xs); i++ {
		if name(xs[i]) == name(xs[i-1]) {
			return sortedList[T]{xs, false}
		}
	}
	return sortedList[T]{xs, true}
}

// sortedWhitelistFields is whitelistFields sorted by recorded name.
func sortedWhitelistFields(t reflect.Type, names []string) ([]recordedField, bool) {
	k := whitelistKey{t, &names[0]}
	v, ok := sortedFieldsCache.Load(k)
	if !ok {
		v, _ = sortedFieldsCache.LoadOrStore(k, sortByName(whitelistFields(t, names), func(f recordedField) string { return f.name }))
	}
	s := v.(sortedList[recordedField])
	return s.xs, s.ok
}

var sortedMembersCache sync.Map // reflect.Type → sortedList[recordedMember]

// sortedMembers is recordedMembers sorted by recorded name.
func sortedMembers(t reflect.Type) ([]recordedMember, bool) {
	v, ok := sortedMembersCache.Load(t)
	if !ok {
		v, _ = sortedMembersCache.LoadOrStore(t, sortByName(recordedMembers(t), func(m recordedMember) string { return m.name }))
	}
	s := v.(sortedList[recordedMember])
	return s.xs, s.ok
}
