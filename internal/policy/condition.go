package policy

import (
	"bytes"
	"encoding/base64"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// baseOp is a condition operator without its negation, set prefix and
// IfExists suffix.
type baseOp uint8

const (
	opStringEquals baseOp = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike
	opNull
)

type opInfo struct {
	base   baseOp
	negate bool
}

// operators maps every operator name (without ForAnyValue:/ForAllValues:
// and IfExists) to its base and negation. Names are case-sensitive, as in AWS.
var operators = map[string]opInfo{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnLike":                   {opArnLike, false},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

type setOp uint8

const (
	setNone setOp = iota
	setAnyValue
	setAllValues
)

// condValue is one policy value of a condition, compiled for its operator.
type condValue struct {
	pat    pattern      // string and ARN operators
	num    float64      // numeric operators
	t      time.Time    // date operators
	b      bool         // Bool and Null
	prefix netip.Prefix // IP operators
	bin    []byte       // BinaryEquals
}

type condition struct {
	op       string // as written, for messages
	base     baseOp
	negate   bool
	ifExists bool
	set      setOp
	key      string // lowercase
	values   []condValue
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (info opInfo, set setOp, ifExists, ok bool) {
	rest := name
	if r, found := strings.CutPrefix(rest, "ForAnyValue:"); found {
		rest, set = r, setAnyValue
	} else if r, found := strings.CutPrefix(rest, "ForAllValues:"); found {
		rest, set = r, setAllValues
	}
	if r, found := strings.CutSuffix(rest, "IfExists"); found {
		rest, ifExists = r, true
	}
	info, ok = operators[rest]
	if !ok {
		return opInfo{}, 0, false, false
	}
	if info.base == opNull && (set != setNone || ifExists) {
		return opInfo{}, 0, false, false
	}
	return info, set, ifExists, true
}

// compileValue checks and compiles one policy value for the operator. It
// returns a reason when the value cannot be used.
func compileValue(base baseOp, raw string, vars bool) (condValue, string) {
	var v condValue
	varFlag := patFlags(0)
	if vars {
		varFlag = pfVars
	}
	switch base {
	case opStringEquals:
		v.pat = compilePattern(raw, varFlag)
	case opStringEqualsIgnoreCase:
		v.pat = compilePattern(raw, varFlag|pfFold)
	case opStringLike:
		v.pat = compilePattern(raw, varFlag|pfWild)
	case opArnLike:
		v.pat = compilePattern(raw, varFlag|pfWild|pfArn)
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, ok := parseNumber(raw)
		if !ok {
			return v, "is not a number"
		}
		v.num = n
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(raw)
		if !ok {
			return v, "is not an ISO 8601 date or epoch seconds"
		}
		v.t = t
	case opBool, opNull:
		b, ok := parseBool(raw)
		if !ok {
			return v, `is not "true" or "false"`
		}
		v.b = b
	case opBinaryEquals:
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return v, "is not base64"
		}
		v.bin = b
	case opIPAddress:
		p, ok := parsePrefix(raw)
		if !ok {
			return v, "is not an IP address or CIDR block"
		}
		v.prefix = p
	}
	return v, ""
}

func parseNumber(s string) (float64, bool) {
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

// dateLayouts are the ISO 8601 forms accepted besides epoch seconds. A date
// without a zone is UTC.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z0700",
	"20060102T150405Z",
}

func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	digits := s[0] == '-' || (s[0] >= '0' && s[0] <= '9')
	for i := 1; i < len(s) && digits; i++ {
		digits = s[i] >= '0' && s[i] <= '9'
	}
	if digits && (len(s) != 8 || s[0] == '-') { // 20260101 is a date, not an epoch
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < -62135596800 || n > 253402300799 { // years 1..9999
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if t, err := time.Parse("20060102", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func parseBool(s string) (bool, bool) {
	switch {
	case equalFold(s, "true"):
		return true, true
	case equalFold(s, "false"):
		return false, true
	}
	return false, false
}

// parsePrefix reads a CIDR block, or a bare address meaning /32 or /128.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() {
			a := p.Addr().Unmap()
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, false
			}
			p = netip.PrefixFrom(a, bits)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// eval decides the condition against the request.
func (c *condition) eval(st *evalState) bool {
	vals := st.lookup(c.key)
	n := vals.len()
	if c.base == opNull {
		// {"Null": {"k": "true"}}: k is absent. Several values: any.
		for i := range c.values {
			if c.values[i].b == (n == 0) {
				return true
			}
		}
		return false
	}
	if n == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setAllValues:
			return true // vacuously: every one of no values matches
		case c.set == setAnyValue:
			return false
		default:
			return c.negate // a negated operator on an absent key is true
		}
	}
	switch c.set {
	case setAnyValue:
		for i := 0; i < n; i++ {
			if c.matchOne(vals.at(i), st) != c.negate {
				return true
			}
		}
		return false
	case setAllValues:
		for i := 0; i < n; i++ {
			if c.matchOne(vals.at(i), st) == c.negate {
				return false
			}
		}
		return true
	}
	// No set operator: the positive operator holds when any request value
	// matches any policy value; the negated one is its complement.
	any := false
	for i := 0; i < n && !any; i++ {
		any = c.matchOne(vals.at(i), st)
	}
	return any != c.negate
}

// matchOne reports whether one request value matches any policy value under
// the positive form of the operator.
func (c *condition) matchOne(s string, st *evalState) bool {
	switch c.base {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike:
		for i := range c.values {
			if c.values[i].pat.match(s, st) {
				return true
			}
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		x, ok := parseNumber(s)
		if !ok {
			return false
		}
		for i := range c.values {
			y := c.values[i].num
			var m bool
			switch c.base {
			case opNumericEquals:
				m = x == y
			case opNumericLessThan:
				m = x < y
			case opNumericLessThanEquals:
				m = x <= y
			case opNumericGreaterThan:
				m = x > y
			case opNumericGreaterThanEquals:
				m = x >= y
			}
			if m {
				return true
			}
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		x, ok := parseDate(s)
		if !ok {
			return false
		}
		for i := range c.values {
			y := c.values[i].t
			var m bool
			switch c.base {
			case opDateEquals:
				m = x.Equal(y)
			case opDateLessThan:
				m = x.Before(y)
			case opDateLessThanEquals:
				m = !x.After(y)
			case opDateGreaterThan:
				m = x.After(y)
			case opDateGreaterThanEquals:
				m = !x.Before(y)
			}
			if m {
				return true
			}
		}
	case opBool:
		x, ok := parseBool(s)
		if !ok {
			return false
		}
		for i := range c.values {
			if c.values[i].b == x {
				return true
			}
		}
	case opBinaryEquals:
		var buf [96]byte
		if base64.StdEncoding.DecodedLen(len(s)) > len(buf) {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return false
			}
			return c.anyBinary(b)
		}
		n, err := base64.StdEncoding.Decode(buf[:], []byte(s))
		if err != nil {
			return false
		}
		return c.anyBinary(buf[:n])
	case opIPAddress:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		a = a.WithZone("").Unmap()
		for i := range c.values {
			if c.values[i].prefix.Contains(a) {
				return true
			}
		}
	}
	return false
}

func (c *condition) anyBinary(b []byte) bool {
	for i := range c.values {
		if bytes.Equal(c.values[i].bin, b) {
			return true
		}
	}
	return false
}
