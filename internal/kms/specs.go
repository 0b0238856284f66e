package kms

import (
	"crypto/rand"
)

// checkSpecUsage validates a KeySpec / KeyUsage pair and returns the usage
// to record (the default when usage is empty).
func checkSpecUsage(spec, usage string) (string, error) {
	switch spec {
	case SpecSymmetricDefault:
		if usage == "" {
			usage = UsageEncryptDecrypt
		}
		if usage != UsageEncryptDecrypt {
			return "", errValidation("KeyUsage %s is not compatible with KeySpec %s", usage, spec)
		}
		return usage, nil
	}
	return "", errValidation("KeySpec %s is not supported", spec)
}

// generateMaterial returns fresh key material for spec.
func generateMaterial(spec string) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// algorithmsFor returns the algorithm lists DescribeKey reports.
func algorithmsFor(spec, usage string) (enc, sign, mac, agree []string) {
	if spec == SpecSymmetricDefault {
		return []string{SpecSymmetricDefault}, nil, nil, nil
	}
	return nil, nil, nil, nil
}
