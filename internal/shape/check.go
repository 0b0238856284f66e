package shape

import "strconv"

// Checks shared by the JSON and the query validator. They work on values
// already converted to their type and return the constraints that failed.

// checkLen checks the length of a string (code points), blob (bytes), list
// or map (entries).
func checkLen(sh *shapeDef, n int64, skipMax bool) cmask {
	var m cmask
	if sh.f&fMin != 0 && n < sh.min {
		m |= 1 << cMinLen
	}
	if sh.f&fMax != 0 && !skipMax && n > sh.max {
		m |= 1 << cMaxLen
	}
	return m
}

// checkVal checks the value of a number.
func checkVal(sh *shapeDef, n int64, skipMax bool) cmask {
	var m cmask
	if sh.f&fMin != 0 && n < sh.min {
		m |= 1 << cMinVal
	}
	if sh.f&fMax != 0 && !skipMax && n > sh.max {
		m |= 1 << cMaxVal
	}
	return m
}

// checkFloat checks the value of a double or float against integer bounds.
func checkFloat(sh *shapeDef, f float64, skipMax bool) cmask {
	var m cmask
	if sh.f&fMin != 0 && f < float64(sh.min) {
		m |= 1 << cMinVal
	}
	if sh.f&fMax != 0 && !skipMax && f > float64(sh.max) {
		m |= 1 << cMaxVal
	}
	return m
}

// checkString checks a string of runes code points; b is its UTF-8.
func (s *Service) checkString(sh *shapeDef, b []byte, runes int, skipMax bool) cmask {
	m := checkLen(sh, int64(runes), skipMax)
	if sh.pattern != 0 {
		if re := s.patterns[sh.pattern].get(); re != nil && !re.Match(b) {
			m |= 1 << cPattern
		}
	}
	if sh.enum != 0 {
		ok := false
		for _, e := range s.enums[sh.enum] {
			if string(b) == e {
				ok = true
				break
			}
		}
		if !ok {
			m |= 1 << cEnum
		}
	}
	return m
}

// b64 maps a byte to its value in the standard base64 alphabet, or 0xff.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// base64Len returns the decoded length of s, which must be standard, padded
// base64 with zero padding bits, as AWS's decoder demands. No whitespace is
// allowed. runes is the length of s in code points, which AWS reports. The
// message never quotes s: a blob may be a secret.
func base64Len(s []byte, runes int) (int, string) {
	n := len(s)
	if runes%4 != 0 || n%4 != 0 {
		return 0, "Base64 encoded length is expected a multiple of 4 bytes but found: " + strconv.Itoa(runes)
	}
	if n == 0 {
		return 0, ""
	}
	pad := 0
	if s[n-1] == '=' {
		pad++
		if s[n-2] == '=' {
			pad++
		}
	}
	data := s[:n-pad]
	for _, c := range data {
		if b64[c] == 0xff {
			return 0, "Invalid Base64 character"
		}
	}
	// The bits of the last character that do not make a whole byte must be
	// zero. ("dectected" is AWS's spelling.)
	switch pad {
	case 1:
		if b64[data[len(data)-1]]&0x3 != 0 {
			return 0, "Invalid last non-pad Base64 character dectected"
		}
	case 2:
		if b64[data[len(data)-1]]&0xf != 0 {
			return 0, "Invalid last non-pad Base64 character dectected"
		}
	}
	return n/4*3 - pad, ""
}
