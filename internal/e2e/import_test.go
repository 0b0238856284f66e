package e2e

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/ciphertext"
	"strongroom/internal/keywrap"
	strongkms "strongroom/internal/kms"
	"strongroom/internal/testenv"
)

// Imported key material over the wire: CreateKey with Origin EXTERNAL,
// GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial and
// the expiry of material at its ValidTo. Key material is wrapped locally
// with Go's crypto and this repository's RFC 5649 key wrap (tested against
// the RFC's vectors), and once with the openssl command; ciphertexts made
// by the service are opened locally with the imported material, so the
// service is checked against outside truth, not only its own round trips.

// newExternalKey creates a key with Origin EXTERNAL ("" spec: symmetric).
func newExternalKey(t testing.TB, c *kms.Client, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey Origin EXTERNAL %s: %v", spec, err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

func wrapHash(alg types.AlgorithmSpec) func() hash.Hash {
	switch alg {
	case types.AlgorithmSpecRsaesOaepSha1, types.AlgorithmSpecRsaAesKeyWrapSha1:
		return sha1.New
	}
	return sha256.New
}

// wrapLocally wraps material for import under the wrapping public key
// (DER SubjectPublicKeyInfo) with alg, as AWS's documentation tells
// customers to.
func wrapLocally(t testing.TB, alg types.AlgorithmSpec, publicKey, material []byte) []byte {
	t.Helper()
	parsed, err := x509.ParsePKIXPublicKey(publicKey)
	if err != nil {
		t.Fatalf("the wrapping public key does not parse: %v", err)
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("the wrapping public key is a %T", parsed)
	}
	switch alg {
	case types.AlgorithmSpecRsaesOaepSha1, types.AlgorithmSpecRsaesOaepSha256:
		out, err := rsa.EncryptOAEP(wrapHash(alg)(), rand.Reader, pub, material, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case types.AlgorithmSpecRsaAesKeyWrapSha1, types.AlgorithmSpecRsaAesKeyWrapSha256:
		aesKey := make([]byte, 32)
		rand.Read(aesKey)
		wrappedKey, err := rsa.EncryptOAEP(wrapHash(alg)(), rand.Reader, pub, aesKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := keywrap.Wrap(aesKey, material)
		if err != nil {
			t.Fatal(err)
		}
		return append(wrappedKey, wrapped...)
	}
	t.Fatalf("no local wrapping for %s", alg)
	return nil
}

// importMaterial imports material into a key (wrapping it with alg under a
// fresh RSA_4096 wrapping key, or RSA_2048 for speed when the material is
// short) and returns its KeyMaterialId. validTo nil: the material does not
// expire.
func importMaterial(t testing.TB, c *kms.Client, id string, material []byte, alg types.AlgorithmSpec, validTo *time.Time) string {
	t.Helper()
	out, err := importMaterialErr(c, id, material, alg, validTo, t)
	if err != nil {
		t.Fatalf("ImportKeyMaterial into %s: %v", id, err)
	}
	return aws.ToString(out.KeyMaterialId)
}

func importMaterialErr(c *kms.Client, id string, material []byte, alg types.AlgorithmSpec, validTo *time.Time, t testing.TB) (*kms.ImportKeyMaterialOutput, error) {
	t.Helper()
	spec := types.WrappingKeySpecRsa2048
	if len(material) > 150 {
		spec = types.WrappingKeySpecRsa4096
	}
	p := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(id), WrappingAlgorithm: alg, WrappingKeySpec: spec}))
	in := &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapLocally(t, alg, p.PublicKey, material)}
	if validTo != nil {
		in.ValidTo = validTo
		in.ExpirationModel = types.ExpirationModelTypeKeyMaterialExpires
	} else {
		in.ExpirationModel = types.ExpirationModelTypeKeyMaterialDoesNotExpire
	}
	return c.ImportKeyMaterial(ctx, in)
}

// openLocally opens a ciphertext blob of a symmetric key with the raw key
// material, without the service.
func openLocally(t testing.TB, material, blob []byte, ec map[string]string) []byte {
	t.Helper()
	bl, err := ciphertext.Parse(blob)
	if err != nil {
		t.Fatalf("the service's ciphertext does not parse: %v", err)
	}
	pt, err := ciphertext.Open(material, bl, ec)
	if err != nil {
		t.Fatalf("the service's ciphertext does not open with the imported material: %v", err)
	}
	return pt
}

var wrappingAlgorithms = []types.AlgorithmSpec{
	types.AlgorithmSpecRsaesOaepSha1,
	types.AlgorithmSpecRsaesOaepSha256,
	types.AlgorithmSpecRsaAesKeyWrapSha1,
	types.AlgorithmSpecRsaAesKeyWrapSha256,
}

// TestImportSymmetricMaterial imports symmetric material wrapped with each
// algorithm under each wrapping key size.
func TestImportSymmetricMaterial(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	specs := []types.WrappingKeySpec{types.WrappingKeySpecRsa2048, types.WrappingKeySpecRsa3072, types.WrappingKeySpecRsa4096}
	for i, alg := range wrappingAlgorithms {
		spec := specs[i%len(specs)]
		t.Run(string(alg)+" under "+string(spec), func(t *testing.T) {
			created := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Description: aws.String("imported")})).KeyMetadata
			id := aws.ToString(created.KeyId)
			if created.KeyState != types.KeyStatePendingImport || created.Enabled || created.Origin != types.OriginTypeExternal ||
				created.CurrentKeyMaterialId != nil || created.ExpirationModel != "" {
				t.Fatalf("new EXTERNAL key: state %s, enabled %v, origin %s, material %v, expiration %s",
					created.KeyState, created.Enabled, created.Origin, aws.ToString(created.CurrentKeyMaterialId), created.ExpirationModel)
			}
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
			wantCode(t, err, "KMSInvalidStateException")

			now := env.Clock.Now()
			p := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
				KeyId: aws.String(id), WrappingAlgorithm: alg, WrappingKeySpec: spec}))
			if aws.ToString(p.KeyId) != keyARN(testenv.Region, id) || p.ParametersValidTo == nil || !p.ParametersValidTo.Equal(now.Add(24*time.Hour)) {
				t.Errorf("GetParametersForImport: KeyId %s, ParametersValidTo %v (want %v)", aws.ToString(p.KeyId), p.ParametersValidTo, now.Add(24*time.Hour))
			}
			pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if bits := pub.(*rsa.PublicKey).N.BitLen(); string(spec) != "RSA_"+itoa(bits) {
				t.Errorf("wrapping key for %s has %d bits", spec, bits)
			}

			material := make([]byte, 32)
			rand.Read(material)
			out := must[*kms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{
				KeyId: aws.String(id), ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapLocally(t, alg, p.PublicKey, material),
				ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}))
			md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
			if md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || md.ValidTo != nil ||
				aws.ToString(md.CurrentKeyMaterialId) != aws.ToString(out.KeyMaterialId) || len(aws.ToString(out.KeyMaterialId)) != 64 {
				t.Errorf("after import: state %s, expiration %s, ValidTo %v, current material %s, imported %s",
					md.KeyState, md.ExpirationModel, md.ValidTo, aws.ToString(md.CurrentKeyMaterialId), aws.ToString(out.KeyMaterialId))
			}
			ec := map[string]string{"alg": string(alg)}
			ct := encrypt(t, c, id, []byte("under my own key"), ec)
			if got := openLocally(t, material, ct, ec); string(got) != "under my own key" {
				t.Errorf("opened locally: %q", got)
			}
			if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: ec})).Plaintext; string(got) != "under my own key" {
				t.Errorf("Decrypt: %q", got)
			}
		})
	}
}

// TestImportWithOpenSSL wraps the material with the openssl command line,
// as AWS's documentation does: RSAES_OAEP_SHA_256.
func TestImportWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not in PATH, and CI must run this test")
		}
		t.Skip("openssl is not in PATH")
	}
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := newExternalKey(t, c, "", "")
	p := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa3072}))
	dir := t.TempDir()
	material := make([]byte, 32)
	rand.Read(material)
	for name, b := range map[string][]byte{"wrapping.der": p.PublicKey, "material.bin": material} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("openssl", "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "wrapping.der",
		"-in", "material.bin", "-out", "wrapped.bin",
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl pkeyutl: %v: %s", err, out)
	}
	wrapped, err := os.ReadFile(filepath.Join(dir, "wrapped.bin"))
	if err != nil {
		t.Fatal(err)
	}
	must[*kms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}))
	ct := encrypt(t, c, id, []byte("wrapped by openssl"), nil)
	if got := openLocally(t, material, ct, nil); string(got) != "wrapped by openssl" {
		t.Errorf("opened locally: %q", got)
	}
}

// TestImportedMaterialExpires: imported material expires at ValidTo (the
// key returns to PendingImport and its material is deleted) and the key
// works again, with its old ciphertexts, after the same material is
// imported again; different material is refused.
func TestImportedMaterialExpires(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := newExternalKey(t, c, "", "")
	material := bytes.Repeat([]byte{0x5a}, 32)
	validTo := env.Clock.Now().Add(10 * day)
	matID := importMaterial(t, c, id, material, types.AlgorithmSpecRsaAesKeyWrapSha256, &validTo)
	md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
	if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || !md.ValidTo.Equal(validTo) {
		t.Fatalf("DescribeKey: ExpirationModel %s, ValidTo %v; want KEY_MATERIAL_EXPIRES, %v", md.ExpirationModel, md.ValidTo, validTo)
	}
	ct := encrypt(t, c, id, []byte("outlives its material"), nil)

	env.Clock.Advance(10*day - time.Minute)
	if got, err := env.App.Service.ExpireImportedMaterial(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ExpireImportedMaterial before ValidTo = %v, %v", got, err)
	}
	env.Clock.Advance(time.Minute)
	got, err := env.App.Service.ExpireImportedMaterial(ctx)
	if err != nil || !slices.Equal(got, []string{keyARN(testenv.Region, id)}) {
		t.Fatalf("ExpireImportedMaterial at ValidTo = %v, %v", got, err)
	}
	md = must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
	if md.KeyState != types.KeyStatePendingImport || md.ValidTo != nil {
		t.Fatalf("after expiry: state %s, ValidTo %v", md.KeyState, md.ValidTo)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, "KMSInvalidStateException")
	rot := must[*kms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial}))
	if len(rot.Rotations) != 1 || rot.Rotations[0].ImportState != types.ImportStatePendingImport || aws.ToString(rot.Rotations[0].KeyMaterialId) != matID {
		t.Errorf("ListKeyRotations ALL_KEY_MATERIAL after expiry = %+v", rot.Rotations)
	}

	t.Run("different material is refused", func(t *testing.T) {
		_, err := importMaterialErr(c, id, bytes.Repeat([]byte{0x5b}, 32), types.AlgorithmSpecRsaesOaepSha256, nil, t)
		wantCode(t, err, "IncorrectKeyMaterialException")
		if st := keyState(t, c, id); st != types.KeyStatePendingImport {
			t.Errorf("the refused import left the key %s", st)
		}
	})
	t.Run("the same material brings the key back", func(t *testing.T) {
		if again := importMaterial(t, c, id, material, types.AlgorithmSpecRsaesOaepSha1, nil); again != matID {
			t.Errorf("re-imported material has id %s, first import %s", again, matID)
		}
		if st := keyState(t, c, id); st != types.KeyStateEnabled {
			t.Fatalf("after re-import the key is %s", st)
		}
		if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})).Plaintext; string(got) != "outlives its material" {
			t.Errorf("old ciphertext decrypts to %q", got)
		}
		md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
		if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || md.ValidTo != nil {
			t.Errorf("re-imported without expiry: ExpirationModel %s, ValidTo %v", md.ExpirationModel, md.ValidTo)
		}
		// The first import's expiry no longer applies.
		env.Clock.Advance(400 * day)
		if got, err := env.App.Service.ExpireImportedMaterial(ctx); err != nil || len(got) != 0 {
			t.Errorf("ExpireImportedMaterial later = %v, %v", got, err)
		}
		if st := keyState(t, c, id); st != types.KeyStateEnabled {
			t.Errorf("a year later the key is %s", st)
		}
	})
	t.Run("re-importing changes the expiry", func(t *testing.T) {
		later := env.Clock.Now().Add(30 * day)
		importMaterial(t, c, id, material, types.AlgorithmSpecRsaAesKeyWrapSha1, &later)
		env.Clock.Advance(30 * day)
		if got, err := env.App.Service.ExpireImportedMaterial(ctx); err != nil || len(got) != 1 {
			t.Errorf("ExpireImportedMaterial at the new ValidTo = %v, %v", got, err)
		}
	})
}

func TestImportErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := newExternalKey(t, c, "", "")
	params := func(t *testing.T, keyID string, alg types.AlgorithmSpec) *kms.GetParametersForImportOutput {
		return must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
			KeyId: aws.String(keyID), WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048}))
	}
	material := bytes.Repeat([]byte{1}, 32)
	doesNotExpire := types.ExpirationModelTypeKeyMaterialDoesNotExpire
	importWith := func(keyID string, token, wrapped []byte, model types.ExpirationModelType, validTo *time.Time) error {
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(keyID), ImportToken: token,
			EncryptedKeyMaterial: wrapped, ExpirationModel: model, ValidTo: validTo})
		return err
	}

	t.Run("expired import token", func(t *testing.T) {
		p := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
		wrapped := wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, material)
		env.Clock.Advance(24*time.Hour + time.Second)
		wantCode(t, importWith(id, p.ImportToken, wrapped, doesNotExpire, nil), "ExpiredImportTokenException")
		// Expired parameters are purged; the token is still reported expired.
		if _, err := env.App.Service.ExpireImportedMaterial(ctx); err != nil {
			t.Fatal(err)
		}
		wantCode(t, importWith(id, p.ImportToken, wrapped, doesNotExpire, nil), "ExpiredImportTokenException")
	})
	t.Run("import token of another key", func(t *testing.T) {
		other := newExternalKey(t, c, "", "")
		p := params(t, other, types.AlgorithmSpecRsaesOaepSha256)
		wantCode(t, importWith(id, p.ImportToken, wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, material), doesNotExpire, nil), "InvalidImportTokenException")
	})
	t.Run("malformed import token", func(t *testing.T) {
		p := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
		wrapped := wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, material)
		for name, tok := range map[string][]byte{
			"garbage":      []byte("not a token"),
			"flipped byte": append(bytes.Clone(p.ImportToken[:len(p.ImportToken)-1]), p.ImportToken[len(p.ImportToken)-1]^1),
		} {
			t.Run(name, func(t *testing.T) {
				wantCode(t, importWith(id, tok, wrapped, doesNotExpire, nil), "InvalidImportTokenException")
			})
		}
	})
	t.Run("material wrapped under another key", func(t *testing.T) {
		p := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
		other := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
		wantCode(t, importWith(id, p.ImportToken, wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, other.PublicKey, material), doesNotExpire, nil), "InvalidCiphertextException")
	})
	t.Run("material wrapped with another algorithm", func(t *testing.T) {
		p := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
		wantCode(t, importWith(id, p.ImportToken, wrapLocally(t, types.AlgorithmSpecRsaesOaepSha1, p.PublicKey, material), doesNotExpire, nil), "InvalidCiphertextException")
		q := params(t, id, types.AlgorithmSpecRsaAesKeyWrapSha256)
		wantCode(t, importWith(id, q.ImportToken, wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, q.PublicKey, material), doesNotExpire, nil), "InvalidCiphertextException")
	})
	t.Run("material of the wrong size", func(t *testing.T) {
		for _, n := range []int{16, 31, 33, 64} {
			p := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
			wantCode(t, importWith(id, p.ImportToken, wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, make([]byte, n)), doesNotExpire, nil), "IncorrectKeyMaterialException")
		}
	})
	t.Run("expiration arguments", func(t *testing.T) {
		p := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
		wrapped := wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, material)
		past := env.Clock.Now().Add(-time.Hour)
		tooFar := env.Clock.Now().Add(366 * day)
		soon := env.Clock.Now().Add(day)
		wantCode(t, importWith(id, p.ImportToken, wrapped, types.ExpirationModelTypeKeyMaterialExpires, nil), "ValidationException")
		wantCode(t, importWith(id, p.ImportToken, wrapped, "", nil), "ValidationException")
		wantCode(t, importWith(id, p.ImportToken, wrapped, types.ExpirationModelTypeKeyMaterialExpires, &past), "ValidationException")
		wantCode(t, importWith(id, p.ImportToken, wrapped, types.ExpirationModelTypeKeyMaterialExpires, &tooFar), "ValidationException")
		wantCode(t, importWith(id, p.ImportToken, wrapped, doesNotExpire, &soon), "ValidationException")
		if st := keyState(t, c, id); st != types.KeyStatePendingImport {
			t.Errorf("refused imports left the key %s", st)
		}
		// ValidTo without ExpirationModel means it expires.
		if err := importWith(id, p.ImportToken, wrapped, "", &soon); err != nil {
			t.Fatal(err)
		}
		md := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})).KeyMetadata
		if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires {
			t.Errorf("ExpirationModel = %s", md.ExpirationModel)
		}
	})
	t.Run("wrapping arguments", func(t *testing.T) {
		_, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesPkcs1V15, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		wantCode(t, err, "ValidationException")
		_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: "RSA_1024"})
		wantCode(t, err, "ValidationException")
		rsaKey := newExternalKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
		_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(rsaKey), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa4096})
		wantCode(t, err, "ValidationException")
	})
	t.Run("keys without imported material", func(t *testing.T) {
		generated := aws.ToString(newKey(t, c, "").KeyId)
		_, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(generated), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		wantCode(t, err, "UnsupportedOperationException")
		p := params(t, id, types.AlgorithmSpecRsaesOaepSha256)
		wantCode(t, importWith(generated, p.ImportToken, wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, material), doesNotExpire, nil), "UnsupportedOperationException")
		_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(generated)})
		wantCode(t, err, "UnsupportedOperationException")
	})
	t.Run("ML-DSA keys cannot have imported material", func(t *testing.T) {
		_, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecMlDsa65, KeyUsage: types.KeyUsageTypeSignVerify})
		wantCode(t, err, "UnsupportedOperationException")
	})
}

// TestDeleteImportedKeyMaterial: deleting material makes the key
// PendingImport until the same material is imported again; during a
// pending deletion the state does not change, and cancelling the deletion
// leaves the key PendingImport.
func TestDeleteImportedKeyMaterial(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := newExternalKey(t, c, "", "")
	out, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)})
	if err != nil || keyState(t, c, id) != types.KeyStatePendingImport {
		t.Fatalf("DeleteImportedKeyMaterial before any import: %v", err)
	}
	if aws.ToString(out.KeyMaterialId) != "" {
		t.Errorf("nothing deleted, but KeyMaterialId %s", aws.ToString(out.KeyMaterialId))
	}
	material := bytes.Repeat([]byte{0x33}, 32)
	matID := importMaterial(t, c, id, material, types.AlgorithmSpecRsaesOaepSha256, nil)
	ct := encrypt(t, c, id, []byte("kept"), nil)

	out = must[*kms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)}))
	if aws.ToString(out.KeyId) != keyARN(testenv.Region, id) || aws.ToString(out.KeyMaterialId) != matID {
		t.Errorf("DeleteImportedKeyMaterial = %s, %s", aws.ToString(out.KeyId), aws.ToString(out.KeyMaterialId))
	}
	if st := keyState(t, c, id); st != types.KeyStatePendingImport {
		t.Fatalf("after deleting the material the key is %s", st)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})
	wantCode(t, err, "KMSInvalidStateException")
	// A second delete has no effect.
	must[*kms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)}))

	importMaterial(t, c, id, material, types.AlgorithmSpecRsaAesKeyWrapSha256, nil)
	if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct})).Plaintext; string(got) != "kept" {
		t.Errorf("after re-import: %q", got)
	}

	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
	_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantCode(t, err, "KMSInvalidStateException")
	must[*kms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id)}))
	if st := keyState(t, c, id); st != types.KeyStatePendingDeletion {
		t.Errorf("deleting material of a key pending deletion moved it to %s", st)
	}
	must[*kms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}))
	if st := keyState(t, c, id); st != types.KeyStatePendingImport {
		t.Errorf("after cancelling, a key without material is %s, want PendingImport", st)
	}
}

// TestImportNewMaterialAndRotateOnDemand: a symmetric key with imported
// material takes new material (NEW_KEY_MATERIAL), which RotateKeyOnDemand
// makes current; every material keeps decrypting its ciphertexts.
func TestImportNewMaterialAndRotateOnDemand(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := newExternalKey(t, c, "", "")
	m1, m2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	id1 := importMaterial(t, c, id, m1, types.AlgorithmSpecRsaesOaepSha256, nil)
	ct1 := encrypt(t, c, id, []byte("first"), nil)
	_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantCode(t, err, "KMSInvalidStateException")

	// Without ImportType, a second import is a re-import: new material is
	// refused.
	_, err = importMaterialErr(c, id, m2, types.AlgorithmSpecRsaesOaepSha256, nil, t)
	wantCode(t, err, "IncorrectKeyMaterialException")

	p := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048}))
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, m1),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire, ImportType: types.ImportTypeNewKeyMaterial})
	wantCode(t, err, "IncorrectKeyMaterialException") // already associated
	importNew := func(m []byte) (*kms.ImportKeyMaterialOutput, error) {
		return c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
			EncryptedKeyMaterial: wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, m),
			ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire, ImportType: types.ImportTypeNewKeyMaterial})
	}
	// Material pending rotation is not yet associated with the key: one at
	// a time, and it can be discarded without affecting the key.
	m3 := bytes.Repeat([]byte{3}, 32)
	id3 := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importNew(m3)).KeyMaterialId)
	_, err = importNew(m2)
	wantCode(t, err, "KMSInvalidStateException")
	must[*kms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: aws.String(id3)}))
	if st := keyState(t, c, id); st != types.KeyStateEnabled {
		t.Fatalf("discarding material pending rotation left the key %s", st)
	}
	if all := allRotations(t, c, id, types.IncludeKeyMaterialAllKeyMaterial, 0); len(all) != 1 {
		t.Fatalf("after discarding the pending material ListKeyRotations lists %d materials", len(all))
	}
	out := must[*kms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, m2),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire, ImportType: types.ImportTypeNewKeyMaterial,
		KeyMaterialDescription: aws.String("second")}))
	id2 := aws.ToString(out.KeyMaterialId)
	if currentMaterial(t, c, id) != id1 {
		t.Fatal("new material became current before the rotation")
	}
	all := allRotations(t, c, id, types.IncludeKeyMaterialAllKeyMaterial, 0)
	if len(all) != 2 || all[1].KeyMaterialState != types.KeyMaterialStatePendingRotation || aws.ToString(all[1].KeyMaterialId) != id2 ||
		aws.ToString(all[1].KeyMaterialDescription) != "second" || all[0].KeyMaterialState != types.KeyMaterialStateCurrent ||
		all[0].ImportState != types.ImportStateImported || all[0].ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatalf("ListKeyRotations ALL_KEY_MATERIAL = %+v", all)
	}

	must[*kms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}))
	if currentMaterial(t, c, id) != id2 {
		t.Fatal("RotateKeyOnDemand did not make the new material current")
	}
	ct2 := encrypt(t, c, id, []byte("second"), nil)
	if got := openLocally(t, m2, ct2, nil); string(got) != "second" {
		t.Errorf("new ciphertext opened with the second material: %q", got)
	}
	rot := allRotations(t, c, id, "", 0)
	if len(rot) != 1 || rot[0].RotationType != types.RotationTypeOnDemand || aws.ToString(rot[0].KeyMaterialId) != id2 {
		t.Errorf("ListKeyRotations = %+v", rot)
	}
	for ct, want := range map[*[]byte]string{&ct1: "first", &ct2: "second"} {
		if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: *ct})).Plaintext; string(got) != want {
			t.Errorf("Decrypt = %q, want %q", got, want)
		}
	}

	// Deleting the older material makes the key unusable until it is
	// re-imported, named by its id.
	must[*kms.DeleteImportedKeyMaterialOutput](t)(c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(id), KeyMaterialId: aws.String(id1)}))
	if st := keyState(t, c, id); st != types.KeyStatePendingImport {
		t.Fatalf("after deleting the non-current material the key is %s", st)
	}
	q := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048}))
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: q.ImportToken,
		EncryptedKeyMaterial: wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, q.PublicKey, m1),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire, KeyMaterialId: aws.String(id2)})
	wantCode(t, err, "IncorrectKeyMaterialException") // the id names other material
	must[*kms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: q.ImportToken,
		EncryptedKeyMaterial: wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, q.PublicKey, m1),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire, ImportType: types.ImportTypeExistingKeyMaterial, KeyMaterialId: aws.String(id1)}))
	if st := keyState(t, c, id); st != types.KeyStateEnabled {
		t.Fatalf("after re-importing the older material the key is %s", st)
	}
	if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct1})).Plaintext; string(got) != "first" {
		t.Errorf("Decrypt of the first ciphertext = %q", got)
	}
}

// TestImportHMACAndAsymmetric imports HMAC and asymmetric key material and
// checks the service's MACs and signatures with Go's crypto and the local
// keys.
func TestImportHMACAndAsymmetric(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	msg := []byte("imported keys sign too")

	t.Run("HMAC_256", func(t *testing.T) {
		id := newExternalKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
		secret := bytes.Repeat([]byte{0x77}, 40)
		importMaterial(t, c, id, secret, types.AlgorithmSpecRsaesOaepSha1, nil)
		out := must[*kms.GenerateMacOutput](t)(c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(id), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256}))
		want := hmac.New(sha256.New, secret)
		want.Write(msg)
		if !hmac.Equal(out.Mac, want.Sum(nil)) {
			t.Error("the service's MAC differs from Go's HMAC with the imported key")
		}
		// HMAC keys have one material: other material is refused, and
		// rotation does not apply.
		_, err := importMaterialErr(c, id, bytes.Repeat([]byte{0x78}, 40), types.AlgorithmSpecRsaesOaepSha1, nil, t)
		wantCode(t, err, "IncorrectKeyMaterialException")
		short := newExternalKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
		_, err = importMaterialErr(c, short, make([]byte, 31), types.AlgorithmSpecRsaesOaepSha1, nil, t)
		wantCode(t, err, "IncorrectKeyMaterialException")
	})
	t.Run("RSA_2048 signing, RSA_AES_KEY_WRAP_SHA_256", func(t *testing.T) {
		id := newExternalKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(priv)
		importMaterial(t, c, id, der, types.AlgorithmSpecRsaAesKeyWrapSha256, nil)
		wantPub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if !bytes.Equal(publicKeyDER(t, c, id), wantPub) {
			t.Error("GetPublicKey differs from the imported key's public key")
		}
		sig := must[*kms.SignOutput](t)(c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})).Signature
		digest := sha256.Sum256(msg)
		if err := rsa.VerifyPSS(&priv.PublicKey, crypto.SHA256, digest[:], sig, nil); err != nil {
			t.Errorf("the service's signature does not verify with the local key: %v", err)
		}
	})
	t.Run("ECC_NIST_P256 signing, RSAES_OAEP_SHA_256", func(t *testing.T) {
		id := newExternalKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(priv)
		importMaterial(t, c, id, der, types.AlgorithmSpecRsaesOaepSha256, nil)
		sig := must[*kms.SignOutput](t)(c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})).Signature
		digest := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig) {
			t.Error("the service's signature does not verify with the local key")
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		otherDER, _ := x509.MarshalPKCS8PrivateKey(other)
		_, err = importMaterialErr(c, id, otherDER, types.AlgorithmSpecRsaesOaepSha256, nil, t)
		wantCode(t, err, "IncorrectKeyMaterialException")
		// Material of another spec does not fit.
		p384 := newExternalKey(t, c, types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify)
		_, err = importMaterialErr(c, p384, der, types.AlgorithmSpecRsaesOaepSha256, nil, t)
		wantCode(t, err, "IncorrectKeyMaterialException")
	})
}

// TestAWSOwnedKeysAreInvisible: the AWS owned key that seals import
// parameters exists once an import has happened, and no operation shows it.
func TestAWSOwnedKeysAreInvisible(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := newExternalKey(t, c, "", "")
	importMaterial(t, c, id, bytes.Repeat([]byte{4}, 32), types.AlgorithmSpecRsaesOaepSha256, nil)
	owned := strongkms.OwnedKeyID(testenv.Region, "import-wrapping-keys")
	keys := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{}))
	for _, k := range keys.Keys {
		if aws.ToString(k.KeyId) != id {
			t.Errorf("ListKeys lists %s", aws.ToString(k.KeyId))
		}
	}
	for _, ref := range []string{owned, keyARN(testenv.Region, owned)} {
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		wantCode(t, err, "NotFoundException")
		_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ref), Plaintext: []byte("x")})
		wantCode(t, err, "NotFoundException")
	}
}

// TestPendingImportState: what a key without its material allows.
func TestPendingImportState(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := newExternalKey(t, c, "", "")
	succeeds := map[string]func() error{
		"UpdateKeyDescription": func() error {
			_, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String("d")})
			return err
		},
		"TagResource": func() error {
			_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{tag("k", "v")}})
			return err
		},
		"CreateAlias": func() error {
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/pending-import"), TargetKeyId: aws.String(id)})
			return err
		},
		"DescribeKey": func() error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
			return err
		},
		"ListKeyRotations": func() error {
			_, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)})
			return err
		},
	}
	for op, call := range succeeds {
		t.Run(op+" succeeds", func(t *testing.T) {
			if err := call(); err != nil {
				t.Fatal(err)
			}
		})
	}
	refused := map[string]struct {
		call func() error
		code string
	}{
		"EnableKey": {func() error {
			_, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
			return err
		}, "KMSInvalidStateException"},
		"DisableKey": {func() error {
			_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
			return err
		}, "KMSInvalidStateException"},
		"GenerateDataKey": {func() error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
			return err
		}, "KMSInvalidStateException"},
		"GetKeyRotationStatus": {func() error {
			_, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
			return err
		}, "UnsupportedOperationException"},
	}
	for op, r := range refused {
		t.Run(op+" is "+r.code, func(t *testing.T) {
			wantCode(t, r.call(), r.code)
		})
	}
	if st := keyState(t, c, id); st != types.KeyStatePendingImport {
		t.Errorf("the key is %s", st)
	}
	// A token obtained before the deletion was scheduled cannot import
	// into a key pending deletion.
	p := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048}))
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
	_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapLocally(t, types.AlgorithmSpecRsaesOaepSha256, p.PublicKey, make([]byte, 32)),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantCode(t, err, "KMSInvalidStateException")
}
