package ciphertext

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

func testMaterial(t testing.TB) []byte {
	m := make([]byte, 32)
	if _, err := rand.Read(m); err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	acct = "111122223333"
	kid  = "1234abcd-12ab-34cd-56ef-1234567890ab"
)

func TestSealOpenRoundTrip(t *testing.T) {
	m := testMaterial(t)
	for _, pt := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("a"), 4096)} {
		ec := map[string]string{"dept": "eng", "b": ""}
		b, err := Seal(m, acct, kid, 7, pt, ec)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != Overhead+len(kid)+len(pt) {
			t.Fatalf("blob length %d, want %d", len(b), Overhead+len(kid)+len(pt))
		}
		bl, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if bl.Account != acct || bl.KeyID != kid || bl.MaterialVersion != 7 {
			t.Fatalf("header = %+v", bl)
		}
		got, err := Open(m, bl, map[string]string{"b": "", "dept": "eng"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatal("plaintext mismatch")
		}
		if !bytes.Equal(bl.Marshal(), b) {
			t.Fatal("Marshal(Parse(b)) != b")
		}
	}
}

func TestContextBinding(t *testing.T) {
	m := testMaterial(t)
	b, err := Seal(m, acct, kid, 1, []byte("secret"), map[string]string{"a": "bc"})
	if err != nil {
		t.Fatal(err)
	}
	bl, _ := Parse(b)
	for _, ec := range []map[string]string{
		{"ab": "c"}, nil, {"a": "bc", "x": "y"}, {"a": "b"}, {"A": "bc"},
	} {
		if _, err := Open(m, bl, ec); !errors.Is(err, ErrOpen) {
			t.Errorf("Open with context %v: err = %v, want ErrOpen", ec, err)
		}
	}
	if !bytes.Equal(CanonicalContext(nil), CanonicalContext(map[string]string{})) {
		t.Error("nil and empty context must encode the same")
	}
	if bytes.Equal(CanonicalContext(map[string]string{"a": "bc"}), CanonicalContext(map[string]string{"ab": "c"})) {
		t.Error(`{"a":"bc"} and {"ab":"c"} encode the same`)
	}
}

func TestTamperEveryByte(t *testing.T) {
	m := testMaterial(t)
	b, err := Seal(m, acct, kid, 3, []byte("hello world"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		bl, err := Parse(c)
		if err != nil {
			continue // a malformed header is refused before opening
		}
		if _, err := Open(m, bl, nil); !errors.Is(err, ErrOpen) {
			t.Fatalf("byte %d flipped: Open err = %v", i, err)
		}
	}
	// Truncation at every length is refused one way or the other.
	for n := 0; n < len(b); n++ {
		bl, err := Parse(b[:n])
		if err == nil {
			if _, err := Open(m, bl, nil); err == nil {
				t.Fatalf("truncated to %d bytes still opens", n)
			}
		}
	}
}

func TestWrongMaterial(t *testing.T) {
	b, _ := Seal(testMaterial(t), acct, kid, 1, []byte("p"), nil)
	bl, _ := Parse(b)
	if _, err := Open(testMaterial(t), bl, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := Seal(testMaterial(t), acct, kid, 1, []byte("p"), nil)
	cases := map[string][]byte{
		"empty":        nil,
		"bad version":  append([]byte{0x02}, good[1:]...),
		"non-digit":    append(append([]byte{0x01}, []byte("11112222333x")...), good[13:]...),
		"zero key id":  append(append([]byte{}, good[:13]...), append([]byte{0}, good[14:]...)...),
		"short":        good[:40],
		"no tag":       good[:len(good)-17],
		"space in kid": append(append(append([]byte{}, good[:14]...), ' '), good[15:]...),
	}
	for name, b := range cases {
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	m := make([]byte, 32)
	good, _ := Seal(m, acct, kid, 1, []byte("plaintext"), map[string]string{"k": "v"})
	f.Add(good)
	f.Add([]byte{0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		bl, err := Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(bl.Marshal(), b) {
			t.Fatalf("Marshal(Parse(b)) != b")
		}
		_, _ = Open(m, bl, map[string]string{"k": "v"})
	})
}

func BenchmarkSeal64(b *testing.B) {
	m := testMaterial(b)
	pt := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(m, acct, kid, 1, pt, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen64(b *testing.B) {
	m := testMaterial(b)
	blob, _ := Seal(m, acct, kid, 1, make([]byte, 64), nil)
	b.ReportAllocs()
	for b.Loop() {
		bl, err := Parse(blob)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Open(m, bl, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMessageKey checks the per-message key derivation against
// crypto/hkdf, for every material and salt length it handles itself.
func TestMessageKey(t *testing.T) {
	for _, n := range []int{0, 1, 16, 32, 63, 64} {
		for _, saltLen := range []int{0, 16, 64} {
			material := bytes.Repeat([]byte{byte(n + 1)}, n)
			salt := bytes.Repeat([]byte{0xa5}, saltLen)
			want, err := hkdf.Key(sha256.New, material, salt, hkdfInfo, 32)
			if err != nil {
				t.Fatal(err)
			}
			if got := messageKey(material, salt); !bytes.Equal(got[:], want) {
				t.Fatalf("material %d bytes, salt %d bytes: %x, want %x", n, saltLen, got, want)
			}
		}
	}
}

// BenchmarkSeal4KContext seals 4 KiB under a two-pair encryption context,
// as Encrypt 4 KiB in the harness does.
func BenchmarkSeal4KContext(b *testing.B) {
	m := testMaterial(b)
	pt := make([]byte, 4096)
	ec := map[string]string{"tenant": "t-42", "purpose": "bench"}
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(m, acct, kid, 1, pt, ec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen64Context parses and opens a 64-byte blob with a context,
// as Decrypt does.
func BenchmarkOpen64Context(b *testing.B) {
	m := testMaterial(b)
	ec := map[string]string{"tenant": "t-42", "purpose": "bench"}
	blob, _ := Seal(m, acct, kid, 1, make([]byte, 64), ec)
	b.ReportAllocs()
	for b.Loop() {
		bl, err := Parse(blob)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Open(m, bl, ec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSealFreshRandomness: every blob has its own salt and nonce (never
// repeated, never zero, the nonce not the salt's start), so that no two
// messages share a message key and nonce.
func TestSealFreshRandomness(t *testing.T) {
	m := testMaterial(t)
	salts, nonces := map[[saltLen]byte]bool{}, map[[nonceLen]byte]bool{}
	for range 200 {
		b, err := Seal(m, acct, kid, 1, []byte("same plaintext"), nil)
		if err != nil {
			t.Fatal(err)
		}
		bl, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if salts[bl.Salt] || nonces[bl.Nonce] {
			t.Fatalf("a salt or nonce came twice: %x %x", bl.Salt, bl.Nonce)
		}
		if bl.Salt == [saltLen]byte{} || bl.Nonce == [nonceLen]byte{} || bytes.Equal(bl.Salt[:nonceLen], bl.Nonce[:]) {
			t.Fatalf("salt %x, nonce %x", bl.Salt, bl.Nonce)
		}
		salts[bl.Salt], nonces[bl.Nonce] = true, true
	}
}
