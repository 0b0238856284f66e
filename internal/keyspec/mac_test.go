package keyspec

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"encoding/hex"
	"testing"
)

var hmacSpecs = []Spec{HMAC224, HMAC256, HMAC384, HMAC512}

func TestGenerateMacMatchesGo(t *testing.T) {
	for _, spec := range hmacSpecs {
		material := testMaterial(t, spec)
		if want := map[Spec]int{HMAC224: 28, HMAC256: 32, HMAC384: 48, HMAC512: 64}[spec]; len(material) != want {
			t.Errorf("%s: generated key has %d bytes, want %d", spec, len(material), want)
		}
		k := testKey(t, spec, GenerateVerifyMAC)
		alg := k.Info().Algorithms(GenerateVerifyMAC).MAC[0]
		for _, size := range []int{1, 100, 4096} {
			msg := randBytes(size)
			mac, err := k.GenerateMac(alg, msg)
			if err != nil {
				t.Fatal(err)
			}
			h := hmac.New(macHash[alg].New, material)
			h.Write(msg)
			if !bytes.Equal(mac, h.Sum(nil)) {
				t.Errorf("%s: MAC differs from crypto/hmac", spec)
			}
			if ok, err := k.VerifyMac(alg, msg, mac); !ok || err != nil {
				t.Errorf("%s: VerifyMac = %v, %v", spec, ok, err)
			}
			for name, bad := range map[string][]byte{"flipped": flipBit(mac, 5), "short": mac[:len(mac)-1], "empty": nil} {
				if ok, err := k.VerifyMac(alg, msg, bad); ok || err != nil {
					t.Errorf("%s: VerifyMac of a %s MAC = %v, %v", spec, name, ok, err)
				}
			}
			if ok, _ := k.VerifyMac(alg, flipBit(msg, 0), mac); ok {
				t.Errorf("%s: VerifyMac of another message = true", spec)
			}
		}
		for _, other := range awsMacAlgorithms {
			if other != alg {
				if _, err := k.GenerateMac(other, []byte("m")); code(err) != CodeInvalidKeyUsage {
					t.Errorf("%s with %s: %v, want InvalidKeyUsageException", spec, other, err)
				}
			}
		}
		for _, size := range []int{0, 4097} {
			if _, err := k.GenerateMac(alg, make([]byte, size)); code(err) != CodeValidation {
				t.Errorf("%s: %d-byte message: %v, want ValidationException", spec, size, err)
			}
			if _, err := k.VerifyMac(alg, make([]byte, size), nil); code(err) != CodeValidation {
				t.Errorf("%s: VerifyMac of a %d-byte message: %v, want ValidationException", spec, size, err)
			}
		}
		if _, err := k.GenerateMac("HMAC_SHA_1", []byte("m")); code(err) != CodeValidation {
			t.Errorf("%s: HMAC_SHA_1: %v, want ValidationException", spec, err)
		}
	}
	if _, err := testKey(t, RSA2048, SignVerify).GenerateMac(HMACSHA256, []byte("m")); code(err) != CodeInvalidKeyUsage {
		t.Errorf("GenerateMac with an RSA key: %v", err)
	}
}

var macHash = map[Algorithm]crypto.Hash{HMACSHA224: crypto.SHA224, HMACSHA256: crypto.SHA256, HMACSHA384: crypto.SHA384, HMACSHA512: crypto.SHA512}

// RFC 4231 test cases 6 and 7: the ones whose 131-byte key is long enough
// for every HMAC key spec.
var rfc4231 = []struct {
	data string
	macs map[Spec]string
}{
	{"Test Using Larger Than Block-Size Key - Hash Key First", map[Spec]string{
		HMAC224: "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
		HMAC256: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
		HMAC384: "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
		HMAC512: "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
	}},
	{"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.", map[Spec]string{
		HMAC224: "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
		HMAC256: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
		HMAC384: "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
		HMAC512: "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
	}},
}

func TestRFC4231(t *testing.T) {
	key := bytes.Repeat([]byte{0xaa}, 131)
	for i, tc := range rfc4231 {
		for _, spec := range hmacSpecs {
			k, err := Load(spec, GenerateVerifyMAC, key)
			if err != nil {
				t.Fatal(err)
			}
			mac, err := k.GenerateMac(k.Info().Algorithms(GenerateVerifyMAC).MAC[0], []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(mac); got != tc.macs[spec] {
				t.Errorf("test case %d, %s: %s, want %s", i+6, spec, got, tc.macs[spec])
			}
		}
	}
}
