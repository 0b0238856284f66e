package e2e

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// GenerateMac and VerifyMac with HMAC keys. The key never leaves the
// service, so the MACs are checked against VerifyMac, against tampering and
// for their size and determinism.

var hmacSpecs = []struct {
	spec types.KeySpec
	alg  types.MacAlgorithmSpec
	size int
}{
	{types.KeySpecHmac224, types.MacAlgorithmSpecHmacSha224, 28},
	{types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, 32},
	{types.KeySpecHmac384, types.MacAlgorithmSpecHmacSha384, 48},
	{types.KeySpecHmac512, types.MacAlgorithmSpecHmacSha512, 64},
}

func TestGenerateAndVerifyMac(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, tc := range hmacSpecs {
		t.Run(string(tc.spec), func(t *testing.T) {
			id := createKeyOf(t, c, tc.spec, types.KeyUsageTypeGenerateVerifyMac)
			arn := keyARN(testenv.Region, id)
			msg := []byte("authenticate me")
			out := must[*kms.GenerateMacOutput](t)(c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(id), Message: msg, MacAlgorithm: tc.alg}))
			if len(out.Mac) != tc.size || out.MacAlgorithm != tc.alg || aws.ToString(out.KeyId) != arn {
				t.Errorf("GenerateMac: %d bytes (want %d), algorithm %s, KeyId %s", len(out.Mac), tc.size, out.MacAlgorithm, aws.ToString(out.KeyId))
			}
			again := must[*kms.GenerateMacOutput](t)(c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(id), Message: msg, MacAlgorithm: tc.alg}))
			if !bytes.Equal(again.Mac, out.Mac) {
				t.Error("HMAC of the same message differs")
			}
			max := must[*kms.GenerateMacOutput](t)(c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(id), Message: make([]byte, 4096), MacAlgorithm: tc.alg}))
			if bytes.Equal(max.Mac, out.Mac) {
				t.Error("two messages have the same MAC")
			}

			v := must[*kms.VerifyMacOutput](t)(c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(id), Message: msg, Mac: out.Mac, MacAlgorithm: tc.alg}))
			if !v.MacValid || v.MacAlgorithm != tc.alg || aws.ToString(v.KeyId) != arn {
				t.Errorf("VerifyMac: valid %v algorithm %s KeyId %s", v.MacValid, v.MacAlgorithm, aws.ToString(v.KeyId))
			}
			tamperedMsg := bytes.Clone(msg)
			tamperedMsg[0] ^= 1
			tamperedMac := bytes.Clone(out.Mac)
			tamperedMac[len(tamperedMac)-1] ^= 1
			for name, in := range map[string]kms.VerifyMacInput{
				"a tampered message": {KeyId: aws.String(id), Message: tamperedMsg, Mac: out.Mac, MacAlgorithm: tc.alg},
				"a tampered MAC":     {KeyId: aws.String(id), Message: msg, Mac: tamperedMac, MacAlgorithm: tc.alg},
				"a truncated MAC":    {KeyId: aws.String(id), Message: msg, Mac: out.Mac[:tc.size-1], MacAlgorithm: tc.alg},
			} {
				_, err := c.VerifyMac(ctx, &in)
				if apiCode(err) != "KMSInvalidMacException" {
					t.Errorf("VerifyMac of %s: %v, want KMSInvalidMacException", name, err)
				}
			}
		})
	}
}

func TestMacRefusals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	h256 := createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	h384 := createKeyOf(t, c, types.KeySpecHmac384, types.KeyUsageTypeGenerateVerifyMac)
	signer := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	sym := aws.ToString(newKey(t, c, "").KeyId)
	msg := []byte("m")
	cases := []struct {
		name string
		key  string
		alg  types.MacAlgorithmSpec
		msg  []byte
		code string
	}{
		{"HMAC_SHA_256 on an HMAC_384 key", h384, types.MacAlgorithmSpecHmacSha256, msg, "InvalidKeyUsageException"},
		{"an unknown algorithm", h256, "HMAC_SHA_1", msg, "ValidationException"},
		{"a message over 4096 bytes", h256, types.MacAlgorithmSpecHmacSha256, make([]byte, 4097), "ValidationException"},
		{"an empty message", h256, types.MacAlgorithmSpecHmacSha256, []byte{}, "ValidationException"},
		{"a SIGN_VERIFY key", signer, types.MacAlgorithmSpecHmacSha256, msg, "InvalidKeyUsageException"},
		{"a symmetric key", sym, types.MacAlgorithmSpecHmacSha256, msg, "InvalidKeyUsageException"},
		{"an unknown key", unknownKey, types.MacAlgorithmSpecHmacSha256, msg, "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(tc.key), Message: tc.msg, MacAlgorithm: tc.alg})
			wantCode(t, err, tc.code)
			_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(tc.key), Message: tc.msg, Mac: make([]byte, 32), MacAlgorithm: tc.alg})
			wantCode(t, err, tc.code)
		})
	}
	mac := must[*kms.GenerateMacOutput](t)(c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(h256), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})).Mac
	t.Run("another key's MAC", func(t *testing.T) {
		other := createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
		_, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(other), Message: msg, Mac: mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		wantCode(t, err, "KMSInvalidMacException")
	})
	t.Run("HMAC keys refuse Encrypt and Sign", func(t *testing.T) {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(h256), Plaintext: msg})
		wantCode(t, err, "InvalidKeyUsageException")
		_, err = c.Sign(ctx, &kms.SignInput{KeyId: aws.String(h256), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "InvalidKeyUsageException")
	})
	t.Run("DryRun", func(t *testing.T) {
		_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(h256), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: aws.Bool(true)})
		wantCode(t, err, "DryRunOperationException")
		_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(h256), Message: msg, Mac: mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: aws.Bool(true)})
		wantCode(t, err, "DryRunOperationException")
	})
	t.Run("disabled key", func(t *testing.T) {
		must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(h256)}))
		_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(h256), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		wantCode(t, err, "DisabledException")
		_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(h256), Message: msg, Mac: mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		wantCode(t, err, "DisabledException")
	})
}
