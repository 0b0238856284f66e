package kms

import (
	"strconv"
	"time"
)

// The request and response shapes of the KMS API. Field names and JSON names
// are AWS's, so the JSON layer decodes into them directly and the console and
// CLI build them by hand; nothing here knows about HTTP.

// Time is a timestamp that travels as epoch seconds, as AWS JSON 1.1 does.
type Time struct{ time.Time }

// MarshalJSON encodes t as epoch seconds with millisecond precision.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON decodes epoch seconds (integer or fractional).
func (t *Time) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	t.Time = time.UnixMilli(int64(f * 1000)).UTC()
	return nil
}

func tp(t time.Time) *Time { return &Time{t} }

// Tag is a key tag.
type Tag struct {
	TagKey   string
	TagValue string
}

// KeyMetadata describes a KMS key, as DescribeKey returns it.
type KeyMetadata struct {
	AWSAccountId                string
	KeyId                       string
	Arn                         string
	CreationDate                *Time
	Enabled                     bool
	Description                 string
	KeyUsage                    string
	KeyState                    string
	DeletionDate                *Time `json:",omitempty"`
	ValidTo                     *Time `json:",omitempty"`
	Origin                      string
	ExpirationModel             string `json:",omitempty"`
	KeyManager                  string
	CustomerMasterKeySpec       string
	KeySpec                     string
	EncryptionAlgorithms        []string                  `json:",omitempty"`
	SigningAlgorithms           []string                  `json:",omitempty"`
	KeyAgreementAlgorithms      []string                  `json:",omitempty"`
	MacAlgorithms               []string                  `json:",omitempty"`
	MultiRegion                 bool                      `json:"MultiRegion"`
	MultiRegionConfiguration    *MultiRegionConfiguration `json:",omitempty"`
	PendingDeletionWindowInDays int32                     `json:",omitempty"`
	CurrentKeyMaterialId        string                    `json:",omitempty"`
}

// MultiRegionConfiguration describes a multi-Region key's family.
type MultiRegionConfiguration struct {
	MultiRegionKeyType string
	PrimaryKey         *MultiRegionKey
	ReplicaKeys        []MultiRegionKey
}

// MultiRegionKey names one key of a multi-Region family.
type MultiRegionKey struct {
	Arn    string
	Region string
}

type CreateKeyInput struct {
	Policy                         *string
	Description                    *string
	KeyUsage                       *string
	CustomerMasterKeySpec          *string
	KeySpec                        *string
	Origin                         *string
	CustomKeyStoreId               *string
	BypassPolicyLockoutSafetyCheck bool
	Tags                           []Tag
	MultiRegion                    bool
	XksKeyId                       *string
}

type CreateKeyOutput struct {
	KeyMetadata *KeyMetadata
}

type KeyInput struct {
	KeyId       string
	GrantTokens []string `json:",omitempty"`
}

type DescribeKeyOutput struct {
	KeyMetadata *KeyMetadata
}

type ListKeysInput struct {
	Limit  *int32
	Marker *string
}

type KeyListEntry struct {
	KeyId  string
	KeyArn string
}

type ListKeysOutput struct {
	Keys       []KeyListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type ScheduleKeyDeletionInput struct {
	KeyId               string
	PendingWindowInDays *int32
}

type ScheduleKeyDeletionOutput struct {
	KeyId               string
	DeletionDate        *Time
	KeyState            string
	PendingWindowInDays int32
}

type CancelKeyDeletionOutput struct {
	KeyId string
}

type UpdateKeyDescriptionInput struct {
	KeyId       string
	Description string
}

type EncryptInput struct {
	KeyId               string
	Plaintext           []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	EncryptionAlgorithm *string
	DryRun              bool
}

type EncryptOutput struct {
	CiphertextBlob      []byte
	KeyId               string
	EncryptionAlgorithm string
}

type DecryptInput struct {
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	KeyId               *string
	EncryptionAlgorithm *string
	Recipient           *RecipientInfo
	DryRun              bool
}

// RecipientInfo is the Nitro Enclaves attestation parameter; Strongroom has
// no enclaves and refuses it.
type RecipientInfo struct {
	KeyEncryptionAlgorithm *string
	AttestationDocument    []byte
}

type DecryptOutput struct {
	KeyId               string
	Plaintext           []byte
	EncryptionAlgorithm string
	KeyMaterialId       string `json:",omitempty"`
}

type ReEncryptInput struct {
	CiphertextBlob                 []byte
	SourceEncryptionContext        map[string]string
	SourceKeyId                    *string
	DestinationKeyId               string
	DestinationEncryptionContext   map[string]string
	SourceEncryptionAlgorithm      *string
	DestinationEncryptionAlgorithm *string
	GrantTokens                    []string
	DryRun                         bool
}

type ReEncryptOutput struct {
	CiphertextBlob                 []byte
	SourceKeyId                    string
	KeyId                          string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
	SourceKeyMaterialId            string `json:",omitempty"`
	DestinationKeyMaterialId       string `json:",omitempty"`
}

type GenerateDataKeyInput struct {
	KeyId             string
	EncryptionContext map[string]string
	NumberOfBytes     *int32
	KeySpec           *string
	GrantTokens       []string
	Recipient         *RecipientInfo
	DryRun            bool
}

type GenerateDataKeyOutput struct {
	CiphertextBlob []byte
	Plaintext      []byte `json:",omitempty"`
	KeyId          string
	KeyMaterialId  string `json:",omitempty"`
}

type GenerateRandomInput struct {
	NumberOfBytes    *int32
	CustomKeyStoreId *string
	Recipient        *RecipientInfo
}

type GenerateRandomOutput struct {
	Plaintext []byte
}

type CreateAliasInput struct {
	AliasName   string
	TargetKeyId string
}

type DeleteAliasInput struct {
	AliasName string
}

type ListAliasesInput struct {
	KeyId  *string
	Limit  *int32
	Marker *string
}

type AliasListEntry struct {
	AliasName       string
	AliasArn        string
	TargetKeyId     string `json:",omitempty"`
	CreationDate    *Time  `json:",omitempty"`
	LastUpdatedDate *Time  `json:",omitempty"`
}

type ListAliasesOutput struct {
	Aliases    []AliasListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type TagResourceInput struct {
	KeyId string
	Tags  []Tag
}

type UntagResourceInput struct {
	KeyId   string
	TagKeys []string
}

type ListResourceTagsInput struct {
	KeyId  string
	Limit  *int32
	Marker *string
}

type ListResourceTagsOutput struct {
	Tags       []Tag
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type GetKeyPolicyInput struct {
	KeyId      string
	PolicyName *string
}

type GetKeyPolicyOutput struct {
	Policy     string
	PolicyName string
}

type ListKeyPoliciesInput struct {
	KeyId  string
	Limit  *int32
	Marker *string
}

type ListKeyPoliciesOutput struct {
	PolicyNames []string
	NextMarker  string `json:",omitempty"`
	Truncated   bool
}

type PutKeyPolicyInput struct {
	KeyId                          string
	PolicyName                     *string
	Policy                         string
	BypassPolicyLockoutSafetyCheck bool
}

// Empty is the response of operations that return nothing.
type Empty struct{}

type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:",omitempty"`
	EncryptionContextEquals map[string]string `json:",omitempty"`
}

type CreateGrantInput struct {
	KeyId             string
	GranteePrincipal  string
	RetiringPrincipal *string
	Operations        []string
	Constraints       *GrantConstraints
	GrantTokens       []string
	Name              *string
	DryRun            bool
}

type CreateGrantOutput struct {
	GrantToken string
	GrantId    string
}

type ListGrantsInput struct {
	Limit            *int32
	Marker           *string
	KeyId            string
	GrantId          *string
	GranteePrincipal *string
}

type ListRetirableGrantsInput struct {
	Limit             *int32
	Marker            *string
	RetiringPrincipal string
}

type GrantListEntry struct {
	KeyId             string
	GrantId           string
	Name              string `json:",omitempty"`
	CreationDate      *Time
	GranteePrincipal  string
	RetiringPrincipal string `json:",omitempty"`
	IssuingAccount    string
	Operations        []string
	Constraints       *GrantConstraints `json:",omitempty"`
}

type ListGrantsOutput struct {
	Grants     []GrantListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type RetireGrantInput struct {
	GrantToken *string
	KeyId      *string
	GrantId    *string
	DryRun     bool
}

type RevokeGrantInput struct {
	KeyId   string
	GrantId string
	DryRun  bool
}
