// This file holds the Verifier: the time window, the payload hash, the
// signature itself, and the cache of derived signing keys.

package sigv4

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultMaxSkew is how far AWS lets a request's time be from its own clock,
// in either direction.
const DefaultMaxSkew = 15 * time.Minute

// cacheSize bounds the signing-key cache. A key is valid for one day, region
// and service, so this is a few thousand active access keys.
const cacheSize = 4096

// Verifier verifies SigV4 signatures. It caches the signing key derived for
// each access key, date, region and service, next to a salted fingerprint
// of the secret it came from, and uses a cached key only for that same
// secret: a rotated or re-created key is never verified with an old one.
// The cache holds at most a few thousand keys; past that an arbitrary one
// is evicted. A Verifier is safe for concurrent use.
type Verifier struct {
	maxSkew time.Duration
	salt    [32]byte // for secret fingerprints; never leaves the Verifier

	mu   sync.RWMutex
	keys map[scope]signingKey
}

type scope struct{ accessKeyID, date, region, service string }

type signingKey struct {
	fingerprint [32]byte // SHA-256(salt || secret)
	key         [32]byte // kSigning
}

// NewVerifier returns a Verifier that accepts request times up to maxSkew
// from now, in either direction. maxSkew ≤ 0 means [DefaultMaxSkew].
func NewVerifier(maxSkew time.Duration) *Verifier {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	v := &Verifier{maxSkew: maxSkew, keys: make(map[scope]signingKey)}
	rand.Read(v.salt[:]) // never returns an error
	return v
}

// bufPool holds scratch buffers for the canonical request and string to
// sign, cleared before they go back (the canonical request holds the
// session token).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Verify checks that a, parsed from r by [Parse], is a valid signature of r
// by the holder of secret at time now. body is the whole request body (r's
// Body is not read). It returns nil, or an [*Error]:
// InvalidSignatureException when the request time is more than the maximum
// skew from now, when an X-Amz-Content-Sha256 hash is not the body's, or
// when the signature does not match; RequestExpired when a presigned
// request is past its X-Amz-Expires.
//
// Verify panics if a is nil or secret is empty: the caller must answer an
// unknown access key with [UnknownAccessKey] instead.
func (v *Verifier) Verify(a *Auth, r *http.Request, body, secret []byte, now time.Time) error {
	if a == nil || len(secret) == 0 {
		panic("sigv4: Verify needs the Auth from Parse and a non-empty secret")
	}
	if err := v.checkTime(a, now); err != nil {
		return err
	}

	// The payload hash in the canonical request: the body's, or the
	// client's X-Amz-Content-Sha256 as sent once checked against the body.
	var ph [64]byte
	payload := ph[:]
	if a.UnsignedPayload {
		payload = append(ph[:0], unsignedPayload...)
	} else {
		sum := sha256.Sum256(body)
		hex.Encode(ph[:], sum[:])
		if a.contentSHA256 != "" {
			if !equalFoldHex(a.contentSHA256, ph[:]) {
				return invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
			}
			copy(ph[:], a.contentSHA256)
		}
	}

	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	defer func() {
		clear(b[:cap(b)])
		if cap(b) <= 64<<10 {
			*bp = b[:0]
			bufPool.Put(bp)
		}
	}()

	var key [32]byte
	key, b = v.signingKey(a, secret, b)
	var sig [32]byte
	var sawTab bool
	sig, b, sawTab = signature(b[:0], &key, a, r, payload, true)
	ok := hmac.Equal(sig[:], a.signature[:])
	if !ok && sawTab {
		sig, b, _ = signature(b[:0], &key, a, r, payload, false)
		ok = hmac.Equal(sig[:], a.signature[:])
	}
	clear(key[:])
	if !ok || !a.signatureOK {
		return mismatch()
	}
	return nil
}

// signature returns the signature of r with key, the scratch buffer b as
// grown, and whether a signed header value held a tab.
func signature(b []byte, key *[32]byte, a *Auth, r *http.Request, payloadHash []byte, tabsAsSpaces bool) ([32]byte, []byte, bool) {
	b, sawTab := appendCanonicalRequest(b, a, r, payloadHash, tabsAsSpaces)
	crHash := sha256.Sum256(b)
	n := len(b)
	b = append(b, Algorithm...)
	b = append(b, '\n')
	b = append(b, a.amzDate...)
	b = append(b, '\n')
	b = append(b, a.scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, crHash[:])
	return hmacSHA256Append(b, key, b[n:]), b, sawTab
}

// checkTime returns an error unless a's time is within the maximum skew
// from now or, for a presigned request with X-Amz-Expires, between the
// skew before its time and its expiry.
func (v *Verifier) checkTime(a *Auth, now time.Time) error {
	now = now.UTC()
	if earliest := now.Add(-v.maxSkew); !a.Presigned || a.Expires == 0 {
		if a.Time.Before(earliest) {
			return invalid("Signature expired: %s is now earlier than %s (%s - %s)",
				a.amzDate, earliest.Format(amzDateLayout), now.Format(amzDateLayout), skewText(v.maxSkew))
		}
	} else if now.After(a.Time.Add(a.Expires)) {
		return newError(CodeRequestExpired, msgRequestExpired)
	}
	if latest := now.Add(v.maxSkew); a.Time.After(latest) {
		return invalid("Signature not yet current: %s is still later than %s (%s + %s)",
			a.amzDate, latest.Format(amzDateLayout), now.Format(amzDateLayout), skewText(v.maxSkew))
	}
	return nil
}

// skewText writes d as AWS does: "15 min.".
func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min.", d/time.Minute)
	}
	return fmt.Sprintf("%d sec.", d/time.Second)
}

// signingKey returns kSigning for a's scope and secret, from the cache if
// it was derived from the same secret, using b as scratch.
func (v *Verifier) signingKey(a *Auth, secret, b []byte) ([32]byte, []byte) {
	b = append(append(b[:0], v.salt[:]...), secret...)
	fp := sha256.Sum256(b)
	clear(b)

	s := scope{a.AccessKeyID, a.Date, a.Region, a.Service}
	v.mu.RLock()
	e, ok := v.keys[s]
	v.mu.RUnlock()
	if ok && subtle.ConstantTimeCompare(e.fingerprint[:], fp[:]) == 1 {
		return e.key, b
	}

	b = append(append(b[:0], "AWS4"...), secret...)
	k := hmacSHA256(b, []byte(a.Date))
	clear(b)
	k = hmacSHA256(k[:], []byte(a.Region))
	k = hmacSHA256(k[:], []byte(a.Service))
	k = hmacSHA256(k[:], []byte(scopeTerminator))

	s = scope{strings.Clone(s.accessKeyID), strings.Clone(s.date), strings.Clone(s.region), strings.Clone(s.service)}
	v.mu.Lock()
	if _, ok := v.keys[s]; !ok && len(v.keys) >= cacheSize {
		for old := range v.keys { // map order is random enough to evict by
			delete(v.keys, old)
			break
		}
	}
	v.keys[s] = signingKey{fingerprint: fp, key: k}
	v.mu.Unlock()
	return k, b
}

// equalFoldHex tells whether the hex strings s and h are equal, ignoring
// letter case.
func equalFoldHex(s string, h []byte) bool {
	if len(s) != len(h) {
		return false
	}
	for i := range len(s) {
		if s[i]|0x20 != h[i]|0x20 {
			return false
		}
	}
	return true
}

// hmacSHA256Append returns HMAC-SHA256(key, msg) without allocating: it
// uses the spare capacity of b (which msg may share) for the inner block.
// It is crypto/hmac's result (see TestHMAC), computed with sha256.Sum256
// over contiguous input instead of through hash.Hash values.
func hmacSHA256Append(b []byte, key *[32]byte, msg []byte) [32]byte {
	const blockSize = 64
	const ipad, opad = 0x36, 0x5c
	n := len(b)
	for i := range blockSize {
		k := byte(0)
		if i < len(key) {
			k = key[i]
		}
		b = append(b, k^ipad)
	}
	b = append(b, msg...) // msg may point into b[:n]: append copies from it before it can move
	inner := sha256.Sum256(b[n:])
	clear(b[n : n+blockSize])

	var outer [blockSize + sha256.Size]byte
	for i := range blockSize {
		k := byte(0)
		if i < len(key) {
			k = key[i]
		}
		outer[i] = k ^ opad
	}
	copy(outer[blockSize:], inner[:])
	sum := sha256.Sum256(outer[:])
	clear(outer[:])
	return sum
}

// hmacSHA256 is HMAC-SHA256 with crypto/hmac, for the key derivation.
func hmacSHA256(key, data []byte) (sum [32]byte) {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	h.Sum(sum[:0])
	return sum
}
