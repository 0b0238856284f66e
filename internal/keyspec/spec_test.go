package keyspec

import (
	"errors"
	"slices"
	"testing"
)

// The enumerations of the AWS KMS API model (botocore
// data/kms/2014-11-01/service-2.json: KeySpec, KeyUsageType,
// SigningAlgorithmSpec, EncryptionAlgorithmSpec, MacAlgorithmSpec,
// KeyAgreementAlgorithmSpec, MessageType, DataKeyPairSpec), copied here so
// a test notices when the tables drift from them.
var (
	awsKeySpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2",
		"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"}
	awsKeyUsages         = []Usage{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
	awsSigningAlgorithms = []Algorithm{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
		"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512", "SM2DSA", "ML_DSA_SHAKE_256", "ED25519_SHA_512", "ED25519_PH_SHA_512"}
	awsEncryptionAlgorithms   = []Algorithm{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}
	awsMacAlgorithms          = []Algorithm{"HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"}
	awsKeyAgreementAlgorithms = []Algorithm{"ECDH"}
	awsMessageTypes           = []MessageType{"RAW", "DIGEST", "EXTERNAL_MU"}
	awsDataKeyPairSpecs       = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384",
		"ECC_NIST_P521", "ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519"}
)

// wantRules is the key spec reference of the AWS documentation (CreateKey's
// KeyUsage and DescribeKey's algorithm lists), written out by hand.
var wantRules = map[Spec]map[Usage]Algorithms{
	SymmetricDefault:    {EncryptDecrypt: {Encryption: []Algorithm{"SYMMETRIC_DEFAULT"}}},
	RSA2048:             rsaRules,
	RSA3072:             rsaRules,
	RSA4096:             rsaRules,
	ECCNISTP256:         {SignVerify: {Signing: []Algorithm{"ECDSA_SHA_256"}}, KeyAgreement: {KeyAgreement: []Algorithm{"ECDH"}}},
	ECCNISTP384:         {SignVerify: {Signing: []Algorithm{"ECDSA_SHA_384"}}, KeyAgreement: {KeyAgreement: []Algorithm{"ECDH"}}},
	ECCNISTP521:         {SignVerify: {Signing: []Algorithm{"ECDSA_SHA_512"}}, KeyAgreement: {KeyAgreement: []Algorithm{"ECDH"}}},
	ECCSECGP256K1:       {SignVerify: {Signing: []Algorithm{"ECDSA_SHA_256"}}},
	ECCNISTEdwards25519: {SignVerify: {Signing: []Algorithm{"ED25519_SHA_512", "ED25519_PH_SHA_512"}}},
	MLDSA44:             {SignVerify: {Signing: []Algorithm{"ML_DSA_SHAKE_256"}}},
	MLDSA65:             {SignVerify: {Signing: []Algorithm{"ML_DSA_SHAKE_256"}}},
	MLDSA87:             {SignVerify: {Signing: []Algorithm{"ML_DSA_SHAKE_256"}}},
	HMAC224:             {GenerateVerifyMAC: {MAC: []Algorithm{"HMAC_SHA_224"}}},
	HMAC256:             {GenerateVerifyMAC: {MAC: []Algorithm{"HMAC_SHA_256"}}},
	HMAC384:             {GenerateVerifyMAC: {MAC: []Algorithm{"HMAC_SHA_384"}}},
	HMAC512:             {GenerateVerifyMAC: {MAC: []Algorithm{"HMAC_SHA_512"}}},
}

var rsaRules = map[Usage]Algorithms{
	EncryptDecrypt: {Encryption: []Algorithm{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}},
	SignVerify: {Signing: []Algorithm{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}},
}

func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return ""
}

func TestEveryAWSKeySpecIsHandled(t *testing.T) {
	for _, s := range awsKeySpecs {
		info, err := Lookup(s)
		switch {
		case s == "SM2":
			if code(err) != CodeUnsupportedOperation {
				t.Errorf("Lookup(SM2) = %v, want UnsupportedOperationException", err)
			}
		case err != nil:
			t.Errorf("Lookup(%s): %v", s, err)
		case info.Spec() != Spec(s):
			t.Errorf("Lookup(%s).Spec() = %s", s, info.Spec())
		case wantRules[Spec(s)] == nil:
			t.Errorf("%s: no expected rules in the test", s)
		}
	}
	if len(specTable) != len(awsKeySpecs)-1 {
		t.Errorf("specTable has %d specs, AWS %d besides SM2", len(specTable), len(awsKeySpecs)-1)
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, s := range []string{"", "RSA_1024", "rsa_2048", "AES_256", "ECC_NIST_P256 "} {
		if _, err := Lookup(s); code(err) != CodeValidation {
			t.Errorf("Lookup(%q) = %v, want ValidationException", s, err)
		}
	}
}

func TestEveryAWSAlgorithmIsKnown(t *testing.T) {
	check := func(algs []Algorithm, class algClass) {
		for _, a := range algs {
			if ai, ok := algorithmTable[a]; !ok || ai.class != class {
				t.Errorf("algorithm %s: not known as %s", a, classParam[class])
			}
		}
	}
	check(awsSigningAlgorithms, classSign)
	check(awsEncryptionAlgorithms, classEncrypt)
	check(awsMacAlgorithms, classMAC)
	check(awsKeyAgreementAlgorithms, classAgree)
	n := len(awsSigningAlgorithms) + len(awsEncryptionAlgorithms) + len(awsMacAlgorithms) + len(awsKeyAgreementAlgorithms)
	if len(algorithmTable) != n {
		t.Errorf("algorithmTable has %d algorithms, AWS %d", len(algorithmTable), n)
	}
}

// TestUsageRules checks every spec × usage against the AWS matrix: allowed
// usages give exactly DescribeKey's algorithms, the others a
// ValidationException at CreateKey.
func TestUsageRules(t *testing.T) {
	for spec, rules := range wantRules {
		info := mustLookup(spec)
		var wantUsages []Usage
		for _, u := range awsKeyUsages {
			t.Run(string(spec)+"/"+string(u), func(t *testing.T) {
				want, ok := rules[u]
				err := info.CheckUsage(u)
				if !ok {
					if code(err) != CodeValidation {
						t.Errorf("CheckUsage = %v, want ValidationException", err)
					}
					if got := info.Algorithms(u); got.Encryption != nil || got.Signing != nil || got.MAC != nil || got.KeyAgreement != nil {
						t.Errorf("Algorithms = %+v for a refused usage", got)
					}
					return
				}
				wantUsages = append(wantUsages, u)
				if err != nil {
					t.Errorf("CheckUsage: %v", err)
				}
				got := info.Algorithms(u)
				if !slices.Equal(got.Encryption, want.Encryption) || !slices.Equal(got.Signing, want.Signing) ||
					!slices.Equal(got.MAC, want.MAC) || !slices.Equal(got.KeyAgreement, want.KeyAgreement) {
					t.Errorf("Algorithms = %+v, want %+v", got, want)
				}
			})
		}
		got := info.Usages()
		slices.Sort(got)
		slices.Sort(wantUsages)
		if !slices.Equal(got, wantUsages) {
			t.Errorf("%s: Usages = %v, want %v", spec, got, wantUsages)
		}
		if err := info.CheckUsage("SIGN"); code(err) != CodeValidation {
			t.Errorf("%s: CheckUsage(SIGN) = %v, want ValidationException", spec, err)
		}
	}
}

func TestAlgorithmsAreCopies(t *testing.T) {
	info := mustLookup(RSA2048)
	a := info.Algorithms(SignVerify)
	a.Signing[0] = "TAMPERED"
	if info.Algorithms(SignVerify).Signing[0] == "TAMPERED" {
		t.Fatal("Algorithms returned the table itself")
	}
}

// TestDefaultUsage: KeyUsage defaults to ENCRYPT_DECRYPT, which only
// SYMMETRIC_DEFAULT and RSA keys accept; the others need an explicit usage.
func TestDefaultUsage(t *testing.T) {
	for spec, rules := range wantRules {
		info := mustLookup(spec)
		u, err := info.ResolveUsage("")
		if _, ok := rules[EncryptDecrypt]; ok {
			if err != nil || u != EncryptDecrypt {
				t.Errorf("%s: ResolveUsage(\"\") = %q, %v; want ENCRYPT_DECRYPT", spec, u, err)
			}
		} else if code(err) != CodeValidation {
			t.Errorf("%s: ResolveUsage(\"\") = %q, %v; want ValidationException", spec, u, err)
		}
	}
	if u, err := mustLookup(ECCNISTP256).ResolveUsage("KEY_AGREEMENT"); err != nil || u != KeyAgreement {
		t.Errorf("ResolveUsage(KEY_AGREEMENT) = %q, %v", u, err)
	}
}

func TestMaxPlaintext(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		alg  Algorithm
		want int
	}{
		{RSA2048, RSAESOAEPSHA1, 214}, {RSA2048, RSAESOAEPSHA256, 190},
		{RSA3072, RSAESOAEPSHA1, 342}, {RSA3072, RSAESOAEPSHA256, 318},
		{RSA4096, RSAESOAEPSHA1, 470}, {RSA4096, RSAESOAEPSHA256, 446},
		{SymmetricDefault, SymmetricDefaultAlgorithm, 4096},
		{RSA2048, SymmetricDefaultAlgorithm, 0},
		{SymmetricDefault, RSAESOAEPSHA256, 0},
		{ECCNISTP256, RSAESOAEPSHA256, 0},
		{RSA2048, "BOGUS", 0},
	} {
		if got := mustLookup(tc.spec).MaxPlaintext(tc.alg); got != tc.want {
			t.Errorf("%s %s: MaxPlaintext = %d, want %d", tc.spec, tc.alg, got, tc.want)
		}
	}
}

func TestAsymmetric(t *testing.T) {
	for spec := range wantRules {
		want := spec != SymmetricDefault && spec != HMAC224 && spec != HMAC256 && spec != HMAC384 && spec != HMAC512
		if got := mustLookup(spec).Asymmetric(); got != want {
			t.Errorf("%s: Asymmetric = %v", spec, got)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	err := validationf("x %d", 1)
	if err.Error() != "keyspec: x 1" {
		t.Errorf("Error() = %q", err.Error())
	}
	var e *Error
	if !errors.As(err, &e) || e.Message() != "x 1" || e.Code() != "ValidationException" {
		t.Errorf("Message, Code = %q, %q", e.Message(), e.Code())
	}
	if !errors.Is(err, ErrValidation) || errors.Is(err, ErrInvalidKeyUsage) {
		t.Error("errors.Is does not match by code")
	}
	for _, e := range []*Error{ErrValidation, ErrInvalidKeyUsage, ErrInvalidCiphertext, ErrUnsupported} {
		if e.Code() == "" || e.Error()[:9] != "keyspec: " {
			t.Errorf("%v: bad sentinel", e)
		}
	}
}
