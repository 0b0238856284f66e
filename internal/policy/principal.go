package policy

import "strings"

// Principal types, the values of Principal.Type.
const (
	TypeRoot        = "Root"        // an account's root user
	TypeIAMUser     = "IAMUser"     // an IAM user
	TypeAssumedRole = "AssumedRole" // a session of an assumed role
	TypeAWSService  = "AWSService"  // a service principal; ARN holds its name, e.g. "logs.amazonaws.com"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	// Account is the 12-digit account the caller belongs to (empty for a
	// service principal).
	Account string
	// ARN identifies the caller: arn:aws:iam::111122223333:root,
	// arn:aws:iam::111122223333:user/bob,
	// arn:aws:sts::111122223333:assumed-role/R/session. For a service
	// principal it is the service name, e.g. "logs.amazonaws.com".
	ARN string
	// RoleARN is, for an assumed-role session, the role's ARN
	// (arn:aws:iam::111122223333:role/R, with its path if it has one).
	RoleARN string
	// Type is one of TypeRoot, TypeIAMUser, TypeAssumedRole, TypeAWSService.
	Type string
	// UserName is an IAM user's name: the value of ${aws:username}.
	UserName string
}

func (p *Principal) isRoot() bool { return p.Type == TypeRoot }

// principal entry kinds
type peKind uint8

const (
	peAny       peKind = iota // "*" or {"AWS":"*"}
	peAccount                 // "111122223333" or arn:aws:iam::111122223333:root
	peARN                     // a user, an assumed-role session, a federated user: exact
	peRole                    // arn:aws:iam::A:role/R: the role and its sessions
	peService                 // {"Service": "logs.amazonaws.com"}
	peFederated               // {"Federated": ...}: never matches a Strongroom principal
)

type principalEntry struct {
	kind peKind
	val  string // account id, ARN, or service name
}

// principal match results
type pmatch uint8

const (
	pmNone    pmatch = iota
	pmDirect         // the principal itself is named (or "*", or NotPrincipal spares it not)
	pmAccount        // only the principal's account is named, and it is not the root
)

// parsePrincipalValue compiles one value of the "AWS" principal type.
func parseAWSPrincipal(v string) (principalEntry, bool) {
	if v == "*" {
		return principalEntry{kind: peAny}, true
	}
	if isAccountID(v) {
		return principalEntry{kind: peAccount, val: v}, true
	}
	// arn:partition:service::account:resource
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[3] != "" || !isAccountID(parts[4]) {
		return principalEntry{}, false
	}
	if strings.ContainsAny(v, "*?") {
		return principalEntry{}, false
	}
	acct, res := parts[4], parts[5]
	switch parts[2] {
	case "iam":
		switch {
		case res == "root":
			return principalEntry{kind: peAccount, val: acct}, true
		case validPathName(res, "user/"):
			return principalEntry{kind: peARN, val: v}, true
		case validPathName(res, "role/"):
			return principalEntry{kind: peRole, val: v}, true
		}
	case "sts":
		if r, ok := strings.CutPrefix(res, "assumed-role/"); ok {
			role, session, ok := strings.Cut(r, "/")
			if ok && role != "" && session != "" && !strings.Contains(session, "/") {
				return principalEntry{kind: peARN, val: v}, true
			}
		}
		if n, ok := strings.CutPrefix(res, "federated-user/"); ok && n != "" {
			return principalEntry{kind: peARN, val: v}, true
		}
	}
	return principalEntry{}, false
}

// validPathName reports whether res is prefix + optional path + name, as in
// "user/bob" or "role/division/app".
func validPathName(res, prefix string) bool {
	rest, ok := strings.CutPrefix(res, prefix)
	if !ok || rest == "" || strings.HasSuffix(rest, "/") || strings.Contains(rest, "//") {
		return false
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matches reports whether entry e names principal p. An account entry names
// that account's root directly; any other principal of the account only
// through the account (pmAccount), which Authorize turns into delegation to
// IAM and a Deny statement treats as a match.
func (e *principalEntry) matches(p *Principal) pmatch {
	switch e.kind {
	case peAny:
		return pmDirect
	case peAccount:
		if p.Account != e.val || p.Type == TypeAWSService {
			return pmNone
		}
		if p.isRoot() {
			return pmDirect
		}
		return pmAccount
	case peARN:
		if p.Type != TypeAWSService && p.ARN == e.val {
			return pmDirect
		}
	case peRole:
		if p.Type == TypeAssumedRole && p.RoleARN == e.val {
			return pmDirect
		}
	case peService:
		if p.Type == TypeAWSService && strings.EqualFold(p.ARN, e.val) {
			return pmDirect
		}
	}
	return pmNone
}

// matchPrincipals is the Principal element: the best match over the entries.
func matchPrincipals(entries []principalEntry, p *Principal) pmatch {
	best := pmNone
	for i := range entries {
		switch entries[i].matches(p) {
		case pmDirect:
			return pmDirect
		case pmAccount:
			best = pmAccount
		}
	}
	return best
}

// matchNotPrincipals is the NotPrincipal element. As in AWS, a request is
// made by several identities at once — the account and the user, or the
// account and the role session — and the statement spares the caller only
// if every one of them is listed. Naming a user without its account, or a
// role without the session's ARN, spares nobody.
func matchNotPrincipals(entries []principalEntry, p *Principal) pmatch {
	listed := func(kind peKind, val string) bool {
		for i := range entries {
			e := &entries[i]
			if e.kind == peAny || (e.kind == kind && (e.val == val || (kind == peService && strings.EqualFold(e.val, val)))) {
				return true
			}
		}
		return false
	}
	var spared bool
	switch p.Type {
	case TypeAWSService:
		spared = listed(peService, p.ARN)
	case TypeRoot:
		spared = listed(peAccount, p.Account)
	default:
		spared = listed(peAccount, p.Account) && listed(peARN, p.ARN)
	}
	if spared {
		return pmNone
	}
	return pmDirect
}
