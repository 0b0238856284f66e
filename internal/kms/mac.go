package kms

import (
	"context"
	"net/http"

	"strongroom/internal/keyspec"
)

// GenerateMac and VerifyMac with HMAC keys (KeyUsage GENERATE_VERIFY_MAC).
// The HMAC key never leaves the service.

func errInvalidMac() *Error {
	return newErr("KMSInvalidMacException", http.StatusBadRequest, "The MAC verification failed: the MAC is not valid for this message, key and MAC algorithm.")
}

// GenerateMac computes the HMAC of a message of 1 to 4096 bytes.
func (s *Service) GenerateMac(ctx context.Context, c *Call, in *GenerateMacInput) (*GenerateMacOutput, error) {
	if err := checkBlob("message", in.Message, maxMessage); err != nil {
		return nil, err
	}
	key, k, err := s.macKey(ctx, c, in.KeyId, "kms:GenerateMac", in.MacAlgorithm, "GenerateMac")
	if err != nil {
		return nil, err
	}
	mac, err := key.GenerateMac(keyspec.Algorithm(in.MacAlgorithm), in.Message)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, errDryRun()
	}
	return &GenerateMacOutput{Mac: mac, MacAlgorithm: in.MacAlgorithm, KeyId: k.arn()}, nil
}

// VerifyMac checks, in constant time, a MAC made by GenerateMac. A MAC that
// does not match is KMSInvalidMacException; a matching one answers MacValid
// true.
func (s *Service) VerifyMac(ctx context.Context, c *Call, in *VerifyMacInput) (*VerifyMacOutput, error) {
	if err := checkBlob("message", in.Message, maxMessage); err != nil {
		return nil, err
	}
	if err := checkBlob("mac", in.Mac, maxSignature); err != nil {
		return nil, err
	}
	key, k, err := s.macKey(ctx, c, in.KeyId, "kms:VerifyMac", in.MacAlgorithm, "VerifyMac")
	if err != nil {
		return nil, err
	}
	ok, err := key.VerifyMac(keyspec.Algorithm(in.MacAlgorithm), in.Message, in.Mac)
	if err != nil {
		return nil, specErr(err)
	}
	// A dry run checks the parameters, not the MAC.
	if in.DryRun {
		return nil, errDryRun()
	}
	if !ok {
		return nil, errInvalidMac()
	}
	return &VerifyMacOutput{KeyId: k.arn(), MacValid: true, MacAlgorithm: in.MacAlgorithm}, nil
}

// macKey resolves, authorizes and checks a key for GenerateMac or VerifyMac
// and returns its parsed material.
func (s *Service) macKey(ctx context.Context, c *Call, ref, action, alg, op string) (*keyspec.Key, *keyRecord, error) {
	k, err := s.usableKey(ctx, c, ref, action, map[string][]string{"kms:macalgorithm": {alg}})
	if err != nil {
		return nil, nil, err
	}
	if err := requireUsage(k, keyspec.GenerateVerifyMAC, op); err != nil {
		return nil, nil, err
	}
	key, err := s.loadKey(k)
	if err != nil {
		return nil, nil, err
	}
	return key, k, nil
}
