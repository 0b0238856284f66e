package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"strongroom/internal/ciphertext"
	"strongroom/internal/store"
)

// unsealMaterial returns the plaintext material of version v of k, from the
// cache or by unsealing it. The caller must not modify or retain it.
func (s *Service) unsealMaterial(k *keyRecord, v uint32) ([]byte, error) {
	ck := cacheKey(k.Account, k.ID, v)
	if m, ok := s.cache.get(ck); ok {
		return m, nil
	}
	mr := k.material(v)
	if mr == nil {
		return nil, errInvalidCiphertext()
	}
	m, err := s.sealer.Open(mr.Sealed, materialAAD(k.Account, k.ID, v))
	if err != nil {
		return nil, fmt.Errorf("kms: unsealing material of %s version %d: %w", k.arn(), v, err)
	}
	s.cache.put(ck, m)
	return m, nil
}

func checkSymmetricAlgorithm(alg *string) error {
	if alg != nil && *alg != SpecSymmetricDefault {
		return errInvalidKeyUsage("The encryption algorithm %s is not compatible with a symmetric KMS key.", *alg)
	}
	return nil
}

func requireSymmetricEncrypt(k *keyRecord) error {
	if k.Spec != SpecSymmetricDefault || k.Usage != UsageEncryptDecrypt {
		return errInvalidKeyUsage("%s key usage is %s and key spec is %s, which is not valid for this operation.", k.arn(), k.Usage, k.Spec)
	}
	return nil
}

func refuseRecipient(r *RecipientInfo) error {
	if r != nil {
		return errValidation("Recipient is not supported: Strongroom has no Nitro Enclaves attestation.")
	}
	return nil
}

// encryptUnder seals plaintext under k's current material.
func (s *Service) encryptUnder(k *keyRecord, plaintext []byte, ec map[string]string) ([]byte, *materialRecord, error) {
	mr := k.material(k.Current)
	if mr == nil {
		return nil, nil, errInvalidState("%s has no key material.", k.arn())
	}
	m, err := s.unsealMaterial(k, k.Current)
	if err != nil {
		return nil, nil, err
	}
	blob, err := ciphertext.Seal(m, k.Account, k.ID, k.Current, plaintext, ec)
	if err != nil {
		return nil, nil, err
	}
	return blob, mr, nil
}

// Encrypt encrypts a plaintext under a key: a ciphertext blob under a
// SYMMETRIC_DEFAULT key (at most the configured limit), or the raw
// RSAES-OAEP ciphertext under an RSA ENCRYPT_DECRYPT key (at most AWS's
// limit for the key size and algorithm).
func (s *Service) Encrypt(ctx context.Context, c *Call, in *EncryptInput) (*EncryptOutput, error) {
	if len(in.Plaintext) > s.cfg.EncryptLimit {
		return nil, errValidation("Plaintext is %d bytes; Encrypt accepts at most %d bytes. Use envelope encryption for larger data: call GenerateDataKey and encrypt the data locally with the data key.", len(in.Plaintext), s.cfg.EncryptLimit)
	}
	if len(in.Plaintext) == 0 {
		return nil, errValidation("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:Encrypt", Key: k, EncryptionContext: nonNil(in.EncryptionContext), Alias: r.alias,
		Algorithm: algorithmOrDefault(in.EncryptionAlgorithm)}); err != nil {
		return nil, err
	}
	if err := requireUsable(k); err != nil {
		return nil, err
	}
	blob, alg, _, err := s.encryptWith(k, in.Plaintext, in.EncryptionContext, in.EncryptionAlgorithm, "Encrypt", in.DryRun)
	if err != nil {
		return nil, err
	}
	return &EncryptOutput{CiphertextBlob: blob, KeyId: k.arn(), EncryptionAlgorithm: alg}, nil
}

// encryptWith encrypts plaintext under k for Encrypt and ReEncrypt, once
// the caller is authorized and k is usable: a symmetric blob under a
// SYMMETRIC_DEFAULT key's current material, or RSAES-OAEP under an RSA
// ENCRYPT_DECRYPT key. It returns the ciphertext, the algorithm used and,
// for symmetric keys, the material used. A dry run checks everything and
// answers DryRunOperationException.
func (s *Service) encryptWith(k *keyRecord, plaintext []byte, ec map[string]string, alg *string, op string, dryRun bool) ([]byte, string, *materialRecord, error) {
	if k.Spec != SpecSymmetricDefault {
		ct, a, err := s.encryptAsymmetric(k, plaintext, ec, alg, op, dryRun)
		return ct, a, nil, err
	}
	if err := requireSymmetricEncrypt(k); err != nil {
		return nil, "", nil, err
	}
	if err := checkSymmetricAlgorithm(alg); err != nil {
		return nil, "", nil, err
	}
	if dryRun {
		return nil, "", nil, errDryRun()
	}
	blob, mr, err := s.encryptUnder(k, plaintext, ec)
	if err != nil {
		return nil, "", nil, err
	}
	return blob, SpecSymmetricDefault, mr, nil
}

// opened is a decrypted ciphertext.
type opened struct {
	pt  []byte
	key *keyRecord
	mr  *materialRecord // the material that opened a symmetric blob; nil for RSA
	alg string          // the EncryptionAlgorithm that decrypted it
}

// decryptCiphertext opens a ciphertext for c and authorizes action on its
// key. When keyRef names an asymmetric key, the ciphertext is a raw
// RSAES-OAEP ciphertext for it (AWS requires KeyId for those). Otherwise it
// is a symmetric blob, which names its key; keyRef, if given, must name the
// same key. Every failure to find or open is InvalidCiphertextException.
func (s *Service) decryptCiphertext(ctx context.Context, c *Call, action string, blob []byte, ec map[string]string, keyRef *string, alg *string) (*opened, error) {
	bl, parseErr := ciphertext.Parse(blob)
	var k *keyRecord
	var want *resolved
	var err error
	if keyRef == nil && parseErr == nil && s.resolves != nil {
		k, err = s.keyByID(ctx, bl.Account, c.Region, bl.KeyID)
	} else {
		err = s.view(ctx, func(tx store.Tx) error {
			k, want = nil, nil
			var err error
			if keyRef != nil {
				if want, err = s.resolveIn(tx, c, *keyRef); err != nil {
					return err
				}
				if want.key.Spec != SpecSymmetricDefault {
					return nil
				}
			}
			if parseErr != nil {
				return nil
			}
			k, err = getKey(tx, bl.Account, c.Region, bl.KeyID)
			if errors.Is(err, store.ErrNotFound) {
				k, err = nil, nil
			}
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	if want != nil && want.key.Spec != SpecSymmetricDefault {
		return s.decryptAsymmetric(ctx, c, action, want, blob, ec, alg)
	}
	if parseErr != nil {
		return nil, errInvalidCiphertext()
	}
	if want != nil && (k == nil || want.key.ID != bl.KeyID || want.key.Account != bl.Account) {
		return nil, errIncorrectKey()
	}
	if k == nil {
		return nil, errInvalidCiphertext()
	}
	if s.deletionDue(k) {
		return nil, errInvalidCiphertext()
	}
	s.expireLazily(k)
	alias := ""
	if want != nil {
		alias = want.alias
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: action, Key: k, EncryptionContext: nonNil(ec), Alias: alias,
		Algorithm: algorithmOrDefault(alg)}); err != nil {
		return nil, err
	}
	if err := requireUsable(k); err != nil {
		return nil, err
	}
	if err := requireSymmetricEncrypt(k); err != nil {
		return nil, err
	}
	if err := checkSymmetricAlgorithm(alg); err != nil {
		return nil, err
	}
	mr := k.material(bl.MaterialVersion)
	if mr == nil {
		return nil, errInvalidCiphertext()
	}
	m, err := s.unsealMaterial(k, bl.MaterialVersion)
	if err != nil {
		return nil, err
	}
	pt, err := ciphertext.Open(m, bl, ec)
	if err != nil {
		return nil, errInvalidCiphertext()
	}
	return &opened{pt: pt, key: k, mr: mr, alg: SpecSymmetricDefault}, nil
}

// Decrypt decrypts a ciphertext blob, which names its key (KeyId, when
// given, must name the same key), or an RSAES-OAEP ciphertext of the RSA
// key that KeyId names, with EncryptionAlgorithm.
func (s *Service) Decrypt(ctx context.Context, c *Call, in *DecryptInput) (*DecryptOutput, error) {
	if err := refuseRecipient(in.Recipient); err != nil {
		return nil, err
	}
	o, err := s.decryptCiphertext(ctx, c, "kms:Decrypt", in.CiphertextBlob, in.EncryptionContext, in.KeyId, in.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		clear(o.pt)
		return nil, errDryRun()
	}
	out := &DecryptOutput{KeyId: o.key.arn(), Plaintext: o.pt, EncryptionAlgorithm: o.alg}
	if o.mr != nil {
		out.KeyMaterialId = o.mr.ID
	}
	return out, nil
}

// ReEncrypt decrypts a ciphertext and encrypts the plaintext under another
// key (or the same one, e.g. after rotation) without exposing it. Either
// side may be an RSA ENCRYPT_DECRYPT key, as in Decrypt and Encrypt.
func (s *Service) ReEncrypt(ctx context.Context, c *Call, in *ReEncryptInput) (*ReEncryptOutput, error) {
	o, err := s.decryptCiphertext(ctx, c, "kms:ReEncryptFrom", in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyId, in.SourceEncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	defer clear(o.pt)
	r, err := s.resolve(ctx, c, in.DestinationKeyId)
	if err != nil {
		return nil, err
	}
	dst := r.key
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:ReEncryptTo", Key: dst, EncryptionContext: nonNil(in.DestinationEncryptionContext), Alias: r.alias,
		Algorithm: algorithmOrDefault(in.DestinationEncryptionAlgorithm)}); err != nil {
		return nil, err
	}
	if err := requireUsable(dst); err != nil {
		return nil, err
	}
	blob, dstAlg, dstMR, err := s.encryptWith(dst, o.pt, in.DestinationEncryptionContext, in.DestinationEncryptionAlgorithm, "ReEncrypt", in.DryRun)
	if err != nil {
		return nil, err
	}
	out := &ReEncryptOutput{
		CiphertextBlob:                 blob,
		SourceKeyId:                    o.key.arn(),
		KeyId:                          dst.arn(),
		SourceEncryptionAlgorithm:      o.alg,
		DestinationEncryptionAlgorithm: dstAlg,
	}
	if o.mr != nil {
		out.SourceKeyMaterialId = o.mr.ID
	}
	if dstMR != nil {
		out.DestinationKeyMaterialId = dstMR.ID
	}
	return out, nil
}

// GenerateDataKey returns a fresh data key in plaintext and encrypted.
func (s *Service) GenerateDataKey(ctx context.Context, c *Call, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	return s.generateDataKey(ctx, c, in, "kms:GenerateDataKey", true)
}

// GenerateDataKeyWithoutPlaintext returns a fresh data key, encrypted only.
func (s *Service) GenerateDataKeyWithoutPlaintext(ctx context.Context, c *Call, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	return s.generateDataKey(ctx, c, in, "kms:GenerateDataKeyWithoutPlaintext", false)
}

func (s *Service) generateDataKey(ctx context.Context, c *Call, in *GenerateDataKeyInput, action string, withPlaintext bool) (*GenerateDataKeyOutput, error) {
	n := 0
	switch {
	case in.KeySpec != nil && in.NumberOfBytes != nil:
		return nil, errValidation("Please specify either number of bytes or key spec.")
	case in.KeySpec != nil:
		switch *in.KeySpec {
		case "AES_256":
			n = 32
		case "AES_128":
			n = 16
		default:
			return nil, errValidation("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", *in.KeySpec)
		}
	case in.NumberOfBytes != nil:
		n = int(*in.NumberOfBytes)
		if n < 1 || n > 1024 {
			return nil, errValidation("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", n)
		}
	default:
		return nil, errValidation("Please specify either number of bytes or key spec.")
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
	if err := s.authorizeReq(ctx, c, &authzReq{Action: action, Key: k, EncryptionContext: nonNil(in.EncryptionContext), Alias: r.alias}); err != nil {
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
	dk := make([]byte, n)
	if _, err := rand.Read(dk); err != nil {
		return nil, err
	}
	blob, mr, err := s.encryptUnder(k, dk, in.EncryptionContext)
	if err != nil {
		clear(dk)
		return nil, err
	}
	out := &GenerateDataKeyOutput{CiphertextBlob: blob, KeyId: k.arn(), KeyMaterialId: mr.ID}
	if withPlaintext {
		out.Plaintext = dk
	} else {
		clear(dk)
	}
	return out, nil
}

// GenerateRandom returns 1–1024 random bytes.
func (s *Service) GenerateRandom(ctx context.Context, c *Call, in *GenerateRandomInput) (*GenerateRandomOutput, error) {
	if in.CustomKeyStoreId != nil {
		return nil, newErr("CustomKeyStoreNotFoundException", 400, "Custom key store not found.")
	}
	if err := refuseRecipient(in.Recipient); err != nil {
		return nil, err
	}
	if in.NumberOfBytes == nil {
		return nil, errValidation("NumberOfBytes is required.")
	}
	n := int(*in.NumberOfBytes)
	if n < 1 || n > 1024 {
		return nil, errValidation("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", n)
	}
	if err := s.authorize(ctx, c, "kms:GenerateRandom", nil); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &GenerateRandomOutput{Plaintext: b}, nil
}

// nonNil returns ec, or an empty map for nil: a cryptographic operation
// always has an encryption context for conditions, possibly empty.
func nonNil(ec map[string]string) map[string]string {
	if ec == nil {
		return noContext
	}
	return ec
}

// noContext is the empty encryption context, shared: read, never written.
var noContext = map[string]string{}
