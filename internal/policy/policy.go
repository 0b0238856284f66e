// Package policy owns Strongroom's access-control language: the AWS IAM
// policy grammar (key policies and identity policies), its evaluation against
// a request, and AWS KMS's rules for combining a key policy, the caller's
// identity policies and grants into one decision.
//
// It is pure: no I/O, no clock, no logging. A document is parsed and
// checked once (ParseKeyPolicy, ParseIdentityPolicy) into an immutable
// *Policy whose wildcards and condition values are compiled, so evaluation
// never compiles a pattern and allocates nothing on the common paths. A
// *Policy is safe for concurrent use.
//
// Guarantees: parsing refuses what AWS refuses (with an *Error whose
// Message is fit for MalformedPolicyDocumentException) and also refuses
// ambiguous documents, such as a member repeated in one JSON object;
// evaluation follows the AWS IAM evaluation logic (an explicit Deny wins;
// no Allow means no access); Authorize follows "Determining access to an
// AWS KMS key": the key policy is always consulted, root included.
//
// # Request context
//
// Conditions read Request.Context, which the caller fills. Its keys are the
// full condition key names in lowercase: "aws:sourceip",
// "kms:encryptioncontext:dept", "aws:resourcetag/project". Lowercase the
// whole name, including the part after the prefix (AWS compares condition
// key names case-insensitively). Values are strings:
//
//   - multivalued keys (kms:encryptioncontextkeys, kms:grantoperations,
//     kms:resourcealiases, aws:tagkeys) list every value; an absent key and
//     an empty list are the same thing;
//   - booleans are "true" or "false";
//   - dates are RFC 3339 ("2026-05-31T12:00:00Z") or epoch seconds;
//   - numbers are decimal; IP addresses are textual, v4 or v6;
//   - binary values are standard base64.
//
// The keys that describe the caller — aws:principalaccount,
// aws:principalarn, aws:principaltype, aws:username,
// aws:principalservicename and kms:calleraccount — are derived from
// Request.Principal when the context does not set them; a value in the
// context wins, so the caller must never copy client input into them.
//
// Policy variables (${aws:username}, ${aws:PrincipalTag/team},
// ${kms:CallerAccount, 'default'}) resolve through the same lookup, in
// Resource and in the values of String and Arn conditions, for documents
// of Version 2012-10-17 only. ${*}, ${?} and ${$} stand for the characters
// themselves. A variable without a single value and without a default makes
// the value it is in match nothing.
package policy

import (
	"strconv"
	"strings"
)

// Kind says which sort of document a Policy is.
type Kind uint8

const (
	// KindKey is a key policy: a resource policy whose statements name
	// principals.
	KindKey Kind = iota + 1
	// KindIdentity is an identity policy, attached to a user or a role:
	// its statements name no principal.
	KindIdentity
)

func (k Kind) String() string {
	switch k {
	case KindKey:
		return "key policy"
	case KindIdentity:
		return "identity policy"
	}
	return "unknown policy kind"
}

// MaxKeyPolicySize is the largest key policy ParseKeyPolicy accepts, in
// bytes, as in AWS KMS.
const MaxKeyPolicySize = 32768

// Policy is a parsed, checked and compiled policy document. It is immutable.
type Policy struct {
	kind    Kind
	version string
	id      string
	vars    bool // Version 2012-10-17: policy variables are substituted
	stmts   []statement
}

type statement struct {
	sid          string
	deny         bool
	hasPrincipal bool
	notPrincipal bool
	principals   []principalEntry
	notAction    bool
	actions      []pattern
	notResource  bool
	resources    []pattern
	conditions   []condition
}

// Kind returns whether p is a key policy or an identity policy.
func (p *Policy) Kind() Kind { return p.kind }

// Version returns the document's Version, "" if it has none.
func (p *Policy) Version() string { return p.version }

// ID returns the document's Id, "" if it has none.
func (p *Policy) ID() string { return p.id }

// ParseKeyPolicy parses a key policy: at most MaxKeyPolicySize bytes, and
// every statement names a principal (Principal or NotPrincipal). Errors are
// *Error values matching ErrMalformed (and ErrTooLarge when too long).
func ParseKeyPolicy(doc string) (*Policy, error) {
	if len(doc) > MaxKeyPolicySize {
		return nil, &Error{
			Reason:   "Policy exceeds the maximum key policy size of " + strconv.Itoa(MaxKeyPolicySize) + " bytes.",
			tooLarge: true,
		}
	}
	return parse(doc, KindKey)
}

// ParseIdentityPolicy parses an identity policy: no statement may name a
// principal. Errors are *Error values matching ErrMalformed.
func ParseIdentityPolicy(doc string) (*Policy, error) {
	return parse(doc, KindIdentity)
}

func parse(doc string, kind Kind) (*Policy, error) {
	root, err := decodeJSON(doc)
	if err != nil {
		if d, ok := err.(*dupError); ok {
			return nil, &Error{Reason: "Policy contains the element " + strconv.Quote(d.name) + " more than once in one object."}
		}
		return nil, &Error{Reason: "Policy is not valid JSON: " + err.Error() + "."}
	}
	if root.kind != jObject {
		return nil, &Error{Reason: "Policy must be a JSON object."}
	}
	p := &Policy{kind: kind}
	var stmtVal *jvalue
	for i, k := range root.keys {
		v := root.vals[i]
		switch k {
		case "Version":
			if v.kind != jString || (v.s != "2012-10-17" && v.s != "2008-10-17") {
				return nil, &Error{Reason: `Policy has an invalid Version; use "2012-10-17" or "2008-10-17".`}
			}
			p.version = v.s
		case "Id":
			if v.kind != jString {
				return nil, &Error{Reason: "Policy has an Id that is not a string."}
			}
			p.id = v.s
		case "Statement":
			stmtVal = v
		default:
			return nil, &Error{Reason: "Policy contains an unknown element " + strconv.Quote(k) + "."}
		}
	}
	p.vars = p.version == "2012-10-17"
	if stmtVal == nil {
		return nil, &Error{Reason: "Policy has no Statement."}
	}
	var stmts []*jvalue
	switch stmtVal.kind {
	case jObject:
		stmts = []*jvalue{stmtVal}
	case jArray:
		stmts = stmtVal.arr
	default:
		return nil, &Error{Reason: "Policy has a Statement that is neither an object nor an array."}
	}
	if len(stmts) == 0 {
		return nil, &Error{Reason: "Policy has no Statement."}
	}
	sids := make(map[string]bool)
	p.stmts = make([]statement, len(stmts))
	for i, sv := range stmts {
		if err := p.parseStatement(&p.stmts[i], sv); err != nil {
			err.Statement = i + 1
			return nil, err
		}
		if sid := p.stmts[i].sid; sid != "" {
			if sids[sid] {
				return nil, &Error{Statement: i + 1, Sid: sid, Reason: "Policy contains more than one statement with the same Sid."}
			}
			sids[sid] = true
		}
	}
	return p, nil
}

func (p *Policy) parseStatement(s *statement, v *jvalue) *Error {
	if v.kind != jObject {
		return &Error{Reason: "Policy contains a statement that is not a JSON object."}
	}
	if sid := v.get("Sid"); sid != nil {
		if sid.kind != jString {
			return &Error{Reason: "Policy contains a statement whose Sid is not a string."}
		}
		s.sid = sid.s
	}
	fail := func(reason string) *Error { return &Error{Sid: s.sid, Reason: reason} }

	var principal, notPrincipal, action, notAction, resource, notResource, condition, effect *jvalue
	for i, k := range v.keys {
		e := v.vals[i]
		switch k {
		case "Sid":
		case "Effect":
			effect = e
		case "Principal":
			principal = e
		case "NotPrincipal":
			notPrincipal = e
		case "Action":
			action = e
		case "NotAction":
			notAction = e
		case "Resource":
			resource = e
		case "NotResource":
			notResource = e
		case "Condition":
			condition = e
		default:
			return fail("Policy contains a statement with an unknown element " + strconv.Quote(k) + ".")
		}
	}

	switch {
	case effect == nil:
		return fail("Policy contains a statement with no Effect.")
	case effect.kind == jString && effect.s == "Allow":
	case effect.kind == jString && effect.s == "Deny":
		s.deny = true
	default:
		return fail(`Policy contains a statement with an invalid Effect; use "Allow" or "Deny".`)
	}

	switch p.kind {
	case KindKey:
		switch {
		case principal != nil && notPrincipal != nil:
			return fail("Policy contains a statement with both Principal and NotPrincipal.")
		case principal == nil && notPrincipal == nil:
			return fail("Policy contains a statement with no principal.")
		}
	case KindIdentity:
		if principal != nil || notPrincipal != nil {
			return fail("Policy document should not specify a principal.")
		}
	}
	if principal != nil || notPrincipal != nil {
		pv := principal
		if pv == nil {
			pv, s.notPrincipal = notPrincipal, true
		}
		entries, reason := parsePrincipal(pv)
		if reason != "" {
			return fail("Policy contains a statement with one or more invalid principals: " + reason + ".")
		}
		s.hasPrincipal, s.principals = true, entries
	}

	switch {
	case action != nil && notAction != nil:
		return fail("Policy contains a statement with both Action and NotAction.")
	case action == nil && notAction == nil:
		return fail("Policy contains a statement with no Action or NotAction.")
	}
	av, name := action, "Action"
	if av == nil {
		av, name, s.notAction = notAction, "NotAction", true
	}
	list, ok := stringList(av)
	if !ok {
		return fail("Policy contains a statement whose " + name + " is not a string or an array of strings.")
	}
	for _, a := range list {
		if !validAction(a) {
			return fail("Policy contains a statement with an invalid action " + strconv.Quote(a) + `: use "*" or "service:action".`)
		}
		s.actions = append(s.actions, compilePattern(a, pfWild|pfFold))
	}

	switch {
	case resource != nil && notResource != nil:
		return fail("Policy contains a statement with both Resource and NotResource.")
	case resource == nil && notResource == nil:
		return fail("Policy contains a statement with no Resource or NotResource.")
	}
	rv, name := resource, "Resource"
	if rv == nil {
		rv, name, s.notResource = notResource, "NotResource", true
	}
	list, ok = stringList(rv)
	if !ok {
		return fail("Policy contains a statement whose " + name + " is not a string or an array of strings.")
	}
	flags := pfWild
	if p.vars {
		flags |= pfVars
	}
	for _, r := range list {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return fail("Policy contains a statement with an invalid resource " + strconv.Quote(r) + `: use "*" or an ARN.`)
		}
		s.resources = append(s.resources, compilePattern(r, flags))
	}

	if condition != nil {
		conds, reason := p.parseConditions(condition)
		if reason != "" {
			return fail(reason)
		}
		s.conditions = conds
	}
	return nil
}

// stringList reads an element that is a string or a non-empty array of
// strings.
func stringList(v *jvalue) ([]string, bool) {
	switch v.kind {
	case jString:
		return []string{v.s}, true
	case jArray:
		if len(v.arr) == 0 {
			return nil, false
		}
		out := make([]string, len(v.arr))
		for i, e := range v.arr {
			if e.kind != jString {
				return nil, false
			}
			out[i] = e.s
		}
		return out, true
	}
	return nil, false
}

// validAction accepts "*" and "service:action" where service is letters,
// digits and hyphens and the action part is not empty.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	svc, act, ok := strings.Cut(a, ":")
	if !ok || svc == "" || act == "" {
		return false
	}
	for i := 0; i < len(svc); i++ {
		c := svc[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func parsePrincipal(v *jvalue) ([]principalEntry, string) {
	if v.kind == jString {
		if v.s == "*" {
			return []principalEntry{{kind: peAny}}, ""
		}
		return nil, `a principal string must be "*"`
	}
	if v.kind != jObject || len(v.keys) == 0 {
		return nil, `the principal must be "*" or an object of principal types`
	}
	var entries []principalEntry
	for i, typ := range v.keys {
		list, ok := stringList(v.vals[i])
		if !ok {
			return nil, strconv.Quote(typ) + " must be a string or an array of strings"
		}
		for _, s := range list {
			switch typ {
			case "AWS":
				e, ok := parseAWSPrincipal(s)
				if !ok {
					return nil, strconv.Quote(s) + " is not an account, a root, user or role ARN, an assumed-role session ARN, or \"*\""
				}
				entries = append(entries, e)
			case "Service":
				if s == "" || strings.ContainsAny(s, "*? ") {
					return nil, strconv.Quote(s) + " is not a service principal"
				}
				entries = append(entries, principalEntry{kind: peService, val: s})
			case "Federated":
				if s == "" {
					return nil, "an empty federated principal"
				}
				entries = append(entries, principalEntry{kind: peFederated, val: s})
			default:
				return nil, "unknown principal type " + strconv.Quote(typ) + ` (use "AWS", "Service" or "Federated")`
			}
		}
	}
	return entries, ""
}

func (p *Policy) parseConditions(v *jvalue) ([]condition, string) {
	if v.kind != jObject {
		return nil, "Policy contains a statement whose Condition is not an object."
	}
	var conds []condition
	for i, opName := range v.keys {
		info, set, ifExists, ok := parseOperator(opName)
		if !ok {
			return nil, "Policy contains a statement with an unknown condition operator " + strconv.Quote(opName) + "."
		}
		block := v.vals[i]
		if block.kind != jObject || len(block.keys) == 0 {
			return nil, "Policy contains a statement whose condition " + strconv.Quote(opName) + " is not an object of condition keys."
		}
		for j, key := range block.keys {
			if !validConditionKey(key) {
				return nil, "Policy contains a statement with an invalid condition key " + strconv.Quote(key) + `: use "service:name".`
			}
			raws, ok := conditionValues(block.vals[j])
			if !ok {
				return nil, "Policy contains a statement whose condition " + strconv.Quote(opName) + " on " + strconv.Quote(key) +
					" has a value that is not a string, number or boolean, or an array of them."
			}
			c := condition{op: opName, base: info.base, negate: info.negate, ifExists: ifExists, set: set, key: strings.ToLower(key)}
			for _, raw := range raws {
				cv, reason := compileValue(info.base, raw, p.vars)
				if reason != "" {
					return nil, "Policy contains a statement whose condition " + strconv.Quote(opName) + " on " + strconv.Quote(key) +
						" has a value " + strconv.Quote(raw) + " that " + reason + "."
				}
				c.values = append(c.values, cv)
			}
			conds = append(conds, c)
		}
	}
	return conds, ""
}

// validConditionKey wants a prefix and a name: "aws:SourceIp",
// "kms:EncryptionContext:Dept".
func validConditionKey(k string) bool {
	prefix, name, ok := strings.Cut(k, ":")
	return ok && prefix != "" && name != "" && !strings.ContainsAny(k, " \t\n")
}

func conditionValues(v *jvalue) ([]string, bool) {
	switch v.kind {
	case jString, jNumber, jBool:
		return []string{v.s}, true
	case jArray:
		if len(v.arr) == 0 {
			return nil, false
		}
		out := make([]string, len(v.arr))
		for i, e := range v.arr {
			switch e.kind {
			case jString, jNumber, jBool:
				out[i] = e.s
			default:
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}
