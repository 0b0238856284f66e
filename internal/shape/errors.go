package shape

import (
	"slices"
	"strconv"
	"strings"
)

// Error is a request AWS would reject before running the operation. Code and
// Message are what AWS answers; both are safe to send to the client and to
// log: no value of a sensitive shape is ever part of them.
type Error struct {
	// Code is "SerializationException" (the body is not JSON of the input's
	// shape) or "ValidationException" (a constraint failed) for json
	// services; "MalformedInput" or "ValidationError" for query services;
	// "UnknownOperationException" / "InvalidAction" for an operation the
	// service does not have.
	Code string
	// Message is AWS's message. It is empty where AWS sends none (malformed
	// JSON); the caller should then leave the message field out.
	Message string
	// Detail says what was wrong for the server's log when Message is empty
	// or terse: a reason and a byte offset, never a request value. It is not
	// part of the AWS answer.
	Detail string
}

func (e *Error) Error() string {
	s := "shape: " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// maxReported is how many constraint violations a message lists, as AWS.
const maxReported = 10

// constraint is one check; their order is the order AWS reports the
// violations of one value in.
type constraint uint8

const (
	cNull constraint = iota
	cMinLen
	cMaxLen
	cMinVal
	cMaxVal
	cPattern
	cEnum
	cMapKeys
	cMapValues
)

// cmask is a set of failed constraints.
type cmask uint16

func (m cmask) has(c constraint) bool { return m&(1<<c) != 0 }

// seg is one step of the path to a value: a structure member, a list
// element or a map entry.
type seg struct {
	member int32  // index into Service.members, or -1
	ord    int32  // list: 1-based index; map: 1-based entry number
	entry  bool   // a map entry
	ks, ke int32  // json map entry: span of the raw key
	key    string // map entry key, filled when the path is saved
}

// show says how a violation prints its value.
type show uint8

const (
	showNull  show = iota // Value null at …
	showOmit              // Value at … (sensitive shapes, blobs, numbers out of range)
	showValue             // Value '…' at …
)

type violation struct {
	path  []seg
	c     constraint
	shape uint16 // the shape whose constraint failed (the map for cMapKeys/cMapValues)
	show  show
	value string
}

// violations collects the constraint failures of one request.
type violations struct {
	svc  *Service
	list []violation
}

// add records the failed constraints of one value. path must not be
// modified afterwards.
func (v *violations) add(path []seg, shape uint16, failed cmask, sh show, value string) {
	for c := cNull; c <= cMapValues; c++ {
		if failed.has(c) {
			v.list = append(v.list, violation{path: path, c: c, shape: shape, show: sh, value: value})
		}
	}
}

// err formats the violations as AWS does: in model order of the members,
// then list and map order, then constraint order; at most ten.
func (v *violations) err(code string) *Error {
	if len(v.list) == 0 {
		return nil
	}
	slices.SortStableFunc(v.list, func(a, b violation) int {
		for i := 0; i < len(a.path) && i < len(b.path); i++ {
			x, y := a.path[i], b.path[i]
			if x.member != y.member {
				return int(x.member - y.member)
			}
			if x.ord != y.ord {
				return int(x.ord - y.ord)
			}
		}
		if len(a.path) != len(b.path) {
			return len(a.path) - len(b.path)
		}
		return int(a.c) - int(b.c)
	})
	n := min(len(v.list), maxReported)
	var b strings.Builder
	b.WriteString(strconv.Itoa(n))
	if n == 1 {
		b.WriteString(" validation error detected: ")
	} else {
		b.WriteString(" validation errors detected: ")
	}
	for i, x := range v.list[:n] {
		if i > 0 {
			b.WriteString("; ")
		}
		switch x.show {
		case showNull:
			b.WriteString("Value null at '")
		case showOmit:
			b.WriteString("Value at '")
		default:
			b.WriteString("Value '")
			b.WriteString(x.value)
			b.WriteString("' at '")
		}
		v.writePath(&b, x.path)
		b.WriteString("' failed to satisfy constraint: ")
		v.writeConstraint(&b, x.c, x.shape)
	}
	return &Error{Code: code, Message: b.String()}
}

// writePath prints a path the way AWS does: member names with their first
// letter in lower case, list elements as "<n>.member", map entries as
// "<key>.member": 'tags.1.member.tagKey'.
func (v *violations) writePath(b *strings.Builder, path []seg) {
	for i, s := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		switch {
		case s.member >= 0:
			name := v.svc.members[s.member].name
			if name != "" && name[0] >= 'A' && name[0] <= 'Z' {
				b.WriteByte(name[0] + 'a' - 'A')
				b.WriteString(name[1:])
			} else {
				b.WriteString(name)
			}
		case s.entry:
			b.WriteString(s.key)
			b.WriteString(".member")
		default:
			b.WriteString(strconv.Itoa(int(s.ord)))
			b.WriteString(".member")
		}
	}
}

func (v *violations) writeConstraint(b *strings.Builder, c constraint, shape uint16) {
	sh := &v.svc.shapes[shape]
	switch c {
	case cMapKeys:
		b.WriteString("Map keys must satisfy constraint: [")
		v.writeAll(b, sh.key)
		b.WriteByte(']')
	case cMapValues:
		b.WriteString("Map value must satisfy constraint: [")
		v.writeAll(b, sh.elem)
		b.WriteByte(']')
	default:
		b.WriteString(v.text(c, sh))
	}
}

// writeAll lists every constraint of a map's key or value shape, which is
// how AWS words a failure inside a map.
func (v *violations) writeAll(b *strings.Builder, shape uint16) {
	sh := &v.svc.shapes[shape]
	var parts []string
	for _, c := range []constraint{cMaxLen, cMinLen, cMaxVal, cMinVal, cPattern, cEnum} {
		if sh.has(c) {
			parts = append(parts, v.text(c, sh))
		}
	}
	b.WriteString(strings.Join(parts, ", "))
}

func (v *violations) text(c constraint, sh *shapeDef) string {
	switch c {
	case cNull:
		return "Member must not be null"
	case cMinLen:
		return "Member must have length greater than or equal to " + strconv.FormatInt(sh.min, 10)
	case cMaxLen:
		return "Member must have length less than or equal to " + strconv.FormatInt(sh.max, 10)
	case cMinVal:
		return "Member must have value greater than or equal to " + strconv.FormatInt(sh.min, 10)
	case cMaxVal:
		return "Member must have value less than or equal to " + strconv.FormatInt(sh.max, 10)
	case cPattern:
		return "Member must satisfy regular expression pattern: " + v.svc.patterns[sh.pattern].src
	case cEnum:
		return "Member must satisfy enum value set: [" + strings.Join(v.svc.enums[sh.enum], ", ") + "]"
	}
	return ""
}

// has reports whether sh carries constraint c.
func (sh *shapeDef) has(c constraint) bool {
	lengthy := sh.k == kString || sh.k == kBlob || sh.k == kList || sh.k == kMap
	switch c {
	case cMinLen:
		return lengthy && sh.f&fMin != 0
	case cMaxLen:
		return lengthy && sh.f&fMax != 0
	case cMinVal:
		return !lengthy && sh.f&fMin != 0
	case cMaxVal:
		return !lengthy && sh.f&fMax != 0
	case cPattern:
		return sh.pattern != 0
	case cEnum:
		return sh.enum != 0
	}
	return false
}
