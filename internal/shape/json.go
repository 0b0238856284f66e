package shape

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits on a JSON body, beyond which it is a SerializationException.
const (
	maxDepth  = 32    // nesting of objects and arrays; the body's object is 1
	maxValues = 10000 // values of any kind, containers included
)

// ValidateJSON checks body, the raw AWS JSON 1.1 request of operation op of
// svc, against the operation's input shape as AWS does before running it,
// and returns nil or an *Error. It reads body once and does not keep it.
//
// Anything it accepts is well-formed JSON that encoding/json decodes into
// the input's Go struct without type errors, so the caller may decode after
// it; see the package documentation for where it is stricter than AWS.
func ValidateJSON(svc *Service, op string, body []byte) error {
	o, ok := svc.Operation(op)
	if !ok {
		return &Error{Code: "UnknownOperationException", Detail: "operation " + strconv.Quote(op) + " is not in the " + svc.Name + " model"}
	}
	v := jsonValidator{svc: svc, b: body}
	v.viol.svc = svc
	if err := v.run(o.input); err != nil {
		return err
	}
	return nil
}

type jsonValidator struct {
	svc     *Service
	b       []byte
	i       int
	depth   int
	values  int
	fail    *Error // the first serialization error; parsing stops there
	viol    violations
	path    [maxDepth + 2]seg
	np      int
	scratch []byte // unescaped strings
}

func (v *jsonValidator) run(input uint16) *Error {
	v.ws()
	if v.i == len(v.b) {
		// An empty body is an empty object.
		v.required(input, false, 0)
		return v.viol.err("ValidationException")
	}
	switch v.b[v.i] {
	case '{':
	case '[':
		return &Error{Code: "SerializationException", Message: "Start of list found where not expected"}
	default:
		return &Error{Code: "SerializationException", Detail: "the body is not a JSON object"}
	}
	v.value(input, false, false, nil)
	if v.fail != nil {
		return v.fail
	}
	v.ws()
	if v.i != len(v.b) {
		return v.syntax("data after the JSON object")
	}
	return v.viol.err("ValidationException")
}

// syntax records malformed JSON. AWS answers it without a message.
func (v *jsonValidator) syntax(why string) *Error {
	if v.fail == nil {
		v.fail = &Error{Code: "SerializationException", Detail: why + " at byte " + strconv.Itoa(v.i)}
	}
	return v.fail
}

// mismatch records a value whose JSON type does not fit its shape.
func (v *jsonValidator) mismatch(msg string) {
	if v.fail == nil {
		v.fail = &Error{Code: "SerializationException", Message: msg, Detail: "at byte " + strconv.Itoa(v.i)}
	}
}

// typeMessage is AWS's message for a token that cannot become a k.
func typeMessage(token string, k kind) string {
	switch k {
	case kStructure:
		return "Expected null"
	case kList:
		return "Expected list or null"
	case kMap:
		return "Expected map or null"
	}
	return token + " can not be converted to " + kindNames[k]
}

var kindNames = [...]string{
	kString: "a String", kBlob: "a Blob", kInteger: "an Integer", kLong: "a Long",
	kBoolean: "a Boolean", kTimestamp: "a Timestamp", kDouble: "a Double", kFloat: "a Float",
}

func (v *jsonValidator) ws() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *jsonValidator) push(s seg) {
	v.path[v.np] = s
	v.np++
}

func (v *jsonValidator) pop() { v.np-- }

// savePath copies the current path for a violation, with map keys.
func (v *jsonValidator) savePath(extra ...seg) []seg {
	p := make([]seg, v.np, v.np+len(extra))
	copy(p, v.path[:v.np])
	p = append(p, extra...)
	for i := range p {
		if p[i].entry {
			p[i].key = string(v.unescape(int(p[i].ks), int(p[i].ke)))
		}
	}
	return p
}

// value parses the value at v.i as the given shape and checks it. sens is
// set inside a sensitive shape; skipMax is the member's With override. When
// agg is not nil (map values) a scalar's failure is not recorded but
// reported through *agg. It reports whether the value was present (not
// null).
func (v *jsonValidator) value(shape uint16, sens, skipMax bool, agg *bool) bool {
	if v.i >= len(v.b) {
		v.syntax("unexpected end of input")
		return false
	}
	v.values++
	if v.values > maxValues {
		v.syntax("more than 10000 values")
		return false
	}
	sh := &v.svc.shapes[shape]
	sens = sens || sh.f&fSensitive != 0
	switch c := v.b[v.i]; c {
	case '{':
		switch sh.k {
		case kStructure:
			v.structure(shape, sens)
		case kMap:
			v.mapping(shape, sens, skipMax)
		default:
			v.mismatch("Start of structure or map found where not expected.")
		}
	case '[':
		if sh.k != kList {
			v.mismatch("Start of list found where not expected")
			return false
		}
		v.list(shape, sens, skipMax)
	case '"':
		ks, ke, esc, runes := v.str()
		if v.fail != nil {
			return false
		}
		switch sh.k {
		case kString:
			b := v.b[ks:ke]
			if esc {
				b = v.unescape(ks, ke)
			}
			if failed := v.svc.checkString(sh, b, runes, skipMax); failed != 0 {
				if agg != nil {
					*agg = true
				} else if sens {
					v.viol.add(v.savePath(), shape, failed, showOmit, "")
				} else {
					value := string(b) // before savePath reuses the scratch buffer
					v.viol.add(v.savePath(), shape, failed, showValue, value)
				}
			}
		case kBlob:
			b := v.b[ks:ke]
			if esc {
				b = v.unescape(ks, ke)
			}
			n, bad := base64Len(b, runes)
			if bad != "" {
				v.mismatch(bad)
				return false
			}
			if failed := checkLen(sh, int64(n), skipMax); failed != 0 {
				if agg != nil {
					*agg = true
				} else {
					v.viol.add(v.savePath(), shape, failed, showOmit, "")
				}
			}
		default:
			v.mismatch(typeMessage("STRING_VALUE", sh.k))
		}
	case 't', 'f':
		token := "TRUE_VALUE"
		if !v.literal("true") {
			if v.fail != nil || !v.literal("false") {
				v.syntax("invalid literal")
				return false
			}
			token = "FALSE_VALUE"
		}
		if sh.k != kBoolean {
			v.mismatch(typeMessage(token, sh.k))
		}
	case 'n':
		if !v.literal("null") {
			v.syntax("invalid literal")
		}
		return false
	default:
		if c != '-' && (c < '0' || c > '9') {
			v.syntax("unexpected character")
			return false
		}
		start := v.i
		isInt := v.number()
		if v.fail != nil {
			return false
		}
		v.numberValue(shape, sh, v.b[start:v.i], isInt, sens, skipMax, agg)
	}
	return v.fail == nil
}

func (v *jsonValidator) numberValue(shape uint16, sh *shapeDef, num []byte, isInt, sens, skipMax bool, agg *bool) {
	var failed cmask
	var value string
	show := showValue
	switch sh.k {
	case kInteger, kLong:
		if !isInt {
			v.mismatch("DECIMAL_VALUE can not be converted to " + kindNames[sh.k])
			return
		}
		n, ok := parseInt(num, sh.k == kInteger)
		if ok {
			failed = checkVal(sh, n, skipMax)
			value = strconv.FormatInt(n, 10)
			break
		}
		// Too large for the type. AWS answers with the range constraint
		// that the value breaks, without the value; with no such
		// constraint, the value cannot be represented at all.
		show = showOmit
		if num[0] == '-' {
			if sh.f&fMin != 0 {
				failed = 1 << cMinVal
			}
		} else if sh.f&fMax != 0 && !skipMax {
			failed = 1 << cMaxVal
		}
		if failed == 0 {
			v.mismatch("NUMBER_VALUE can not be converted to " + kindNames[sh.k])
			return
		}
	case kDouble, kFloat:
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil || (sh.k == kFloat && math.Abs(f) > math.MaxFloat32) {
			v.mismatch("NUMBER_VALUE can not be converted to " + kindNames[sh.k])
			return
		}
		failed = checkFloat(sh, f, skipMax)
		value = string(num)
	case kTimestamp:
		// Seconds since the epoch, with a fraction if need be.
		if f, err := strconv.ParseFloat(string(num), 64); err != nil || math.IsInf(f, 0) {
			v.mismatch("NUMBER_VALUE can not be converted to " + kindNames[sh.k])
		}
		return
	default:
		v.mismatch(typeMessage("NUMBER_VALUE", sh.k))
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
	v.viol.add(v.savePath(), shape, failed, show, value)
}

// parseInt parses an optional minus and digits exactly, within int32 or
// int64.
func parseInt(b []byte, int32Range bool) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 19 {
		return 0, false
	}
	var u uint64 // 19 digits fit
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	limit := uint64(1<<63 - 1)
	if int32Range {
		limit = 1<<31 - 1
	}
	if neg {
		limit++
	}
	if u > limit {
		return 0, false
	}
	if neg {
		return -int64(u), true // -(1<<63) wraps to itself
	}
	return int64(u), true
}

// structure parses an object of a structure shape.
func (v *jsonValidator) structure(shape uint16, sens bool) {
	sh := &v.svc.shapes[shape]
	if v.enter() {
		return
	}
	members := v.svc.members[sh.first : int(sh.first)+int(sh.n)]
	var seen, present uint64
	var unknown keySet
	v.i++
	v.ws()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
	} else {
		for {
			if v.i >= len(v.b) || v.b[v.i] != '"' {
				v.syntax("expected a member name")
				return
			}
			ks, ke, esc, _ := v.str()
			if v.fail != nil {
				return
			}
			key := v.b[ks:ke]
			if esc {
				key = v.unescape(ks, ke)
			}
			idx := -1
			for j := range members {
				if string(key) == members[j].name {
					idx = j
					break
				}
			}
			if idx < 0 {
				// A member in another case is unknown, as in AWS: the
				// caller's decoder matches names exactly (awsapi.decodeJSON).
				if unknown.add(v.b, ks, ke, esc, key) {
					v.mismatch("Duplicate field '" + string(key) + "'")
					return
				}
			} else if seen&(1<<idx) != 0 {
				v.mismatch("Duplicate field '" + members[idx].name + "'")
				return
			}
			v.ws()
			if v.i >= len(v.b) || v.b[v.i] != ':' {
				v.syntax("expected ':'")
				return
			}
			v.i++
			v.ws()
			if idx >= 0 {
				seen |= 1 << idx
				m := &members[idx]
				v.push(seg{member: int32(int(sh.first) + idx)})
				if v.value(m.shape, sens, m.f&mSkipMax != 0, nil) {
					present |= 1 << idx
				}
				v.pop()
			} else {
				v.skip()
			}
			if v.fail != nil {
				return
			}
			v.ws()
			if v.i < len(v.b) && v.b[v.i] == ',' {
				v.i++
				v.ws()
				continue
			}
			if v.i < len(v.b) && v.b[v.i] == '}' {
				v.i++
				break
			}
			v.syntax("expected ',' or '}'")
			return
		}
	}
	v.depth--
	v.required(shape, sens, present)
}

// required records the required members of a structure that are missing.
func (v *jsonValidator) required(shape uint16, sens bool, present uint64) {
	sh := &v.svc.shapes[shape]
	for j := range int(sh.n) {
		m := &v.svc.members[int(sh.first)+j]
		if m.f&mRequired == 0 || present&(1<<j) != 0 {
			continue
		}
		show := showNull
		if sens || v.svc.shapes[m.shape].f&fSensitive != 0 {
			show = showOmit
		}
		v.viol.add(v.savePath(seg{member: int32(int(sh.first) + j)}), m.shape, 1<<cNull, show, "")
	}
}

// enter goes one level deeper; it reports true if that is too deep.
func (v *jsonValidator) enter() bool {
	v.depth++
	if v.depth > maxDepth {
		v.syntax("nesting deeper than 32")
		return true
	}
	return false
}

func (v *jsonValidator) list(shape uint16, sens, skipMax bool) {
	sh := &v.svc.shapes[shape]
	if v.enter() {
		return
	}
	start := v.i
	v.i++
	v.ws()
	n := 0
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
	} else {
		elemSens := sens || v.svc.shapes[sh.elem].f&fSensitive != 0
		for {
			n++
			v.push(seg{member: -1, ord: int32(n)})
			if !v.value(sh.elem, sens, false, nil) && v.fail == nil {
				// encoding/json would decode null as a zero value.
				show := showNull
				if elemSens {
					show = showOmit
				}
				v.viol.add(v.savePath(), sh.elem, 1<<cNull, show, "")
			}
			v.pop()
			if v.fail != nil {
				return
			}
			v.ws()
			if v.i < len(v.b) && v.b[v.i] == ',' {
				v.i++
				v.ws()
				continue
			}
			if v.i < len(v.b) && v.b[v.i] == ']' {
				v.i++
				break
			}
			v.syntax("expected ',' or ']'")
			return
		}
	}
	v.depth--
	if failed := checkLen(sh, int64(n), skipMax); failed != 0 {
		v.addCollection(shape, sens, start, failed)
	}
}

// mapping parses an object of a map shape.
func (v *jsonValidator) mapping(shape uint16, sens, skipMax bool) {
	sh := &v.svc.shapes[shape]
	if v.enter() {
		return
	}
	keyShape := &v.svc.shapes[sh.key]
	valueShape := &v.svc.shapes[sh.elem]
	scalar := valueShape.k != kStructure && valueShape.k != kList && valueShape.k != kMap
	elemSens := sens || valueShape.f&fSensitive != 0
	var keys keySet
	var badKey, badValue bool
	start := v.i
	n := 0
	v.i++
	v.ws()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
	} else {
		for {
			if v.i >= len(v.b) || v.b[v.i] != '"' {
				v.syntax("expected a key")
				return
			}
			ks, ke, esc, runes := v.str()
			if v.fail != nil {
				return
			}
			key := v.b[ks:ke]
			if esc {
				key = v.unescape(ks, ke)
			}
			if keys.add(v.b, ks, ke, esc, key) {
				if sens {
					v.mismatch("Duplicate field")
				} else {
					v.mismatch("Duplicate field '" + string(key) + "'")
				}
				return
			}
			if v.svc.checkString(keyShape, key, runes, false) != 0 {
				badKey = true
			}
			v.ws()
			if v.i >= len(v.b) || v.b[v.i] != ':' {
				v.syntax("expected ':'")
				return
			}
			v.i++
			v.ws()
			n++
			v.push(seg{member: -1, ord: int32(n), entry: true, ks: int32(ks), ke: int32(ke)})
			var agg *bool
			if scalar {
				agg = &badValue
			}
			if !v.value(sh.elem, sens, false, agg) && v.fail == nil {
				show := showNull
				if elemSens {
					show = showOmit
				}
				v.viol.add(v.savePath(), sh.elem, 1<<cNull, show, "")
			}
			v.pop()
			if v.fail != nil {
				return
			}
			v.ws()
			if v.i < len(v.b) && v.b[v.i] == ',' {
				v.i++
				v.ws()
				continue
			}
			if v.i < len(v.b) && v.b[v.i] == '}' {
				v.i++
				break
			}
			v.syntax("expected ',' or '}'")
			return
		}
	}
	v.depth--
	failed := checkLen(sh, int64(n), skipMax)
	if badKey {
		failed |= 1 << cMapKeys
	}
	if badValue {
		failed |= 1 << cMapValues
	}
	if failed != 0 {
		v.addCollection(shape, sens, start, failed)
	}
}

// addCollection records failures of a list or map, printed the way Java
// prints the collection when it holds only strings and numbers.
func (v *jsonValidator) addCollection(shape uint16, sens bool, start int, failed cmask) {
	if s, ok := v.render(start, shape, sens); ok {
		v.viol.add(v.savePath(), shape, failed, showValue, s)
	} else {
		v.viol.add(v.savePath(), shape, failed, showOmit, "")
	}
}

// render prints the already parsed list or map at start as Java's toString
// would: [a, b] or {k=v}. Collections of anything but strings, numbers and
// booleans, and anything sensitive, are not printed.
func (v *jsonValidator) render(start int, shape uint16, sens bool) (string, bool) {
	sh := &v.svc.shapes[shape]
	el := &v.svc.shapes[sh.elem]
	if sens || el.f&fSensitive != 0 {
		return "", false
	}
	switch el.k {
	case kString, kInteger, kLong, kBoolean, kDouble, kFloat:
	default:
		return "", false
	}
	r := jsonValidator{svc: v.svc, b: v.b, i: start + 1}
	var b strings.Builder
	open, sep, close := byte('['), "", byte(']')
	if sh.k == kMap {
		open, close = '{', '}'
	}
	b.WriteByte(open)
	for {
		r.ws()
		if r.b[r.i] == close {
			break
		}
		if r.b[r.i] == ',' {
			r.i++
			r.ws()
		}
		b.WriteString(sep)
		sep = ", "
		if sh.k == kMap {
			ks, ke, _, _ := r.str()
			b.Write(r.unescape(ks, ke))
			b.WriteByte('=')
			r.ws()
			r.i++ // ':'
			r.ws()
		}
		switch c := r.b[r.i]; {
		case c == '"':
			ks, ke, _, _ := r.str()
			b.Write(r.unescape(ks, ke))
		case c == 'n':
			b.WriteString("null")
			r.i += 4
		default:
			s := r.i
			r.skip()
			b.Write(r.b[s:r.i])
		}
	}
	b.WriteByte(close)
	return b.String(), true
}

// skip parses a value of a member the model does not have: it must still
// be well-formed, and counts towards the limits.
func (v *jsonValidator) skip() {
	if v.i >= len(v.b) {
		v.syntax("unexpected end of input")
		return
	}
	v.values++
	if v.values > maxValues {
		v.syntax("more than 10000 values")
		return
	}
	switch c := v.b[v.i]; c {
	case '{':
		if v.enter() {
			return
		}
		var keys keySet
		v.i++
		v.ws()
		if v.i < len(v.b) && v.b[v.i] == '}' {
			v.i++
			v.depth--
			return
		}
		for {
			if v.i >= len(v.b) || v.b[v.i] != '"' {
				v.syntax("expected a key")
				return
			}
			ks, ke, esc, _ := v.str()
			if v.fail != nil {
				return
			}
			key := v.b[ks:ke]
			if esc {
				key = v.unescape(ks, ke)
			}
			if keys.add(v.b, ks, ke, esc, key) {
				v.mismatch("Duplicate field '" + string(key) + "'")
				return
			}
			v.ws()
			if v.i >= len(v.b) || v.b[v.i] != ':' {
				v.syntax("expected ':'")
				return
			}
			v.i++
			v.ws()
			v.skip()
			if v.fail != nil {
				return
			}
			v.ws()
			if v.i < len(v.b) && v.b[v.i] == ',' {
				v.i++
				v.ws()
				continue
			}
			if v.i < len(v.b) && v.b[v.i] == '}' {
				v.i++
				v.depth--
				return
			}
			v.syntax("expected ',' or '}'")
			return
		}
	case '[':
		if v.enter() {
			return
		}
		v.i++
		v.ws()
		if v.i < len(v.b) && v.b[v.i] == ']' {
			v.i++
			v.depth--
			return
		}
		for {
			v.skip()
			if v.fail != nil {
				return
			}
			v.ws()
			if v.i < len(v.b) && v.b[v.i] == ',' {
				v.i++
				v.ws()
				continue
			}
			if v.i < len(v.b) && v.b[v.i] == ']' {
				v.i++
				v.depth--
				return
			}
			v.syntax("expected ',' or ']'")
			return
		}
	case '"':
		v.str()
	case 't':
		if !v.literal("true") {
			v.syntax("invalid literal")
		}
	case 'f':
		if !v.literal("false") {
			v.syntax("invalid literal")
		}
	case 'n':
		if !v.literal("null") {
			v.syntax("invalid literal")
		}
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			v.number()
			return
		}
		v.syntax("unexpected character")
	}
}

func (v *jsonValidator) literal(lit string) bool {
	if len(v.b)-v.i >= len(lit) && string(v.b[v.i:v.i+len(lit)]) == lit {
		v.i += len(lit)
		return true
	}
	return false
}

// number scans a JSON number and reports whether it is an integer (no
// fraction, no exponent).
func (v *jsonValidator) number() bool {
	b, i := v.b, v.i
	isInt := true
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		v.i = i
		v.syntax("invalid number")
		return false
	}
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			v.i = i
			v.syntax("invalid number")
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			v.i = i
			v.syntax("invalid number")
			return false
		}
	}
	v.i = i
	return isInt
}

// str scans the string starting at v.i (a '"'). It returns the span of its
// content, whether it has escapes and its length in code points. Invalid
// UTF-8, control characters and bad escapes are errors.
func (v *jsonValidator) str() (ks, ke int, esc bool, runes int) {
	b := v.b
	i := v.i + 1
	ks = i
	for {
		for i < len(b) {
			c := b[i]
			if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			i++
			runes++
		}
		if i >= len(b) {
			v.i = i
			v.syntax("unterminated string")
			return
		}
		switch c := b[i]; {
		case c == '"':
			v.i = i + 1
			return ks, i, esc, runes
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				v.i = i
				v.syntax("unterminated string")
				return
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b[i+2:])
				if !ok {
					v.i = i
					v.syntax("invalid \\u escape")
					return
				}
				i += 6
				if r >= 0xd800 && r < 0xdc00 && len(b) >= i+6 && b[i] == '\\' && b[i+1] == 'u' {
					if lo, ok := hex4(b[i+2:]); ok && lo >= 0xdc00 && lo < 0xe000 {
						i += 6
					}
				}
			default:
				v.i = i
				v.syntax("invalid escape")
				return
			}
			runes++
		case c < 0x20:
			v.i = i
			v.syntax("control character in string")
			return
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				v.i = i
				v.syntax("invalid UTF-8")
				return
			}
			i += size
			runes++
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape decodes the content of a valid JSON string into v.scratch, which
// the next call overwrites. A lone surrogate becomes U+FFFD, as in
// encoding/json.
func (v *jsonValidator) unescape(ks, ke int) []byte {
	out := v.scratch[:0]
	b := v.b
	for i := ks; i < ke; {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch b[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(b[i+2:])
			i += 6
			if r >= 0xd800 && r < 0xdc00 && i+6 <= ke && b[i] == '\\' && b[i+1] == 'u' {
				if lo, ok := hex4(b[i+2:]); ok && lo >= 0xdc00 && lo < 0xe000 {
					r = utf16.DecodeRune(r, lo)
					i += 6
				}
			}
			if r >= 0xd800 && r < 0xe000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, b[i+1])
		}
		i += 2
	}
	v.scratch = out
	return out
}

// keySet finds duplicate keys in one object. The first few keys without
// escapes are compared in place; past that it uses a map.
type keySet struct {
	raw [8][2]int32
	n   int
	m   map[string]struct{}
}

// add records a key (raw span ks..ke of b, unescaped key) and reports
// whether the object already had it.
func (s *keySet) add(b []byte, ks, ke int, esc bool, key []byte) bool {
	if s.m == nil && !esc && s.n < len(s.raw) {
		for j := range s.n {
			if bytes.Equal(b[s.raw[j][0]:s.raw[j][1]], key) {
				return true
			}
		}
		s.raw[s.n] = [2]int32{int32(ks), int32(ke)}
		s.n++
		return false
	}
	if s.m == nil {
		s.m = make(map[string]struct{}, 2*s.n+2)
		for j := range s.n {
			s.m[string(b[s.raw[j][0]:s.raw[j][1]])] = struct{}{}
		}
	}
	if _, ok := s.m[string(key)]; ok {
		return true
	}
	s.m[string(key)] = struct{}{}
	return false
}
