package shape

import (
	"slices"
	"testing"
)

// javaCases are matches java.util.regex makes with Matcher.matches, which
// is how AWS applies a pattern: against the whole value.
var javaCases = []struct {
	pattern, value string
	match          bool
}{
	{`[\w+=,.@-]+`, "alice@example.com", true},
	{`[\w+=,.@-]+`, "bad name", false}, // a part matching is not enough
	{`[\w+=,.@-]+`, "é", false},        // \w is ASCII in Java too
	{`[0-9]{12}`, "111122223333", true},
	{`[0-9]{12}`, "1111222233334", false},
	{`[\u0009\u000A\u000D\u0020-\u00FF]+`, "{\n\t\"a\": \"ÿ\"\r}", true},
	{`[\u0009\u000A\u000D\u0020-\u00FF]+`, "Ā", false},
	{`[\u0009\u000A\u000D\u0020-\u00FF]+`, "", false},
	{`^[a-zA-Z0-9:/_\s.-]+$`, "a\vb", true}, // Java's \s has \x0B, RE2's has not
	{`^[a-zA-Z0-9:/_\s.-]+$`, "a\u00a0b", false},
	{`\s`, "\v", true},
	{`.*`, "a b", true},
	{`.*`, "a\rb", false}, // Java's dot stops at every line terminator
	{`.*`, "a\u2028b", false},
	{`.*`, "a\nb", false},
	{`(?s).*`, "a\nb\r\u2028", true},
	// A surrogate pair in a class is one code point.
	{`[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*`, "a\t😀", true},
	{`[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*`, "\x1f", false},
	// Java reads four hex digits: \u10000 is U+1000 then '0'.
	{`[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`, "arn:aws:iam::123456789012:role/x", true},
	{`[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`, "😀", false},
	{`[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, "Ünïcødé 123", true},
	{`[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, "a,b", false},
	{`^\p{ASCII}+$`, "key", true},
	{`^\p{ASCII}+$`, "キー", false},
	{`[\p{ASCII}]+`, "key", true},
	{`^[a-zA-Z0-9-_.]+$`, "a-b_c.d", true},
	{`^[a-zA-Z0-9-_.]+$`, "a:b", false},
	{`^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`, "/kms/xks/v1", true},
	{`^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`, "/a/b/kms/xks/v12", true},
	{`^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`, "x/kms/xks/v1", false},
	{`[\w|\d|\.|_]+`, "a|b", true},
	{`[]a]+`, "]a", true},
}

func TestJavaPatterns(t *testing.T) {
	for _, c := range javaCases {
		p := &pattern{src: c.pattern}
		re := p.get()
		if re == nil {
			t.Errorf("%s: %v", c.pattern, p.err)
			continue
		}
		if got := re.MatchString(c.value); got != c.match {
			t.Errorf("%s on %q: got %v, want %v (RE2 %s)", c.pattern, c.value, got, c.match, re)
		}
	}
}

func TestPatternsRE2Cannot(t *testing.T) {
	for _, src := range []string{`^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`, `(a)\1`, `a*+`, `[a-z&&[^e]]`, `[a[b]]`, `\uD800`} {
		if p := (&pattern{src: src}); p.get() != nil {
			t.Errorf("%s compiled to %s", src, p.re)
		}
	}
	want := map[string][]string{
		"iam": {`^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`},
	}
	for _, s := range []*Service{KMS, IAM, STS, CloudTrail} {
		if got := s.UncheckedPatterns(); !slices.Equal(got, want[s.Name]) {
			t.Errorf("%s: unchecked patterns %q, want %q", s.Name, got, want[s.Name])
		}
	}
}
