package shape

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ValidateQuery checks the parameters of an AWS query protocol request
// (IAM, STS) of operation op against its input shape, as AWS does, and
// returns nil or an *Error: "ValidationError" for failed constraints, with
// the same messages as ValidateJSON, "MalformedInput" for a value that is
// not of its member's type, "InvalidAction" for an unknown operation.
//
// Members are named as on the wire: UserName, Tags.member.1.Key,
// Map.entry.1.key / Map.entry.1.value, Parent.Child. Parameters the model
// does not have (Action, Version, …) are ignored. Of a repeated parameter
// the first value is checked, which is the one url.Values.Get returns; the
// caller must decode it the same way. List elements are read from 1 up to
// the first missing index.
func ValidateQuery(svc *Service, op string, form url.Values) error {
	o, ok := svc.Operation(op)
	if !ok {
		return &Error{Code: "InvalidAction", Message: "Could not find operation " + op + " for version " + svc.APIVersion}
	}
	q := queryValidator{svc: svc, form: form}
	q.viol.svc = svc
	q.keys = make([]string, 0, len(form))
	for k := range form {
		q.keys = append(q.keys, k)
	}
	slices.Sort(q.keys)
	q.structure(o.input, "", false)
	if q.fail != nil {
		return q.fail
	}
	if err := q.viol.err("ValidationError"); err != nil {
		return err
	}
	return nil
}

type queryValidator struct {
	svc  *Service
	form url.Values
	keys []string // sorted
	fail *Error
	viol violations
	path []seg
}

// under reports whether a parameter starts with prefix.
func (q *queryValidator) under(prefix string) bool {
	i, _ := slices.BinarySearch(q.keys, prefix)
	return i < len(q.keys) && strings.HasPrefix(q.keys[i], prefix)
}

// present reports whether a value of shape sh is sent as name.
func (q *queryValidator) present(sh *shapeDef, name string) bool {
	switch sh.k {
	case kStructure, kMap:
		return q.under(name + ".")
	case kList:
		_, ok := q.form[name]
		return ok || q.under(name+".")
	}
	_, ok := q.form[name]
	return ok
}

func (q *queryValidator) malformed(msg, name string) {
	if q.fail == nil {
		q.fail = &Error{Code: "MalformedInput", Message: msg, Detail: "parameter " + strconv.Quote(name)}
	}
}

func (q *queryValidator) savePath(extra ...seg) []seg {
	p := make([]seg, len(q.path), len(q.path)+len(extra))
	copy(p, q.path)
	return append(p, extra...)
}

func (q *queryValidator) structure(shape uint16, prefix string, sens bool) {
	sh := &q.svc.shapes[shape]
	for j := range int(sh.n) {
		mi := int(sh.first) + j
		m := &q.svc.members[mi]
		name := m.name
		if prefix != "" {
			name = prefix + "." + m.name
		}
		q.path = append(q.path, seg{member: int32(mi)})
		ok := q.value(m.shape, name, sens, m.f&mSkipMax != 0)
		q.path = q.path[:len(q.path)-1]
		if q.fail != nil {
			return
		}
		if !ok && m.f&mRequired != 0 {
			show := showNull
			if sens || q.svc.shapes[m.shape].f&fSensitive != 0 {
				show = showOmit
			}
			q.viol.add(q.savePath(seg{member: int32(mi)}), m.shape, 1<<cNull, show, "")
		}
	}
}

// value checks the value of shape sent as name and reports whether there
// was one.
func (q *queryValidator) value(shape uint16, name string, sens, skipMax bool) bool {
	sh := &q.svc.shapes[shape]
	if !q.present(sh, name) {
		return false
	}
	sens = sens || sh.f&fSensitive != 0
	switch sh.k {
	case kStructure:
		q.structure(shape, name, sens)
		return true
	case kList:
		q.list(shape, name, sens, skipMax)
		return true
	case kMap:
		q.mapping(shape, name, sens, skipMax)
		return true
	}
	q.scalar(shape, name, first(q.form[name]), sens, skipMax, nil)
	return true
}

// scalar checks one scalar parameter; with agg set (map values) a failed
// constraint is reported through it instead of recorded.
func (q *queryValidator) scalar(shape uint16, name, s string, sens, skipMax bool, agg *bool) {
	sh := &q.svc.shapes[shape]
	if !utf8.ValidString(s) {
		q.malformed("", name)
		return
	}
	var failed cmask
	show, value := showValue, s
	switch sh.k {
	case kString:
		failed = q.svc.checkString(sh, []byte(s), utf8.RuneCountInString(s), skipMax)
	case kBlob:
		n, bad := base64Len([]byte(s), utf8.RuneCountInString(s))
		if bad != "" {
			q.malformed(bad, name)
			return
		}
		failed, show = checkLen(sh, int64(n), skipMax), showOmit
	case kInteger, kLong:
		bits, xsd := 32, "int"
		if sh.k == kLong {
			bits, xsd = 64, "long"
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			q.malformed(xsd+" must follow xsd1.1 definition", name)
			return
		}
		failed, value = checkVal(sh, n, skipMax), strconv.FormatInt(n, 10)
	case kDouble, kFloat:
		bits := 64
		if sh.k == kFloat {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			q.malformed("double must follow xsd1.1 definition", name)
			return
		}
		failed = checkFloat(sh, f, skipMax)
	case kBoolean:
		switch s {
		case "true", "false", "1", "0":
		default:
			q.malformed("boolean must follow xsd1.1 definition", name)
		}
		return
	case kTimestamp:
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				q.malformed("dateTime must follow xsd1.1 definition", name)
			}
		}
		return
	}
	if failed == 0 {
		return
	}
	if agg != nil {
		*agg = true
		return
	}
	if sens {
		show = showOmit
	}
	q.viol.add(q.savePath(), shape, failed, show, value)
}

func (q *queryValidator) list(shape uint16, name string, sens, skipMax bool) {
	sh := &q.svc.shapes[shape]
	el := &q.svc.shapes[sh.elem]
	var items []string
	n := 0
	for i := 1; ; i++ {
		elem := name + ".member." + strconv.Itoa(i)
		q.path = append(q.path, seg{member: -1, ord: int32(i)})
		ok := q.value(sh.elem, elem, sens, false)
		q.path = q.path[:len(q.path)-1]
		if q.fail != nil {
			return
		}
		if !ok {
			break
		}
		n = i
		if vs, ok := q.form[elem]; ok {
			items = append(items, first(vs))
		}
	}
	if failed := checkLen(sh, int64(n), skipMax); failed != 0 {
		scalar := el.k != kStructure && el.k != kList && el.k != kMap && el.k != kBlob
		if sens || el.f&fSensitive != 0 || !scalar {
			q.viol.add(q.savePath(), shape, failed, showOmit, "")
		} else {
			q.viol.add(q.savePath(), shape, failed, showValue, "["+strings.Join(items, ", ")+"]")
		}
	}
}

func (q *queryValidator) mapping(shape uint16, name string, sens, skipMax bool) {
	sh := &q.svc.shapes[shape]
	keyShape := &q.svc.shapes[sh.key]
	el := &q.svc.shapes[sh.elem]
	scalar := el.k != kStructure && el.k != kList && el.k != kMap
	var badKey, badValue bool
	var shown []string
	seen := map[string]bool{}
	n := 0
	for i := 1; ; i++ {
		entry := name + ".entry." + strconv.Itoa(i)
		if !q.under(entry + ".") {
			break
		}
		n = i
		kv, ok := q.form[entry+".key"]
		if !ok {
			q.malformed("", entry+".key")
			return
		}
		key := first(kv)
		if seen[key] || !utf8.ValidString(key) {
			q.malformed("", entry+".key")
			return
		}
		seen[key] = true
		if q.svc.checkString(keyShape, []byte(key), utf8.RuneCountInString(key), false) != 0 {
			badKey = true
		}
		q.path = append(q.path, seg{member: -1, ord: int32(i), entry: true, key: key})
		var agg *bool
		if scalar {
			agg = &badValue
		}
		var ok2 bool
		if scalar {
			vs, has := q.form[entry+".value"]
			if ok2 = has; has {
				q.scalar(sh.elem, entry+".value", first(vs), sens, false, agg)
				shown = append(shown, key+"="+first(vs))
			}
		} else {
			ok2 = q.value(sh.elem, entry+".value", sens, false)
		}
		if !ok2 && q.fail == nil {
			show := showNull
			if sens || el.f&fSensitive != 0 {
				show = showOmit
			}
			q.viol.add(q.savePath(), sh.elem, 1<<cNull, show, "")
		}
		q.path = q.path[:len(q.path)-1]
		if q.fail != nil {
			return
		}
	}
	failed := checkLen(sh, int64(n), skipMax)
	if badKey {
		failed |= 1 << cMapKeys
	}
	if badValue {
		failed |= 1 << cMapValues
	}
	if failed == 0 {
		return
	}
	if sens || el.f&fSensitive != 0 || !scalar || el.k == kBlob {
		q.viol.add(q.savePath(), shape, failed, showOmit, "")
	} else {
		q.viol.add(q.savePath(), shape, failed, showValue, "{"+strings.Join(shown, ", ")+"}")
	}
}

// first is the value of a parameter that url.Values.Get returns.
func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
