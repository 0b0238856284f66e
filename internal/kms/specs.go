package kms

import (
	"errors"
	"net/http"

	"strongroom/internal/keyspec"
)

// The rules of key specs, usages and algorithms live in package keyspec;
// this file translates them to the core's terms (strings on the wire,
// *Error for the client).

// checkSpecUsage validates a KeySpec / KeyUsage pair for CreateKey and
// returns the usage to record (the default when usage is empty). An unknown
// spec or a usage the spec does not allow is a ValidationException; SM2 is
// an UnsupportedOperationException, as AWS answers outside its China
// regions.
func checkSpecUsage(spec, usage string) (string, error) {
	info, err := keyspec.Lookup(spec)
	if err != nil {
		return "", specErr(err)
	}
	u, err := info.ResolveUsage(usage)
	if err != nil {
		return "", specErr(err)
	}
	return string(u), nil
}

// generateMaterial returns fresh key material for spec, in the form
// keyspec.Load reads: 32 random bytes for SYMMETRIC_DEFAULT, the raw key for
// HMAC specs, PKCS#8 DER for key pairs. The caller seals it and clears it.
func generateMaterial(spec string) ([]byte, error) {
	m, err := keyspec.Generate(keyspec.Spec(spec))
	if err != nil {
		return nil, specErr(err)
	}
	return m, nil
}

// algorithmsFor returns the algorithm lists DescribeKey reports; lists that
// do not apply to the key are nil (and omitted on the wire).
func algorithmsFor(spec, usage string) (enc, sign, mac, agree []string) {
	info, err := keyspec.Lookup(spec)
	if err != nil {
		return nil, nil, nil, nil
	}
	a := info.Algorithms(keyspec.Usage(usage))
	return algStrings(a.Encryption), algStrings(a.Signing), algStrings(a.MAC), algStrings(a.KeyAgreement)
}

func algStrings(algs []keyspec.Algorithm) []string {
	if algs == nil {
		return nil
	}
	out := make([]string, len(algs))
	for i, a := range algs {
		out[i] = string(a)
	}
	return out
}

// dataKeyPairSpecs are the values of DataKeyPairSpec (GenerateDataKeyPair's
// KeyPairSpec) served here; SM2, the model's other value, is refused.
var dataKeyPairSpecs = map[string]bool{
	"RSA_2048": true, "RSA_3072": true, "RSA_4096": true,
	"ECC_NIST_P256": true, "ECC_NIST_P384": true, "ECC_NIST_P521": true,
	"ECC_SECG_P256K1": true, "ECC_NIST_EDWARDS25519": true,
}

// checkKeyPairSpec validates KeyPairSpec before any key is touched, as the
// API model's enumeration is checked: SM2 is an
// UnsupportedOperationException, anything else unknown a
// ValidationException.
func checkKeyPairSpec(spec string) error {
	if dataKeyPairSpecs[spec] {
		return nil
	}
	if spec == string(keyspec.SM2) {
		return errUnsupported("KeyPairSpec SM2 is not supported in this Region.")
	}
	return errValidation("1 validation error detected: Value '%s' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2, ECC_NIST_EDWARDS25519]", spec)
}

// specErr turns a keyspec error into the *Error the client sees, with the
// same AWS code and keyspec's message (which never holds key material).
// Decrypt failures become the one opaque InvalidCiphertextException. Any
// other error (malformed stored material, a failing random source) is
// internal and returned as is.
func specErr(err error) error {
	var e *keyspec.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Code() == keyspec.CodeInvalidCiphertext {
		return errInvalidCiphertext()
	}
	return newErr(e.Code(), http.StatusBadRequest, "%s", e.Message())
}
