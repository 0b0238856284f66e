package quota

import (
	"testing"
	"time"
)

var groupTests = []struct {
	op, body string
	want     string
}{
	{"Encrypt", `{"KeyId":"k","Plaintext":"eA=="}`, GroupSymmetric},
	{"Encrypt", `{"KeyId":"k","Plaintext":"eA==","EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`, GroupRSA},
	{"Decrypt", `{"CiphertextBlob":"eA==","EncryptionAlgorithm":"SM2PKE"}`, GroupECC},
	{"GenerateDataKey", `{"KeyId":"k"}`, GroupSymmetric},
	{"GenerateMac", `{}`, GroupSymmetric},
	{"Sign", `{"SigningAlgorithm":"ECDSA_SHA_256"}`, GroupECC},
	{"Sign", `{"SigningAlgorithm":"RSASSA_PSS_SHA_256"}`, GroupRSA},
	{"DeriveSharedSecret", `{}`, GroupECC},
	{"GenerateDataKeyPair", `{"KeyPairSpec":"RSA_4096"}`, "GenerateDataKeyPair:RSA_4096"},
	{"CreateKey", `{}`, "CreateKey"},
}

func TestGroups(t *testing.T) {
	for _, tc := range groupTests {
		got := Groups(tc.op, []byte(tc.body))
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("Groups(%s, %s) = %v, want %s", tc.op, tc.body, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, spec := range []string{"", "off"} {
		if c, err := Parse(spec); err != nil || c.Enabled() || New(c) != nil {
			t.Errorf("Parse(%q) = %v, %v: want no limits", spec, c, err)
		}
	}
	c, err := Parse("aws,symmetric=20000,CreateKey=0,burst=2")
	if err != nil {
		t.Fatal(err)
	}
	if c.Rates[GroupSymmetric] != 20000 || c.Rates[GroupRSA] != 500 || c.Burst != 2 {
		t.Errorf("Parse = %v", c)
	}
	if _, ok := c.Rates["CreateKey"]; ok {
		t.Error("CreateKey=0 did not remove the limit")
	}
	if back, err := Parse(c.String()); err != nil || back.String() != c.String() {
		t.Errorf("Parse(String()) = %v, %v", back, err)
	}
	for _, bad := range []string{"aws,CreateKey", "aws,CreateKey=-1", "aws,=3", "fast"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestLimiterBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(Config{Rates: map[string]float64{"CreateKey": 5, GroupSymmetric: 100}})
	l.SetClock(func() time.Time { return now })
	var throttled []string
	l.OnThrottle = func(g string) { throttled = append(throttled, g) }
	for i := range 5 {
		if ok, _ := l.Allow("111122223333", "us-east-1", "CreateKey", nil); !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	if ok, g := l.Allow("111122223333", "us-east-1", "CreateKey", nil); ok || g != "CreateKey" {
		t.Fatalf("sixth request: %v %s", ok, g)
	}
	// Other accounts, regions and groups have buckets of their own; an
	// operation without a limit is never refused.
	for _, c := range [][3]string{{"444455556666", "us-east-1", "CreateKey"}, {"111122223333", "eu-west-1", "CreateKey"}, {"111122223333", "us-east-1", "Encrypt"}, {"111122223333", "us-east-1", "ListAliases"}} {
		if ok, _ := l.Allow(c[0], c[1], c[2], nil); !ok {
			t.Errorf("%v refused", c)
		}
	}
	now = now.Add(200 * time.Millisecond) // one token at 5/s
	if ok, _ := l.Allow("111122223333", "us-east-1", "CreateKey", nil); !ok {
		t.Fatal("refill did not give a token")
	}
	if ok, _ := l.Allow("111122223333", "us-east-1", "CreateKey", nil); ok {
		t.Fatal("two tokens after 200ms at 5/s")
	}
	now = now.Add(time.Hour) // refills to the burst, no more
	n := 0
	for {
		if ok, _ := l.Allow("111122223333", "us-east-1", "CreateKey", nil); !ok {
			break
		}
		n++
	}
	if n != 5 {
		t.Errorf("after an hour %d requests passed, want the burst of 5", n)
	}
	if len(throttled) != 3 {
		t.Errorf("OnThrottle called %d times, want 3", len(throttled))
	}
	var nilLimiter *Limiter
	if ok, _ := nilLimiter.Allow("a", "r", "CreateKey", nil); !ok {
		t.Error("a nil Limiter refused")
	}
}

// TestLimiterShare: n limiters that each know n nodes share the rates
// together allow what one limiter alone allows, burst and refill.
func TestLimiterShare(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		now := time.Unix(1000, 0)
		var nodes []*Limiter
		for range n {
			l := New(Config{Rates: map[string]float64{GroupSymmetric: 60}})
			l.SetClock(func() time.Time { return now })
			l.SetNodes(n)
			nodes = append(nodes, l)
		}
		drain := func() int {
			total := 0
			for _, l := range nodes {
				for {
					if ok, _ := l.Allow("111122223333", "us-east-1", "Encrypt", nil); !ok {
						break
					}
					total++
				}
			}
			return total
		}
		if got := drain(); got != 60 {
			t.Errorf("%d nodes: a burst of %d, want 60 in all", n, got)
		}
		now = now.Add(500 * time.Millisecond)
		if got := drain(); got < 29 || got > 30 {
			t.Errorf("%d nodes: %d requests after half a second at 60/s, want 30 in all", n, got)
		}
	}
	l := New(Config{Rates: map[string]float64{"CreateKey": 5}})
	l.SetNodes(0)
	if l.Nodes() != 1 {
		t.Errorf("SetNodes(0): Nodes() = %d, want 1", l.Nodes())
	}
	var nilLimiter *Limiter
	nilLimiter.SetNodes(3)
	if nilLimiter.Nodes() != 1 {
		t.Error("a nil Limiter's Nodes is not 1")
	}
}
