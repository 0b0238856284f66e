package kms

// The request and response shapes of the asymmetric and HMAC operations,
// with AWS's member names (see types.go for the conventions). GetPublicKey
// takes a KeyInput.

type GetPublicKeyOutput struct {
	KeyId                  string
	PublicKey              []byte
	CustomerMasterKeySpec  string `json:",omitempty"`
	KeySpec                string
	KeyUsage               string
	EncryptionAlgorithms   []string `json:",omitempty"`
	SigningAlgorithms      []string `json:",omitempty"`
	KeyAgreementAlgorithms []string `json:",omitempty"`
}

type SignInput struct {
	KeyId            string
	Message          []byte
	MessageType      *string
	GrantTokens      []string
	SigningAlgorithm string
	DryRun           bool
}

type SignOutput struct {
	KeyId            string
	Signature        []byte
	SigningAlgorithm string
}

type VerifyInput struct {
	KeyId            string
	Message          []byte
	MessageType      *string
	Signature        []byte
	SigningAlgorithm string
	GrantTokens      []string
	DryRun           bool
}

type VerifyOutput struct {
	KeyId            string
	SignatureValid   bool
	SigningAlgorithm string
}

type GenerateMacInput struct {
	Message      []byte
	KeyId        string
	MacAlgorithm string
	GrantTokens  []string
	DryRun       bool
}

type GenerateMacOutput struct {
	Mac          []byte
	MacAlgorithm string
	KeyId        string
}

type VerifyMacInput struct {
	Message      []byte
	KeyId        string
	MacAlgorithm string
	Mac          []byte
	GrantTokens  []string
	DryRun       bool
}

type VerifyMacOutput struct {
	KeyId        string
	MacValid     bool
	MacAlgorithm string
}

type DeriveSharedSecretInput struct {
	KeyId                 string
	KeyAgreementAlgorithm string
	PublicKey             []byte
	GrantTokens           []string
	DryRun                bool
	Recipient             *RecipientInfo
}

type DeriveSharedSecretOutput struct {
	KeyId                 string
	SharedSecret          []byte
	KeyAgreementAlgorithm string
	KeyOrigin             string
}

// GenerateDataKeyPairInput is the input of GenerateDataKeyPair and of
// GenerateDataKeyPairWithoutPlaintext (which has no Recipient).
type GenerateDataKeyPairInput struct {
	EncryptionContext map[string]string
	KeyId             string
	KeyPairSpec       string
	GrantTokens       []string
	Recipient         *RecipientInfo
	DryRun            bool
}

// GenerateDataKeyPairOutput is the output of GenerateDataKeyPair and of
// GenerateDataKeyPairWithoutPlaintext (which has no PrivateKeyPlaintext).
type GenerateDataKeyPairOutput struct {
	PrivateKeyCiphertextBlob []byte
	PrivateKeyPlaintext      []byte `json:",omitempty"`
	PublicKey                []byte
	KeyId                    string
	KeyPairSpec              string
	KeyMaterialId            string `json:",omitempty"`
}
