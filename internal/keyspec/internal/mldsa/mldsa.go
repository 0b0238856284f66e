// Package mldsa signs and verifies ML-DSA (FIPS 204) signatures from the
// message representative μ rather than from the message.
//
// It exists for one feature: AWS KMS's MessageType EXTERNAL_MU, where the
// caller computes μ = SHAKE256(SHAKE256(pk, 64) ‖ M′, 64) itself (FIPS 204
// section 6.2) and the service runs ML-DSA.Sign_internal and
// ML-DSA.Verify_internal from step 7 on. The ML-DSA library we depend on
// (cloudflare/circl) only accepts whole messages, so this package implements
// the internal algorithms (FIPS 204 algorithms 7 and 8) over the standard key
// encodings (skEncode, pkEncode). Key generation and RAW signing stay in circl.
//
// Correctness is checked against circl (byte-identical deterministic
// signatures) and against NIST ACVP vectors in the tests. The arithmetic on
// secret values avoids secret-dependent branches and memory indices; which
// attempt of the rejection loop succeeds is not secret (FIPS 204, section 3.6.1
// and appendix C).
package mldsa

import (
	"crypto/sha3"
	"crypto/subtle"
	"errors"
	"math/bits"
)

const (
	n = 256     // coefficients per polynomial
	q = 8380417 // the modulus, 2²³ − 2¹³ + 1
	d = 13      // bits dropped from t

	// MuSize is the size of μ, the message representative.
	MuSize = 64
	// RandomSize is the size of the rnd input of signing.
	RandomSize = 32
)

// Params is one ML-DSA parameter set (FIPS 204, table 1).
type Params struct {
	name   string
	k, l   int
	eta    int
	tau    int
	lambda int // collision strength in bits: c̃ has λ/4 bytes
	gamma1 uint32
	gamma2 uint32
	beta   uint32
	omega  int
}

// The three parameter sets of FIPS 204.
var (
	MLDSA44 = &Params{name: "ML-DSA-44", k: 4, l: 4, eta: 2, tau: 39, lambda: 128, gamma1: 1 << 17, gamma2: (q - 1) / 88, beta: 78, omega: 80}
	MLDSA65 = &Params{name: "ML-DSA-65", k: 6, l: 5, eta: 4, tau: 49, lambda: 192, gamma1: 1 << 19, gamma2: (q - 1) / 32, beta: 196, omega: 55}
	MLDSA87 = &Params{name: "ML-DSA-87", k: 8, l: 7, eta: 2, tau: 60, lambda: 256, gamma1: 1 << 19, gamma2: (q - 1) / 32, beta: 120, omega: 75}
)

// String returns the parameter set's name, such as "ML-DSA-65".
func (p *Params) String() string { return p.name }

// PublicKeySize is the size of pkEncode's output.
func (p *Params) PublicKeySize() int { return 32 + 32*p.k*10 }

// PrivateKeySize is the size of skEncode's output (the "expanded" key).
func (p *Params) PrivateKeySize() int {
	return 128 + 32*((p.k+p.l)*p.etaBits()+d*p.k)
}

// SignatureSize is the size of sigEncode's output.
func (p *Params) SignatureSize() int {
	return p.lambda/4 + p.l*32*p.zBits() + p.omega + p.k
}

func (p *Params) etaBits() int { return bits.Len(uint(2 * p.eta)) }
func (p *Params) zBits() int   { return 1 + bits.Len32(p.gamma1-1) }
func (p *Params) w1Bits() int  { return bits.Len32((q-1)/(2*p.gamma2) - 1) }

var (
	errPrivateKeySize = errors.New("mldsa: private key has the wrong size")
	errMuSize         = errors.New("mldsa: μ must be 64 bytes")
	errRandomSize     = errors.New("mldsa: rnd must be 32 bytes")
)

// Mu returns the message representative of pure ML-DSA with an empty context
// string: μ = SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ msg, 64).
func Mu(pk, msg []byte) []byte {
	tr := sha3.SumSHAKE256(pk, 64)
	h := sha3.NewSHAKE256()
	h.Write(tr)
	h.Write([]byte{0, 0})
	h.Write(msg)
	mu := make([]byte, MuSize)
	h.Read(mu)
	return mu
}

// SignMu runs ML-DSA.Sign_internal (FIPS 204, algorithm 7) from step 7 on:
// sk is the skEncode encoding of the private key, mu the 64-byte message
// representative and rnd the 32-byte randomness (all zeros for the
// deterministic variant). It returns the sigEncode encoding of the signature.
func SignMu(p *Params, sk, mu, rnd []byte) ([]byte, error) {
	if len(sk) != p.PrivateKeySize() {
		return nil, errPrivateKeySize
	}
	if len(mu) != MuSize {
		return nil, errMuSize
	}
	if len(rnd) != RandomSize {
		return nil, errRandomSize
	}
	rho, key := sk[:32], sk[32:64]
	off := 128
	s1 := make([]poly, p.l)
	s2 := make([]poly, p.k)
	t0 := make([]poly, p.k)
	eb := 32 * p.etaBits()
	for i := range s1 {
		unpackSigned(&s1[i], sk[off:off+eb], p.etaBits(), uint32(p.eta))
		off += eb
	}
	for i := range s2 {
		unpackSigned(&s2[i], sk[off:off+eb], p.etaBits(), uint32(p.eta))
		off += eb
	}
	for i := range t0 {
		unpackSigned(&t0[i], sk[off:off+32*d], d, 1<<(d-1))
		off += 32 * d
	}
	for i := range s1 {
		ntt(&s1[i])
	}
	for i := range s2 {
		ntt(&s2[i])
		ntt(&t0[i])
	}
	a := expandA(p, rho)

	// ρ″ = H(K ‖ rnd ‖ μ, 64)
	h := sha3.NewSHAKE256()
	h.Write(key)
	h.Write(rnd)
	h.Write(mu)
	var rhoPP [64]byte
	h.Read(rhoPP[:])

	y := make([]poly, p.l)
	yHat := make([]poly, p.l)
	z := make([]poly, p.l)
	w := make([]poly, p.k)
	w1 := make([]poly, p.k)
	r := make([]poly, p.k)
	ct0 := make([]poly, p.k)
	hint := make([]poly, p.k)
	w1Packed := make([]byte, p.k*32*p.w1Bits())
	cTilde := make([]byte, p.lambda/4)
	var c, cs poly

	for kappa := 0; ; kappa += p.l {
		expandMask(p, &rhoPP, kappa, y)
		for i := range y {
			yHat[i] = y[i]
			ntt(&yHat[i])
		}
		for i := range w {
			mulMatRow(&w[i], a[i], yHat)
			invNTT(&w[i])
			for j := range n {
				w1[i][j], _ = decompose(p, w[i][j])
			}
			packBits(w1Packed[i*32*p.w1Bits():], &w1[i], p.w1Bits())
		}
		h.Reset()
		h.Write(mu)
		h.Write(w1Packed)
		h.Read(cTilde)
		sampleInBall(p, &c, cTilde)
		ntt(&c)

		// z = y + c·s1; reject if ‖z‖∞ ≥ γ1 − β.
		ok := true
		for i := range z {
			mulNTT(&cs, &c, &s1[i])
			invNTT(&cs)
			for j := range n {
				z[i][j] = fieldAdd(y[i][j], cs[j])
			}
			ok = ok && normBelow(&z[i], p.gamma1-p.beta)
		}
		if !ok {
			continue
		}
		// r = w − c·s2; reject if ‖LowBits(r)‖∞ ≥ γ2 − β.
		for i := range r {
			mulNTT(&cs, &c, &s2[i])
			invNTT(&cs)
			for j := range n {
				r[i][j] = fieldSub(w[i][j], cs[j])
				_, r0 := decompose(p, r[i][j])
				ok = ok && absInt32(r0) < p.gamma2-p.beta
			}
		}
		if !ok {
			continue
		}
		// h = MakeHint(−c·t0, w − c·s2 + c·t0); reject if ‖c·t0‖∞ ≥ γ2 or
		// the hint has more than ω ones.
		ones := 0
		for i := range ct0 {
			mulNTT(&ct0[i], &c, &t0[i])
			invNTT(&ct0[i])
			ok = ok && normBelow(&ct0[i], p.gamma2)
			for j := range n {
				// HighBits(r + c·t0) ≠ HighBits(r + c·t0 − c·t0).
				rPlus := fieldAdd(r[i][j], ct0[i][j])
				a1, _ := decompose(p, rPlus)
				b1, _ := decompose(p, r[i][j])
				hint[i][j] = uint32(1 ^ subtle.ConstantTimeEq(int32(a1), int32(b1)))
				ones += int(hint[i][j])
			}
		}
		if !ok || ones > p.omega {
			continue
		}
		return sigEncode(p, cTilde, z, hint), nil
	}
}

// VerifyMu runs ML-DSA.Verify_internal (FIPS 204, algorithm 8) from step 7 on:
// pk is the pkEncode encoding of the public key, mu the 64-byte message
// representative and sig the sigEncode encoding of the signature. It reports
// whether the signature is valid; malformed inputs are simply invalid.
func VerifyMu(p *Params, pk, mu, sig []byte) bool {
	if len(pk) != p.PublicKeySize() || len(mu) != MuSize || len(sig) != p.SignatureSize() {
		return false
	}
	cTilde := sig[:p.lambda/4]
	z := make([]poly, p.l)
	off := p.lambda / 4
	zb := 32 * p.zBits()
	for i := range z {
		unpackSigned(&z[i], sig[off:off+zb], p.zBits(), p.gamma1)
		off += zb
		if !normBelow(&z[i], p.gamma1-p.beta) {
			return false
		}
		ntt(&z[i])
	}
	hint, ok := hintUnpack(p, sig[off:])
	if !ok {
		return false
	}

	rho := pk[:32]
	a := expandA(p, rho)
	var c poly
	sampleInBall(p, &c, cTilde)
	ntt(&c)

	w1Packed := make([]byte, p.k*32*p.w1Bits())
	var w, t1, ct1 poly
	for i := range p.k {
		// w′ = A·z − c·t1·2ᵈ
		unpackBits(&t1, pk[32+i*320:32+(i+1)*320], 10)
		for j := range n {
			t1[j] <<= d
		}
		ntt(&t1)
		mulNTT(&ct1, &c, &t1)
		mulMatRow(&w, a[i], z)
		for j := range n {
			w[j] = fieldSub(w[j], ct1[j])
		}
		invNTT(&w)
		for j := range n {
			w[j] = useHint(p, hint[i][j], w[j])
		}
		packBits(w1Packed[i*32*p.w1Bits():], &w, p.w1Bits())
	}
	h := sha3.NewSHAKE256()
	h.Write(mu)
	h.Write(w1Packed)
	check := make([]byte, p.lambda/4)
	h.Read(check)
	return subtle.ConstantTimeCompare(check, cTilde) == 1
}

// sigEncode is FIPS 204 algorithm 26.
func sigEncode(p *Params, cTilde []byte, z, hint []poly) []byte {
	sig := make([]byte, 0, p.SignatureSize())
	sig = append(sig, cTilde...)
	buf := make([]byte, 32*p.zBits())
	var t poly
	for i := range z {
		for j := range n {
			t[j] = fieldSub(p.gamma1, z[i][j])
		}
		packBits(buf, &t, p.zBits())
		sig = append(sig, buf...)
	}
	y := make([]byte, p.omega+p.k)
	idx := 0
	for i := range hint {
		for j := range n {
			if hint[i][j] != 0 {
				y[idx] = byte(j)
				idx++
			}
		}
		y[p.omega+i] = byte(idx)
	}
	return append(sig, y...)
}

// hintUnpack is FIPS 204 algorithm 21; it rejects every non-canonical
// encoding so that signatures are not malleable.
func hintUnpack(p *Params, y []byte) ([]poly, bool) {
	h := make([]poly, p.k)
	idx := 0
	for i := range p.k {
		end := int(y[p.omega+i])
		if end < idx || end > p.omega {
			return nil, false
		}
		first := idx
		for idx < end {
			if idx > first && y[idx-1] >= y[idx] {
				return nil, false
			}
			h[i][y[idx]] = 1
			idx++
		}
	}
	for ; idx < p.omega; idx++ {
		if y[idx] != 0 {
			return nil, false
		}
	}
	return h, true
}
