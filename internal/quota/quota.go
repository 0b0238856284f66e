// Package quota enforces AWS KMS's request quotas: per account and region,
// one token bucket per quota group — the shared cryptographic-operation
// rates (symmetric, RSA, ECC) and the per-operation control-plane rates — so
// that a client sees ThrottlingException where AWS would throttle it, and a
// noisy account cannot starve the others.
//
// A bucket holds Burst seconds' worth of its rate and refills continuously.
// Limits are configured as a spec string (see Parse); the zero Limiter and a
// nil *Limiter allow everything.
//
// The rates are the whole service's. When several nodes serve the same
// accounts (a cluster on one database), each node's Limiter is told how
// many nodes are live (SetNodes) and allows its share: 1/n of every rate and
// of every burst, so that the cluster as a whole allows about the
// configured rates — exactly while the load is spread evenly and the node
// count is current, less when one node gets more than its share of an
// account's load. (A bucket keeps at least one request of capacity, so a
// rate below one request per second per node allows up to one request per
// node at a time.)
package quota

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The shared cryptographic quota groups.
const (
	GroupSymmetric = "symmetric"
	GroupRSA       = "rsa"
	GroupECC       = "ecc"
)

// AWSDefaults are AWS's published default request quotas, in requests per
// second, by group: the shared cryptographic groups, then one group per
// operation (named after it). The symmetric rate is the one every Region
// has at least (some Regions have more). Operations not listed are not
// limited.
func AWSDefaults() map[string]float64 {
	return map[string]float64{
		GroupSymmetric: 5500,
		GroupRSA:       500,
		GroupECC:       300,

		"CancelKeyDeletion":         5,
		"CreateAlias":               5,
		"CreateGrant":               50,
		"CreateKey":                 5,
		"DeleteAlias":               15,
		"DeleteImportedKeyMaterial": 5,
		"DescribeKey":               2000,
		"DisableKey":                5,
		"DisableKeyRotation":        5,
		"EnableKey":                 5,
		"EnableKeyRotation":         15,
		"GetKeyPolicy":              1000,
		"GetKeyRotationStatus":      1000,
		"GetParametersForImport":    0.25,
		"GetPublicKey":              2000,
		"ImportKeyMaterial":         5,
		"ListAliases":               500,
		"ListGrants":                100,
		"ListKeyPolicies":           100,
		"ListKeyRotations":          100,
		"ListKeys":                  500,
		"ListResourceTags":          100,
		"ListRetirableGrants":       100,
		"PutKeyPolicy":              15,
		"ReplicateKey":              5,
		"RetireGrant":               30,
		"RevokeGrant":               30,
		"RotateKeyOnDemand":         5,
		"ScheduleKeyDeletion":       5,
		"TagResource":               10,
		"UntagResource":             5,
		"UpdateAlias":               5,
		"UpdateKeyDescription":      5,
		"UpdatePrimaryRegion":       5,

		"GenerateDataKeyPair:ECC_NIST_P256":   25,
		"GenerateDataKeyPair:ECC_NIST_P384":   10,
		"GenerateDataKeyPair:ECC_NIST_P521":   5,
		"GenerateDataKeyPair:ECC_SECG_P256K1": 25,
		"GenerateDataKeyPair:RSA_2048":        1,
		"GenerateDataKeyPair:RSA_3072":        0.5,
		"GenerateDataKeyPair:RSA_4096":        0.1,
	}
}

// Config is a set of limits.
type Config struct {
	// Rates in requests per second by group. Empty: no limits.
	Rates map[string]float64
	// Burst is how many seconds of its rate a bucket holds (at least one
	// request). Zero means 1.
	Burst float64
}

// Enabled reports whether any limit is set.
func (c Config) Enabled() bool { return len(c.Rates) > 0 }

// Parse reads a quota spec: "off" (or empty) for no limits; "aws" for
// AWSDefaults; either followed by comma-separated overrides group=rate
// ("aws,symmetric=20000,CreateKey=50"; a rate of 0 removes the group's
// limit) and burst=SECONDS.
func Parse(spec string) (Config, error) {
	var c Config
	for i, part := range strings.Split(strings.TrimSpace(spec), ",") {
		part = strings.TrimSpace(part)
		switch {
		case i == 0 && (part == "" || part == "off"):
			continue
		case i == 0 && part == "aws":
			c.Rates = AWSDefaults()
			continue
		}
		name, v, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return Config{}, fmt.Errorf("quota: %q: want off, aws, or group=rate pairs", part)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return Config{}, fmt.Errorf("quota: %q: the rate must be a non-negative number", part)
		}
		if name == "burst" {
			c.Burst = f
			continue
		}
		if c.Rates == nil {
			c.Rates = map[string]float64{}
		}
		if f == 0 {
			delete(c.Rates, name)
		} else {
			c.Rates[name] = f
		}
	}
	return c, nil
}

// String renders c as a spec Parse accepts.
func (c Config) String() string {
	if !c.Enabled() {
		return "off"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.Rates)) {
		parts = append(parts, k+"="+strconv.FormatFloat(c.Rates[k], 'g', -1, 64))
	}
	if c.Burst != 0 {
		parts = append(parts, "burst="+strconv.FormatFloat(c.Burst, 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// Limiter enforces a Config. It is safe for concurrent use.
type Limiter struct {
	cfg Config
	now func() time.Time
	// OnThrottle, when set, is told the group of every refused request.
	OnThrottle func(group string)

	// nodes is how many nodes share the rates (SetNodes); 0 means 1.
	nodes atomic.Int64

	mu      sync.Mutex
	buckets map[string]*bucket
}

// SetNodes sets how many nodes share the configured rates, n >= 1: from
// now on this limiter allows 1/n of each rate and burst. Safe to call
// while requests are served.
func (l *Limiter) SetNodes(n int) {
	if l != nil {
		l.nodes.Store(int64(max(n, 1)))
	}
}

// Nodes returns how many nodes share the configured rates.
func (l *Limiter) Nodes() int {
	if l == nil {
		return 1
	}
	return int(max(l.nodes.Load(), 1))
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter for cfg, or nil if cfg sets no limit.
func New(cfg Config) *Limiter {
	if !cfg.Enabled() {
		return nil
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 1
	}
	return &Limiter{cfg: cfg, now: time.Now, buckets: map[string]*bucket{}}
}

// SetClock replaces the limiter's clock (tests).
func (l *Limiter) SetClock(now func() time.Time) { l.now = now }

// Allow takes one token from every group the request counts against
// (Groups) for account and region. It returns false, and the group that
// refused, when one of them is empty; a refused request takes no token.
func (l *Limiter) Allow(account, region, op string, body []byte) (ok bool, group string) {
	if l == nil {
		return true, ""
	}
	groups := Groups(op, body)
	now := l.now()
	share := float64(l.Nodes())
	l.mu.Lock()
	defer l.mu.Unlock()
	var take []*bucket
	for _, g := range groups {
		rate, limited := l.cfg.Rates[g]
		if !limited {
			continue
		}
		rate /= share
		capacity := max(rate*l.cfg.Burst, 1)
		k := account + "/" + region + "/" + g
		b := l.buckets[k]
		if b == nil {
			b = &bucket{tokens: capacity, last: now}
			l.buckets[k] = b
		} else {
			b.tokens = min(capacity, b.tokens+rate*now.Sub(b.last).Seconds())
			b.last = now
		}
		if b.tokens < 1 {
			if l.OnThrottle != nil {
				l.OnThrottle(g)
			}
			return false, g
		}
		take = append(take, b)
	}
	for _, b := range take {
		b.tokens--
	}
	return true, ""
}

// Groups returns the quota groups a KMS request counts against. The
// cryptographic operations share a group by the kind of key they use; which
// one is read from the request's algorithm member (RSAES_*, RSASSA_*,
// ECDSA_*, SM2*), since an asymmetric operation must name its algorithm.
func Groups(op string, body []byte) []string {
	switch op {
	case "Encrypt", "Decrypt", "ReEncrypt":
		switch {
		case bytes.Contains(body, []byte(`"RSAES_`)):
			return []string{GroupRSA}
		case bytes.Contains(body, []byte(`"SM2PKE"`)):
			return []string{GroupECC}
		}
		return []string{GroupSymmetric}
	case "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "GenerateMac", "VerifyMac":
		return []string{GroupSymmetric}
	case "Sign", "Verify":
		if bytes.Contains(body, []byte(`"ECDSA_`)) || bytes.Contains(body, []byte(`"SM2DSA"`)) {
			return []string{GroupECC}
		}
		return []string{GroupRSA}
	case "DeriveSharedSecret":
		return []string{GroupECC}
	case "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext":
		for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"} {
			if bytes.Contains(body, []byte(`"`+spec+`"`)) {
				return []string{"GenerateDataKeyPair:" + spec}
			}
		}
		return nil
	}
	return []string{op}
}
