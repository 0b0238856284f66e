package policy

import (
	"strings"
	"unicode/utf8"
)

// A pattern is a policy string compiled once: literal runs, the wildcards
// * and ?, and policy variables (${aws:username}) that are resolved against
// the request at match time. Matching never allocates.

type tokKind uint8

const (
	tokLit  tokKind = iota // literal text
	tokStar                // * : any run of characters, possibly empty
	tokOne                 // ? : exactly one character
	tokVar                 // ${key} or ${key, 'default'}
)

type token struct {
	kind   tokKind
	s      string // tokLit: the text; tokVar: the lowercase key name
	def    string // tokVar: the default value
	hasDef bool
}

type patKind uint8

const (
	patAny     patKind = iota // "*" with wildcards on: matches everything
	patLiteral                // no wildcard, no variable: compare with lit
	patTokens                 // general case
)

type patFlags uint8

const (
	pfWild patFlags = 1 << iota // * and ? are wildcards
	pfVars                      // ${...} are policy variables
	pfFold                      // compare case-insensitively
	pfArn                       // wildcards do not cross the first five colons
)

type pattern struct {
	raw   string
	kind  patKind
	flags patFlags
	lit   string
	toks  []token
}

func compilePattern(raw string, flags patFlags) pattern {
	p := pattern{raw: raw, flags: flags}
	var toks []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, token{kind: tokLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case flags&pfWild != 0 && c == '*':
			flush()
			// Consecutive stars are one star.
			if n := len(toks); n == 0 || toks[n-1].kind != tokStar {
				toks = append(toks, token{kind: tokStar})
			}
			i++
			continue
		case flags&pfWild != 0 && c == '?':
			flush()
			toks = append(toks, token{kind: tokOne})
			i++
			continue
		case flags&pfVars != 0 && c == '$' && strings.HasPrefix(raw[i:], "${"):
			end := strings.IndexByte(raw[i:], '}')
			if end < 0 {
				break // no closing brace: the rest is literal
			}
			body := raw[i+2 : i+end]
			switch body {
			case "*", "?", "$":
				// Escapes for the characters themselves.
				lit.WriteString(body)
				i += end + 1
				continue
			}
			if t, ok := parseVariable(body); ok {
				flush()
				toks = append(toks, t)
				i += end + 1
				continue
			}
		}
		lit.WriteByte(c)
		i++
	}
	flush()
	// Fold the literal text once so matching only folds the subject.
	if flags&pfFold != 0 {
		for i := range toks {
			if toks[i].kind == tokLit {
				toks[i].s = strings.ToLower(toks[i].s)
			}
		}
	}
	switch {
	case len(toks) == 1 && toks[0].kind == tokStar && flags&pfArn == 0:
		p.kind = patAny
	case len(toks) == 0:
		p.kind = patLiteral
	case len(toks) == 1 && toks[0].kind == tokLit:
		p.kind = patLiteral
		p.lit = toks[0].s
	default:
		p.kind = patTokens
		p.toks = toks
	}
	return p
}

// parseVariable reads the inside of ${...}: a key name made of letters,
// digits and :/_-. optionally followed by ", 'default'".
func parseVariable(body string) (token, bool) {
	name, def, hasDef := body, "", false
	if i := strings.IndexByte(body, ','); i >= 0 {
		name = strings.TrimSpace(body[:i])
		d := strings.TrimSpace(body[i+1:])
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return token{}, false
		}
		def, hasDef = d[1:len(d)-1], true
	}
	if name == "" {
		return token{}, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == ':' || c == '/' || c == '_' || c == '-' || c == '.') {
			return token{}, false
		}
	}
	return token{kind: tokVar, s: strings.ToLower(name), def: def, hasDef: hasDef}, true
}

// match reports whether s matches the pattern, resolving variables with st.
// An unresolvable variable (no value and no default) makes the pattern match
// nothing.
func (p *pattern) match(s string, st *evalState) bool {
	switch p.kind {
	case patAny:
		return true
	case patLiteral:
		if p.flags&pfFold != 0 {
			return equalFold(s, p.lit)
		}
		return s == p.lit
	}
	fold := p.flags&pfFold != 0
	// In ARN mode a wildcard may consume a colon only once the subject's
	// first five colons are behind it: each of the first five components
	// is matched on its own, the resource component may hold colons.
	limit := -1
	if p.flags&pfArn != 0 {
		limit = nthColon(s, 5)
	}
	toks := p.toks
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokOne:
				if si < len(s) && wildOK(s, si, limit) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokLit:
				if hasPrefix(s[si:], t.s, fold) {
					si += len(t.s)
					ti++
					continue
				}
			case tokVar:
				v, ok := st.variable(t)
				if !ok {
					return false
				}
				if hasPrefix(s[si:], v, fold) {
					si += len(v)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last star swallow one more character.
		if starTi < 0 || starSi >= len(s) || !wildOK(s, starSi, limit) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		ti, si = starTi+1, starSi
	}
}

// wildOK reports whether a wildcard may consume s[i].
func wildOK(s string, i, limit int) bool {
	return limit < 0 || s[i] != ':' || i > limit
}

// nthColon returns the index of the n-th colon in s, or len(s) if s has
// fewer, so that no colon can be consumed by a wildcard.
func nthColon(s string, n int) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			n--
			if n == 0 {
				return i
			}
		}
	}
	return len(s)
}

func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	return equalFold(s[:len(prefix)], prefix)
}

// equalFold is strings.EqualFold with an allocation-free ASCII fast path.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return strings.EqualFold(a, b)
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
			return strings.EqualFold(a[i:], b[i:])
		}
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
