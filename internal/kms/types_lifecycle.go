package kms

// The request and response shapes of the lifecycle operations — rotation
// and imported key material — with AWS's member names (see types.go for the
// conventions). DisableKeyRotation, GetKeyRotationStatus and
// RotateKeyOnDemand take a KeyInput.

type EnableKeyRotationInput struct {
	KeyId                string
	RotationPeriodInDays *int32
}

type GetKeyRotationStatusOutput struct {
	KeyRotationEnabled        bool
	KeyId                     string
	RotationPeriodInDays      *int32 `json:",omitempty"`
	NextRotationDate          *Time  `json:",omitempty"`
	OnDemandRotationStartDate *Time  `json:",omitempty"`
}

type RotateKeyOnDemandOutput struct {
	KeyId string
}

type ListKeyRotationsInput struct {
	KeyId              string
	IncludeKeyMaterial *string
	Limit              *int32
	Marker             *string
}

// RotationsListEntry describes one key material of a key, as
// ListKeyRotations returns it.
type RotationsListEntry struct {
	KeyId                  string
	KeyMaterialId          string `json:",omitempty"`
	KeyMaterialDescription string `json:",omitempty"`
	ImportState            string `json:",omitempty"`
	KeyMaterialState       string `json:",omitempty"`
	ExpirationModel        string `json:",omitempty"`
	ValidTo                *Time  `json:",omitempty"`
	RotationDate           *Time  `json:",omitempty"`
	RotationType           string `json:",omitempty"`
}

type ListKeyRotationsOutput struct {
	Rotations  []RotationsListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

type GetParametersForImportInput struct {
	KeyId             string
	WrappingAlgorithm string
	WrappingKeySpec   string
}

type GetParametersForImportOutput struct {
	KeyId             string
	ImportToken       []byte
	PublicKey         []byte
	ParametersValidTo *Time
}

type ImportKeyMaterialInput struct {
	KeyId                  string
	ImportToken            []byte
	EncryptedKeyMaterial   []byte
	ValidTo                *Time
	ExpirationModel        *string
	ImportType             *string
	KeyMaterialDescription *string
	KeyMaterialId          *string
}

type ImportKeyMaterialOutput struct {
	KeyId         string
	KeyMaterialId string `json:",omitempty"`
}

type DeleteImportedKeyMaterialInput struct {
	KeyId         string
	KeyMaterialId *string
}

type DeleteImportedKeyMaterialOutput struct {
	KeyId         string
	KeyMaterialId string `json:",omitempty"`
}
