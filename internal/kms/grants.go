package kms

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/identity"
	"strongroom/internal/store"
)

// Grant limits, as AWS documents them.
const (
	maxGrantsPerKey          = 50000
	maxGrantsPerKeyPrincipal = 500
)

// grantRecord is the persisted form of a grant. Grants live in the scope of
// their key ("account/region/keyID"), and a second index by retiring
// principal serves ListRetirableGrants.
type grantRecord struct {
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	Account     string            `json:"account"`
	Region      string            `json:"region"`
	KeyID       string            `json:"keyId"`
	Created     int64             `json:"created"`
	Grantee     string            `json:"grantee"`
	Retiring    string            `json:"retiring,omitempty"`
	Issuing     string            `json:"issuing"`
	Operations  []string          `json:"operations"`
	ECSubset    map[string]string `json:"ecSubset,omitempty"`
	ECEquals    map[string]string `json:"ecEquals,omitempty"`
	TokenNonce  string            `json:"tokenNonce"`
	IssuerPrinc string            `json:"issuerPrincipal"`
}

func grantScope(account, region, keyID string) string { return account + "/" + region + "/" + keyID }

func (g *grantRecord) keyARN() string { return arn.Key(g.Region, g.Account, g.KeyID) }

func (g *grantRecord) entry() GrantListEntry {
	e := GrantListEntry{
		KeyId:             g.keyARN(),
		GrantId:           g.ID,
		Name:              g.Name,
		CreationDate:      tp(time.Unix(g.Created, 0).UTC()),
		GranteePrincipal:  g.Grantee,
		RetiringPrincipal: g.Retiring,
		IssuingAccount:    g.Issuing,
		Operations:        slices.Clone(g.Operations),
	}
	if g.ECSubset != nil || g.ECEquals != nil {
		e.Constraints = &GrantConstraints{EncryptionContextSubset: g.ECSubset, EncryptionContextEquals: g.ECEquals}
	}
	return e
}

// Grant tokens are opaque to clients: "SRGT1." followed by base64url of
// the grant's key ARN, id and a random nonce. Grants in Strongroom take
// effect at once, so a token is only validated and used to find a grant.
func grantToken(g *grantRecord) string {
	raw := g.keyARN() + "\x00" + g.ID + "\x00" + g.TokenNonce
	return "SRGT1." + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func errInvalidGrantToken() *Error {
	return newErr("InvalidGrantTokenException", 400, "The grant token is not valid.")
}

func errInvalidGrantID(id string) *Error {
	return newErr("InvalidGrantIdException", 400, "Grant ID %s is not valid.", id)
}

// parseGrantToken returns the key ARN and grant id a token names.
func parseGrantToken(tok string) (keyARN, grantID string, err error) {
	rest, ok := strings.CutPrefix(tok, "SRGT1.")
	if !ok {
		return "", "", errInvalidGrantToken()
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", "", errInvalidGrantToken()
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || !validGrantID(parts[1]) {
		return "", "", errInvalidGrantToken()
	}
	return parts[0], parts[1], nil
}

// CheckGrantTokens validates the GrantTokens parameter of a request.
func CheckGrantTokens(tokens []string) error {
	for _, t := range tokens {
		if _, _, err := parseGrantToken(t); err != nil {
			return err
		}
	}
	return nil
}

func validGrantID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func newGrantID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// grantOpsFor lists the operations a grant may allow on a key of this kind.
func grantOpsFor(k *keyRecord) []string {
	common := []string{"CreateGrant", "RetireGrant", "DescribeKey"}
	switch {
	case k.Spec == SpecSymmetricDefault:
		return append(common, "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
			"ReEncryptFrom", "ReEncryptTo", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext")
	case k.Usage == "GENERATE_VERIFY_MAC":
		return append(common, "GenerateMac", "VerifyMac")
	case k.Usage == "SIGN_VERIFY":
		return append(common, "Sign", "Verify", "GetPublicKey")
	case k.Usage == "KEY_AGREEMENT":
		return append(common, "DeriveSharedSecret", "GetPublicKey")
	}
	return append(common, "Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey")
}

// validGrantee reports whether p names a principal a grant can be given to:
// an IAM ARN (root, user, role, assumed-role), an account id, or a service
// principal name.
func validGrantee(p string) bool {
	if arn.IsAccountID(p) {
		return true
	}
	if a, err := arn.Parse(p); err == nil {
		return (a.Service == "iam" || a.Service == "sts") && arn.IsAccountID(a.Account) && a.Resource != ""
	}
	return strings.HasSuffix(p, ".amazonaws.com") && !strings.ContainsAny(p, " /")
}

// granteeMatches reports whether a grant's principal covers the caller.
func granteeMatches(grantee string, p identity.Principal) bool {
	switch {
	case grantee == p.ARN:
		return true
	case p.RoleARN != "" && grantee == p.RoleARN:
		return true
	case p.IsRoot() && grantee == p.Account:
		return true
	}
	return false
}

// ecKeysFold returns ec with lowercase keys: grant constraints compare keys
// case-insensitively and values exactly.
func ecKeysFold(ec map[string]string) map[string]string {
	out := make(map[string]string, len(ec))
	for k, v := range ec {
		out[strings.ToLower(k)] = v
	}
	return out
}

// constraintsAllow applies a grant's encryption context constraints to a
// request. Operations without an encryption context (nil) are not
// constrained, as AWS documents.
func (g *grantRecord) constraintsAllow(ec map[string]string) bool {
	if ec == nil {
		return true
	}
	req := ecKeysFold(ec)
	if g.ECEquals != nil {
		want := ecKeysFold(g.ECEquals)
		if !maps.Equal(want, req) {
			return false
		}
	}
	for k, v := range ecKeysFold(g.ECSubset) {
		if rv, ok := req[k]; !ok || rv != v {
			return false
		}
	}
	return true
}

func listGrants(tx store.Tx, account, region, keyID string) ([]*grantRecord, error) {
	items, err := tx.List(store.KindGrant, grantScope(account, region, keyID), "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]*grantRecord, 0, len(items))
	for _, it := range items {
		g := new(grantRecord)
		if err := json.Unmarshal(it.Value, g); err != nil {
			return nil, fmt.Errorf("kms: decoding grant: %w", err)
		}
		out = append(out, g)
	}
	return out, nil
}

// grantAllowsRequest is the grant half of authorization: does some grant on
// the key give the caller this operation, within its constraints?
func (s *Service) grantAllowsRequest(ctx context.Context, c *Call, r *authzReq) (bool, error) {
	op, ok := strings.CutPrefix(r.Action, "kms:")
	if !ok || r.Key == nil {
		return false, nil
	}
	var grants []*grantRecord
	err := s.view(ctx, func(tx store.Tx) error {
		var err error
		grants, err = listGrants(tx, r.Key.Account, r.Key.Region, r.Key.ID)
		return err
	})
	if err != nil {
		return false, err
	}
	for _, g := range grants {
		if !granteeMatches(g.Grantee, c.Principal) || !slices.Contains(g.Operations, op) {
			continue
		}
		if op == "CreateGrant" && r.GrantOps != nil {
			// A grantee may create grants no wider than its own.
			if !subset(r.GrantOps, g.Operations) {
				continue
			}
		}
		if g.constraintsAllow(r.grantEC()) {
			return true, nil
		}
	}
	return false, nil
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// CreateGrant gives a grantee principal permission to use a key for the
// listed operations.
func (s *Service) CreateGrant(ctx context.Context, c *Call, in *CreateGrantInput) (*CreateGrantOutput, error) {
	if err := CheckGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	if !validGrantee(in.GranteePrincipal) {
		return nil, errValidation("GranteePrincipal %s is not a valid principal.", in.GranteePrincipal)
	}
	retiring := ""
	if in.RetiringPrincipal != nil {
		if !validGrantee(*in.RetiringPrincipal) {
			return nil, errValidation("RetiringPrincipal %s is not a valid principal.", *in.RetiringPrincipal)
		}
		retiring = *in.RetiringPrincipal
	}
	if len(in.Operations) == 0 {
		return nil, errValidation("1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null")
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	ops := slices.Clone(in.Operations)
	slices.Sort(ops)
	ops = slices.Compact(ops)
	allowed := grantOpsFor(k)
	for _, op := range ops {
		if !slices.Contains(allowed, op) {
			return nil, errValidation("Grant operation %s is not valid for %s key %s.", op, k.Spec, k.arn())
		}
	}
	hasConstraints := in.Constraints != nil && (in.Constraints.EncryptionContextEquals != nil || in.Constraints.EncryptionContextSubset != nil)
	if hasConstraints && k.Spec != SpecSymmetricDefault {
		return nil, errValidation("Encryption context grant constraints are supported only on symmetric encryption KMS keys.")
	}
	extra := map[string][]string{
		"kms:grantoperations":       ops,
		"kms:granteeprincipal":      {in.GranteePrincipal},
		"kms:grantisforawsresource": {"false"},
	}
	if retiring != "" {
		extra["kms:retiringprincipal"] = []string{retiring}
	}
	if hasConstraints {
		var kinds []string
		if in.Constraints.EncryptionContextEquals != nil {
			kinds = append(kinds, "EncryptionContextEquals")
		}
		if in.Constraints.EncryptionContextSubset != nil {
			kinds = append(kinds, "EncryptionContextSubset")
		}
		extra["kms:grantconstrainttype"] = kinds
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:CreateGrant", Key: k, Alias: r.alias, Extra: extra, GrantOps: ops}); err != nil {
		return nil, err
	}
	if err := requireNotPendingDeletion(k); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun()
	}
	g := &grantRecord{
		ID:          newGrantID(),
		Account:     k.Account,
		Region:      k.Region,
		KeyID:       k.ID,
		Created:     s.clock.Now().Unix(),
		Grantee:     in.GranteePrincipal,
		Retiring:    retiring,
		Issuing:     arn.Root(c.Principal.Account),
		Operations:  ops,
		TokenNonce:  newGrantID()[:16],
		IssuerPrinc: c.Principal.ARN,
	}
	if in.Name != nil {
		g.Name = *in.Name
	}
	if hasConstraints {
		g.ECEquals = in.Constraints.EncryptionContextEquals
		g.ECSubset = in.Constraints.EncryptionContextSubset
	}
	return commitCall(s, ctx, c, "CreateGrant", func(tx store.Tx) (*CreateGrantOutput, error) {
		stored, err := createGrantTx(tx, k, g)
		if err != nil {
			return nil, err
		}
		return &CreateGrantOutput{GrantToken: grantToken(stored), GrantId: stored.ID}, nil
	})
}

// createGrantTx stores grant g of key k in tx and returns it, or returns
// the existing grant g retries (the same name, grantee, retiring principal,
// operations and constraints).
func createGrantTx(tx store.Tx, k *keyRecord, g *grantRecord) (*grantRecord, error) {
	existing, err := listGrants(tx, k.Account, k.Region, k.ID)
	if err != nil {
		return nil, err
	}
	perPrincipal := 0
	for _, e := range existing {
		if g.Name != "" && e.Name == g.Name && e.Grantee == g.Grantee && e.Retiring == g.Retiring &&
			slices.Equal(e.Operations, g.Operations) && maps.Equal(e.ECEquals, g.ECEquals) && maps.Equal(e.ECSubset, g.ECSubset) {
			return e, nil // idempotent retry: the same grant
		}
		if e.Grantee == g.Grantee {
			perPrincipal++
		}
	}
	if len(existing) >= maxGrantsPerKey {
		return nil, errLimit("The KMS key %s has reached the limit of %d grants.", k.arn(), maxGrantsPerKey)
	}
	if perPrincipal >= maxGrantsPerKeyPrincipal {
		return nil, errLimit("The principal %s has reached the limit of %d grants on KMS key %s.", g.Grantee, maxGrantsPerKeyPrincipal, k.arn())
	}
	b, _ := json.Marshal(g)
	if err := tx.Create(store.KindGrant, grantScope(k.Account, k.Region, k.ID), g.ID, b); err != nil {
		return nil, err
	}
	if g.Retiring != "" {
		if err := tx.Put(store.KindGrantRetiring, g.Retiring, g.keyARN()+"|"+g.ID, []byte{1}); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func pageGrants(grants []*grantRecord, marker *string, limit int) (*ListGrantsOutput, error) {
	slices.SortFunc(grants, func(a, b *grantRecord) int { return strings.Compare(a.ID, b.ID) })
	start := 0
	if marker != nil {
		if !validGrantID(*marker) {
			return nil, errInvalidMarker()
		}
		start = len(grants)
		for i, g := range grants {
			if g.ID > *marker {
				start = i
				break
			}
		}
	}
	out := &ListGrantsOutput{Grants: []GrantListEntry{}}
	for _, g := range grants[start:] {
		if len(out.Grants) == limit {
			out.Truncated = true
			out.NextMarker = out.Grants[limit-1].GrantId
			break
		}
		out.Grants = append(out.Grants, g.entry())
	}
	return out, nil
}

// ListGrants lists the grants of a key.
func (s *Service) ListGrants(ctx context.Context, c *Call, in *ListGrantsInput) (*ListGrantsOutput, error) {
	if in.GrantId != nil && !validGrantID(*in.GrantId) {
		return nil, errInvalidGrantID(*in.GrantId)
	}
	var grants []*grantRecord
	var k *keyRecord
	err := s.view(ctx, func(tx store.Tx) error {
		r, err := s.resolveIn(tx, c, in.KeyId)
		if err != nil {
			return err
		}
		k = r.key
		grants, err = listGrants(tx, k.Account, k.Region, k.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "kms:ListGrants", k); err != nil {
		return nil, err
	}
	grants = slices.DeleteFunc(grants, func(g *grantRecord) bool {
		return (in.GrantId != nil && g.ID != *in.GrantId) || (in.GranteePrincipal != nil && g.Grantee != *in.GranteePrincipal)
	})
	limit, err := pageSize(in.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	return pageGrants(grants, in.Marker, limit)
}

// ListRetirableGrants lists the grants a principal may retire, across keys.
func (s *Service) ListRetirableGrants(ctx context.Context, c *Call, in *ListRetirableGrantsInput) (*ListGrantsOutput, error) {
	if !validGrantee(in.RetiringPrincipal) {
		return nil, errInvalidArn("RetiringPrincipal %s is not a valid principal.", in.RetiringPrincipal)
	}
	if err := s.authorize(ctx, c, "kms:ListRetirableGrants", nil); err != nil {
		return nil, err
	}
	var grants []*grantRecord
	err := s.view(ctx, func(tx store.Tx) error {
		grants = grants[:0]
		items, err := tx.List(store.KindGrantRetiring, in.RetiringPrincipal, "", 0)
		if err != nil {
			return err
		}
		for _, it := range items {
			keyARN, id, ok := strings.Cut(it.ID, "|")
			if !ok {
				continue
			}
			g, err := getGrantByARN(tx, keyARN, id)
			if err != nil {
				continue
			}
			grants = append(grants, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(in.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	return pageGrants(grants, in.Marker, limit)
}

func getGrantByARN(tx store.Tx, keyARN, id string) (*grantRecord, error) {
	a, err := arn.Parse(keyARN)
	if err != nil || !strings.HasPrefix(a.Resource, "key/") {
		return nil, store.ErrNotFound
	}
	b, err := tx.Get(store.KindGrant, grantScope(a.Account, a.Region, strings.TrimPrefix(a.Resource, "key/")), id)
	if err != nil {
		return nil, err
	}
	g := new(grantRecord)
	if err := json.Unmarshal(b, g); err != nil {
		return nil, err
	}
	return g, nil
}

func deleteGrant(tx store.Tx, g *grantRecord) error {
	if err := tx.Delete(store.KindGrant, grantScope(g.Account, g.Region, g.KeyID), g.ID); err != nil {
		return err
	}
	if g.Retiring != "" {
		if err := tx.Delete(store.KindGrantRetiring, g.Retiring, g.keyARN()+"|"+g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// RetireGrant deletes a grant; allowed for its retiring principal, its
// grantee when the grant includes RetireGrant, or a caller whose policies
// allow kms:RetireGrant on the key.
func (s *Service) RetireGrant(ctx context.Context, c *Call, in *RetireGrantInput) (*Empty, error) {
	var keyARN, id string
	switch {
	case in.GrantToken != nil:
		var err error
		if keyARN, id, err = parseGrantToken(*in.GrantToken); err != nil {
			return nil, err
		}
	case in.KeyId != nil && in.GrantId != nil:
		if !validGrantID(*in.GrantId) {
			return nil, errInvalidGrantID(*in.GrantId)
		}
		r, err := s.resolve(ctx, c, *in.KeyId)
		if err != nil {
			return nil, err
		}
		keyARN, id = r.key.arn(), *in.GrantId
	default:
		return nil, errValidation("Specify a GrantToken, or a KeyId and a GrantId.")
	}
	var g *grantRecord
	err := s.view(ctx, func(tx store.Tx) error {
		var err error
		g, err = getGrantByARN(tx, keyARN, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("Grant %s does not exist on key %s.", id, keyARN)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	p := c.Principal
	permitted := (g.Retiring != "" && granteeMatches(g.Retiring, p)) ||
		(slices.Contains(g.Operations, "RetireGrant") && granteeMatches(g.Grantee, p))
	if !permitted {
		var k *keyRecord
		s.view(ctx, func(tx store.Tx) error {
			k, _ = getKey(tx, g.Account, g.Region, g.KeyID)
			return nil
		})
		if k == nil {
			return nil, errNotFound("Key '%s' does not exist", keyARN)
		}
		if err := s.authorize(ctx, c, "kms:RetireGrant", k); err != nil {
			return nil, err
		}
	}
	if in.DryRun {
		return nil, errDryRun()
	}
	return commitCall(s, ctx, c, "RetireGrant", func(tx store.Tx) (*Empty, error) {
		err := deleteGrant(tx, g)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("Grant %s does not exist on key %s.", id, keyARN)
		}
		if err != nil {
			return nil, err
		}
		return &Empty{}, nil
	})
}

// RevokeGrant deletes a grant; authorized by kms:RevokeGrant on the key.
func (s *Service) RevokeGrant(ctx context.Context, c *Call, in *RevokeGrantInput) (*Empty, error) {
	if !validGrantID(in.GrantId) {
		return nil, errInvalidGrantID(in.GrantId)
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	if err := s.authorize(ctx, c, "kms:RevokeGrant", k); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun()
	}
	return commitCall(s, ctx, c, "RevokeGrant", func(tx store.Tx) (*Empty, error) {
		g, err := getGrantByARN(tx, k.arn(), in.GrantId)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("Grant %s does not exist on key %s.", in.GrantId, k.arn())
		}
		if err != nil {
			return nil, err
		}
		if err := deleteGrant(tx, g); err != nil {
			return nil, err
		}
		return &Empty{}, nil
	})
}

// deleteGrantsOf removes every grant of a key (the key is being deleted).
func deleteGrantsOf(tx store.Tx, k *keyRecord) error {
	grants, err := listGrants(tx, k.Account, k.Region, k.ID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := deleteGrant(tx, g); err != nil {
			return err
		}
	}
	return nil
}
