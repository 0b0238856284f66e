package mldsa

import (
	"crypto/sha3"
	"encoding/binary"
	"math/bits"
)

// A poly holds 256 coefficients, each in [0, q).
type poly [n]uint32

// fieldReduceOnce maps x in [0, 2q) to [0, q) without branching.
func fieldReduceOnce(x uint32) uint32 {
	x -= q
	return x + (q & uint32(int32(x)>>31))
}

func fieldAdd(a, b uint32) uint32 { return fieldReduceOnce(a + b) }
func fieldSub(a, b uint32) uint32 { return fieldReduceOnce(a + q - b) }

// fieldMul multiplies modulo q. The division by a constant compiles to a
// multiplication, so it takes the same time for every input.
func fieldMul(a, b uint32) uint32 { return uint32(uint64(a) * uint64(b) % q) }

// absCentered returns |x mod± q| for x in [0, q), without branching.
func absCentered(x uint32) uint32 {
	neg := uint32(int32((q-1)/2-x) >> 31) // all ones when x > (q−1)/2
	return (x &^ neg) | ((q - x) & neg)
}

func absInt32(x int32) uint32 {
	m := x >> 31
	return uint32((x ^ m) - m)
}

// normBelow reports whether every coefficient of f, read as a centered
// representative, has absolute value below bound. Which coefficient fails
// may leak; its sign does not.
func normBelow(f *poly, bound uint32) bool {
	for _, c := range f {
		if absCentered(c) >= bound {
			return false
		}
	}
	return true
}

// zetas[m] = ζ^brv₈(m) mod q with ζ = 1753 (FIPS 204, appendix B).
var zetas = func() (z [n]uint32) {
	for m := range n {
		e := uint32(bits.Reverse8(uint8(m)))
		r := uint32(1)
		for b := uint32(1753); e > 0; e >>= 1 {
			if e&1 == 1 {
				r = fieldMul(r, b)
			}
			b = fieldMul(b, b)
		}
		z[m] = r
	}
	return z
}()

// ntt is FIPS 204 algorithm 41.
func ntt(w *poly) {
	m := 0
	for length := 128; length >= 1; length /= 2 {
		for start := 0; start < n; start += 2 * length {
			m++
			z := zetas[m]
			for j := start; j < start+length; j++ {
				t := fieldMul(z, w[j+length])
				w[j+length] = fieldSub(w[j], t)
				w[j] = fieldAdd(w[j], t)
			}
		}
	}
}

// invNTT is FIPS 204 algorithm 42.
func invNTT(w *poly) {
	m := n
	for length := 1; length < n; length *= 2 {
		for start := 0; start < n; start += 2 * length {
			m--
			z := q - zetas[m]
			for j := start; j < start+length; j++ {
				t := w[j]
				w[j] = fieldAdd(t, w[j+length])
				w[j+length] = fieldMul(z, fieldSub(t, w[j+length]))
			}
		}
	}
	const f = 8347681 // 256⁻¹ mod q
	for j := range w {
		w[j] = fieldMul(w[j], f)
	}
}

// mulNTT multiplies two polynomials in the NTT domain.
func mulNTT(out, a, b *poly) {
	for j := range n {
		out[j] = fieldMul(a[j], b[j])
	}
}

// mulMatRow sets out to the inner product of a row of Â and the vector v,
// all in the NTT domain.
func mulMatRow(out *poly, row []poly, v []poly) {
	var t poly
	*out = poly{}
	for s := range row {
		mulNTT(&t, &row[s], &v[s])
		for j := range n {
			out[j] = fieldAdd(out[j], t[j])
		}
	}
}

// decompose is FIPS 204 algorithm 36 for r in [0, q): it returns r1 and r0
// with r = r1·2γ2 + r0 and r0 in (−γ2, γ2], except that r1 = 0 and
// r0 = r − q when r − r0 = q − 1. The arithmetic follows the reference
// implementation and is branch-free; the tests check it against the
// definition for every r.
func decompose(p *Params, r uint32) (r1 uint32, r0 int32) {
	a := int32(r)
	a1 := (a + 127) >> 7
	if p.gamma2 == (q-1)/32 {
		a1 = (a1*1025 + (1 << 21)) >> 22
		a1 &= 15
	} else { // (q−1)/88
		a1 = (a1*11275 + (1 << 23)) >> 24
		a1 ^= ((43 - a1) >> 31) & a1
	}
	a0 := a - a1*2*int32(p.gamma2)
	a0 -= (((q-1)/2 - a0) >> 31) & q
	return uint32(a1), a0
}

// useHint is FIPS 204 algorithm 40. It only handles public values.
func useHint(p *Params, h, r uint32) uint32 {
	m := (q - 1) / (2 * p.gamma2)
	r1, r0 := decompose(p, r)
	switch {
	case h == 1 && r0 > 0:
		return (r1 + 1) % m
	case h == 1:
		return (r1 + m - 1) % m
	}
	return r1
}

// expandA is FIPS 204 algorithm 32: Â[r][s] = RejNTTPoly(ρ ‖ s ‖ r).
func expandA(p *Params, rho []byte) [][]poly {
	a := make([][]poly, p.k)
	seed := make([]byte, 34)
	copy(seed, rho)
	var buf [168]byte // one SHAKE128 block, a multiple of 3
	for r := range p.k {
		a[r] = make([]poly, p.l)
		for s := range p.l {
			seed[32], seed[33] = byte(s), byte(r)
			h := sha3.NewSHAKE128()
			h.Write(seed)
			f := &a[r][s]
			for j := 0; j < n; {
				h.Read(buf[:])
				for i := 0; i < len(buf) && j < n; i += 3 {
					z := uint32(buf[i]) | uint32(buf[i+1])<<8 | uint32(buf[i+2]&0x7f)<<16
					if z < q {
						f[j] = z
						j++
					}
				}
			}
		}
	}
	return a
}

// expandMask is FIPS 204 algorithm 34.
func expandMask(p *Params, rhoPP *[64]byte, kappa int, y []poly) {
	var seed [66]byte
	copy(seed[:], rhoPP[:])
	buf := make([]byte, 32*p.zBits())
	for r := range y {
		binary.LittleEndian.PutUint16(seed[64:], uint16(kappa+r))
		h := sha3.NewSHAKE256()
		h.Write(seed[:])
		h.Read(buf)
		unpackSigned(&y[r], buf, p.zBits(), p.gamma1)
	}
}

// sampleInBall is FIPS 204 algorithm 29. The positions it touches depend
// only on c̃, which the signature reveals.
func sampleInBall(p *Params, c *poly, cTilde []byte) {
	h := sha3.NewSHAKE256()
	h.Write(cTilde)
	var s [8]byte
	h.Read(s[:])
	signs := binary.LittleEndian.Uint64(s[:])
	*c = poly{}
	var b [1]byte
	for i := n - p.tau; i < n; i++ {
		for {
			h.Read(b[:])
			if int(b[0]) <= i {
				break
			}
		}
		j := b[0]
		c[i] = c[j]
		c[j] = fieldSub(1, uint32(signs&1)*2) // 1 or q − 1
		signs >>= 1
	}
}

// packBits writes the coefficients of f, each below 2^width, little-endian
// bit by bit (SimpleBitPack, FIPS 204 algorithm 16) into dst[:32·width].
func packBits(dst []byte, f *poly, width int) {
	var acc uint64
	nbits, o := 0, 0
	for _, c := range f {
		acc |= uint64(c) << nbits
		nbits += width
		for nbits >= 8 {
			dst[o] = byte(acc)
			o++
			acc >>= 8
			nbits -= 8
		}
	}
}

// unpackBits is the inverse of packBits (SimpleBitUnpack).
func unpackBits(f *poly, src []byte, width int) {
	var acc uint64
	nbits, o := 0, 0
	mask := uint64(1)<<width - 1
	for j := range n {
		for nbits < width {
			acc |= uint64(src[o]) << nbits
			o++
			nbits += 8
		}
		f[j] = uint32(acc & mask)
		acc >>= width
		nbits -= width
	}
}

// unpackSigned is BitUnpack(src, b − 1 or η, b) (FIPS 204 algorithm 19) with
// the result reduced into [0, q): each coefficient is b minus the unsigned
// width-bit value.
func unpackSigned(f *poly, src []byte, width int, b uint32) {
	unpackBits(f, src, width)
	for j := range f {
		f[j] = fieldSub(b, f[j])
	}
}
