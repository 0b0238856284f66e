package e2e

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// DeriveSharedSecret (ECDH) with KEY_AGREEMENT keys, against a peer
// generated locally: the secret the peer computes from its private key and
// the GetPublicKey output must be the service's.

var agreementCurves = []struct {
	spec  types.KeySpec
	curve ecdh.Curve
}{
	{types.KeySpecEccNistP256, ecdh.P256()},
	{types.KeySpecEccNistP384, ecdh.P384()},
	{types.KeySpecEccNistP521, ecdh.P521()},
}

func TestDeriveSharedSecret(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, tc := range agreementCurves {
		t.Run(string(tc.spec), func(t *testing.T) {
			id := createKeyOf(t, c, tc.spec, types.KeyUsageTypeKeyAgreement)
			parsed, err := x509.ParsePKIXPublicKey(publicKeyDER(t, c, id))
			if err != nil {
				t.Fatal(err)
			}
			kmsPub, err := parsed.(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			peer, err := tc.curve.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			peerSPKI, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			want, err := peer.ECDH(kmsPub)
			if err != nil {
				t.Fatal(err)
			}
			out := must[*kms.DeriveSharedSecretOutput](t)(c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{
				KeyId: aws.String(id), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerSPKI}))
			if !bytes.Equal(out.SharedSecret, want) {
				t.Errorf("SharedSecret %x, the peer computes %x", out.SharedSecret, want)
			}
			if out.KeyAgreementAlgorithm != types.KeyAgreementAlgorithmSpecEcdh || out.KeyOrigin != types.OriginTypeAwsKms || aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
				t.Errorf("algorithm %s, origin %s, KeyId %s", out.KeyAgreementAlgorithm, out.KeyOrigin, aws.ToString(out.KeyId))
			}
		})
	}
}

func TestDeriveSharedSecretRefusals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	p256 := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	signer := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	peer256, _ := ecdh.P256().GenerateKey(rand.Reader)
	peer384, _ := ecdh.P384().GenerateKey(rand.Reader)
	spki256, _ := x509.MarshalPKIXPublicKey(peer256.PublicKey())
	spki384, _ := x509.MarshalPKIXPublicKey(peer384.PublicKey())
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	spkiEd, _ := x509.MarshalPKIXPublicKey(edPub)
	ecdhAlg := types.KeyAgreementAlgorithmSpecEcdh

	cases := []struct {
		name string
		in   kms.DeriveSharedSecretInput
		code string
	}{
		{"a peer on another curve", kms.DeriveSharedSecretInput{KeyId: aws.String(p256), KeyAgreementAlgorithm: ecdhAlg, PublicKey: spki384}, "ValidationException"},
		{"an Ed25519 peer", kms.DeriveSharedSecretInput{KeyId: aws.String(p256), KeyAgreementAlgorithm: ecdhAlg, PublicKey: spkiEd}, "ValidationException"},
		{"a peer key that is not DER", kms.DeriveSharedSecretInput{KeyId: aws.String(p256), KeyAgreementAlgorithm: ecdhAlg, PublicKey: []byte("not a key")}, "ValidationException"},
		{"an unknown algorithm", kms.DeriveSharedSecretInput{KeyId: aws.String(p256), KeyAgreementAlgorithm: "X25519", PublicKey: spki256}, "ValidationException"},
		{"a SIGN_VERIFY key", kms.DeriveSharedSecretInput{KeyId: aws.String(signer), KeyAgreementAlgorithm: ecdhAlg, PublicKey: spki256}, "InvalidKeyUsageException"},
		{"a Recipient", kms.DeriveSharedSecretInput{KeyId: aws.String(p256), KeyAgreementAlgorithm: ecdhAlg, PublicKey: spki256,
			Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: []byte("doc")}}, "ValidationException"},
		{"DryRun", kms.DeriveSharedSecretInput{KeyId: aws.String(p256), KeyAgreementAlgorithm: ecdhAlg, PublicKey: spki256, DryRun: aws.Bool(true)}, "DryRunOperationException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.DeriveSharedSecret(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
	t.Run("KEY_AGREEMENT keys refuse Sign", func(t *testing.T) {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(p256), Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		wantCode(t, err, "InvalidKeyUsageException")
	})
	t.Run("disabled key", func(t *testing.T) {
		must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(p256)}))
		_, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: aws.String(p256), KeyAgreementAlgorithm: ecdhAlg, PublicKey: spki256})
		wantCode(t, err, "DisabledException")
	})
}
