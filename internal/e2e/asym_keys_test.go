package e2e

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// CreateKey with every key spec and usage, what DescribeKey and
// GetPublicKey report for them, and the combinations CreateKey refuses.

// Algorithm lists as AWS documents them per spec and usage.
var (
	rsaSigning = []types.SigningAlgorithmSpec{
		types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
		types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPssSha512,
	}
	rsaEncryption = []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256}
	ecdhOnly      = []types.KeyAgreementAlgorithmSpec{types.KeyAgreementAlgorithmSpecEcdh}
)

// validKeys is every KeySpec × KeyUsage AWS accepts, with the algorithms
// DescribeKey and GetPublicKey report for it.
var validKeys = []struct {
	spec  types.KeySpec
	usage types.KeyUsageType
	enc   []types.EncryptionAlgorithmSpec
	sign  []types.SigningAlgorithmSpec
	mac   []types.MacAlgorithmSpec
	agree []types.KeyAgreementAlgorithmSpec
}{
	{spec: types.KeySpecRsa2048, usage: types.KeyUsageTypeEncryptDecrypt, enc: rsaEncryption},
	{spec: types.KeySpecRsa2048, usage: types.KeyUsageTypeSignVerify, sign: rsaSigning},
	{spec: types.KeySpecRsa3072, usage: types.KeyUsageTypeEncryptDecrypt, enc: rsaEncryption},
	{spec: types.KeySpecRsa3072, usage: types.KeyUsageTypeSignVerify, sign: rsaSigning},
	{spec: types.KeySpecRsa4096, usage: types.KeyUsageTypeEncryptDecrypt, enc: rsaEncryption},
	{spec: types.KeySpecRsa4096, usage: types.KeyUsageTypeSignVerify, sign: rsaSigning},
	{spec: types.KeySpecEccNistP256, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}},
	{spec: types.KeySpecEccNistP256, usage: types.KeyUsageTypeKeyAgreement, agree: ecdhOnly},
	{spec: types.KeySpecEccNistP384, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha384}},
	{spec: types.KeySpecEccNistP384, usage: types.KeyUsageTypeKeyAgreement, agree: ecdhOnly},
	{spec: types.KeySpecEccNistP521, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha512}},
	{spec: types.KeySpecEccNistP521, usage: types.KeyUsageTypeKeyAgreement, agree: ecdhOnly},
	{spec: types.KeySpecEccSecgP256k1, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}},
	{spec: types.KeySpecEccNistEdwards25519, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512}},
	{spec: types.KeySpecMlDsa44, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}},
	{spec: types.KeySpecMlDsa65, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}},
	{spec: types.KeySpecMlDsa87, usage: types.KeyUsageTypeSignVerify, sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}},
	{spec: types.KeySpecHmac224, usage: types.KeyUsageTypeGenerateVerifyMac, mac: []types.MacAlgorithmSpec{types.MacAlgorithmSpecHmacSha224}},
	{spec: types.KeySpecHmac256, usage: types.KeyUsageTypeGenerateVerifyMac, mac: []types.MacAlgorithmSpec{types.MacAlgorithmSpecHmacSha256}},
	{spec: types.KeySpecHmac384, usage: types.KeyUsageTypeGenerateVerifyMac, mac: []types.MacAlgorithmSpec{types.MacAlgorithmSpecHmacSha384}},
	{spec: types.KeySpecHmac512, usage: types.KeyUsageTypeGenerateVerifyMac, mac: []types.MacAlgorithmSpec{types.MacAlgorithmSpecHmacSha512}},
}

func TestCreateKeyEverySpecAndUsage(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, tc := range validKeys {
		t.Run(string(tc.spec)+"/"+string(tc.usage), func(t *testing.T) {
			out := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: tc.usage}))
			id := aws.ToString(out.KeyMetadata.KeyId)
			desc := must[*kms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}))
			for name, md := range map[string]*types.KeyMetadata{"CreateKey": out.KeyMetadata, "DescribeKey": desc.KeyMetadata} {
				if md.KeySpec != tc.spec || md.KeyUsage != tc.usage || md.KeyState != types.KeyStateEnabled || md.Origin != types.OriginTypeAwsKms {
					t.Errorf("%s: spec %s usage %s state %s origin %s", name, md.KeySpec, md.KeyUsage, md.KeyState, md.Origin)
				}
				if !slices.Equal(md.EncryptionAlgorithms, tc.enc) || !slices.Equal(md.SigningAlgorithms, tc.sign) ||
					!slices.Equal(md.MacAlgorithms, tc.mac) || !slices.Equal(md.KeyAgreementAlgorithms, tc.agree) {
					t.Errorf("%s algorithms: encryption %v signing %v MAC %v agreement %v; want %v %v %v %v", name,
						md.EncryptionAlgorithms, md.SigningAlgorithms, md.MacAlgorithms, md.KeyAgreementAlgorithms, tc.enc, tc.sign, tc.mac, tc.agree)
				}
			}

			pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
			if tc.mac != nil {
				wantCode(t, err, "UnsupportedOperationException")
				return
			}
			if err != nil {
				t.Fatalf("GetPublicKey: %v", err)
			}
			if aws.ToString(pk.KeyId) != keyARN(testenv.Region, id) || pk.KeySpec != tc.spec || pk.KeyUsage != tc.usage {
				t.Errorf("GetPublicKey: KeyId %s spec %s usage %s", aws.ToString(pk.KeyId), pk.KeySpec, pk.KeyUsage)
			}
			if !slices.Equal(pk.EncryptionAlgorithms, tc.enc) || !slices.Equal(pk.SigningAlgorithms, tc.sign) || !slices.Equal(pk.KeyAgreementAlgorithms, tc.agree) {
				t.Errorf("GetPublicKey algorithms: %v %v %v", pk.EncryptionAlgorithms, pk.SigningAlgorithms, pk.KeyAgreementAlgorithms)
			}
			checkPublicKeyType(t, tc.spec, pk.PublicKey)
		})
	}
}

// checkPublicKeyType checks that a GetPublicKey DER is a key of spec.
func checkPublicKeyType(t *testing.T, spec types.KeySpec, der []byte) {
	t.Helper()
	switch spec {
	case types.KeySpecEccSecgP256k1:
		if _, err := secp256k1Public(der); err != nil {
			t.Errorf("not a secp256k1 SubjectPublicKeyInfo: %v", err)
		}
		return
	case types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87:
		if _, err := mldsaPublic(spec, der); err != nil {
			t.Errorf("not an %s SubjectPublicKeyInfo: %v", spec, err)
		}
		return
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("public key does not parse: %v", err)
	}
	ok := false
	switch p := pub.(type) {
	case *rsa.PublicKey:
		ok = spec == types.KeySpec("RSA_"+strconv.Itoa(p.N.BitLen()))
	case *ecdsa.PublicKey:
		ok = map[types.KeySpec]elliptic.Curve{types.KeySpecEccNistP256: elliptic.P256(), types.KeySpecEccNistP384: elliptic.P384(), types.KeySpecEccNistP521: elliptic.P521()}[spec] == p.Curve
	case ed25519.PublicKey:
		ok = spec == types.KeySpecEccNistEdwards25519
	}
	if !ok {
		t.Errorf("public key %T does not fit %s", pub, spec)
	}
}

// knownUsages are the KeyUsage values of the API model Strongroom serves
// (the SDK may know more).
var knownUsages = map[types.KeyUsageType]bool{
	types.KeyUsageTypeEncryptDecrypt: true, types.KeyUsageTypeSignVerify: true,
	types.KeyUsageTypeGenerateVerifyMac: true, types.KeyUsageTypeKeyAgreement: true,
}

func TestCreateKeyRefusesInvalidSpecAndUsage(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	valid := map[[2]string]bool{}
	for _, v := range validKeys {
		valid[[2]string{string(v.spec), string(v.usage)}] = true
	}
	valid[[2]string{"SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"}] = true
	specs := append(types.KeySpecSymmetricDefault.Values(), "RSA_1024", "AES_256")
	usages := append(types.KeyUsageTypeEncryptDecrypt.Values(), "DECRYPT_ONLY")
	for _, spec := range specs {
		for _, usage := range usages {
			if valid[[2]string{string(spec), string(usage)}] {
				continue
			}
			want := "ValidationException"
			// SM2 is refused as unsupported, once the usage passes the API
			// model's enumeration.
			if spec == types.KeySpecSm2 && knownUsages[usage] {
				want = "UnsupportedOperationException"
			}
			t.Run(string(spec)+"/"+string(usage), func(t *testing.T) {
				_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
				wantCode(t, err, want)
			})
		}
	}
	// KeyUsage defaults to ENCRYPT_DECRYPT, which only RSA and symmetric
	// keys accept: every other spec needs it stated.
	for _, spec := range []types.KeySpec{types.KeySpecEccNistP256, types.KeySpecEccSecgP256k1, types.KeySpecEccNistEdwards25519, types.KeySpecMlDsa44, types.KeySpecHmac256} {
		t.Run(string(spec)+"/no KeyUsage", func(t *testing.T) {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec})
			wantCode(t, err, "ValidationException")
		})
	}
	t.Run("RSA_2048 without KeyUsage is ENCRYPT_DECRYPT", func(t *testing.T) {
		out := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048}))
		if out.KeyMetadata.KeyUsage != types.KeyUsageTypeEncryptDecrypt {
			t.Errorf("KeyUsage = %s", out.KeyMetadata.KeyUsage)
		}
	})
	t.Run("deprecated CustomerMasterKeySpec", func(t *testing.T) {
		//lint:ignore SA1019 the deprecated member must keep working for old clients
		out := must[*kms.CreateKeyOutput](t)(c.CreateKey(ctx, &kms.CreateKeyInput{CustomerMasterKeySpec: types.CustomerMasterKeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify}))
		if out.KeyMetadata.KeySpec != types.KeySpecEccNistP256 {
			t.Errorf("KeySpec = %s", out.KeyMetadata.KeySpec)
		}
	})
	// Nothing was created by the refused calls.
	keys := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{}))
	if len(keys.Keys) != 2 {
		t.Errorf("%d keys exist, want the 2 created on purpose", len(keys.Keys))
	}
}

func TestGetPublicKeyRefusals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	sym := aws.ToString(newKey(t, c, "").KeyId)
	hmacKey := createKeyOf(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	ecc := createKeyOf(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)

	for _, tc := range []struct{ name, key, code string }{
		{"symmetric key", sym, "UnsupportedOperationException"},
		{"HMAC key", hmacKey, "UnsupportedOperationException"},
		{"unknown key", unknownKey, "NotFoundException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(tc.key)})
			wantCode(t, err, tc.code)
		})
	}
	t.Run("by alias", func(t *testing.T) {
		must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/signer"), TargetKeyId: aws.String(ecc)}))
		out := must[*kms.GetPublicKeyOutput](t)(c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String("alias/signer")}))
		if aws.ToString(out.KeyId) != keyARN(testenv.Region, ecc) {
			t.Errorf("KeyId = %s, want the key ARN", aws.ToString(out.KeyId))
		}
	})
	t.Run("disabled key", func(t *testing.T) {
		must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(ecc)}))
		_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(ecc)})
		wantCode(t, err, "DisabledException")
	})
}
