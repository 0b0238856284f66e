package kms

// The request and response shapes of the multi-Region key operations, with
// AWS's member names (see types.go for the conventions). UpdatePrimaryRegion
// answers an Empty.

type ReplicateKeyInput struct {
	KeyId                          string
	ReplicaRegion                  string
	Policy                         *string
	BypassPolicyLockoutSafetyCheck bool
	Description                    *string
	Tags                           []Tag
}

type ReplicateKeyOutput struct {
	ReplicaKeyMetadata *KeyMetadata
	ReplicaPolicy      string
	ReplicaTags        []Tag
}

type UpdatePrimaryRegionInput struct {
	KeyId         string
	PrimaryRegion string
}
