package e2e

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// Public-key encryption with RSA ENCRYPT_DECRYPT keys: Encrypt, Decrypt and
// ReEncrypt, with ciphertexts made locally from the GetPublicKey output.

// rsaPlaintextLimits are AWS's documented largest plaintexts per key spec
// and algorithm.
var rsaPlaintextLimits = []struct {
	spec  types.KeySpec
	alg   types.EncryptionAlgorithmSpec
	limit int
}{
	{types.KeySpecRsa2048, types.EncryptionAlgorithmSpecRsaesOaepSha1, 214},
	{types.KeySpecRsa2048, types.EncryptionAlgorithmSpecRsaesOaepSha256, 190},
	{types.KeySpecRsa3072, types.EncryptionAlgorithmSpecRsaesOaepSha1, 342},
	{types.KeySpecRsa3072, types.EncryptionAlgorithmSpecRsaesOaepSha256, 318},
	{types.KeySpecRsa4096, types.EncryptionAlgorithmSpecRsaesOaepSha1, 470},
	{types.KeySpecRsa4096, types.EncryptionAlgorithmSpecRsaesOaepSha256, 446},
}

func oaepHash(alg types.EncryptionAlgorithmSpec) crypto.Hash {
	if alg == types.EncryptionAlgorithmSpecRsaesOaepSha1 {
		return crypto.SHA1
	}
	return crypto.SHA256
}

func rsaPublic(t testing.TB, c *kms.Client, keyID string) *rsa.PublicKey {
	t.Helper()
	parsed, err := x509.ParsePKIXPublicKey(publicKeyDER(t, c, keyID))
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T, want RSA", parsed)
	}
	return pub
}

func TestRSAEncryptDecrypt(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	keys := map[types.KeySpec]string{}
	for _, tc := range rsaPlaintextLimits {
		t.Run(string(tc.spec)+"/"+string(tc.alg), func(t *testing.T) {
			id, ok := keys[tc.spec]
			if !ok {
				id = createKeyOf(t, c, tc.spec, types.KeyUsageTypeEncryptDecrypt)
				keys[tc.spec] = id
			}
			pub := rsaPublic(t, c, id)
			arn := keyARN(testenv.Region, id)

			// A ciphertext made locally with the public key decrypts
			// through the service, given KeyId and the algorithm.
			pt := bytes.Repeat([]byte{'p'}, tc.limit)
			local, err := rsa.EncryptOAEP(oaepHash(tc.alg).New(), rand.Reader, pub, pt, nil)
			if err != nil {
				t.Fatal(err)
			}
			dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: local, EncryptionAlgorithm: tc.alg}))
			if !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != arn || dec.EncryptionAlgorithm != tc.alg {
				t.Errorf("Decrypt of a local ciphertext = %d bytes, KeyId %s, algorithm %s", len(dec.Plaintext), aws.ToString(dec.KeyId), dec.EncryptionAlgorithm)
			}
			if dec.KeyMaterialId != nil {
				t.Errorf("Decrypt with an RSA key returned KeyMaterialId %s; AWS returns it for symmetric keys only", aws.ToString(dec.KeyMaterialId))
			}

			// The service's ciphertext is the raw OAEP output: one modulus
			// long, different each time, and it decrypts.
			enc := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: tc.alg}))
			if len(enc.CiphertextBlob) != pub.Size() || enc.EncryptionAlgorithm != tc.alg || aws.ToString(enc.KeyId) != arn {
				t.Errorf("Encrypt = %d bytes (want %d), algorithm %s, KeyId %s", len(enc.CiphertextBlob), pub.Size(), enc.EncryptionAlgorithm, aws.ToString(enc.KeyId))
			}
			again := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: tc.alg}))
			if bytes.Equal(again.CiphertextBlob, enc.CiphertextBlob) {
				t.Error("RSA Encrypt is deterministic")
			}
			dec = must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(arn), CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: tc.alg}))
			if !bytes.Equal(dec.Plaintext, pt) {
				t.Error("Decrypt of the service's ciphertext gives another plaintext")
			}

			// One byte over AWS's limit.
			_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: append(pt, 'p'), EncryptionAlgorithm: tc.alg})
			wantCode(t, err, "ValidationException")
		})
	}
}

func TestRSAEncryptDecryptRefusals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	signer := createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	sym := aws.ToString(newKey(t, c, "").KeyId)
	pub := rsaPublic(t, c, id)
	pt := []byte("to the public key")
	ct256, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, pub, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	sha256Alg := types.EncryptionAlgorithmSpecRsaesOaepSha256
	tampered := bytes.Clone(ct256)
	tampered[10] ^= 1

	encryptCases := []struct {
		name string
		in   kms.EncryptInput
		code string
	}{
		{"no EncryptionAlgorithm (SYMMETRIC_DEFAULT)", kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt}, "InvalidKeyUsageException"},
		{"SYMMETRIC_DEFAULT", kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault}, "InvalidKeyUsageException"},
		{"SM2PKE", kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke}, "InvalidKeyUsageException"},
		{"an encryption context", kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: sha256Alg, EncryptionContext: map[string]string{"a": "b"}}, "ValidationException"},
		{"a SIGN_VERIFY key", kms.EncryptInput{KeyId: aws.String(signer), Plaintext: pt, EncryptionAlgorithm: sha256Alg}, "InvalidKeyUsageException"},
		{"an RSA algorithm with a symmetric key", kms.EncryptInput{KeyId: aws.String(sym), Plaintext: pt, EncryptionAlgorithm: sha256Alg}, "InvalidKeyUsageException"},
		{"DryRun", kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: sha256Alg, DryRun: aws.Bool(true)}, "DryRunOperationException"},
		{"DryRun over the limit", kms.EncryptInput{KeyId: aws.String(id), Plaintext: make([]byte, 191), EncryptionAlgorithm: sha256Alg, DryRun: aws.Bool(true)}, "ValidationException"},
	}
	for _, tc := range encryptCases {
		t.Run("Encrypt with "+tc.name, func(t *testing.T) {
			_, err := c.Encrypt(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}

	decryptCases := []struct {
		name string
		in   kms.DecryptInput
		code string
	}{
		{"no KeyId", kms.DecryptInput{CiphertextBlob: ct256, EncryptionAlgorithm: sha256Alg}, "InvalidCiphertextException"},
		{"no EncryptionAlgorithm", kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct256}, "InvalidKeyUsageException"},
		{"the other OAEP hash", kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct256, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1}, "InvalidCiphertextException"},
		{"a tampered ciphertext", kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: tampered, EncryptionAlgorithm: sha256Alg}, "InvalidCiphertextException"},
		{"a short ciphertext", kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct256[:100], EncryptionAlgorithm: sha256Alg}, "InvalidCiphertextException"},
		{"an encryption context", kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct256, EncryptionAlgorithm: sha256Alg, EncryptionContext: map[string]string{"a": "b"}}, "ValidationException"},
		{"a SIGN_VERIFY key", kms.DecryptInput{KeyId: aws.String(signer), CiphertextBlob: ct256, EncryptionAlgorithm: sha256Alg}, "InvalidKeyUsageException"},
		{"DryRun", kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct256, EncryptionAlgorithm: sha256Alg, DryRun: aws.Bool(true)}, "DryRunOperationException"},
	}
	for _, tc := range decryptCases {
		t.Run("Decrypt with "+tc.name, func(t *testing.T) {
			_, err := c.Decrypt(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
	t.Run("Decrypt with a symmetric KeyId", func(t *testing.T) {
		_, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(sym), CiphertextBlob: ct256, EncryptionAlgorithm: sha256Alg})
		wantOneOf(t, err, "InvalidCiphertextException", "IncorrectKeyException", "InvalidKeyUsageException")
	})
	t.Run("Decrypt of a symmetric blob with an RSA KeyId", func(t *testing.T) {
		blob := encrypt(t, c, sym, pt, nil)
		_, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: blob, EncryptionAlgorithm: sha256Alg})
		wantOneOf(t, err, "InvalidCiphertextException", "IncorrectKeyException")
	})
	t.Run("disabled key", func(t *testing.T) {
		must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}))
		_, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct256, EncryptionAlgorithm: sha256Alg})
		wantCode(t, err, "DisabledException")
		_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt, EncryptionAlgorithm: sha256Alg})
		wantCode(t, err, "DisabledException")
		must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}))
	})
}

// TestReEncryptWithRSAKeys: ReEncrypt from a symmetric blob to an RSA key
// and back, and from RSA to RSA.
func TestReEncryptWithRSAKeys(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	sym := aws.ToString(newKey(t, c, "").KeyId)
	rsaA := createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	rsaB := createKeyOf(t, c, types.KeySpecRsa3072, types.KeyUsageTypeEncryptDecrypt)
	pt := []byte("travelling plaintext")
	ec := map[string]string{"purpose": "test"}
	oaep256 := types.EncryptionAlgorithmSpecRsaesOaepSha256
	oaep1 := types.EncryptionAlgorithmSpecRsaesOaepSha1

	blob := encrypt(t, c, sym, pt, ec)
	toRSA := must[*kms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec,
		DestinationKeyId: aws.String(rsaA), DestinationEncryptionAlgorithm: oaep256}))
	if toRSA.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || toRSA.DestinationEncryptionAlgorithm != oaep256 ||
		aws.ToString(toRSA.KeyId) != keyARN(testenv.Region, rsaA) || aws.ToString(toRSA.SourceKeyId) != keyARN(testenv.Region, sym) {
		t.Errorf("symmetric → RSA: %+v", toRSA)
	}
	if toRSA.SourceKeyMaterialId == nil || toRSA.DestinationKeyMaterialId != nil {
		t.Errorf("symmetric → RSA: SourceKeyMaterialId %v, DestinationKeyMaterialId %v; want only the symmetric side's", toRSA.SourceKeyMaterialId, toRSA.DestinationKeyMaterialId)
	}
	if len(toRSA.CiphertextBlob) != 256 {
		t.Errorf("RSA_2048 ciphertext has %d bytes", len(toRSA.CiphertextBlob))
	}

	rsaToRSA := must[*kms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: toRSA.CiphertextBlob,
		SourceKeyId: aws.String(rsaA), SourceEncryptionAlgorithm: oaep256, DestinationKeyId: aws.String(rsaB), DestinationEncryptionAlgorithm: oaep1}))
	if rsaToRSA.SourceEncryptionAlgorithm != oaep256 || rsaToRSA.DestinationEncryptionAlgorithm != oaep1 || len(rsaToRSA.CiphertextBlob) != 384 {
		t.Errorf("RSA → RSA: %s → %s, %d bytes", rsaToRSA.SourceEncryptionAlgorithm, rsaToRSA.DestinationEncryptionAlgorithm, len(rsaToRSA.CiphertextBlob))
	}

	back := must[*kms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: rsaToRSA.CiphertextBlob,
		SourceKeyId: aws.String(rsaB), SourceEncryptionAlgorithm: oaep1, DestinationKeyId: aws.String(sym), DestinationEncryptionContext: ec}))
	if back.SourceEncryptionAlgorithm != oaep1 || back.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || back.DestinationKeyMaterialId == nil {
		t.Errorf("RSA → symmetric: %+v", back)
	}
	dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: back.CiphertextBlob, EncryptionContext: ec}))
	if !bytes.Equal(dec.Plaintext, pt) {
		t.Errorf("after three ReEncrypts the plaintext is %q", dec.Plaintext)
	}

	t.Run("RSA destination without an algorithm", func(t *testing.T) {
		_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: aws.String(rsaA)})
		wantCode(t, err, "InvalidKeyUsageException")
	})
	t.Run("RSA destination with an encryption context", func(t *testing.T) {
		_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: aws.String(rsaA),
			DestinationEncryptionAlgorithm: oaep256, DestinationEncryptionContext: ec})
		wantCode(t, err, "ValidationException")
	})
	t.Run("RSA source without SourceKeyId", func(t *testing.T) {
		_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: toRSA.CiphertextBlob, SourceEncryptionAlgorithm: oaep256, DestinationKeyId: aws.String(sym)})
		wantCode(t, err, "InvalidCiphertextException")
	})
	t.Run("a plaintext too long for the RSA destination", func(t *testing.T) {
		long := encrypt(t, c, sym, make([]byte, 191), nil)
		_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: long, DestinationKeyId: aws.String(rsaA), DestinationEncryptionAlgorithm: oaep256})
		wantCode(t, err, "ValidationException")
	})
}
