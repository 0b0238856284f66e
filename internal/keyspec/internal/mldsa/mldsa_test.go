package mldsa

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// circlSets pairs each parameter set with circl's implementation, the
// reference these tests hold the μ-based algorithms to.
var circlSets = []struct {
	p      *Params
	scheme sign.Scheme
	// signTo signs msg with an empty context, deterministically or hedged.
	signTo func(sk sign.PrivateKey, msg []byte, randomized bool) []byte
}{
	{MLDSA44, mldsa44.Scheme(), func(sk sign.PrivateKey, msg []byte, randomized bool) []byte {
		sig := make([]byte, mldsa44.SignatureSize)
		if err := mldsa44.SignTo(sk.(*mldsa44.PrivateKey), msg, nil, randomized, sig); err != nil {
			panic(err)
		}
		return sig
	}},
	{MLDSA65, mldsa65.Scheme(), func(sk sign.PrivateKey, msg []byte, randomized bool) []byte {
		sig := make([]byte, mldsa65.SignatureSize)
		if err := mldsa65.SignTo(sk.(*mldsa65.PrivateKey), msg, nil, randomized, sig); err != nil {
			panic(err)
		}
		return sig
	}},
	{MLDSA87, mldsa87.Scheme(), func(sk sign.PrivateKey, msg []byte, randomized bool) []byte {
		sig := make([]byte, mldsa87.SignatureSize)
		if err := mldsa87.SignTo(sk.(*mldsa87.PrivateKey), msg, nil, randomized, sig); err != nil {
			panic(err)
		}
		return sig
	}},
}

func TestSizesMatchCircl(t *testing.T) {
	for _, c := range circlSets {
		if got, want := c.p.PublicKeySize(), c.scheme.PublicKeySize(); got != want {
			t.Errorf("%v: PublicKeySize = %d, circl says %d", c.p, got, want)
		}
		if got, want := c.p.PrivateKeySize(), c.scheme.PrivateKeySize(); got != want {
			t.Errorf("%v: PrivateKeySize = %d, circl says %d", c.p, got, want)
		}
		if got, want := c.p.SignatureSize(), c.scheme.SignatureSize(); got != want {
			t.Errorf("%v: SignatureSize = %d, circl says %d", c.p, got, want)
		}
	}
}

// TestDecompose checks the branch-free decompose against the definition in
// FIPS 204 algorithm 36 for every r in [0, q).
func TestDecompose(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive")
	}
	for _, p := range []*Params{MLDSA44, MLDSA65} {
		alpha := int32(2 * p.gamma2)
		for r := int32(0); r < q; r++ {
			r0 := r % alpha
			if r0 > alpha/2 {
				r0 -= alpha
			}
			var r1 int32
			if r-r0 == q-1 {
				r1, r0 = 0, r0-1
			} else {
				r1 = (r - r0) / alpha
			}
			g1, g0 := decompose(p, uint32(r))
			if int32(g1) != r1 || g0 != r0 {
				t.Fatalf("%v: decompose(%d) = (%d, %d), want (%d, %d)", p, r, g1, g0, r1, r0)
			}
		}
	}
}

// TestSignMuMatchesCircl: with rnd = 0, ML-DSA is deterministic, so signing
// μ here must give exactly circl's signature of the message.
func TestSignMuMatchesCircl(t *testing.T) {
	for _, c := range circlSets {
		t.Run(c.p.String(), func(t *testing.T) {
			for i, msg := range [][]byte{[]byte("strongroom"), bytes.Repeat([]byte{0xa5}, 4096), {0}} {
				pk, sk := c.scheme.DeriveKey(bytes.Repeat([]byte{byte(i + 1)}, 32))
				pkb, _ := pk.MarshalBinary()
				skb, _ := sk.MarshalBinary()
				want := c.signTo(sk, msg, false)
				got, err := SignMu(c.p, skb, Mu(pkb, msg), make([]byte, RandomSize))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d: deterministic signature differs from circl's", i)
				}
			}
		})
	}
}

func TestHedgedAgainstCircl(t *testing.T) {
	for _, c := range circlSets {
		t.Run(c.p.String(), func(t *testing.T) {
			pk, sk := c.scheme.DeriveKey(bytes.Repeat([]byte{7}, 32))
			pkb, _ := pk.MarshalBinary()
			skb, _ := sk.MarshalBinary()
			msg := []byte("a message signed through mu")
			mu := Mu(pkb, msg)

			rnd := make([]byte, RandomSize)
			rand.Read(rnd)
			ours, err := SignMu(c.p, skb, mu, rnd)
			if err != nil {
				t.Fatal(err)
			}
			if !c.scheme.Verify(pk, msg, ours, nil) {
				t.Error("circl rejects our hedged signature")
			}
			theirs := c.signTo(sk, msg, true)
			if !VerifyMu(c.p, pkb, mu, theirs) {
				t.Error("VerifyMu rejects circl's hedged signature")
			}

			for _, tc := range []struct {
				name    string
				mu, sig []byte
			}{
				{"flipped signature bit", mu, flip(theirs, 100)},
				{"flipped c̃ bit", mu, flip(theirs, 0)},
				{"flipped hint byte", mu, flip(theirs, len(theirs)-1)},
				{"other μ", Mu(pkb, []byte("another message")), theirs},
				{"short signature", mu, theirs[:len(theirs)-1]},
			} {
				if VerifyMu(c.p, pkb, tc.mu, tc.sig) {
					t.Errorf("%s: VerifyMu accepted", tc.name)
				}
			}
		})
	}
}

// TestHintEncodingIsCanonical: re-encodings of the same hint (unsorted
// indices, non-zero padding) describe a valid signature but must be
// rejected, or signatures would be malleable.
func TestHintEncodingIsCanonical(t *testing.T) {
	p := MLDSA44
	pk, sk := mldsa44.Scheme().DeriveKey(make([]byte, 32))
	pkb, _ := pk.MarshalBinary()
	skb, _ := sk.MarshalBinary()
	var sig, mu []byte
	var total int
	// Find a signature whose first polynomial has two hints and which
	// leaves padding room.
	for i := 0; ; i++ {
		mu = Mu(pkb, []byte{byte(i), byte(i >> 8)})
		var err error
		sig, err = SignMu(p, skb, mu, make([]byte, RandomSize))
		if err != nil {
			t.Fatal(err)
		}
		y := sig[len(sig)-p.omega-p.k:]
		total = int(y[p.omega+p.k-1])
		if y[p.omega] >= 2 && total < p.omega {
			break
		}
	}
	if !VerifyMu(p, pkb, mu, sig) {
		t.Fatal("valid signature rejected")
	}
	hintAt := len(sig) - p.omega - p.k

	unsorted := bytes.Clone(sig)
	unsorted[hintAt], unsorted[hintAt+1] = unsorted[hintAt+1], unsorted[hintAt]
	if VerifyMu(p, pkb, mu, unsorted) {
		t.Error("hint indices out of order accepted")
	}
	padded := bytes.Clone(sig)
	padded[hintAt+total] = 1
	if VerifyMu(p, pkb, mu, padded) {
		t.Error("non-zero hint padding accepted")
	}
}

func TestSignMuRejectsBadInputs(t *testing.T) {
	sk := make([]byte, MLDSA44.PrivateKeySize())
	if _, err := SignMu(MLDSA44, sk[1:], make([]byte, 64), make([]byte, 32)); err == nil {
		t.Error("short private key accepted")
	}
	if _, err := SignMu(MLDSA44, sk, make([]byte, 32), make([]byte, 32)); err == nil {
		t.Error("32-byte μ accepted")
	}
	if _, err := SignMu(MLDSA44, sk, make([]byte, 64), nil); err == nil {
		t.Error("missing rnd accepted")
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

// TestACVP runs a subset of NIST's ACVP ML-DSA vectors for the internal
// interface, where the tested message M′ goes straight into
// μ = SHAKE256(tr ‖ M′, 64); see testdata/acvp.json.gz for the source.
func TestACVP(t *testing.T) {
	f, err := os.Open("testdata/acvp.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		SigGen []struct {
			ParameterSet  string
			Deterministic bool
			TcID          int
			SK            hexBytes
			Message       hexBytes
			Rnd           hexBytes
			Signature     hexBytes
		}
		SigVer []struct {
			ParameterSet string
			TcID         int
			PK           hexBytes
			Message      hexBytes
			Signature    hexBytes
			TestPassed   bool
		}
	}
	if err := json.NewDecoder(zr).Decode(&vectors); err != nil {
		t.Fatal(err)
	}
	params := map[string]*Params{"ML-DSA-44": MLDSA44, "ML-DSA-65": MLDSA65, "ML-DSA-87": MLDSA87}
	if len(vectors.SigGen) == 0 || len(vectors.SigVer) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vectors.SigGen {
		p := params[v.ParameterSet]
		h := sha3.NewSHAKE256()
		h.Write(v.SK[64:128]) // tr
		h.Write(v.Message)
		mu := make([]byte, 64)
		h.Read(mu)
		rnd := []byte(v.Rnd)
		if v.Deterministic {
			rnd = make([]byte, RandomSize)
		}
		sig, err := SignMu(p, v.SK, mu, rnd)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sig, v.Signature) {
			t.Errorf("sigGen %s tc %d: signature differs", v.ParameterSet, v.TcID)
		}
	}
	for _, v := range vectors.SigVer {
		p := params[v.ParameterSet]
		tr := sha3.SumSHAKE256(v.PK, 64)
		h := sha3.NewSHAKE256()
		h.Write(tr)
		h.Write(v.Message)
		mu := make([]byte, 64)
		h.Read(mu)
		if got := VerifyMu(p, v.PK, mu, v.Signature); got != v.TestPassed {
			t.Errorf("sigVer %s tc %d: VerifyMu = %v, want %v", v.ParameterSet, v.TcID, got, v.TestPassed)
		}
	}
}

func BenchmarkSignMu65(b *testing.B) {
	_, sk := mldsa65.Scheme().DeriveKey(make([]byte, 32))
	skb, _ := sk.MarshalBinary()
	mu, rnd := make([]byte, 64), make([]byte, 32)
	for b.Loop() {
		mu[0]++
		if _, err := SignMu(MLDSA65, skb, mu, rnd); err != nil {
			b.Fatal(err)
		}
	}
}
