package keyspec

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 8032, section 7.1, tests 2 and 3 (test 1 signs the empty message,
// which AWS does not accept). The PKCS#8 wrapping is RFC 8410's, written
// out byte by byte.
func TestRFC8032Ed25519(t *testing.T) {
	for _, tc := range []struct{ secret, public, msg, sig string }{
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
		{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
			"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
			"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
	} {
		pkcs8 := unhex("302e020100300506032b657004220420" + tc.secret)
		k, err := Load(ECCNISTEdwards25519, SignVerify, pkcs8)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := mustDER(t, k), unhex("302a300506032b6570032100"+tc.public); !bytes.Equal(got, want) {
			t.Errorf("public key DER = %x, want %x", got, want)
		}
		sig, err := k.Sign(Ed25519SHA512, Raw, unhex(tc.msg))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(sig) != tc.sig {
			t.Errorf("signature of %s = %x, want %s", tc.msg, sig, tc.sig)
		}
	}
}

// RFC 9881 (ML-DSA in X.509), appendix C: the example keys use the seed
// 00 01 … 1f. The ML-DSA-65 seed-form PKCS#8 is copied from the RFC; the
// ML-DSA-44 public key digest is the SHA-256 of the raw key in the
// examples/ML-DSA-44.pub file of github.com/lamps-wg/dilithium-certificates.
func TestRFC9881MLDSA(t *testing.T) {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	want65, _ := base64.StdEncoding.DecodeString("MDQCAQAwCwYJYIZIAWUDBAMSBCKAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f")
	if got := marshalMLDSAPKCS8(mldsa65Scheme, seed); !bytes.Equal(got, want65) {
		t.Errorf("ML-DSA-65 seed PKCS#8 = %x, want %x", got, want65)
	}
	if _, err := Load(MLDSA65, SignVerify, want65); err != nil {
		t.Errorf("Load of the RFC's ML-DSA-65 key: %v", err)
	}

	k, err := Load(MLDSA44, SignVerify, marshalMLDSAPKCS8(mldsa44Scheme, seed))
	if err != nil {
		t.Fatal(err)
	}
	der := mustDER(t, k)
	if got, want := der[:22], unhex("30820532"+"300b0609608648016503040311"+"0382052100"); !bytes.Equal(got, want) {
		t.Errorf("ML-DSA-44 SPKI header = %x, want %x", got, want)
	}
	if len(der) != 1334 {
		t.Errorf("ML-DSA-44 SPKI has %d bytes, want 1334", len(der))
	}
	_, _, raw := testSPKI(t, der)
	if got := sha256.Sum256(raw); hex.EncodeToString(got[:]) != "9f107644c1084526af3bc8098680b05499a2325a644e388fb4f970e058d19d46" {
		t.Errorf("ML-DSA-44 public key of the RFC seed has SHA-256 %x", got)
	}
}

// TestSecp256k1Generator: the private key 1 has the generator as public key
// (SEC 2, section 2.4.1). The PKCS#8 is written out byte by byte.
func TestSecp256k1Generator(t *testing.T) {
	one := make([]byte, 32)
	one[31] = 1
	pkcs8 := unhex("303e020100301006072a8648ce3d020106052b8104000a042730250201010420" + hex.EncodeToString(one))
	k, err := Load(ECCSECGP256K1, SignVerify, pkcs8)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex("3056301006072a8648ce3d020106052b8104000a034200" +
		"0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798" +
		"483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")
	if got := mustDER(t, k); !bytes.Equal(got, want) {
		t.Errorf("public key DER = %x, want %x", got, want)
	}
}
