// This file builds the canonical request AWS defines for SigV4, from the
// request as Go's HTTP server hands it over.

package sigv4

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// appendCanonicalRequest appends the canonical request of r to b:
//
//	METHOD \n CANONICAL-URI \n CANONICAL-QUERY \n CANONICAL-HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH
//
// Header values are trimmed and their inner runs of spaces collapsed to
// one; if tabsAsSpaces, tabs count as spaces (botocore, the JS SDKs),
// otherwise they are kept (aws-sdk-go-v2). sawTab reports whether a signed
// header value held a tab, that is whether the other mode could differ.
func appendCanonicalRequest(b []byte, a *Auth, r *http.Request, payloadHash []byte, tabsAsSpaces bool) (_ []byte, sawTab bool) {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, r.URL.EscapedPath())
	b = append(b, '\n')
	b = appendCanonicalQuery(b, r.URL.RawQuery, a.Presigned)
	b = append(b, '\n')
	for _, name := range a.SignedHeaders {
		b = append(b, name...)
		b = append(b, ':')
		var tab bool
		b, tab = appendHeader(b, r, name, tabsAsSpaces)
		sawTab = sawTab || tab
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, a.signedHeadersRaw...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b, sawTab
}

// appendCanonicalURI appends the escaped path URI-encoded once more, "/"
// kept: the canonical URI of every AWS service but S3. An empty path is "/".
func appendCanonicalURI(b []byte, path string) []byte {
	if path == "" {
		return append(b, '/')
	}
	return appendEscaped(b, path, true)
}

// appendCanonicalQuery appends the query parameters decoded, re-encoded per
// RFC 3986, and sorted by encoded name then value; "a" becomes "a=". A
// presigned request's X-Amz-Signature is left out.
func appendCanonicalQuery(b []byte, raw string, presigned bool) []byte {
	if raw == "" {
		return b
	}
	type param struct{ k, v string }
	var stack [8]param
	params := stack[:0]
	for raw != "" {
		var p string
		p, raw, _ = strings.Cut(raw, "&")
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		k, v = queryUnescape(k), queryUnescape(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, param{escape(k), escape(v)})
	}
	slices.SortFunc(params, func(x, y param) int {
		if c := strings.Compare(x.k, y.k); c != 0 {
			return c
		}
		return strings.Compare(x.v, y.v)
	})
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return b
}

// queryUnescape decodes a query component ("+" is a space, as the SDKs
// decode it when signing), or returns it as is if it is not valid.
func queryUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// escape URI-encodes s per RFC 3986, "/" included.
func escape(s string) string {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return string(appendEscaped(make([]byte, 0, len(s)+16), s, false))
		}
	}
	return s
}

// appendEscaped appends s with every byte but the RFC 3986 unreserved ones
// (and "/" if keepSlash) percent-encoded in upper-case hex.
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// appendHeader appends the canonical value of the signed header name. Go's
// server moves Host to r.Host and Transfer-Encoding to r.TransferEncoding,
// and may leave Content-Length only in r.ContentLength: those are rebuilt.
func appendHeader(b []byte, r *http.Request, name string, tabsAsSpaces bool) (_ []byte, sawTab bool) {
	if name == "host" {
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		return appendValue(b, host, tabsAsSpaces)
	}
	values := lookup(r.Header, name)
	if values == nil {
		switch name {
		case "content-length":
			if r.ContentLength >= 0 {
				return strconv.AppendInt(b, r.ContentLength, 10), false
			}
		case "transfer-encoding":
			for i, te := range r.TransferEncoding {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, te...)
			}
		}
		return b, false
	}
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		var tab bool
		b, tab = appendValue(b, v, tabsAsSpaces)
		sawTab = sawTab || tab
	}
	return b, sawTab
}

// appendValue appends v trimmed, inner runs of spaces collapsed to one.
func appendValue(b []byte, v string, tabsAsSpaces bool) (_ []byte, sawTab bool) {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if strings.IndexByte(v, '\t') < 0 && !strings.Contains(v, "  ") {
		return append(b, v...), false
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\t' {
			sawTab = true
			if tabsAsSpaces {
				c = ' '
			}
		}
		if c == ' ' {
			space = true
			continue
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		b = append(b, c)
	}
	return b, sawTab
}

// lookup returns the values of the header name, in any letter case. It tries
// the canonical MIME form first (Go's server stores headers under it)
// without allocating, then a case-insensitive scan.
func lookup(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) <= len(buf) {
		k := buf[:len(name)]
		upper := true
		for i := 0; i < len(name); i++ {
			c := name[i]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k[i] = c
			upper = c == '-'
		}
		if v, ok := h[string(k)]; ok {
			return v
		}
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
