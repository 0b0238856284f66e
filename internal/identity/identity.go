// Package identity owns who a caller is: accounts, principals (the account
// root, IAM users, assumed-role sessions) and their access keys. Secret
// access keys are stored sealed under the root of trust and are only
// unsealed to verify a SigV4 signature.
package identity

import "strongroom/internal/policy"

// Principal types, as CloudTrail's userIdentity.type names them.
const (
	TypeRoot        = "Root"
	TypeIAMUser     = "IAMUser"
	TypeAssumedRole = "AssumedRole"
	TypeAWSService  = "AWSService"
)

// Principal is an authenticated caller.
type Principal struct {
	Account     string
	ARN         string
	Type        string
	Name        string // user name, or role session name
	RoleARN     string // for assumed-role sessions: the role
	PrincipalID string // AIDA…/AROA…:session, or the account id for root
	AccessKeyID string
}

// Root returns the root principal of account.
func Root(account string) Principal {
	return Principal{
		Account:     account,
		ARN:         "arn:aws:iam::" + account + ":root",
		Type:        TypeRoot,
		PrincipalID: account,
	}
}

// IsRoot reports whether p is an account root.
func (p Principal) IsRoot() bool { return p.Type == TypeRoot }

// Caller is who makes an IAM or STS request and from where: what the
// conditions of identity and trust policies can see.
type Caller struct {
	Principal       Principal
	SourceIP        string
	SecureTransport bool
}

// ForPolicy returns p as the policy engine sees it.
func (p Principal) ForPolicy() policy.Principal {
	pp := policy.Principal{Account: p.Account, ARN: p.ARN, RoleARN: p.RoleARN, Type: p.Type}
	if p.Type == TypeIAMUser {
		pp.UserName = p.Name
	}
	return pp
}
