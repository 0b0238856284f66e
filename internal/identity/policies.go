package identity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/policy"
	"strongroom/internal/store"
)

// Inline policy quotas of IAM: the aggregate size, in characters other than
// white space, of all inline policies of one user or one role; and the size
// of a role's trust policy.
const (
	maxUserPolicyChars  = 2048
	maxRolePolicyChars  = 10240
	maxTrustPolicyChars = 2048
	// maxPolicyDocument is the API's limit on one policy document.
	maxPolicyDocument = 131072
)

type cachedPolicies struct {
	docs    []string
	parsed  []*policy.Policy
	fetched time.Time
}

// policyOwner returns the cache key of the principal whose identity
// policies apply to p, the store kind, scope and id of its record, and the
// unique id that record must carry; ok is false for principals without
// identity policies (root, services).
func policyOwner(p Principal) (key string, kind store.Kind, id, uniqueID string, ok bool) {
	switch p.Type {
	case TypeIAMUser:
		return "user/" + p.Account + "/" + fold(p.Name), kindUser, fold(p.Name), p.PrincipalID, true
	case TypeAssumedRole:
		i := strings.LastIndexByte(p.RoleARN, '/')
		if i < 0 {
			return "", "", "", "", false
		}
		name := p.RoleARN[i+1:]
		roleID, _, _ := strings.Cut(p.PrincipalID, ":")
		return "role/" + p.Account + "/" + fold(name), kindRole, fold(name), roleID, true
	}
	return "", "", "", "", false
}

// IdentityPolicies returns the identity policy documents that apply to p:
// a user's inline policies, or the inline policies of the role of an
// assumed-role session; none for an account root. A user or role deleted
// (or deleted and created again under the same name) since p authenticated
// has none. The result is cached for at most a second and dropped at once
// by any change made through d; the caller must not modify it.
func (d *Directory) IdentityPolicies(ctx context.Context, p Principal) ([]string, error) {
	cp, err := d.identityPolicies(ctx, p)
	return cp.docs, err
}

// ParsedIdentityPolicies is IdentityPolicies, parsed for the policy engine.
// A stored document the engine no longer accepts is an error, never
// skipped: skipping a Deny would widen access.
func (d *Directory) ParsedIdentityPolicies(ctx context.Context, p Principal) ([]*policy.Policy, error) {
	cp, err := d.identityPolicies(ctx, p)
	return cp.parsed, err
}

func (d *Directory) identityPolicies(ctx context.Context, p Principal) (cachedPolicies, error) {
	key, kind, id, uniqueID, ok := policyOwner(p)
	if !ok {
		return cachedPolicies{}, nil
	}
	now := d.wall()
	d.mu.RLock()
	cp, ok := d.policies[key]
	gen := d.gen
	d.mu.RUnlock()
	hit := ok && fresh(cp.fetched, now)
	d.policyCount.count(hit)
	if hit {
		return cp, nil
	}
	var docs map[string]string
	err := d.st.View(ctx, func(tx store.Tx) error {
		var err error
		docs, err = readPolicies(tx, kind, p.Account, id, uniqueID)
		return err
	})
	if err != nil {
		return cachedPolicies{}, err
	}
	cp = cachedPolicies{fetched: now}
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		pol, err := policy.ParseIdentityPolicy(docs[name])
		if err != nil {
			return cachedPolicies{}, fmt.Errorf("identity: stored policy %q of %s no longer parses: %w", name, p.ARN, err)
		}
		cp.docs = append(cp.docs, docs[name])
		cp.parsed = append(cp.parsed, pol)
	}
	d.mu.Lock()
	if d.gen == gen {
		evictOne(d.policies)
		d.policies[key] = cp
	}
	d.mu.Unlock()
	return cp, nil
}

// readPolicies returns the inline policies of the user or role record id,
// or none if it does not exist or is not the one with uniqueID.
func readPolicies(tx store.Tx, kind store.Kind, account, id, uniqueID string) (map[string]string, error) {
	switch kind {
	case kindUser:
		var u userRecord
		err := getJSON(tx, kindUser, account, id, &u)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.ID != uniqueID) {
			return nil, nil
		}
		return u.Policies, err
	case kindRole:
		var r roleRecord
		err := getJSON(tx, kindRole, account, id, &r)
		if errors.Is(err, store.ErrNotFound) || (err == nil && r.ID != uniqueID) {
			return nil, nil
		}
		return r.Policies, err
	}
	return nil, nil
}

func (d *Directory) dropPolicies(key string) {
	d.mu.Lock()
	delete(d.policies, key)
	d.gen++
	d.mu.Unlock()
}

// policyChars counts the characters of doc other than white space, as IAM
// does for its policy size quotas.
func policyChars(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

// checkIdentityPolicy validates an inline identity policy document.
func checkIdentityPolicy(doc string) error {
	if err := checkDocumentChars(doc); err != nil {
		return err
	}
	if _, err := policy.ParseIdentityPolicy(doc); err != nil {
		return malformed(err)
	}
	return nil
}

func checkDocumentChars(doc string) error {
	if doc == "" || len(doc) > maxPolicyDocument {
		return newError(CodeValidationError, "The policy document must be between 1 and %d characters long.", maxPolicyDocument)
	}
	for _, r := range doc {
		if !(r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xff)) {
			return newError(CodeMalformedPolicyDocument, "The policy document contains a character that is not allowed (%s).", strconv.QuoteRune(r))
		}
	}
	return nil
}

func malformed(err error) error {
	var pe *policy.Error
	if errors.As(err, &pe) {
		return newError(CodeMalformedPolicyDocument, "%s", pe.Message())
	}
	return newError(CodeMalformedPolicyDocument, "Syntax errors in policy.")
}

// setInlinePolicy stores doc as policies[name] unless the aggregate size
// would exceed limit; it returns the new map.
func setInlinePolicy(policies map[string]string, name, doc string, limit int, what string) (map[string]string, error) {
	total := policyChars(doc)
	for n, d := range policies {
		if n != name {
			total += policyChars(d)
		}
	}
	if total > limit {
		return nil, newError(CodeLimitExceeded, "Maximum policy size of %d bytes exceeded for %s", limit, what)
	}
	out := make(map[string]string, len(policies)+1)
	for n, d := range policies {
		out[n] = d
	}
	out[name] = doc
	return out, nil
}

// pageNames returns the names sorted, from after marker, at most max, and
// the marker of the next page ("" when none).
func pageNames(names []string, marker string, max int) ([]string, string) {
	slices.Sort(names)
	i := 0
	if marker != "" {
		i, _ = slices.BinarySearch(names, marker)
		for i < len(names) && names[i] <= marker {
			i++
		}
	}
	names = names[i:]
	if len(names) > max {
		return names[:max], names[max-1]
	}
	return names, ""
}
