package keyspec

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
)

var oaepHash = map[Algorithm]crypto.Hash{RSAESOAEPSHA1: crypto.SHA1, RSAESOAEPSHA256: crypto.SHA256}

// TestRSAOAEP: what Go's crypto encrypts with the GetPublicKey DER, Decrypt
// opens; what Encrypt seals, Go's crypto opens with the PKCS#8 private key.
// Plaintext limits are AWS's, and every decryption failure is the one
// opaque InvalidCiphertextException.
func TestRSAOAEP(t *testing.T) {
	for _, spec := range []Spec{RSA2048, RSA3072, RSA4096} {
		k := testKey(t, spec, EncryptDecrypt)
		parsed, err := x509.ParsePKIXPublicKey(mustDER(t, k))
		if err != nil {
			t.Fatal(err)
		}
		pub := parsed.(*rsa.PublicKey)
		priv, err := x509.ParsePKCS8PrivateKey(testMaterial(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range []Algorithm{RSAESOAEPSHA1, RSAESOAEPSHA256} {
			t.Run(string(spec)+"/"+string(alg), func(t *testing.T) {
				h := oaepHash[alg]
				limit := k.Info().MaxPlaintext(alg)
				if limit != pub.Size()-2*h.Size()-2 {
					t.Fatalf("MaxPlaintext = %d", limit)
				}
				for _, size := range []int{1, 32, limit} {
					pt := randBytes(size)
					ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, pt, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err := k.Decrypt(alg, ct)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("Decrypt of Go's %d-byte ciphertext: %v", size, err)
					}
					ct, err = k.Encrypt(alg, pt)
					if err != nil {
						t.Fatalf("Encrypt %d bytes: %v", size, err)
					}
					got, err = rsa.DecryptOAEP(h.New(), nil, priv.(*rsa.PrivateKey), ct, nil)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("Go cannot decrypt our %d-byte ciphertext: %v", size, err)
					}
				}
				for _, size := range []int{0, limit + 1} {
					if _, err := k.Encrypt(alg, make([]byte, size)); code(err) != CodeValidation {
						t.Errorf("Encrypt of %d bytes = %v, want ValidationException", size, err)
					}
				}

				ct, _ := k.Encrypt(alg, []byte("secret"))
				other := RSAESOAEPSHA1
				if alg == RSAESOAEPSHA1 {
					other = RSAESOAEPSHA256
				}
				for name, c := range map[string][]byte{
					"flipped bit":     flipBit(ct, 77),
					"truncated":       ct[:len(ct)-1],
					"extended":        append(bytes.Clone(ct), 0),
					"empty":           nil,
					"modulus":         pub.N.Bytes(),
					"other OAEP hash": nil, // filled below
				} {
					a := alg
					if name == "other OAEP hash" {
						c, a = ct, other
					}
					pt, err := k.Decrypt(a, c)
					if err != ErrInvalidCiphertext || pt != nil {
						t.Errorf("%s: Decrypt = %x, %v; want ErrInvalidCiphertext", name, pt, err)
					}
				}
			})
		}
	}
}

func TestEncryptRejects(t *testing.T) {
	rsaSign := testKey(t, RSA2048, SignVerify)
	if _, err := rsaSign.Encrypt(RSAESOAEPSHA256, []byte("x")); code(err) != CodeInvalidKeyUsage {
		t.Errorf("Encrypt with a SIGN_VERIFY key = %v", err)
	}
	if _, err := rsaSign.Decrypt(RSAESOAEPSHA256, make([]byte, 256)); code(err) != CodeInvalidKeyUsage {
		t.Errorf("Decrypt with a SIGN_VERIFY key = %v", err)
	}
	rsaEnc := testKey(t, RSA2048, EncryptDecrypt)
	for alg, want := range map[Algorithm]string{
		SymmetricDefaultAlgorithm: CodeInvalidKeyUsage,
		SM2PKE:                    CodeInvalidKeyUsage,
		"RSAES_OAEP_SHA_512":      CodeValidation,
		RSASSAPSSSHA256:           CodeValidation,
	} {
		if _, err := rsaEnc.Encrypt(alg, []byte("x")); code(err) != want {
			t.Errorf("Encrypt(%s) = %v, want %s", alg, err, want)
		}
		if _, err := rsaEnc.Decrypt(alg, []byte("x")); code(err) != want {
			t.Errorf("Decrypt(%s) = %v, want %s", alg, err, want)
		}
	}
	for _, spec := range []Spec{ECCNISTP256, MLDSA44, HMAC256} {
		u := SignVerify
		if spec == HMAC256 {
			u = GenerateVerifyMAC
		}
		if _, err := testKey(t, spec, u).Encrypt(RSAESOAEPSHA256, []byte("x")); code(err) != CodeInvalidKeyUsage {
			t.Errorf("%s: Encrypt = %v, want InvalidKeyUsageException", spec, err)
		}
	}
	sym := testKey(t, SymmetricDefault, EncryptDecrypt)
	if _, err := sym.Encrypt(RSAESOAEPSHA256, []byte("x")); code(err) != CodeInvalidKeyUsage {
		t.Errorf("symmetric key, RSAES_OAEP_SHA_256: %v", err)
	}
	if _, err := sym.Encrypt(SymmetricDefaultAlgorithm, []byte("x")); err == nil || code(err) != "" {
		t.Errorf("symmetric key, SYMMETRIC_DEFAULT: %v, want an internal error", err)
	}
	if _, err := sym.Decrypt(SymmetricDefaultAlgorithm, []byte("x")); err == nil || code(err) != "" || errors.Is(err, ErrInvalidCiphertext) {
		t.Errorf("symmetric key Decrypt, SYMMETRIC_DEFAULT: %v, want an internal error", err)
	}
}
