package kms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/keyspec"
	"strongroom/internal/keywrap"
	"strongroom/internal/store"
)

// Imported key material (keys with Origin EXTERNAL): GetParametersForImport,
// ImportKeyMaterial, DeleteImportedKeyMaterial and the expiry of material at
// its ValidTo (ExpireImportedMaterial, run in the background).
//
// A key created with Origin EXTERNAL has no material and is PendingImport.
// GetParametersForImport makes a fresh RSA wrapping key pair: the public
// key goes to the caller with an import token; the private key is sealed
// under an AWS owned key and stored with the token for 24 hours (kind
// import_params, ids "<valid-to>/<account>/<region>/<key id>/<token id>",
// so expired parameters are purged in time order). ImportKeyMaterial
// unwraps the material with it, checks it fits the key spec and seals it
// under the root of trust like generated material.
//
// Each imported material has a KeyMaterialId computed from the key id and
// the material (an HMAC keyed by the material; for asymmetric keys a hash of
// the public key), so re-importing the same material is recognized and
// different material is refused (IncorrectKeyMaterialException). Symmetric
// keys may also receive new material (ImportType NEW_KEY_MATERIAL), which
// waits in PENDING_ROTATION until RotateKeyOnDemand makes it current.
//
// Multi-Region keys with imported material: AWS does not copy imported
// material to replicas; the owner imports the same material into every
// member of the family, and material that differs from what a related key
// holds fails with IncorrectKeyMaterialException (familyImport,
// multiregion.go). The KeyMaterialId is the check value compared: it is
// bound to the key id, which the members share, so the same material has
// the same id in every member, and it reveals nothing of the material (an
// HMAC keyed by it; for asymmetric keys, a hash of the public key). Each
// member records the family's version number for the material, so a
// ciphertext made in one Region names a version that decrypts in the others.
//
// Material that expires (KEY_MATERIAL_EXPIRES) is indexed by its ValidTo
// (kind material_expiry); ExpireImportedMaterial deletes it then, and the
// key returns to PendingImport until the same material is imported again.
// Deleting material removes its sealed bytes from the store and the cache;
// the version and its id are kept, so the same material, re-imported,
// decrypts the old ciphertexts again.

// Import wrapping key specs and algorithms.
const (
	wrapOAEPSHA1       = "RSAES_OAEP_SHA_1"
	wrapOAEPSHA256     = "RSAES_OAEP_SHA_256"
	wrapRSAAESKWSHA1   = "RSA_AES_KEY_WRAP_SHA_1"
	wrapRSAAESKWSHA256 = "RSA_AES_KEY_WRAP_SHA_256"

	// ExpirationModel values.
	MaterialExpires       = "KEY_MATERIAL_EXPIRES"
	MaterialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"

	importNew      = "NEW_KEY_MATERIAL"
	importExisting = "EXISTING_KEY_MATERIAL"

	// importParametersValidity is how long a public key and import token
	// stay valid.
	importParametersValidity = 24 * time.Hour
	// maxMaterialValidity is how far ahead ValidTo may be.
	maxMaterialValidity = 365 * 24 * time.Hour

	// importPurpose names the AWS owned key that seals wrapping keys.
	importPurpose = "import-wrapping-keys"
)

var wrappingKeyBits = map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

const (
	kindImportParams   store.Kind = "import_params"
	kindMaterialExpiry store.Kind = "material_expiry"
)

func errIncorrectKeyMaterial(format string, args ...any) *Error {
	return newErr("IncorrectKeyMaterialException", http.StatusBadRequest, format, args...)
}

func errInvalidImportToken() *Error {
	return newErr("InvalidImportTokenException", http.StatusBadRequest, "The import token is invalid or is associated with a different KMS key.")
}

func errExpiredImportToken() *Error {
	return newErr("ExpiredImportTokenException", http.StatusBadRequest, "The import token has expired. Use GetParametersForImport to get a new import token and public key.")
}

// importParams is the stored half of a GetParametersForImport answer.
type importParams struct {
	Algorithm string `json:"algorithm"`
	Spec      string `json:"spec"`
	// SealedKey is the wrapping private key (PKCS #8), sealed under the
	// AWS owned key of the region for importPurpose.
	SealedKey []byte `json:"sealedKey"`
}

// An import token: version 1, ParametersValidTo (unix seconds), 16 random
// bytes. The token only names the stored parameters; it carries no secret
// beyond its random part.
const tokenLen = 1 + 8 + 16

func importParamsID(validTo int64, k *keyRecord, tokenID string) string {
	return fmt.Sprintf("%020d/%s/%s/%s/%s", validTo, k.Account, k.Region, k.ID, tokenID)
}

func wrappingKeyEC(k *keyRecord, tokenID string) map[string]string {
	return map[string]string{"aws:kms:import-token": tokenID, "aws:kms:key-arn": k.arn()}
}

func requireExternal(k *keyRecord) error {
	if k.Origin != OriginExternal {
		return errUnsupported("%s origin is %s which is not valid for this operation.", k.arn(), k.Origin)
	}
	return nil
}

// GetParametersForImport returns a fresh RSA public key (the wrapping key)
// and an import token, both valid for 24 hours, for importing material into
// a key with Origin EXTERNAL.
func (s *Service) GetParametersForImport(ctx context.Context, c *Call, in *GetParametersForImportInput) (*GetParametersForImportOutput, error) {
	bits, ok := wrappingKeyBits[in.WrappingKeySpec]
	switch {
	case in.WrappingKeySpec == "SM2":
		return nil, errUnsupported("WrappingKeySpec SM2 is not supported in this Region.")
	case !ok:
		return nil, errValidation("1 validation error detected: Value '%s' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, SM2]", in.WrappingKeySpec)
	}
	switch in.WrappingAlgorithm {
	case wrapOAEPSHA1, wrapOAEPSHA256, wrapRSAAESKWSHA1, wrapRSAAESKWSHA256:
	case "RSAES_PKCS1_V1_5":
		return nil, errValidation("The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.")
	case "SM2PKE":
		return nil, errUnsupported("WrappingAlgorithm SM2PKE is not supported in this Region.")
	default:
		return nil, errValidation("1 validation error detected: Value '%s' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]", in.WrappingAlgorithm)
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:GetParametersForImport", Key: k, Alias: r.alias, Extra: map[string][]string{
		"kms:wrappingalgorithm": {in.WrappingAlgorithm}, "kms:wrappingkeyspec": {in.WrappingKeySpec}}}); err != nil {
		return nil, err
	}
	if err := requireCustomerManaged(k, "kms:GetParametersForImport"); err != nil {
		return nil, err
	}
	if err := requireExternal(k); err != nil {
		return nil, err
	}
	if err := requireNotPendingDeletion(k); err != nil {
		return nil, err
	}
	oaep := in.WrappingAlgorithm == wrapOAEPSHA1 || in.WrappingAlgorithm == wrapOAEPSHA256
	if oaep && strings.HasPrefix(k.Spec, "RSA_") {
		return nil, errValidation("RSA key material is too large to wrap with %s: use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.", in.WrappingAlgorithm)
	}
	if oaep && k.Spec == "ECC_NIST_P521" && bits == 2048 {
		return nil, errValidation("ECC_NIST_P521 key material is too large to wrap with %s under an RSA_2048 wrapping key: use a longer wrapping key or an RSA_AES_KEY_WRAP algorithm.", in.WrappingAlgorithm)
	}

	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("kms: generating a wrapping key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("kms: encoding a wrapping key: %w", err)
	}
	defer clear(der)
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("kms: encoding a wrapping key: %w", err)
	}
	validTo := s.clock.Now().Add(importParametersValidity).Truncate(time.Second)
	token := make([]byte, tokenLen)
	token[0] = 1
	binary.BigEndian.PutUint64(token[1:9], uint64(validTo.Unix()))
	rand.Read(token[9:])
	tokenID := hex.EncodeToString(token[9:])
	sealed, err := s.sealOwned(ctx, k.Region, importPurpose, der, wrappingKeyEC(k, tokenID))
	if err != nil {
		return nil, err
	}
	rec, _ := json.Marshal(&importParams{Algorithm: in.WrappingAlgorithm, Spec: in.WrappingKeySpec, SealedKey: sealed})
	// The parameters and the call's record commit together (commitCall).
	// The record keeps the request's KeyId and wrapping choices, nothing of
	// the answer: the public key and the import token are never recorded
	// (auditFields, neverRecorded).
	return commitCall(s, ctx, c, "GetParametersForImport", func(tx store.Tx) (*GetParametersForImportOutput, error) {
		if err := tx.Put(kindImportParams, "", importParamsID(validTo.Unix(), k, tokenID), rec); err != nil {
			return nil, err
		}
		return &GetParametersForImportOutput{KeyId: k.arn(), ImportToken: token, PublicKey: pub, ParametersValidTo: tp(validTo.UTC())}, nil
	})
}

// ImportKeyMaterial imports (or re-imports) key material, wrapped under the
// public key of a GetParametersForImport answer, into a key with Origin
// EXTERNAL.
func (s *Service) ImportKeyMaterial(ctx context.Context, c *Call, in *ImportKeyMaterialInput) (*ImportKeyMaterialOutput, error) {
	now := s.clock.Now()
	model, validTo, err := checkExpiration(in, now)
	if err != nil {
		return nil, err
	}
	if in.ImportType != nil && *in.ImportType != importNew && *in.ImportType != importExisting {
		return nil, errValidation("1 validation error detected: Value '%s' at 'importType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL]", *in.ImportType)
	}
	if in.KeyMaterialId != nil && !isMaterialID(*in.KeyMaterialId) {
		return nil, errValidation("1 validation error detected: Value '%s' at 'keyMaterialId' failed to satisfy constraint: Member must be 64 lowercase hexadecimal digits", *in.KeyMaterialId)
	}
	if in.KeyMaterialDescription != nil && len(*in.KeyMaterialDescription) > 256 {
		return nil, errValidation("1 validation error detected: Value at 'keyMaterialDescription' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	if len(in.ImportToken) != tokenLen || in.ImportToken[0] != 1 {
		return nil, errInvalidImportToken()
	}
	tokenValidTo := int64(binary.BigEndian.Uint64(in.ImportToken[1:9]))
	tokenID := hex.EncodeToString(in.ImportToken[9:])

	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	extra := map[string][]string{"kms:expirationmodel": {model}}
	if validTo != 0 {
		extra["kms:validto"] = []string{strconv.FormatInt(validTo, 10)}
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:ImportKeyMaterial", Key: k, Alias: r.alias, Extra: extra}); err != nil {
		return nil, err
	}
	if err := requireCustomerManaged(k, "kms:ImportKeyMaterial"); err != nil {
		return nil, err
	}
	if err := requireExternal(k); err != nil {
		return nil, err
	}
	if err := requireNotPendingDeletion(k); err != nil {
		return nil, err
	}
	if k.Spec != SpecSymmetricDefault && (in.ImportType != nil || in.KeyMaterialId != nil || in.KeyMaterialDescription != nil) {
		return nil, errValidation("ImportType, KeyMaterialId and KeyMaterialDescription can only be used with symmetric encryption KMS keys.")
	}
	if now.Unix() >= tokenValidTo {
		return nil, errExpiredImportToken()
	}
	var params importParams
	err = s.view(ctx, func(tx store.Tx) error {
		b, err := tx.Get(kindImportParams, "", importParamsID(tokenValidTo, k, tokenID))
		if errors.Is(err, store.ErrNotFound) {
			return errInvalidImportToken()
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &params)
	})
	if err != nil {
		return nil, err
	}
	material, err := s.unwrapMaterial(ctx, k, tokenID, &params, in.EncryptedKeyMaterial)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	matID, err := checkMaterial(k, material)
	if err != nil {
		return nil, err
	}
	if in.KeyMaterialId != nil && subtle.ConstantTimeCompare([]byte(*in.KeyMaterialId), []byte(matID)) != 1 {
		return nil, errIncorrectKeyMaterial("The key material does not have the key material ID %s.", *in.KeyMaterialId)
	}

	// The material and the call's record commit together (commitCall).
	return updateKeyCall(s, ctx, c, "ImportKeyMaterial", k, func(tx store.Tx, k *keyRecord) error {
		if err := requireNotPendingDeletion(k); err != nil {
			return err
		}
		return s.storeImported(tx, k, in, material, matID, model, validTo, now)
	}, func(k *keyRecord) *ImportKeyMaterialOutput {
		return &ImportKeyMaterialOutput{KeyId: k.arn(), KeyMaterialId: matID}
	})
}

// checkExpiration validates ExpirationModel and ValidTo and returns the
// model and ValidTo (unix seconds, 0 when the material does not expire).
func checkExpiration(in *ImportKeyMaterialInput, now time.Time) (string, int64, error) {
	model := MaterialExpires
	if in.ExpirationModel != nil {
		model = *in.ExpirationModel
	}
	switch model {
	case MaterialExpires:
		if in.ValidTo == nil {
			return "", 0, errValidation("A ValidTo date is required when ExpirationModel is KEY_MATERIAL_EXPIRES (the default).")
		}
		vt := in.ValidTo.Time
		if !vt.After(now) {
			return "", 0, errValidation("ValidTo must be a date and time in the future.")
		}
		if vt.Sub(now) > maxMaterialValidity {
			return "", 0, errValidation("ValidTo must be at most 365 days from now.")
		}
		// Whole seconds: expiry is indexed and compared in seconds.
		return model, (vt.UnixMilli() + 999) / 1000, nil
	case MaterialDoesNotExpire:
		if in.ValidTo != nil {
			return "", 0, errValidation("ValidTo is not allowed when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.")
		}
		return model, 0, nil
	}
	return "", 0, errValidation("1 validation error detected: Value '%s' at 'expirationModel' failed to satisfy constraint: Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]", model)
}

func isMaterialID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// unwrapMaterial decrypts EncryptedKeyMaterial with the wrapping private
// key of the import parameters. Every failure to unwrap is one opaque
// InvalidCiphertextException.
func (s *Service) unwrapMaterial(ctx context.Context, k *keyRecord, tokenID string, p *importParams, wrapped []byte) ([]byte, error) {
	der, err := s.openOwned(ctx, k.Region, importPurpose, p.SealedKey, wrappingKeyEC(k, tokenID))
	if err != nil {
		if errors.Is(err, errOwnedOpen) {
			return nil, errInvalidImportToken()
		}
		return nil, err
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("kms: stored wrapping key does not parse: %w", err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("kms: stored wrapping key is a %T", parsed)
	}
	var h func() hash.Hash
	switch p.Algorithm {
	case wrapOAEPSHA1, wrapRSAAESKWSHA1:
		h = sha1.New
	case wrapOAEPSHA256, wrapRSAAESKWSHA256:
		h = sha256.New
	default:
		return nil, fmt.Errorf("kms: stored import parameters have algorithm %q", p.Algorithm)
	}
	switch p.Algorithm {
	case wrapOAEPSHA1, wrapOAEPSHA256:
		m, err := rsa.DecryptOAEP(h(), nil, priv, wrapped, nil)
		if err != nil {
			return nil, errInvalidCiphertext()
		}
		return m, nil
	}
	// RSA_AES_KEY_WRAP: RSAES-OAEP of an AES key, then the material wrapped
	// under it with AES key wrap with padding (RFC 5649).
	n := priv.Size()
	if len(wrapped) <= n {
		return nil, errInvalidCiphertext()
	}
	aesKey, err := rsa.DecryptOAEP(h(), nil, priv, wrapped[:n], nil)
	if err != nil {
		return nil, errInvalidCiphertext()
	}
	defer clear(aesKey)
	switch len(aesKey) {
	case 16, 24, 32:
	default:
		return nil, errInvalidCiphertext()
	}
	m, err := keywrap.Unwrap(aesKey, wrapped[n:])
	if err != nil {
		return nil, errInvalidCiphertext()
	}
	return m, nil
}

// hmacImportSizes are the lengths AWS accepts for imported HMAC keys.
var hmacImportSizes = map[string][2]int{
	"HMAC_224": {28, 64}, "HMAC_256": {32, 64}, "HMAC_384": {48, 128}, "HMAC_512": {64, 128},
}

// checkMaterial checks that material fits k's spec and usage and returns its
// KeyMaterialId.
func checkMaterial(k *keyRecord, material []byte) (string, error) {
	const label = "strongroom/key-material-id/v1\x00"
	if size, ok := hmacImportSizes[k.Spec]; ok || k.Spec == SpecSymmetricDefault {
		if k.Spec == SpecSymmetricDefault && len(material) != 32 {
			return "", errIncorrectKeyMaterial("Key material for a SYMMETRIC_DEFAULT key must be 256 bits (32 bytes); got %d bytes.", len(material))
		}
		if ok && (len(material) < size[0] || len(material) > size[1]) {
			return "", errIncorrectKeyMaterial("Key material for an %s key must be %d to %d bytes; got %d bytes.", k.Spec, size[0], size[1], len(material))
		}
		mac := hmac.New(sha256.New, material)
		mac.Write([]byte(label + k.ID))
		return hex.EncodeToString(mac.Sum(nil)), nil
	}
	key, err := keyspec.Load(keyspec.Spec(k.Spec), keyspec.Usage(k.Usage), material)
	if err != nil {
		return "", errIncorrectKeyMaterial("The key material is not a valid %s private key (PKCS #8, DER).", k.Spec)
	}
	pub, err := key.PublicKeyDER()
	if err != nil {
		return "", errIncorrectKeyMaterial("The key material is not a valid %s private key (PKCS #8, DER).", k.Spec)
	}
	sum := sha256.Sum256([]byte(label + k.ID + "\x00" + string(pub)))
	return hex.EncodeToString(sum[:]), nil
}

// findMaterial returns the lifecycle record of the version whose material
// has id matID, if k has one.
func (k *keyRecord) findMaterial(matID string) (materialInfo, bool) {
	for _, v := range k.versions() {
		if mi := k.info(v); mi.ID != "" && subtle.ConstantTimeCompare([]byte(mi.ID), []byte(matID)) == 1 {
			return mi, true
		}
	}
	return materialInfo{}, false
}

// missingMaterial reports whether k lacks material it needs to be used: it
// has none at all, or some imported material associated with it (not
// merely pending rotation) has expired or been deleted.
func (k *keyRecord) missingMaterial() bool {
	if k.Current == 0 {
		return true
	}
	for _, mi := range k.MaterialInfo {
		if mi.Imported && !mi.PendingRotation && k.material(mi.Version) == nil {
			return true
		}
	}
	return k.material(k.Current) == nil
}

// newVersion assigns the next material version of k, never reusing one.
func (k *keyRecord) newVersion() uint32 {
	v := k.TopVersion
	for _, have := range k.versions() {
		v = max(v, have)
	}
	v = max(v, k.Current) + 1
	k.TopVersion = v
	return v
}

func expiryID(validTo int64, k *keyRecord, matID string) string {
	return fmt.Sprintf("%020d/%s/%s/%s/%s", validTo, k.Account, k.Region, k.ID, matID)
}

// setExpiry records mi's new expiration, moving its index entry.
func setExpiry(tx store.Tx, k *keyRecord, mi *materialInfo, model string, validTo int64) error {
	if mi.ValidTo != 0 {
		if err := tx.Delete(kindMaterialExpiry, "", expiryID(mi.ValidTo, k, mi.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	mi.ExpirationModel, mi.ValidTo = model, validTo
	if validTo != 0 {
		return tx.Put(kindMaterialExpiry, "", expiryID(validTo, k, mi.ID), nil)
	}
	return nil
}

// storeImported records imported material on k inside ImportKeyMaterial's
// transaction.
func (s *Service) storeImported(tx store.Tx, k *keyRecord, in *ImportKeyMaterialInput, material []byte, matID, model string, validTo int64, now time.Time) error {
	known, isKnown := k.findMaterial(matID)
	everImported := false
	for _, mi := range k.MaterialInfo {
		everImported = everImported || mi.Imported
	}
	importType := importExisting
	if !everImported {
		importType = importNew
	}
	if in.ImportType != nil {
		importType = *in.ImportType
	}
	if in.KeyMaterialId != nil && importType == importNew {
		return errValidation("You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.")
	}
	if !isKnown && k.MultiRegion {
		fam, ok, err := familyImport(tx, k, matID, everImported)
		if err != nil {
			return err
		}
		if ok {
			// Material a related key holds, new to this one: imported as
			// the family has it, whatever ImportType says.
			known, isKnown = fam, true
			importType = importExisting
		}
	}
	var mi materialInfo
	switch {
	case importType == importExisting && !isKnown:
		if !everImported {
			return errIncorrectKeyMaterial("%s has no key material to re-import: import it with ImportType NEW_KEY_MATERIAL.", k.arn())
		}
		return errIncorrectKeyMaterial("The key material is not the key material previously imported into %s.", k.arn())
	case importType == importExisting:
		mi = known
		if !mi.PendingRotation && mi.Version > k.Current {
			k.Current = mi.Version // a related key's current material
		}
	case isKnown:
		return errIncorrectKeyMaterial("The key material is already associated with %s; import it with ImportType EXISTING_KEY_MATERIAL.", k.arn())
	case everImported:
		// New material for an on-demand rotation (symmetric keys only:
		// others refuse ImportType earlier).
		for _, other := range k.MaterialInfo {
			if other.PendingRotation {
				return errInvalidState("%s already has key material pending rotation (%s): delete it before importing other new key material.", k.arn(), other.ID)
			}
		}
		mi = materialInfo{Version: k.newVersion(), ID: matID, Imported: true, PendingRotation: true}
	default:
		mi = materialInfo{Version: k.newVersion(), ID: matID, Imported: true}
		k.Current = mi.Version
	}
	if in.KeyMaterialDescription != nil {
		mi.Description = *in.KeyMaterialDescription
	}
	if k.material(mi.Version) == nil {
		sealed, err := s.sealer.Seal(material, materialAAD(k.Account, k.ID, mi.Version))
		if err != nil {
			return fmt.Errorf("kms: sealing key material: %w", err)
		}
		k.Materials = append(k.Materials, materialRecord{Version: mi.Version, ID: matID, Sealed: sealed, Created: now.Unix()})
	}
	if err := setExpiry(tx, k, &mi, model, validTo); err != nil {
		return err
	}
	k.setInfo(mi)
	if k.State == StatePendingImport && !k.missingMaterial() {
		k.State = StateEnabled
	}
	return nil
}

// rotateToPendingImport is RotateKeyOnDemand for a key with imported
// material, inside its transaction: the material imported as
// NEW_KEY_MATERIAL becomes current. On a multi-Region primary key every
// replica must hold that material too, and rotates with it
// (rotateFamilyImported); onDemand is the key's count of on-demand
// rotations, this one included, which the replicas take.
func (s *Service) rotateToPendingImport(tx store.Tx, k *keyRecord, now time.Time, onDemand int32) error {
	for _, mi := range k.MaterialInfo {
		if !mi.PendingRotation {
			continue
		}
		if k.material(mi.Version) == nil {
			break
		}
		if k.MultiRegion {
			if err := s.rotateFamilyImported(tx, k, mi, now, onDemand); err != nil {
				return err
			}
		}
		rotateInfo(k, mi, now)
		return nil
	}
	return errInvalidState("%s has no imported key material in PENDING_ROTATION state: import new key material (ImportType NEW_KEY_MATERIAL) before rotating it on demand.", k.arn())
}

// rotateInfo makes mi, k's material pending rotation, its current material.
func rotateInfo(k *keyRecord, mi materialInfo, now time.Time) {
	mi.PendingRotation = false
	mi.RotationType, mi.RotationDate = RotationOnDemand, now.Unix()
	k.setInfo(mi)
	k.Current = mi.Version
}

// DeleteImportedKeyMaterial deletes imported material (the current one, or
// the one KeyMaterialId names): its sealed bytes leave the store and the
// key becomes PendingImport (unless it is pending deletion) until the same
// material is imported again. Material pending rotation is simply
// discarded; a multi-Region primary key's is discarded from its replicas
// too (a replica's, from that replica alone).
func (s *Service) DeleteImportedKeyMaterial(ctx context.Context, c *Call, in *DeleteImportedKeyMaterialInput) (*DeleteImportedKeyMaterialOutput, error) {
	if in.KeyMaterialId != nil && !isMaterialID(*in.KeyMaterialId) {
		return nil, errValidation("1 validation error detected: Value '%s' at 'keyMaterialId' failed to satisfy constraint: Member must be 64 lowercase hexadecimal digits", *in.KeyMaterialId)
	}
	az := &authzReq{Action: "kms:DeleteImportedKeyMaterial"}
	deleted := ""
	var account, id string // the key's, to drop its material from the cache
	// The deletion and the call's record commit together (commitCall).
	out, err := mutateKeyCall(s, ctx, c, "DeleteImportedKeyMaterial", in.KeyId, az, func(tx store.Tx, k *keyRecord) error {
		deleted = ""
		if err := requireCustomerManaged(k, az.Action); err != nil {
			return err
		}
		if err := requireExternal(k); err != nil {
			return err
		}
		var mi materialInfo
		if in.KeyMaterialId != nil {
			if k.Spec != SpecSymmetricDefault {
				return errValidation("KeyMaterialId can only be used with symmetric encryption KMS keys.")
			}
			found, ok := k.findMaterial(*in.KeyMaterialId)
			if !ok {
				return errNotFound("Key material %s is not associated with %s.", *in.KeyMaterialId, k.arn())
			}
			mi = found
		} else {
			if k.Current == 0 {
				return nil // nothing imported yet: no effect
			}
			mi = k.info(k.Current)
		}
		deleted = mi.ID
		if err := setExpiry(tx, k, &mi, "", 0); err != nil {
			return err
		}
		k.dropMaterial(mi.Version)
		if mi.PendingRotation {
			k.dropInfo(mi.Version)
			// A multi-Region primary's pending material leaves its
			// replicas with it, as in AWS.
			return dropFamilyPending(tx, k, mi)
		}
		k.setInfo(mi)
		if k.State != StatePendingDeletion {
			k.State = StatePendingImport
		}
		return nil
	}, func(k *keyRecord) *DeleteImportedKeyMaterialOutput {
		account, id = k.Account, k.ID
		return &DeleteImportedKeyMaterialOutput{KeyId: k.arn(), KeyMaterialId: deleted}
	})
	if err != nil {
		return nil, err
	}
	s.cache.forget(account, id)
	return out, nil
}

// dropMaterial removes the sealed material of version v.
func (k *keyRecord) dropMaterial(v uint32) {
	for i := range k.Materials {
		if k.Materials[i].Version == v {
			k.Materials = append(k.Materials[:i], k.Materials[i+1:]...)
			return
		}
	}
}

// dropInfo removes the lifecycle record of version v.
func (k *keyRecord) dropInfo(v uint32) {
	for i := range k.MaterialInfo {
		if k.MaterialInfo[i].Version == v {
			k.MaterialInfo = append(k.MaterialInfo[:i], k.MaterialInfo[i+1:]...)
			return
		}
	}
}

// ExpireImportedMaterial deletes every imported material whose ValidTo has
// passed (the key returns to PendingImport, or stays PendingDeletion) and
// purges expired import parameters. It returns the ARNs of the keys that
// lost material. It is safe to run concurrently on several nodes sharing a
// store: each expiry is checked against the material's stored ValidTo in
// the transaction that performs it.
func (s *Service) ExpireImportedMaterial(ctx context.Context) ([]string, error) {
	var expired []string
	for {
		var batch []string
		var forget []*keyRecord
		removed := 0
		err := s.update(ctx, func(tx store.Tx) error {
			batch, forget, removed = batch[:0], forget[:0], 0
			now := s.clock.Now().Unix()
			items, err := tx.List(kindMaterialExpiry, "", "", 100)
			if err != nil {
				return err
			}
			for _, it := range items {
				when, account, region, id, err := parseDueID(it.ID)
				if err != nil {
					return err
				}
				if when > now {
					break
				}
				err = tx.Delete(kindMaterialExpiry, "", it.ID)
				removed++
				if errors.Is(err, store.ErrNotFound) {
					continue // removed in this batch, with a primary's pending material
				}
				if err != nil {
					return err
				}
				matID := it.ID[strings.LastIndexByte(it.ID, '/')+1:]
				k, err := getKey(tx, account, region, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				mi, ok := k.findMaterial(matID)
				if !ok || mi.ValidTo != when || k.material(mi.Version) == nil {
					continue // re-imported with another expiry, or deleted
				}
				k.dropMaterial(mi.Version)
				if mi.PendingRotation {
					k.dropInfo(mi.Version)
					// As DeleteImportedKeyMaterial: a primary's pending
					// material leaves its replicas too.
					if err := dropFamilyPending(tx, k, mi); err != nil {
						return err
					}
				} else if k.State != StatePendingDeletion {
					k.State = StatePendingImport
				}
				if err := putKey(tx, k); err != nil {
					return err
				}
				batch = append(batch, k.arn())
				forget = append(forget, k)
			}
			return nil
		})
		if err != nil {
			return expired, err
		}
		for i, k := range forget {
			s.cache.forget(k.Account, k.ID)
			s.log.Info("imported key material expired and was deleted", "key", batch[i])
		}
		expired = append(expired, batch...)
		if removed < 100 {
			break
		}
	}
	return expired, s.purgeImportParams(ctx)
}

// purgeImportParams deletes import parameters whose 24 hours have passed.
func (s *Service) purgeImportParams(ctx context.Context) error {
	for {
		removed := 0
		err := s.update(ctx, func(tx store.Tx) error {
			removed = 0
			now := s.clock.Now().Unix()
			items, err := tx.List(kindImportParams, "", "", 100)
			if err != nil {
				return err
			}
			for _, it := range items {
				when, _, _, _, err := parseDueID(it.ID)
				if err != nil {
					return err
				}
				if when > now {
					break
				}
				if err := tx.Delete(kindImportParams, "", it.ID); err != nil {
					return err
				}
				removed++
			}
			return nil
		})
		if err != nil || removed < 100 {
			return err
		}
	}
}

// lifecycleMetadata adds to DescribeKey's metadata what the lifecycle
// knows: for keys with imported material, the expiration model and the
// earliest ValidTo of the material associated with the key, and the current
// material id even while that material is deleted.
func (k *keyRecord) lifecycleMetadata(m *KeyMetadata) {
	if m.CurrentKeyMaterialId == "" && k.Current != 0 {
		m.CurrentKeyMaterialId = k.info(k.Current).ID
	}
	if k.Origin != OriginExternal {
		return
	}
	var earliest int64
	for _, mi := range k.MaterialInfo {
		if !mi.Imported || mi.PendingRotation || k.material(mi.Version) == nil {
			continue
		}
		switch mi.ExpirationModel {
		case MaterialExpires:
			m.ExpirationModel = MaterialExpires
			if earliest == 0 || mi.ValidTo < earliest {
				earliest = mi.ValidTo
			}
		case MaterialDoesNotExpire:
			if m.ExpirationModel == "" {
				m.ExpirationModel = MaterialDoesNotExpire
			}
		}
	}
	if earliest != 0 {
		m.ValidTo = tp(time.Unix(earliest, 0).UTC())
	}
}
