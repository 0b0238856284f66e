package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// IdentityPolicySource supplies the identity policies (policy documents)
// that apply to a principal: a user's policies, an assumed role's policies,
// none for an account root.
type IdentityPolicySource interface {
	IdentityPolicies(ctx context.Context, p identity.Principal) ([]string, error)
}

// authzReq is one authorization question: may the caller perform Action on
// Key (nil for operations without a key), with this request's context?
type authzReq struct {
	Action string
	Key    *keyRecord
	// EncryptionContext of a cryptographic operation, for the
	// kms:EncryptionContext:* and kms:EncryptionContextKeys conditions.
	EncryptionContext map[string]string
	// Alias is the alias the request named the key by (kms:RequestAlias).
	Alias string
	// RequestTags are the tags the request sets (aws:RequestTag/*).
	RequestTags []Tag
	// Algorithm is the encryption algorithm of a cryptographic operation
	// (kms:EncryptionAlgorithm), when it has one.
	Algorithm string
	// Extra condition keys (lowercase) the operation adds.
	Extra map[string][]string
	// KeyPolicy overrides the key's policy (the lockout safety check
	// evaluates a policy before it is stored).
	KeyPolicy *policy.Policy
	// GrantOps are the operations of a grant being created (a grantee may
	// only pass on operations its own grant has).
	GrantOps []string
}

// grantEC is the encryption context grant constraints are checked against:
// nil for operations that take none.
func (r *authzReq) grantEC() map[string]string { return r.EncryptionContext }

// authorize is the one door every operation passes through: it decides
// whether the caller may perform action on key k (nil for operations without
// a key, such as CreateKey and ListKeys).
func (s *Service) authorize(ctx context.Context, c *Call, action string, k *keyRecord) error {
	return s.authorizeReq(ctx, c, &authzReq{Action: action, Key: k})
}

func (s *Service) authorizeReq(ctx context.Context, c *Call, r *authzReq) error {
	if r.Key != nil && r.KeyPolicy == nil {
		a := r.Key.arn()
		if !slices.Contains(c.Resources, a) {
			c.Resources = append(c.Resources, a)
		}
	}
	d, req, err := s.decide(ctx, c, r)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return errAccessDenied(policy.DenyMessage(req, d))
	}
	return nil
}

// decide evaluates the policies that apply to r.
func (s *Service) decide(ctx context.Context, c *Call, r *authzReq) (policy.Decision, *policy.Request, error) {
	req := &policy.Request{
		Principal: c.Principal.ForPolicy(),
		Action:    r.Action,
		Resource:  "*",
		// Built only if a condition or policy variable reads it.
		ContextFunc: func() map[string][]string { return s.conditionContext(c, r) },
	}
	var identityPolicies []*policy.Policy
	if !c.Principal.IsRoot() && s.identities != nil {
		docs, err := s.identities.IdentityPolicies(ctx, c.Principal)
		if err != nil {
			return policy.Decision{}, nil, fmt.Errorf("kms: identity policies of %s: %w", c.Principal.ARN, err)
		}
		for _, doc := range docs {
			p, err := s.policies.identity(doc)
			if err != nil {
				// A stored identity policy that no longer parses grants nothing.
				s.log.Warn("ignoring an identity policy that does not parse", "principal", c.Principal.ARN, "err", err)
				continue
			}
			identityPolicies = append(identityPolicies, p)
		}
	}
	if r.Key == nil {
		return policy.AuthorizeIdentity(identityPolicies, req), req, nil
	}
	req.Resource = r.Key.arn()
	kp := r.KeyPolicy
	if kp == nil {
		var err error
		if kp, err = s.policies.key(r.Key.Policy); err != nil {
			s.log.Warn("key policy does not parse; it allows nothing", "key", r.Key.arn(), "err", err)
			kp = nil
		}
	}
	access := policy.KeyAccess{
		KeyAccount:       r.Key.Account,
		KeyPolicy:        kp,
		IdentityPolicies: identityPolicies,
	}
	d := policy.Authorize(access, req)
	if !d.Allowed && d.Reason != policy.ReasonKeyPolicyDeny && d.Reason != policy.ReasonIdentityDeny && s.grantAllows != nil {
		ok, err := s.grantAllows(ctx, c, r)
		if err != nil {
			return policy.Decision{}, nil, err
		}
		if ok {
			access.GrantAllows = true
			d = policy.Authorize(access, req)
		}
	}
	return d, req, nil
}

// conditionContext fills the condition keys of a request, lowercase.
func (s *Service) conditionContext(c *Call, r *authzReq) map[string][]string {
	m := make(map[string][]string, 8+len(r.EncryptionContext)+len(r.Extra))
	m["kms:calleraccount"] = []string{c.Principal.Account}
	if c.SourceIP != "" {
		m["aws:sourceip"] = []string{c.SourceIP}
	}
	m["aws:securetransport"] = []string{boolString(c.SecureTransport)}
	now := s.clock.Now().UTC()
	m["aws:currenttime"] = []string{now.Format(time.RFC3339)}
	m["aws:epochtime"] = []string{fmt.Sprint(now.Unix())}
	m["aws:requestedregion"] = []string{c.Region}
	if c.UserAgent != "" {
		m["aws:useragent"] = []string{c.UserAgent}
	}
	if k := r.Key; k != nil {
		m["kms:keyspec"] = []string{k.Spec}
		m["kms:keyusage"] = []string{k.Usage}
		m["kms:keyorigin"] = []string{k.Origin}
		m["kms:multiregion"] = []string{boolString(k.MultiRegion)}
		if k.MultiRegion {
			kind := "REPLICA"
			if k.isPrimary() {
				kind = "PRIMARY"
			}
			m["kms:multiregionkeytype"] = []string{kind}
		}
		for _, t := range k.Tags {
			m["aws:resourcetag/"+strings.ToLower(t.TagKey)] = []string{t.TagValue}
		}
	}
	if r.EncryptionContext != nil {
		keys := make([]string, 0, len(r.EncryptionContext))
		for ck, cv := range r.EncryptionContext {
			name := "kms:encryptioncontext:" + strings.ToLower(ck)
			m[name] = append(m[name], cv)
			keys = append(keys, ck)
		}
		m["kms:encryptioncontextkeys"] = keys
	}
	if r.Alias != "" {
		m["kms:requestalias"] = []string{r.Alias}
	}
	if len(r.RequestTags) > 0 {
		keys := make([]string, 0, len(r.RequestTags))
		for _, t := range r.RequestTags {
			m["aws:requesttag/"+strings.ToLower(t.TagKey)] = []string{t.TagValue}
			keys = append(keys, t.TagKey)
		}
		m["aws:tagkeys"] = keys
	}
	if r.Algorithm != "" {
		m["kms:encryptionalgorithm"] = []string{r.Algorithm}
	}
	for k, v := range r.Extra {
		m[k] = v
	}
	return m
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// checkLockout is AWS's policy lockout safety check: a new key policy must
// still allow the caller to call PutKeyPolicy on the key, unless the caller
// bypasses the check.
func (s *Service) checkLockout(ctx context.Context, c *Call, k *keyRecord, p *policy.Policy) error {
	d, _, err := s.decide(ctx, c, &authzReq{Action: "kms:PutKeyPolicy", Key: k, KeyPolicy: p})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return errMalformedPolicy("The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

// parseKeyPolicy validates a key policy document for CreateKey and
// PutKeyPolicy.
func (s *Service) parseKeyPolicy(doc string) (*policy.Policy, error) {
	p, err := s.policies.key(doc)
	if err != nil {
		var pe *policy.Error
		if errors.As(err, &pe) {
			return nil, errMalformedPolicy("%s", pe.Message())
		}
		return nil, errMalformedPolicy("The key policy is not valid.")
	}
	return p, nil
}

// policyCache keeps compiled policies by their document text, bounded:
// parsing costs far more than evaluating.
type policyCache struct {
	mu      sync.RWMutex
	keyDocs map[string]compiled
	idDocs  map[string]compiled

	hits, misses atomic.Uint64 // CacheStats
}

type compiled struct {
	p   *policy.Policy
	err error
}

const policyCacheMax = 10000

func newPolicyCache() *policyCache {
	return &policyCache{keyDocs: make(map[string]compiled), idDocs: make(map[string]compiled)}
}

func (pc *policyCache) key(doc string) (*policy.Policy, error) {
	return pc.get(pc.keyMap, doc, policy.ParseKeyPolicy)
}

func (pc *policyCache) identity(doc string) (*policy.Policy, error) {
	return pc.get(pc.idsMap, doc, policy.ParseIdentityPolicy)
}

func (pc *policyCache) keyMap() map[string]compiled { return pc.keyDocs }
func (pc *policyCache) idsMap() map[string]compiled { return pc.idDocs }

func (pc *policyCache) get(m func() map[string]compiled, doc string, parse func(string) (*policy.Policy, error)) (*policy.Policy, error) {
	pc.mu.RLock()
	c, ok := m()[doc]
	pc.mu.RUnlock()
	if ok {
		pc.hits.Add(1)
		return c.p, c.err
	}
	pc.misses.Add(1)
	p, err := parse(doc)
	pc.mu.Lock()
	mm := m()
	if len(mm) >= policyCacheMax {
		for k := range mm {
			delete(mm, k)
			break
		}
	}
	mm[doc] = compiled{p: p, err: err}
	pc.mu.Unlock()
	return p, err
}
