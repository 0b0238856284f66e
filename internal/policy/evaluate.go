package policy

// Effect is the outcome of evaluating one policy.
type Effect uint8

const (
	// NoMatch: no statement applies (an implicit deny, unless another
	// policy allows).
	NoMatch Effect = iota
	// Allow: an Allow statement applies and no Deny statement does.
	Allow
	// Deny: a Deny statement applies (an explicit deny).
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NoMatch"
}

// Request is what is being asked, in the terms policies speak.
type Request struct {
	Principal Principal
	// Action is the IAM action, e.g. "kms:Encrypt".
	Action string
	// Resource is the key ARN, or "*" for operations without a key.
	Resource string
	// Context holds the condition keys of the request. Names are the full
	// key names in lowercase ("kms:encryptioncontext:dept",
	// "aws:sourceip"); each maps to its values, one for a single-valued key.
	// See the package documentation for how values are written.
	Context map[string][]string
	// ContextFunc, if set and Context is nil, is called for Context the
	// first time a condition or policy variable reads a key: a request
	// decided by policies without conditions then never builds it. The
	// Request keeps what it returns.
	ContextFunc func() map[string][]string
}

// evalState is one evaluation of one request: where conditions and policy
// variables find their values.
type evalState struct {
	req *Request
}

// values is a read-only list of strings that is either a slice from the
// request context or a single value derived from the principal, so lookups
// never allocate.
type values struct {
	multi []string
	one   string
	isOne bool
}

func (v values) len() int {
	if v.isOne {
		return 1
	}
	return len(v.multi)
}

func (v values) at(i int) string {
	if v.isOne {
		return v.one
	}
	return v.multi[i]
}

// lookup returns the values of a lowercase condition key: from the request
// context, or, for the keys that describe the caller, from the principal.
func (st *evalState) lookup(key string) values {
	if st.req.Context == nil && st.req.ContextFunc != nil {
		st.req.Context = st.req.ContextFunc()
	}
	if vs, ok := st.req.Context[key]; ok {
		return values{multi: vs}
	}
	p := &st.req.Principal
	var v string
	switch key {
	case "aws:principalaccount", "kms:calleraccount":
		v = p.Account
	case "aws:principalarn":
		if p.Type == TypeAssumedRole && p.RoleARN != "" {
			v = p.RoleARN
		} else if p.Type != TypeAWSService {
			v = p.ARN
		}
	case "aws:username":
		if p.Type == TypeIAMUser {
			v = p.UserName
		}
	case "aws:principaltype":
		switch p.Type {
		case TypeRoot:
			v = "Account"
		case TypeIAMUser:
			v = "User"
		case TypeAssumedRole:
			v = "AssumedRole"
		}
	case "aws:principalservicename":
		if p.Type == TypeAWSService {
			v = p.ARN
		}
	}
	if v == "" {
		return values{}
	}
	return values{one: v, isOne: true}
}

// variable resolves a policy variable: a single-valued key, or the default.
func (st *evalState) variable(t *token) (string, bool) {
	vs := st.lookup(t.s)
	if vs.len() == 1 {
		return vs.at(0), true
	}
	return t.def, t.hasDef
}

// outcome is what one policy says about one request, with the statement
// index (plus one) that said it: Authorize needs to tell a principal named
// directly from a principal whose account is named.
type outcome struct {
	deny         int // first applicable Deny statement
	allowDirect  int // first applicable Allow statement that names the principal
	allowAccount int // first applicable Allow statement that names only its account
}

func (p *Policy) eval(req *Request) outcome {
	var o outcome
	if p == nil {
		return o
	}
	st := evalState{req: req}
	for i := range p.stmts {
		s := &p.stmts[i]
		// Cheap tests first; a Deny is only worth looking at, and an Allow
		// only until one is found.
		if !s.deny && o.allowDirect != 0 {
			continue
		}
		pm := pmDirect
		if s.hasPrincipal {
			if s.notPrincipal {
				pm = matchNotPrincipals(s.principals, &req.Principal)
			} else {
				pm = matchPrincipals(s.principals, &req.Principal)
			}
			if pm == pmNone || (!s.deny && pm == pmAccount && o.allowAccount != 0) {
				continue
			}
		}
		if !s.matchAction(req.Action) || !s.matchResource(req.Resource, &st) {
			continue
		}
		if !s.conditionsHold(&st) {
			continue
		}
		switch {
		case s.deny:
			o.deny = i + 1
			return o
		case pm == pmDirect:
			o.allowDirect = i + 1
		default:
			o.allowAccount = i + 1
		}
	}
	return o
}

func (s *statement) matchAction(action string) bool {
	for i := range s.actions {
		if s.actions[i].match(action, nil) {
			return !s.notAction
		}
	}
	return s.notAction
}

func (s *statement) matchResource(resource string, st *evalState) bool {
	for i := range s.resources {
		if s.resources[i].match(resource, st) {
			return !s.notResource
		}
	}
	return s.notResource
}

func (s *statement) conditionsHold(st *evalState) bool {
	for i := range s.conditions {
		if !s.conditions[i].eval(st) {
			return false
		}
	}
	return true
}

// Evaluate decides what this policy alone says about req: Deny if a Deny
// statement applies, else Allow if an Allow statement applies, else NoMatch.
//
// A statement applies when its principal, action, resource and every
// condition match. An account named as a principal ("111122223333" or
// arn:aws:iam::111122223333:root) matches that account's root user; in a
// Deny statement it matches every principal of the account, as in AWS. That
// an Allow of the account delegates to the account's IAM policies is
// Authorize's business, not Evaluate's. Statements of an identity policy
// have no principal and apply to whoever req.Principal is.
func (p *Policy) Evaluate(req *Request) Effect {
	o := p.eval(req)
	switch {
	case o.deny != 0:
		return Deny
	case o.allowDirect != 0:
		return Allow
	}
	return NoMatch
}
