package shape

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
)

// pattern is a botocore pattern, written for java.util.regex and matched
// the way AWS does: against the whole value (Matcher.matches), not a part.
// It is translated to RE2 and compiled on first use; one RE2 cannot express
// (lookaround, backreferences, possessive quantifiers, …) is not checked.
type pattern struct {
	src  string // as in the model, and as AWS prints it
	once sync.Once
	re   *regexp.Regexp
	err  error
}

func (p *pattern) get() *regexp.Regexp {
	p.once.Do(func() {
		expr, err := javaToRE2(p.src)
		if err == nil {
			p.re, err = regexp.Compile(expr)
		}
		p.err = err
	})
	return p.re
}

// Java character classes that RE2 spells differently. Java's \s has \x0B,
// RE2's has not; Java's dot stops at every line terminator, RE2's at \n.
const (
	javaSpace = `\t\n\x0B\f\r `
	javaDot   = `[^\n\r\x{85}\x{2028}\x{2029}]`
)

// javaToRE2 rewrites a java.util.regex pattern into an RE2 one that accepts
// the same whole strings. What it does not know it copies, and leaves it to
// regexp.Compile to refuse.
func javaToRE2(src string) (string, error) {
	var b strings.Builder
	b.WriteString(`^(?:`)
	dotAll := strings.HasPrefix(src, "(?s)")
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\':
			if i+1 >= len(src) {
				return "", errors.New("trailing backslash")
			}
			next := src[i+1]
			switch next {
			case 'u':
				r, n, err := javaUnicode(src[i:])
				if err != nil {
					return "", err
				}
				b.WriteString(`\x{` + strconv.FormatInt(int64(r), 16) + `}`)
				i += n - 1
			case 's':
				if inClass {
					b.WriteString(javaSpace)
				} else {
					b.WriteString("[" + javaSpace + "]")
				}
				i++
			case 'p', 'P':
				if strings.HasPrefix(src[i+2:], "{ASCII}") {
					neg := ""
					if next == 'P' {
						neg = "^"
					}
					if inClass && neg == "" {
						b.WriteString(`\x00-\x7F`)
					} else if inClass {
						return "", errors.New(`\P{ASCII} in a class`)
					} else {
						b.WriteString(`[` + neg + `\x00-\x7F]`)
					}
					i += 1 + len("{ASCII}")
					break
				}
				b.WriteString(src[i : i+2])
				i++
			default:
				b.WriteString(src[i : i+2])
				i++
			}
		case c == '[':
			if inClass {
				// Java allows nested classes and intersections; RE2 does not.
				if !strings.HasPrefix(src[i:], "[:") {
					return "", errors.New("nested character class")
				}
			}
			inClass = true
			b.WriteByte(c)
			// A ']' or '^]' right after '[' is a literal in both dialects.
			if i+1 < len(src) && src[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(src) && src[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '&' && inClass && i+1 < len(src) && src[i+1] == '&':
			return "", errors.New("class intersection")
		case c == '.' && !inClass && !dotAll:
			b.WriteString(javaDot)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(`)$`)
	return b.String(), nil
}

// javaUnicode reads a \uXXXX escape at the start of s, joining a surrogate
// pair written as two escapes into one code point as Java does. It returns
// the code point and the bytes read. Java reads exactly four hex digits, so
// \u10000 is U+1000 followed by '0'.
func javaUnicode(s string) (rune, int, error) {
	hex := func(s string) (rune, bool) {
		if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(s[2:6], 16, 32)
		return rune(v), err == nil
	}
	r, ok := hex(s)
	if !ok {
		return 0, 0, errors.New(`bad \u escape`)
	}
	if utf16.IsSurrogate(r) && r < 0xdc00 {
		if lo, ok := hex(s[6:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
			return utf16.DecodeRune(r, lo), 12, nil
		}
	}
	if utf16.IsSurrogate(r) {
		// A lone surrogate never occurs in a valid string.
		return 0, 0, errors.New("lone surrogate")
	}
	return r, 6, nil
}
