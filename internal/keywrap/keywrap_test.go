package keywrap

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// rfc5649Vectors are the test vectors of RFC 5649, section 6.
var rfc5649Vectors = []struct {
	name              string
	kek, key, wrapped string
}{
	{
		name:    "20-octet key with a 192-bit KEK",
		kek:     "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
		key:     "c37b7e6492584340bed12207808941155068f738",
		wrapped: "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
	},
	{
		name:    "7-octet key with a 192-bit KEK",
		kek:     "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
		key:     "466f7250617369",
		wrapped: "afbeb0f07dfbf5419200f2ccb50bb24f",
	},
}

func TestRFC5649Vectors(t *testing.T) {
	for _, v := range rfc5649Vectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := Wrap(unhex(v.kek), unhex(v.key))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, unhex(v.wrapped)) {
				t.Errorf("Wrap = %x, want %s", got, v.wrapped)
			}
			pt, err := Unwrap(unhex(v.kek), unhex(v.wrapped))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pt, unhex(v.key)) {
				t.Errorf("Unwrap = %x, want %s", pt, v.key)
			}
		})
	}
}

func TestRoundTripEveryLength(t *testing.T) {
	for _, kekLen := range []int{16, 24, 32} {
		kek := bytes.Repeat([]byte{0x42}, kekLen)
		for n := 1; n <= 300; n++ {
			pt := make([]byte, n)
			for i := range pt {
				pt[i] = byte(i*7 + n)
			}
			ct, err := Wrap(kek, pt)
			if err != nil {
				t.Fatalf("Wrap(%d-byte kek, %d bytes): %v", kekLen, n, err)
			}
			if want := (n+7)/8*8 + 8; len(ct) != want {
				t.Fatalf("wrapped %d bytes into %d, want %d", n, len(ct), want)
			}
			got, err := Unwrap(kek, ct)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Unwrap(Wrap(%d bytes)) = %x, %v", n, got, err)
			}
		}
	}
}

// TestUnwrapRefusals: every way a ciphertext can be wrong is the one error.
func TestUnwrapRefusals(t *testing.T) {
	kek := unhex(rfc5649Vectors[0].kek)
	good := unhex(rfc5649Vectors[0].wrapped)
	short := unhex(rfc5649Vectors[1].wrapped)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	cases := map[string]struct{ kek, ct []byte }{
		"empty":                   {kek, nil},
		"8 bytes":                 {kek, good[:8]},
		"not a multiple of 8":     {kek, good[:20]},
		"truncated":               {kek, good[:24]},
		"first byte flipped":      {kek, flip(good, 0)},
		"last byte flipped":       {kek, flip(good, len(good)-1)},
		"one-block flipped":       {kek, flip(short, 3)},
		"other key":               {bytes.Repeat([]byte{1}, 24), good},
		"other key, single block": {bytes.Repeat([]byte{1}, 24), short},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			pt, err := Unwrap(c.kek, c.ct)
			if !errors.Is(err, ErrUnwrap) || pt != nil {
				t.Errorf("Unwrap = %x, %v; want nil, ErrUnwrap", pt, err)
			}
		})
	}
}

// rawWrap is RFC 3394's wrapping process with a chosen initial value, to
// build ciphertexts whose integrity check passes but whose length indicator
// or padding is wrong.
func rawWrap(kek []byte, aiv [8]byte, data []byte) []byte {
	block, err := aes.NewCipher(kek)
	if err != nil {
		panic(err)
	}
	out := append(aiv[:], data...)
	blocks := len(data) / 8
	if blocks == 1 {
		block.Encrypt(out, out)
		return out
	}
	var b [16]byte
	for j := range 6 {
		for i := 1; i <= blocks; i++ {
			copy(b[0:8], out[0:8])
			copy(b[8:16], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			binary.BigEndian.PutUint64(out[0:8], binary.BigEndian.Uint64(b[0:8])^uint64(blocks*j+i))
			copy(out[8*i:8*i+8], b[8:16])
		}
	}
	return out
}

func TestUnwrapChecksLengthAndPadding(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, 16)
	aiv := func(mli uint32) [8]byte {
		var a [8]byte
		binary.BigEndian.PutUint32(a[0:4], 0xA65959A6)
		binary.BigEndian.PutUint32(a[4:8], mli)
		return a
	}
	data := append([]byte("123456789"), make([]byte, 7)...) // 9 bytes, zero padded
	if pt, err := Unwrap(kek, rawWrap(kek, aiv(9), data)); err != nil || string(pt) != "123456789" {
		t.Fatalf("the well-formed control case = %q, %v", pt, err)
	}
	if pt, err := Unwrap(kek, rawWrap(kek, aiv(5), []byte("12345\x00\x00\x00"))); err != nil || string(pt) != "12345" {
		t.Fatalf("the one-block control case = %q, %v", pt, err)
	}
	cases := map[string][]byte{
		"length 0":                    rawWrap(kek, aiv(0), data),
		"length 8 (a block too many)": rawWrap(kek, aiv(8), data),
		"length 17":                   rawWrap(kek, aiv(17), data),
		"length 2^32-1":               rawWrap(kek, aiv(0xFFFFFFFF), data),
		"nonzero padding":             rawWrap(kek, aiv(9), append([]byte("123456789"), 0, 0, 0, 0, 0, 0, 1)),
		"one block, nonzero padding":  rawWrap(kek, aiv(5), []byte("12345\x00\x01\x00")),
		"one block, length 0":         rawWrap(kek, aiv(0), make([]byte, 8)),
		"wrong AIV constant":          rawWrap(kek, [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}, data),
	}
	for name, ct := range cases {
		t.Run(name, func(t *testing.T) {
			if pt, err := Unwrap(kek, ct); !errors.Is(err, ErrUnwrap) || pt != nil {
				t.Errorf("Unwrap = %q, %v; want ErrUnwrap", pt, err)
			}
		})
	}
}

func TestWrapRefusesBadInput(t *testing.T) {
	for _, n := range []int{0, 15, 17, 33} {
		t.Run(fmt.Sprintf("%d-byte kek", n), func(t *testing.T) {
			if _, err := Wrap(make([]byte, n), []byte("x")); err == nil {
				t.Error("Wrap accepted the key")
			}
			if _, err := Unwrap(make([]byte, n), make([]byte, 16)); err == nil || errors.Is(err, ErrUnwrap) {
				t.Errorf("Unwrap error = %v, want a key-size error", err)
			}
		})
	}
	if _, err := Wrap(make([]byte, 16), nil); err == nil {
		t.Error("Wrap accepted an empty plaintext")
	}
}

// FuzzUnwrap: whatever the input, Unwrap either refuses it or returns the
// plaintext that wraps back to exactly that input (there is one ciphertext
// per plaintext, so no accepted ciphertext is malleable).
func FuzzUnwrap(f *testing.F) {
	kek := unhex(rfc5649Vectors[0].kek)
	for _, v := range rfc5649Vectors {
		f.Add(unhex(v.wrapped))
	}
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, ct []byte) {
		pt, err := Unwrap(kek, ct)
		if err != nil {
			return
		}
		again, err := Wrap(kek, pt)
		if err != nil || !bytes.Equal(again, ct) {
			t.Fatalf("Unwrap accepted %x, which does not wrap back (%x, %v)", ct, again, err)
		}
	})
}
