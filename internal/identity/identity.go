// Package identity owns who a caller is, and is Strongroom's IAM and STS
// core: accounts, principals (an account's root, IAM users, assumed-role
// sessions), IAM users and roles with their inline identity policies and
// trust policies, long-term access keys, and STS sessions.
//
// Guarantees:
//   - Secret access keys (long-term and temporary) are stored only sealed
//     under the root of trust, bound to their access key id, and unsealed
//     only to verify a SigV4 signature. A secret is returned once, by the
//     call that creates it; types that carry one print it as REDACTED.
//     Session tokens are stored only as a SHA-256 and compared in constant
//     time.
//   - Every method that takes a Caller authorizes it with the policy
//     engine before it reads or changes anything it reveals: an account's
//     root may do anything in its account, anyone else needs an identity
//     policy's Allow and no Deny. AssumeRole follows STS's rules for trust
//     policies. Errors meant for the client are *Error values carrying the
//     IAM/STS query-protocol code; anything else is an internal fault.
//   - Everything lives in the store, so it survives a restart and is shared
//     by every node using the same store. What sits on the request path
//     (Lookup, LookupSession, IdentityPolicies) is cached for at most a
//     second of wall-clock time, and a change made through a Directory
//     drops its own cache at once; other nodes see it within the second.
//   - Session expiry is decided by the service clock.
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
