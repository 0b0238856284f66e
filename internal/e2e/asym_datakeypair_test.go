package e2e

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: the private
// key of a fresh pair, encrypted under a symmetric KMS key with the
// request's encryption context.

var keyMaterialID = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestGenerateDataKeyPairEverySpec(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "pairs").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/pairs"), TargetKeyId: aws.String(id)}))
	arn := keyARN(testenv.Region, id)
	ec := map[string]string{"owner": "pairs-test"}
	for _, spec := range []types.DataKeyPairSpec{
		types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecRsa3072, types.DataKeyPairSpecRsa4096,
		types.DataKeyPairSpecEccNistP256, types.DataKeyPairSpecEccNistP384, types.DataKeyPairSpecEccNistP521,
		types.DataKeyPairSpecEccSecgP256k1, types.DataKeyPairSpecEccNistEdwards25519,
	} {
		t.Run(string(spec), func(t *testing.T) {
			out := must[*kms.GenerateDataKeyPairOutput](t)(c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String("alias/pairs"), KeyPairSpec: spec, EncryptionContext: ec}))
			if out.KeyPairSpec != spec || aws.ToString(out.KeyId) != arn || !keyMaterialID.MatchString(aws.ToString(out.KeyMaterialId)) {
				t.Errorf("KeyPairSpec %s, KeyId %s, KeyMaterialId %q", out.KeyPairSpec, aws.ToString(out.KeyId), aws.ToString(out.KeyMaterialId))
			}
			pub, err := publicOfPrivate(spec, out.PrivateKeyPlaintext)
			if err != nil {
				t.Fatalf("the private key does not parse: %v", err)
			}
			if !bytes.Equal(pub, out.PublicKey) {
				t.Error("PublicKey is not the public half of PrivateKeyPlaintext")
			}
			dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: ec}))
			if !bytes.Equal(dec.Plaintext, out.PrivateKeyPlaintext) || aws.ToString(dec.KeyId) != arn {
				t.Error("PrivateKeyCiphertextBlob does not decrypt to PrivateKeyPlaintext")
			}
			_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob})
			wantCode(t, err, "InvalidCiphertextException")

			without := must[*kms.GenerateDataKeyPairWithoutPlaintextOutput](t)(c.GenerateDataKeyPairWithoutPlaintext(ctx,
				&kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: aws.String(id), KeyPairSpec: spec, EncryptionContext: ec}))
			if without.KeyPairSpec != spec || aws.ToString(without.KeyId) != arn || bytes.Equal(without.PublicKey, out.PublicKey) {
				t.Errorf("WithoutPlaintext: KeyPairSpec %s, KeyId %s, same public key %v", without.KeyPairSpec, aws.ToString(without.KeyId), bytes.Equal(without.PublicKey, out.PublicKey))
			}
			dec = must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: without.PrivateKeyCiphertextBlob, EncryptionContext: ec}))
			pub, err = publicOfPrivate(spec, dec.Plaintext)
			if err != nil || !bytes.Equal(pub, without.PublicKey) {
				t.Errorf("WithoutPlaintext: the decrypted private key does not match PublicKey (%v)", err)
			}
		})
	}
}

// TestGenerateDataKeyPairWithoutPlaintextOmitsThePrivateKey looks at the raw
// response: no PrivateKeyPlaintext member at all.
func TestGenerateDataKeyPairWithoutPlaintextOmitsThePrivateKey(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	id := aws.ToString(newKey(t, env.KMS(), "").KeyId)
	resp := rawJSON(t, env, "GenerateDataKeyPairWithoutPlaintext", map[string]any{"KeyId": id, "KeyPairSpec": "ECC_NIST_P256"})
	if resp.Status != 200 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	for _, member := range []string{"PrivateKeyPlaintext", "Plaintext"} {
		if bytes.Contains(resp.Body, []byte(`"`+member+`"`)) {
			t.Errorf("the response has a %s member: %s", member, resp.Body)
		}
	}
	for _, member := range []string{"PrivateKeyCiphertextBlob", "PublicKey", "KeyId", "KeyPairSpec", "KeyMaterialId"} {
		if !bytes.Contains(resp.Body, []byte(`"`+member+`"`)) {
			t.Errorf("the response lacks %s: %s", member, resp.Body)
		}
	}
}

func TestGenerateDataKeyPairRefusals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	sym := aws.ToString(newKey(t, c, "").KeyId)
	rsaEnc := createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	hmacKey := createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	disabled := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}))

	cases := []struct {
		name string
		in   kms.GenerateDataKeyPairInput
		code string
	}{
		{"an RSA ENCRYPT_DECRYPT key", kms.GenerateDataKeyPairInput{KeyId: aws.String(rsaEnc), KeyPairSpec: types.DataKeyPairSpecEccNistP256}, "InvalidKeyUsageException"},
		{"an HMAC key", kms.GenerateDataKeyPairInput{KeyId: aws.String(hmacKey), KeyPairSpec: types.DataKeyPairSpecEccNistP256}, "InvalidKeyUsageException"},
		{"SM2", kms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecSm2}, "UnsupportedOperationException"},
		{"ML_DSA_44, not a pair spec", kms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: "ML_DSA_44"}, "ValidationException"},
		{"RSA_1024", kms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: "RSA_1024"}, "ValidationException"},
		{"a disabled key", kms.GenerateDataKeyPairInput{KeyId: aws.String(disabled), KeyPairSpec: types.DataKeyPairSpecEccNistP256}, "DisabledException"},
		{"an unknown key", kms.GenerateDataKeyPairInput{KeyId: aws.String(unknownKey), KeyPairSpec: types.DataKeyPairSpecEccNistP256}, "NotFoundException"},
		{"DryRun", kms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecEccNistP256, DryRun: aws.Bool(true)}, "DryRunOperationException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GenerateDataKeyPair(ctx, &tc.in)
			wantCode(t, err, tc.code)
			_, err = c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: tc.in.KeyId, KeyPairSpec: tc.in.KeyPairSpec, DryRun: tc.in.DryRun})
			wantCode(t, err, tc.code)
		})
	}
}
