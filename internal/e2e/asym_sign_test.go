package e2e

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// Sign and Verify over the wire for every spec × algorithm × message type,
// each signature checked locally with Go's crypto, circl (ML-DSA) or decred
// (secp256k1) against the GetPublicKey output; then the refusals.

// messageTypes lists the message types each signing algorithm takes.
var messageTypes = map[types.SigningAlgorithmSpec][]types.MessageType{
	types.SigningAlgorithmSpecEd25519Sha512:   {types.MessageTypeRaw},
	types.SigningAlgorithmSpecEd25519PhSha512: {types.MessageTypeDigest},
	types.SigningAlgorithmSpecMlDsaShake256:   {types.MessageTypeRaw, types.MessageTypeExternalMu},
}

func messageTypesOf(alg types.SigningAlgorithmSpec) []types.MessageType {
	if mts, ok := messageTypes[alg]; ok {
		return mts
	}
	return []types.MessageType{types.MessageTypeRaw, types.MessageTypeDigest}
}

func TestSignVerifyEverySpecAlgorithmAndMessageType(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, key := range validKeys {
		if key.usage != types.KeyUsageTypeSignVerify {
			continue
		}
		t.Run(string(key.spec), func(t *testing.T) {
			id := createKeyOf(t, c, key.spec, key.usage)
			der := publicKeyDER(t, c, id)
			for _, alg := range key.sign {
				for _, mt := range messageTypesOf(alg) {
					t.Run(string(alg)+"/"+string(mt), func(t *testing.T) {
						msg := []byte("message for " + string(key.spec) + " " + string(alg) + " " + string(mt))
						sent := signedMessage(t, key.spec, der, alg, mt, msg)
						out, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: sent, MessageType: mt, SigningAlgorithm: alg})
						if err != nil {
							t.Fatalf("Sign: %v", err)
						}
						if aws.ToString(out.KeyId) != keyARN(testenv.Region, id) || out.SigningAlgorithm != alg {
							t.Errorf("Sign answered KeyId %s algorithm %s", aws.ToString(out.KeyId), out.SigningAlgorithm)
						}
						if err := verifyLocally(key.spec, der, alg, msg, out.Signature); err != nil {
							t.Errorf("the signature does not verify locally: %v", err)
						}
						v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: sent, MessageType: mt, Signature: out.Signature, SigningAlgorithm: alg})
						if err != nil {
							t.Fatalf("Verify: %v", err)
						}
						if !v.SignatureValid || v.SigningAlgorithm != alg || aws.ToString(v.KeyId) != keyARN(testenv.Region, id) {
							t.Errorf("Verify answered valid %v algorithm %s KeyId %s", v.SignatureValid, v.SigningAlgorithm, aws.ToString(v.KeyId))
						}
						tampered := bytes.Clone(out.Signature)
						tampered[len(tampered)/2] ^= 0x01
						_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: sent, MessageType: mt, Signature: tampered, SigningAlgorithm: alg})
						wantCode(t, err, "KMSInvalidSignatureException")
					})
				}
			}
		})
	}
}

// TestVerifyAcrossMessageTypes: a signature made over RAW verifies when the
// message is given as its DIGEST (or μ), and the other way round.
func TestVerifyAcrossMessageTypes(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, tc := range []struct {
		spec  types.KeySpec
		alg   types.SigningAlgorithmSpec
		other types.MessageType
	}{
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha384, types.MessageTypeDigest},
		{types.KeySpecMlDsa44, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeExternalMu},
	} {
		t.Run(string(tc.spec), func(t *testing.T) {
			id := createKeyOf(t, c, tc.spec, types.KeyUsageTypeSignVerify)
			der := publicKeyDER(t, c, id)
			msg := []byte("one message, two forms")
			other := signedMessage(t, tc.spec, der, tc.alg, tc.other, msg)
			raw := must[*kms.SignOutput](t)(c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: tc.alg}))
			must[*kms.VerifyOutput](t)(c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: other, MessageType: tc.other, Signature: raw.Signature, SigningAlgorithm: tc.alg}))
			pre := must[*kms.SignOutput](t)(c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: other, MessageType: tc.other, SigningAlgorithm: tc.alg}))
			must[*kms.VerifyOutput](t)(c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: msg, Signature: pre.Signature, SigningAlgorithm: tc.alg}))
		})
	}
}

func TestSignRefusals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	p256 := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	rsaSign := createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	rsaEnc := createKeyOf(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	ed := createKeyOf(t, c, types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify)
	ml := createKeyOf(t, c, types.KeySpecMlDsa65, types.KeyUsageTypeSignVerify)
	agree := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	hmacKey := createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	sym := aws.ToString(newKey(t, c, "").KeyId)
	msg := []byte("a message")
	d256 := sha256.Sum256(msg)
	d512 := sha512.Sum512(msg)

	cases := []struct {
		name string
		key  string
		alg  types.SigningAlgorithmSpec
		mt   types.MessageType
		msg  []byte
		code string
	}{
		{"ECDSA_SHA_384 on a P-256 key", p256, types.SigningAlgorithmSpecEcdsaSha384, "", msg, "InvalidKeyUsageException"},
		{"an RSA algorithm on an ECC key", p256, types.SigningAlgorithmSpecRsassaPssSha256, "", msg, "InvalidKeyUsageException"},
		{"an ECDSA algorithm on an RSA key", rsaSign, types.SigningAlgorithmSpecEcdsaSha256, "", msg, "InvalidKeyUsageException"},
		{"ML-DSA on an Ed25519 key", ed, types.SigningAlgorithmSpecMlDsaShake256, "", msg, "InvalidKeyUsageException"},
		{"SM2DSA", p256, types.SigningAlgorithmSpecSm2dsa, "", msg, "InvalidKeyUsageException"},
		{"an unknown algorithm", p256, "ECDSA_SHA_1", "", msg, "ValidationException"},
		{"an RSA ENCRYPT_DECRYPT key", rsaEnc, types.SigningAlgorithmSpecRsassaPssSha256, "", msg, "InvalidKeyUsageException"},
		{"a KEY_AGREEMENT key", agree, types.SigningAlgorithmSpecEcdsaSha256, "", msg, "InvalidKeyUsageException"},
		{"an HMAC key", hmacKey, types.SigningAlgorithmSpecEcdsaSha256, "", msg, "InvalidKeyUsageException"},
		{"a symmetric key", sym, types.SigningAlgorithmSpecRsassaPssSha256, "", msg, "InvalidKeyUsageException"},
		{"a DIGEST one byte short", p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, d256[:31], "ValidationException"},
		{"a DIGEST of another hash", rsaSign, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeDigest, d512[:], "ValidationException"},
		{"a SHA-256 DIGEST for RSASSA_PSS_SHA_512", rsaSign, types.SigningAlgorithmSpecRsassaPssSha512, types.MessageTypeDigest, d256[:], "ValidationException"},
		{"a RAW message over 4096 bytes", p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, make([]byte, 4097), "ValidationException"},
		{"an empty message", p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, []byte{}, "ValidationException"},
		{"ED25519_SHA_512 with DIGEST", ed, types.SigningAlgorithmSpecEd25519Sha512, types.MessageTypeDigest, d512[:], "ValidationException"},
		{"ED25519_PH_SHA_512 with RAW", ed, types.SigningAlgorithmSpecEd25519PhSha512, types.MessageTypeRaw, msg, "ValidationException"},
		{"ED25519_PH_SHA_512 with a short DIGEST", ed, types.SigningAlgorithmSpecEd25519PhSha512, types.MessageTypeDigest, d256[:], "ValidationException"},
		{"EXTERNAL_MU with ECDSA", p256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeExternalMu, d512[:], "ValidationException"},
		{"ML-DSA with DIGEST", ml, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeDigest, d512[:], "ValidationException"},
		{"an EXTERNAL_MU of 32 bytes", ml, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeExternalMu, d256[:], "ValidationException"},
		{"an unknown message type", p256, types.SigningAlgorithmSpecEcdsaSha256, "HASHED", msg, "ValidationException"},
		{"an unknown key", unknownKey, types.SigningAlgorithmSpecEcdsaSha256, "", msg, "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(tc.key), Message: tc.msg, MessageType: tc.mt, SigningAlgorithm: tc.alg})
			wantCode(t, err, tc.code)
			_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(tc.key), Message: tc.msg, MessageType: tc.mt, Signature: make([]byte, 64), SigningAlgorithm: tc.alg})
			wantCode(t, err, tc.code)
		})
	}

	good := must[*kms.SignOutput](t)(c.Sign(ctx, &kms.SignInput{KeyId: aws.String(p256), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}))
	t.Run("Verify of another message", func(t *testing.T) {
		_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(p256), Message: []byte("another message"), Signature: good.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "KMSInvalidSignatureException")
	})
	t.Run("Verify of garbage", func(t *testing.T) {
		_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(p256), Message: msg, Signature: []byte("not DER"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "KMSInvalidSignatureException")
	})
	t.Run("Verify with another key", func(t *testing.T) {
		other := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
		_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(other), Message: msg, Signature: good.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "KMSInvalidSignatureException")
	})
	t.Run("Verify without a signature", func(t *testing.T) {
		_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(p256), Message: msg, Signature: []byte{}, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "ValidationException")
	})
	t.Run("DryRun", func(t *testing.T) {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(p256), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(true)})
		wantCode(t, err, "DryRunOperationException")
		_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(p256), Message: msg, Signature: good.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(true)})
		wantCode(t, err, "DryRunOperationException")
		// A dry run still checks the parameters.
		_, err = c.Sign(ctx, &kms.SignInput{KeyId: aws.String(p256), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384, DryRun: aws.Bool(true)})
		wantCode(t, err, "InvalidKeyUsageException")
	})
	t.Run("disabled key", func(t *testing.T) {
		must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(p256)}))
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(p256), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "DisabledException")
		_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(p256), Message: msg, Signature: good.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "DisabledException")
		must[*kms.EnableKeyOutput](t)(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(p256)}))
		must[*kms.VerifyOutput](t)(c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(p256), Message: msg, Signature: good.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}))
	})
	t.Run("pending deletion", func(t *testing.T) {
		must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(ed), PendingWindowInDays: aws.Int32(7)}))
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(ed), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEd25519Sha512})
		wantCode(t, err, "KMSInvalidStateException")
	})
}

// TestAsymmetricKeysRefuseSymmetricOperations: the operations of symmetric
// keys answer InvalidKeyUsageException for every other kind of key.
func TestAsymmetricKeysRefuseSymmetricOperations(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, k := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
	}{
		{types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt},
		{types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify},
		{types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement},
		{types.KeySpecHmac384, types.KeyUsageTypeGenerateVerifyMac},
		{types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify},
	} {
		t.Run(string(k.spec)+"/"+string(k.usage), func(t *testing.T) {
			id := aws.String(createKeyOf(t, c, k.spec, k.usage))
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
			wantCode(t, err, "InvalidKeyUsageException")
			_, err = c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: id, NumberOfBytes: aws.Int32(32)})
			wantCode(t, err, "InvalidKeyUsageException")
			_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: id, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
			wantCode(t, err, "InvalidKeyUsageException")
			_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			wantCode(t, err, "InvalidKeyUsageException")
			if k.usage != types.KeyUsageTypeGenerateVerifyMac {
				_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: id, Message: []byte("x"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
				wantCode(t, err, "InvalidKeyUsageException")
			}
			if k.usage != types.KeyUsageTypeKeyAgreement {
				_, err = c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: id, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: []byte("x")})
				wantCode(t, err, "InvalidKeyUsageException")
			}
		})
	}
}

// TestDeletedAsymmetricKeysAreGone: once the deletion window of a used
// (so cached) asymmetric or HMAC key ends, the key no longer signs, MACs
// or publishes its public key.
func TestDeletedAsymmetricKeysAreGone(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	signer := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	macKey := createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	msg := []byte("last words")
	sig := must[*kms.SignOutput](t)(c.Sign(ctx, &kms.SignInput{KeyId: aws.String(signer), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}))
	must[*kms.GenerateMacOutput](t)(c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(macKey), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256}))
	for _, id := range []string{signer, macKey} {
		must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}))
	}
	env.Clock.Advance(7*24*time.Hour + time.Minute)
	deleted, err := env.App.Service.DeleteDueKeys(ctx)
	if err != nil || len(deleted) != 2 {
		t.Fatalf("DeleteDueKeys = %v, %v", deleted, err)
	}
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: aws.String(signer), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "NotFoundException")
	_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(signer), Message: msg, Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "NotFoundException")
	_, err = c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(signer)})
	wantCode(t, err, "NotFoundException")
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(macKey), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantCode(t, err, "NotFoundException")
}
