package keyspec

import "crypto/hmac"

// GenerateMac computes HMAC (RFC 2104) of msg with the key, as the
// GenerateMac operation does. The algorithm must be the key spec's own
// (HMAC_SHA_256 for HMAC_256, …); the message has 1 to 4096 bytes. Errors
// are as for Sign, with usage GENERATE_VERIFY_MAC.
func (k *Key) GenerateMac(alg Algorithm, msg []byte) ([]byte, error) {
	ai, err := k.info.checkAlgorithm(k.usage, GenerateVerifyMAC, classMAC, alg)
	if err != nil {
		return nil, err
	}
	if len(msg) < 1 || len(msg) > MaxMessage {
		return nil, validationf("the message must have 1 to %d bytes; it has %d", MaxMessage, len(msg))
	}
	h := hmac.New(ai.hash.New, k.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// VerifyMac reports, in constant time, whether mac is the HMAC of msg, as
// the VerifyMac operation does. Errors are as for GenerateMac; a MAC that
// does not match is (false, nil), which the operation reports as
// KMSInvalidMacException.
func (k *Key) VerifyMac(alg Algorithm, msg, mac []byte) (bool, error) {
	want, err := k.GenerateMac(alg, msg)
	if err != nil {
		return false, err
	}
	return hmac.Equal(want, mac), nil
}
