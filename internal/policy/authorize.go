package policy

// Reason names the rule that decided an authorization, for tests, audit
// records and the AccessDeniedException message.
type Reason string

// The rules of KMS authorization, in the order Authorize applies them.
const (
	// ReasonKeyPolicyDeny: a Deny statement of the key policy applies.
	ReasonKeyPolicyDeny Reason = "explicit deny in the key policy"
	// ReasonIdentityDeny: a Deny statement of an identity policy applies.
	ReasonIdentityDeny Reason = "explicit deny in an identity-based policy"
	// ReasonKeyPolicy: the key policy allows the caller itself (named, or
	// its root, or "*"); for a principal of another account other than its
	// root, see ReasonCrossAccount instead.
	ReasonKeyPolicy Reason = "the key policy allows the principal"
	// ReasonIAMDelegation: the key policy allows the key's account (its
	// root), which delegates to IAM, and an identity policy of the caller,
	// in that account, allows.
	ReasonIAMDelegation Reason = "the key policy allows the account and an identity-based policy allows the principal"
	// ReasonCrossAccount: the caller is in another account; the key policy
	// allows it or its account, and its own identity policies allow too.
	ReasonCrossAccount Reason = "cross-account: the key policy and an identity-based policy of the caller both allow"
	// ReasonGrant: a grant allows the request.
	ReasonGrant Reason = "a grant allows the request"
	// ReasonNoKeyPolicyAllow: implicit deny; the key policy allows neither
	// the caller nor its account, and no grant allows.
	ReasonNoKeyPolicyAllow Reason = "no statement of the key policy allows the principal"
	// ReasonNoIdentityAllow: implicit deny; the key policy lets the caller
	// in only with an identity policy's Allow (delegation to IAM, or a
	// cross-account caller), and none allows. For operations without a key,
	// no identity policy allows.
	ReasonNoIdentityAllow Reason = "no identity-based policy allows the action"
	// ReasonRoot: an operation without a key, by an account's root user.
	ReasonRoot Reason = "the account's root user"
	// ReasonIdentityAllows: an operation without a key, allowed by an
	// identity policy.
	ReasonIdentityAllows Reason = "an identity-based policy allows the action"
)

// Decision is the result of Authorize or AuthorizeIdentity.
type Decision struct {
	Allowed bool
	// Reason is the rule that decided.
	Reason Reason
	// Sid is the Sid of the statement that decided, when the decision rests
	// on one statement that has a Sid: the Deny statement, or the allowing
	// statement of the key policy (of the identity policy for
	// AuthorizeIdentity).
	Sid string
}

// KeyAccess is what Authorize needs to know about the key and the caller.
type KeyAccess struct {
	// KeyAccount is the account that owns the key.
	KeyAccount string
	// KeyPolicy is the key's policy; nil allows nothing.
	KeyPolicy *Policy
	// IdentityPolicies are the caller's identity policies: a user's inline
	// and attached policies, or the role's for an assumed-role session.
	// Empty for a root user.
	IdentityPolicies []*Policy
	// GrantAllows says that the caller has found a grant allowing this
	// request (its grantee, operation and constraints).
	GrantAllows bool
}

// Authorize decides a request on a KMS key, following AWS KMS:
//
//  1. A Deny in the key policy or in any identity policy denies.
//  2. The key policy allows the caller itself: allowed — unless the caller
//     is in another account and is not that account's root, in which case
//     its identity policies must allow too (both sides of a cross-account
//     request must agree).
//  3. The key policy allows the caller's account (its root) rather than the
//     caller: allowed if an identity policy of the caller allows. For the
//     key's own account this is the "Enable IAM User Permissions" statement:
//     without it, identity policies count for nothing.
//  4. A grant allows: allowed.
//  5. Otherwise denied.
//
// The root user is not exempt: if the key policy allows neither root nor
// "*", root is denied like anyone else. A service principal has no identity
// policies: the key policy alone decides for it.
//
// Authorize panics if KeyPolicy is not a key policy or an identity policy is
// not an identity policy: that is a wiring mistake, not a request to deny.
func Authorize(a KeyAccess, req *Request) Decision {
	if a.KeyPolicy != nil && a.KeyPolicy.kind != KindKey {
		panic("policy: Authorize: KeyPolicy is an " + a.KeyPolicy.kind.String())
	}
	mustBeIdentity("Authorize", a.IdentityPolicies)
	key := a.KeyPolicy.eval(req)
	if key.deny != 0 {
		return Decision{Reason: ReasonKeyPolicyDeny, Sid: a.KeyPolicy.sid(key.deny)}
	}
	idAllow := false
	for _, ip := range a.IdentityPolicies {
		o := ip.eval(req)
		if o.deny != 0 {
			return Decision{Reason: ReasonIdentityDeny, Sid: ip.sid(o.deny)}
		}
		if o.allowDirect != 0 {
			idAllow = true
		}
	}
	p := &req.Principal
	sameAccount := p.Account != "" && p.Account == a.KeyAccount
	if key.allowDirect != 0 {
		sid := a.KeyPolicy.sid(key.allowDirect)
		if sameAccount || p.isRoot() || p.Type == TypeAWSService {
			return Decision{Allowed: true, Reason: ReasonKeyPolicy, Sid: sid}
		}
		if idAllow {
			return Decision{Allowed: true, Reason: ReasonCrossAccount, Sid: sid}
		}
	}
	if key.allowAccount != 0 && idAllow {
		sid := a.KeyPolicy.sid(key.allowAccount)
		if sameAccount {
			return Decision{Allowed: true, Reason: ReasonIAMDelegation, Sid: sid}
		}
		return Decision{Allowed: true, Reason: ReasonCrossAccount, Sid: sid}
	}
	if a.GrantAllows {
		return Decision{Allowed: true, Reason: ReasonGrant}
	}
	if key.allowDirect != 0 || key.allowAccount != 0 {
		return Decision{Reason: ReasonNoIdentityAllow}
	}
	return Decision{Reason: ReasonNoKeyPolicyAllow}
}

// AuthorizeIdentity decides a request that involves no key (CreateKey,
// ListKeys, ListAliases, GenerateRandom, …): a Deny in an identity policy
// denies; otherwise the root user is allowed, and anyone else needs an
// identity policy's Allow. It panics if a policy is not an identity policy.
func AuthorizeIdentity(identity []*Policy, req *Request) Decision {
	mustBeIdentity("AuthorizeIdentity", identity)
	allowSid, allowed := "", false
	for _, ip := range identity {
		o := ip.eval(req)
		if o.deny != 0 {
			return Decision{Reason: ReasonIdentityDeny, Sid: ip.sid(o.deny)}
		}
		if o.allowDirect != 0 && !allowed {
			allowed, allowSid = true, ip.sid(o.allowDirect)
		}
	}
	if req.Principal.isRoot() {
		return Decision{Allowed: true, Reason: ReasonRoot}
	}
	if allowed {
		return Decision{Allowed: true, Reason: ReasonIdentityAllows, Sid: allowSid}
	}
	return Decision{Reason: ReasonNoIdentityAllow}
}

func mustBeIdentity(fn string, ps []*Policy) {
	for _, p := range ps {
		if p != nil && p.kind != KindIdentity {
			panic("policy: " + fn + ": an identity policy is a " + p.kind.String())
		}
	}
}

// sid returns the Sid of statement i-1 (outcome indices are 1-based).
func (p *Policy) sid(i int) string {
	if p == nil || i < 1 || i > len(p.stmts) {
		return ""
	}
	return p.stmts[i-1].sid
}

// DenyMessage returns the text of the AccessDeniedException for a denied
// request, in AWS's words:
//
//	User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:us-east-1:111122223333:key/… because no resource-based policy allows the kms:Encrypt action
//
// It names the kind of policy that denied (resource-based for the key
// policy, identity-based otherwise) but never the statement. For an allowed
// decision it returns "".
func DenyMessage(req *Request, d Decision) string {
	if d.Allowed {
		return ""
	}
	m := "User: " + req.Principal.ARN + " is not authorized to perform: " + req.Action
	if req.Resource != "" {
		m += " on resource: " + req.Resource
	}
	switch d.Reason {
	case ReasonKeyPolicyDeny:
		return m + " with an explicit deny in a resource-based policy"
	case ReasonIdentityDeny:
		return m + " with an explicit deny in an identity-based policy"
	case ReasonNoIdentityAllow:
		return m + " because no identity-based policy allows the " + req.Action + " action"
	default:
		return m + " because no resource-based policy allows the " + req.Action + " action"
	}
}
