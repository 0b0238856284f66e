// Package keyspec owns the AWS KMS key specs: their rules and their
// cryptography. It is pure — no I/O, no storage, no HTTP, no key ids — and
// works on key material held as bytes, which the caller seals at rest.
//
// The rules (Lookup, Info): which key usages each spec allows
// (CreateKey's checks), which algorithms each spec and usage bring (what
// DescribeKey and GetPublicKey report), and AWS's size limits.
//
//	SYMMETRIC_DEFAULT             ENCRYPT_DECRYPT      SYMMETRIC_DEFAULT
//	RSA_2048, RSA_3072, RSA_4096  ENCRYPT_DECRYPT      RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256
//	                              SIGN_VERIFY          RSASSA_PKCS1_V1_5_SHA_256/384/512, RSASSA_PSS_SHA_256/384/512
//	ECC_NIST_P256, _P384, _P521   SIGN_VERIFY          ECDSA_SHA_256, _384, _512 respectively
//	                              KEY_AGREEMENT        ECDH
//	ECC_SECG_P256K1               SIGN_VERIFY          ECDSA_SHA_256
//	ECC_NIST_EDWARDS25519         SIGN_VERIFY          ED25519_SHA_512, ED25519_PH_SHA_512
//	ML_DSA_44, _65, _87           SIGN_VERIFY          ML_DSA_SHAKE_256
//	HMAC_224, _256, _384, _512    GENERATE_VERIFY_MAC  HMAC_SHA_224, _256, _384, _512 respectively
//
// SM2 is refused (UnsupportedOperationException): AWS offers it only in its
// China regions.
//
// The cryptography (Generate, GenerateDataKeyPair, Load and the methods of
// Key and PublicKey): key generation, PKCS#8 private keys and
// SubjectPublicKeyInfo public keys, Sign and Verify, RSA-OAEP Encrypt and
// Decrypt, GenerateMac and VerifyMac, and ECDH DeriveSharedSecret, each
// producing exactly what AWS KMS produces, so that AWS's SDKs and any
// standard tool (OpenSSL, Go's crypto) interoperate. SYMMETRIC_DEFAULT keys
// are generated and loaded here, but their ciphertexts are the ciphertext
// format's business.
//
// Message types of Sign and Verify, by algorithm:
//
//	RSASSA_*, ECDSA_*      RAW (hashed here) or DIGEST (the hash; its length must match)
//	ED25519_SHA_512        RAW only: pure Ed25519 (RFC 8032)
//	ED25519_PH_SHA_512     DIGEST only, the 64-byte SHA-512 of the message, which
//	                       Ed25519ph hashes once more as its prehash, as AWS documents
//	ML_DSA_SHAKE_256       RAW (pure ML-DSA, empty context) or EXTERNAL_MU (the 64-byte μ)
//
// A RAW message has at most 4096 bytes.
//
// Errors. Mistakes of the caller's caller are *Error values whose Code is
// the AWS error code to answer with: ValidationException (malformed or
// out-of-range parameters), InvalidKeyUsageException (an operation or
// algorithm the key's usage or spec does not allow), InvalidCiphertextException
// (every failure of Decrypt, one opaque error) and
// UnsupportedOperationException (SM2; public keys of symmetric keys).
// Signatures and MACs that do not verify are (false, nil), which the
// operations report as KMSInvalidSignatureException and
// KMSInvalidMacException. Any other error, such as malformed stored material
// (ErrMalformedKey), is internal.
//
// Compatibility: the encodings Generate writes are the standard ones listed
// there and will keep loading; new forms may be added to what Load accepts.
package keyspec
