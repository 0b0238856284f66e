package kms

import (
	"context"
	"fmt"
	"net/http"

	"strongroom/internal/keyspec"
)

// The operations of asymmetric keys: GetPublicKey, Sign, Verify,
// DeriveSharedSecret, GenerateDataKeyPair(WithoutPlaintext), and the RSA
// half of Encrypt, Decrypt and ReEncrypt (which crypto.go dispatches here).
// The cryptography and the rules of specs and algorithms are package
// keyspec's; this file resolves, authorizes, checks the key's state and
// usage, and maps keyspec's errors to the client's.

// loadKey returns the current material of k parsed, from the cache or by
// unsealing and parsing it once. k must not be SYMMETRIC_DEFAULT: that
// material is cached raw, under the same cache key, by unsealMaterial.
// Asymmetric and HMAC keys have one version of material (they do not
// rotate), so the current one is the only one.
func (s *Service) loadKey(k *keyRecord) (*keyspec.Key, error) {
	if k.Spec == SpecSymmetricDefault {
		return nil, fmt.Errorf("kms: loadKey called for the symmetric key %s", k.arn())
	}
	v := k.Current
	ck := cacheKey(k.Account, k.ID, v)
	if key, ok := s.cache.getKey(ck); ok {
		return key, nil
	}
	mr := k.material(v)
	if mr == nil {
		return nil, errInvalidState("%s has no key material.", k.arn())
	}
	m, err := s.sealer.Open(mr.Sealed, materialAAD(k.Account, k.ID, v))
	if err != nil {
		return nil, fmt.Errorf("kms: unsealing material of %s version %d: %w", k.arn(), v, err)
	}
	defer clear(m)
	key, err := keyspec.Load(keyspec.Spec(k.Spec), keyspec.Usage(k.Usage), m)
	if err != nil {
		// Stored material that does not load is our fault, never the
		// caller's: wrap, so that it stays an internal error.
		return nil, fmt.Errorf("kms: loading material of %s version %d: %w", k.arn(), v, err)
	}
	s.cache.putKey(ck, key)
	return key, nil
}

// usableKey resolves ref, authorizes action on the key (with the
// operation's extra condition keys) and checks that the key can be used.
func (s *Service) usableKey(ctx context.Context, c *Call, ref, action string, extra map[string][]string) (*keyRecord, error) {
	r, err := s.resolve(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: action, Key: r.key, Alias: r.alias, Extra: extra}); err != nil {
		return nil, err
	}
	if err := requireUsable(r.key); err != nil {
		return nil, err
	}
	return r.key, nil
}

// requireUsage refuses an operation that needs keys of usage want, before
// any material is touched.
func requireUsage(k *keyRecord, want keyspec.Usage, op string) error {
	if k.Usage != string(want) || k.Spec == SpecSymmetricDefault {
		return errInvalidKeyUsage("%s key usage is %s and key spec is %s, which is not valid for %s.", k.arn(), k.Usage, k.Spec, op)
	}
	return nil
}

// checkBlob applies the API model's length limits to a blob member, as AWS
// does before anything else.
func checkBlob(member string, b []byte, max int) error {
	if len(b) < 1 {
		return errValidation("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", member)
	}
	if len(b) > max {
		return errValidation("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, max)
	}
	return nil
}

// API model limits of the blob members used here.
const (
	maxMessage   = 4096 // PlaintextType: Message
	maxSignature = 6144 // CiphertextType: Signature, Mac
	maxPublicKey = 8192 // PublicKeyType
)

// messageType returns the MessageType of Sign or Verify, RAW when absent.
func messageType(mt *string) (string, error) {
	if mt == nil {
		return string(keyspec.Raw), nil
	}
	switch keyspec.MessageType(*mt) {
	case keyspec.Raw, keyspec.Digest, keyspec.ExternalMu:
		return *mt, nil
	}
	return "", errValidation("1 validation error detected: Value '%s' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]", *mt)
}

func errInvalidSignature() *Error {
	return newErr("KMSInvalidSignatureException", http.StatusBadRequest, "The signature verification failed: the signature is not valid for this message, key and signing algorithm.")
}

// GetPublicKey returns the public key of an asymmetric key as DER
// SubjectPublicKeyInfo, with its spec, usage and algorithms. Symmetric and
// HMAC keys have none: UnsupportedOperationException.
func (s *Service) GetPublicKey(ctx context.Context, c *Call, in *KeyInput) (*GetPublicKeyOutput, error) {
	k, err := s.usableKey(ctx, c, in.KeyId, "kms:GetPublicKey", nil)
	if err != nil {
		return nil, err
	}
	info, err := keyspec.Lookup(k.Spec)
	if err != nil || !info.Asymmetric() {
		return nil, errUnsupported("%s key usage is %s and key spec is %s, which is not valid for GetPublicKey.", k.arn(), k.Usage, k.Spec)
	}
	key, err := s.loadKey(k)
	if err != nil {
		return nil, err
	}
	der, err := key.PublicKeyDER()
	if err != nil {
		return nil, specErr(err)
	}
	out := &GetPublicKeyOutput{KeyId: k.arn(), PublicKey: der, KeySpec: k.Spec, KeyUsage: k.Usage}
	if customerMasterKeySpecs[k.Spec] {
		out.CustomerMasterKeySpec = k.Spec
	}
	out.EncryptionAlgorithms, out.SigningAlgorithms, _, out.KeyAgreementAlgorithms = algorithmsFor(k.Spec, k.Usage)
	return out, nil
}

// customerMasterKeySpecs are the values of the deprecated
// CustomerMasterKeySpec enumeration; newer specs (Ed25519, ML-DSA) have no
// value there, so GetPublicKey omits the member for them.
var customerMasterKeySpecs = map[string]bool{
	"RSA_2048": true, "RSA_3072": true, "RSA_4096": true,
	"ECC_NIST_P256": true, "ECC_NIST_P384": true, "ECC_NIST_P521": true, "ECC_SECG_P256K1": true,
	"SYMMETRIC_DEFAULT": true, "HMAC_224": true, "HMAC_256": true, "HMAC_384": true, "HMAC_512": true, "SM2": true,
}

// Sign signs a message (RAW, at most 4096 bytes), a digest (DIGEST) or an
// ML-DSA μ (EXTERNAL_MU) with a SIGN_VERIFY key.
func (s *Service) Sign(ctx context.Context, c *Call, in *SignInput) (*SignOutput, error) {
	if err := checkBlob("message", in.Message, maxMessage); err != nil {
		return nil, err
	}
	mt, err := messageType(in.MessageType)
	if err != nil {
		return nil, err
	}
	k, err := s.usableKey(ctx, c, in.KeyId, "kms:Sign", map[string][]string{
		"kms:signingalgorithm": {in.SigningAlgorithm}, "kms:messagetype": {mt}})
	if err != nil {
		return nil, err
	}
	if err := requireUsage(k, keyspec.SignVerify, "Sign"); err != nil {
		return nil, err
	}
	key, err := s.loadKey(k)
	if err != nil {
		return nil, err
	}
	// Signing is also the check of algorithm and message: a dry run signs
	// and throws the signature away.
	sig, err := key.Sign(keyspec.Algorithm(in.SigningAlgorithm), keyspec.MessageType(mt), in.Message)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, errDryRun()
	}
	return &SignOutput{KeyId: k.arn(), Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// Verify checks a signature made by Sign (or by anyone with the private
// key). A signature that does not verify is KMSInvalidSignatureException;
// a valid one answers SignatureValid true.
func (s *Service) Verify(ctx context.Context, c *Call, in *VerifyInput) (*VerifyOutput, error) {
	if err := checkBlob("message", in.Message, maxMessage); err != nil {
		return nil, err
	}
	if err := checkBlob("signature", in.Signature, maxSignature); err != nil {
		return nil, err
	}
	mt, err := messageType(in.MessageType)
	if err != nil {
		return nil, err
	}
	k, err := s.usableKey(ctx, c, in.KeyId, "kms:Verify", map[string][]string{
		"kms:signingalgorithm": {in.SigningAlgorithm}, "kms:messagetype": {mt}})
	if err != nil {
		return nil, err
	}
	if err := requireUsage(k, keyspec.SignVerify, "Verify"); err != nil {
		return nil, err
	}
	key, err := s.loadKey(k)
	if err != nil {
		return nil, err
	}
	ok, err := key.Verify(keyspec.Algorithm(in.SigningAlgorithm), keyspec.MessageType(mt), in.Message, in.Signature)
	if err != nil {
		return nil, specErr(err)
	}
	// A dry run checks the parameters, not the signature.
	if in.DryRun {
		return nil, errDryRun()
	}
	if !ok {
		return nil, errInvalidSignature()
	}
	return &VerifyOutput{KeyId: k.arn(), SignatureValid: true, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// DeriveSharedSecret runs ECDH between a KEY_AGREEMENT key and the peer's
// public key (DER SubjectPublicKeyInfo) and returns the raw shared secret.
func (s *Service) DeriveSharedSecret(ctx context.Context, c *Call, in *DeriveSharedSecretInput) (*DeriveSharedSecretOutput, error) {
	if err := checkBlob("publicKey", in.PublicKey, maxPublicKey); err != nil {
		return nil, err
	}
	if err := refuseRecipient(in.Recipient); err != nil {
		return nil, err
	}
	k, err := s.usableKey(ctx, c, in.KeyId, "kms:DeriveSharedSecret", map[string][]string{
		"kms:keyagreementalgorithm": {in.KeyAgreementAlgorithm}})
	if err != nil {
		return nil, err
	}
	if err := requireUsage(k, keyspec.KeyAgreement, "DeriveSharedSecret"); err != nil {
		return nil, err
	}
	key, err := s.loadKey(k)
	if err != nil {
		return nil, err
	}
	secret, err := key.DeriveSharedSecret(keyspec.Algorithm(in.KeyAgreementAlgorithm), in.PublicKey)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		clear(secret)
		return nil, errDryRun()
	}
	return &DeriveSharedSecretOutput{KeyId: k.arn(), SharedSecret: secret, KeyAgreementAlgorithm: in.KeyAgreementAlgorithm, KeyOrigin: k.Origin}, nil
}

// GenerateDataKeyPair returns a fresh key pair: the public key, and the
// private key both in plaintext and encrypted under a symmetric key (a
// ciphertext blob that Decrypt opens, bound to the encryption context).
func (s *Service) GenerateDataKeyPair(ctx context.Context, c *Call, in *GenerateDataKeyPairInput) (*GenerateDataKeyPairOutput, error) {
	return s.generateDataKeyPair(ctx, c, in, "kms:GenerateDataKeyPair", true)
}

// GenerateDataKeyPairWithoutPlaintext is GenerateDataKeyPair without the
// plaintext private key.
func (s *Service) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, c *Call, in *GenerateDataKeyPairInput) (*GenerateDataKeyPairOutput, error) {
	return s.generateDataKeyPair(ctx, c, in, "kms:GenerateDataKeyPairWithoutPlaintext", false)
}

func (s *Service) generateDataKeyPair(ctx context.Context, c *Call, in *GenerateDataKeyPairInput, action string, withPlaintext bool) (*GenerateDataKeyPairOutput, error) {
	if err := checkKeyPairSpec(in.KeyPairSpec); err != nil {
		return nil, err
	}
	if withPlaintext {
		if err := refuseRecipient(in.Recipient); err != nil {
			return nil, err
		}
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	if err := s.authorizeReq(ctx, c, &authzReq{Action: action, Key: k, EncryptionContext: nonNil(in.EncryptionContext), Alias: r.alias,
		Extra: map[string][]string{"kms:datakeypairspec": {in.KeyPairSpec}, "kms:encryptionalgorithm": {SpecSymmetricDefault}}}); err != nil {
		return nil, err
	}
	if err := requireUsable(k); err != nil {
		return nil, err
	}
	if err := requireSymmetricEncrypt(k); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun()
	}
	private, public, err := keyspec.GenerateDataKeyPair(in.KeyPairSpec)
	if err != nil {
		return nil, specErr(err)
	}
	blob, mr, err := s.encryptUnder(k, private, in.EncryptionContext)
	if err != nil {
		clear(private)
		return nil, err
	}
	out := &GenerateDataKeyPairOutput{PrivateKeyCiphertextBlob: blob, PublicKey: public, KeyId: k.arn(), KeyPairSpec: in.KeyPairSpec, KeyMaterialId: mr.ID}
	if withPlaintext {
		out.PrivateKeyPlaintext = private
	} else {
		clear(private)
	}
	return out, nil
}

// errAsymmetricContext refuses an encryption context with an asymmetric
// key: RSA-OAEP ciphertexts cannot bind one, and ignoring it would let the
// caller believe it was bound.
func errAsymmetricContext(k *keyRecord) *Error {
	return errValidation("EncryptionContext is not supported with asymmetric KMS keys: %s has key spec %s.", k.arn(), k.Spec)
}

// encryptAsymmetric is Encrypt (and ReEncrypt's second half) with a key
// that is not SYMMETRIC_DEFAULT: RSAES-OAEP with an RSA ENCRYPT_DECRYPT key,
// the ciphertext being the raw OAEP output, as AWS returns it. alg defaults
// to SYMMETRIC_DEFAULT, which RSA keys refuse (InvalidKeyUsageException),
// as AWS does. It returns the algorithm used.
func (s *Service) encryptAsymmetric(k *keyRecord, plaintext []byte, ec map[string]string, alg *string, op string, dryRun bool) ([]byte, string, error) {
	if err := requireUsage(k, keyspec.EncryptDecrypt, op); err != nil {
		return nil, "", err
	}
	if len(ec) > 0 {
		return nil, "", errAsymmetricContext(k)
	}
	a := algorithmOrDefault(alg)
	key, err := s.loadKey(k)
	if err != nil {
		return nil, "", err
	}
	// Encrypting is also the check of algorithm and plaintext size; it
	// costs one public-key operation, so a dry run does it too.
	ct, err := key.Encrypt(keyspec.Algorithm(a), plaintext)
	if err != nil {
		return nil, "", specErr(err)
	}
	if dryRun {
		return nil, "", errDryRun()
	}
	return ct, a, nil
}

// decryptAsymmetric is Decrypt (and ReEncrypt's first half) of a raw
// RSAES-OAEP ciphertext with the RSA key r names (the KeyId AWS requires
// for asymmetric ciphertexts). Every failure to decrypt is the one opaque
// InvalidCiphertextException.
func (s *Service) decryptAsymmetric(ctx context.Context, c *Call, action string, r *resolved, ct []byte, ec map[string]string, alg *string) (*opened, error) {
	k := r.key
	a := algorithmOrDefault(alg)
	if err := s.authorizeReq(ctx, c, &authzReq{Action: action, Key: k, EncryptionContext: nonNil(ec), Alias: r.alias,
		Algorithm: a}); err != nil {
		return nil, err
	}
	if err := requireUsable(k); err != nil {
		return nil, err
	}
	op := "Decrypt"
	if action != "kms:Decrypt" {
		op = "ReEncrypt"
	}
	if err := requireUsage(k, keyspec.EncryptDecrypt, op); err != nil {
		return nil, err
	}
	if len(ec) > 0 {
		return nil, errAsymmetricContext(k)
	}
	key, err := s.loadKey(k)
	if err != nil {
		return nil, err
	}
	pt, err := key.Decrypt(keyspec.Algorithm(a), ct)
	if err != nil {
		return nil, specErr(err)
	}
	return &opened{pt: pt, key: k, alg: a}, nil
}

func algorithmOrDefault(alg *string) string {
	if alg == nil {
		return SpecSymmetricDefault
	}
	return *alg
}
