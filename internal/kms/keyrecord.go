package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/store"
)

// Key states.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
	StatePendingImport   = "PendingImport"
	StateUnavailable     = "Unavailable"
)

// Key managers and origins.
const (
	ManagerCustomer = "CUSTOMER"
	ManagerAWS      = "AWS"
	OriginKMS       = "AWS_KMS"
	OriginExternal  = "EXTERNAL"
)

// keyRecord is the persisted form of a KMS key.
type keyRecord struct {
	ID            string           `json:"id"`
	Account       string           `json:"account"`
	Region        string           `json:"region"`
	Created       int64            `json:"created"`
	Description   string           `json:"description"`
	State         string           `json:"state"`
	Spec          string           `json:"spec"`
	Usage         string           `json:"usage"`
	Origin        string           `json:"origin"`
	Manager       string           `json:"manager"`
	MultiRegion   bool             `json:"multiRegion,omitempty"`
	DeletionDate  int64            `json:"deletionDate,omitempty"`
	PendingWindow int32            `json:"pendingWindow,omitempty"`
	Policy        string           `json:"policy"`
	Tags          []Tag            `json:"tags,omitempty"`
	Materials     []materialRecord `json:"materials,omitempty"`
	Current       uint32           `json:"current"` // version used to encrypt; 0 = none

	// Lifecycle state (rotation.go, import.go, managed.go).
	Rotation *rotationState `json:"rotation,omitempty"`
	// MaterialInfo records how each material version came to be and, for
	// imported material, its import state. It outlives the sealed material
	// of an imported version that expired or was deleted.
	MaterialInfo []materialInfo `json:"materialInfo,omitempty"`
	// TopVersion is the highest material version ever assigned to imported
	// material: versions are never reused, even for discarded material.
	TopVersion uint32 `json:"topVersion,omitempty"`
	// Service is the AWS service of an AWS managed key (s3, ebs, …).
	Service string `json:"service,omitempty"`

	// Multi-Region family (multiregion.go), the same on every member: the
	// primary key's Region and the replicas' Regions, sorted.
	PrimaryRegion  string   `json:"primaryRegion,omitempty"`
	ReplicaRegions []string `json:"replicaRegions,omitempty"`

	// arnOf is the key's ARN, as the record cache works it out once for
	// the copies it hands out (memoARN), with the region, account and id
	// it was made of: arn() uses it only while they are the record's.
	arnOf arnMemo
}

type arnMemo struct{ arn, region, account, id string }

// memoARN notes k's ARN in k, for arn() and for the copies of k. Only on a
// record nothing else reads yet: arn() itself never writes.
func (k *keyRecord) memoARN() {
	k.arnOf = arnMemo{arn.Key(k.Region, k.Account, k.ID), k.Region, k.Account, k.ID}
}

func (k *keyRecord) arn() string {
	if m := &k.arnOf; m.arn != "" && m.region == k.Region && m.account == k.Account && m.id == k.ID {
		return m.arn
	}
	return arn.Key(k.Region, k.Account, k.ID)
}

func (k *keyRecord) material(version uint32) *materialRecord {
	for i := range k.Materials {
		if k.Materials[i].Version == version {
			return &k.Materials[i]
		}
	}
	return nil
}

func (k *keyRecord) metadata() *KeyMetadata {
	m := &KeyMetadata{
		AWSAccountId:          k.Account,
		KeyId:                 k.ID,
		Arn:                   k.arn(),
		CreationDate:          tp(time.Unix(k.Created, 0).UTC()),
		Enabled:               k.State == StateEnabled,
		Description:           k.Description,
		KeyUsage:              k.Usage,
		KeyState:              k.State,
		Origin:                k.Origin,
		KeyManager:            k.Manager,
		CustomerMasterKeySpec: k.Spec,
		KeySpec:               k.Spec,
		MultiRegion:           k.MultiRegion,
	}
	if k.State == StatePendingDeletion {
		m.DeletionDate = tp(time.Unix(k.DeletionDate, 0).UTC())
		m.PendingDeletionWindowInDays = k.PendingWindow
	}
	if cur := k.material(k.Current); cur != nil {
		m.CurrentKeyMaterialId = cur.ID
	}
	k.lifecycleMetadata(m)
	k.multiRegionMetadata(m)
	m.EncryptionAlgorithms, m.SigningAlgorithms, m.MacAlgorithms, m.KeyAgreementAlgorithms = algorithmsFor(k.Spec, k.Usage)
	return m
}

func decodeKey(b []byte) (*keyRecord, error) {
	k := new(keyRecord)
	if err := json.Unmarshal(b, k); err != nil {
		return nil, fmt.Errorf("kms: decoding key record: %w", err)
	}
	return k, nil
}

func encodeKey(k *keyRecord) []byte {
	b, err := json.Marshal(k)
	if err != nil {
		panic(err) // a keyRecord always encodes
	}
	return b
}

func getKey(tx store.Tx, account, region, id string) (*keyRecord, error) {
	scope := scopeOf(account, region)
	if p, ok := tx.(store.Peeker); ok { // compared where stored, copied only to decode
		var k *keyRecord
		err := p.Peek(store.KindKey, scope, id, func(b []byte) error {
			var err error
			k, err = keyRecords.decodeShared(scope, id, b)
			return err
		})
		return k, err
	}
	b, err := tx.Get(store.KindKey, scope, id)
	if err != nil {
		return nil, err
	}
	return keyRecords.decode(scope, id, b) // decodeKey, cached: recordcache.go
}

// putKey stores k; for a multi-Region key, the material and rotation state
// it shares with its family reach every member in the same transaction.
func putKey(tx store.Tx, k *keyRecord) error {
	if err := tx.Put(store.KindKey, scopeOf(k.Account, k.Region), k.ID, encodeKey(k)); err != nil {
		return err
	}
	return syncFamily(tx, k)
}

// aliasRecord is the persisted form of an alias.
type aliasRecord struct {
	Target  string `json:"target"`
	Created int64  `json:"created"`
	Updated int64  `json:"updated"`
}

func getAlias(tx store.Tx, account, region, name string) (*aliasRecord, error) {
	b, err := tx.Get(store.KindAlias, scopeOf(account, region), name)
	if err != nil {
		return nil, err
	}
	a := new(aliasRecord)
	if err := json.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("kms: decoding alias record: %w", err)
	}
	return a, nil
}

func putAlias(tx store.Tx, account, region, name string, a *aliasRecord) error {
	b, _ := json.Marshal(a)
	return tx.Put(store.KindAlias, scopeOf(account, region), name, b)
}

// resolved is a key found by a reference.
type resolved struct {
	key *keyRecord
	// alias is the alias name when the reference was an alias.
	alias string
}

// resolveIn finds the key that ref names, inside tx. Keys whose deletion
// window has passed count as gone.
func (s *Service) resolveIn(tx store.Tx, c *Call, ref string) (*resolved, error) {
	// A missing (null) or empty key reference, or one longer than the API
	// model's 2048 characters, fails AWS's input validation before any
	// lookup.
	if ref == "" {
		return nil, errValidation("1 validation error detected: a key identifier (KeyId) is required and must have length greater than or equal to 1")
	}
	if len(ref) > 2048 {
		return nil, errValidation("1 validation error detected: a key identifier (KeyId) must have length less than or equal to 2048")
	}
	r, err := arn.ParseKeyRef(ref)
	if err != nil {
		return nil, errNotFound("Invalid keyId '%s'", ref)
	}
	account, region := c.Principal.Account, c.Region
	if r.Account != "" {
		account = r.Account
		if r.Region != c.Region {
			return nil, errNotFound("Invalid arn %s", ref)
		}
	}
	out := &resolved{}
	id := r.KeyID
	if r.AliasName != "" {
		a, err := getAlias(tx, account, region, r.AliasName)
		if errors.Is(err, store.ErrNotFound) {
			nf := errNotFound("Alias %s is not found.", arn.Alias(region, account, r.AliasName))
			if svc := managedService(r.AliasName); svc != "" && account == c.Principal.Account {
				return nil, &errManagedKeyMissing{nf: nf, account: account, region: region, service: svc}
			}
			return nil, nf
		}
		if err != nil {
			return nil, err
		}
		id, out.alias = a.Target, r.AliasName
	} else if !arn.IsKeyID(id) {
		return nil, errNotFound("Invalid keyId '%s'", ref)
	}
	k, err := getKey(tx, account, region, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound("Key '%s' does not exist", arn.Key(region, account, id))
	}
	if err != nil {
		return nil, err
	}
	if s.deletionDue(k) {
		return nil, errNotFound("Key '%s' does not exist", k.arn())
	}
	s.expireLazily(k)
	out.key = k
	return out, nil
}

// expireLazily makes imported material whose ValidTo has passed unusable
// at ValidTo exactly, as the background sweep (ExpireImportedMaterial)
// would: the material is dropped from k and the key shown PendingImport.
// A caller that stores k persists what the sweep would have.
func (s *Service) expireLazily(k *keyRecord) {
	now := s.clock.Now().Unix()
	for i := 0; i < len(k.MaterialInfo); i++ {
		mi := k.MaterialInfo[i]
		if mi.ValidTo == 0 || now < mi.ValidTo || k.material(mi.Version) == nil {
			continue
		}
		k.dropMaterial(mi.Version)
		if mi.PendingRotation {
			k.dropInfo(mi.Version)
			i--
		} else if k.State != StatePendingDeletion {
			k.State = StatePendingImport
		}
	}
}

// resolve is resolveIn in its own read transaction. The first reference to
// an AWS managed key's alias (alias/aws/s3, …) in the caller's own account
// and region creates that key (managed.go), then resolves again.
func (s *Service) resolve(ctx context.Context, c *Call, ref string) (*resolved, error) {
	read := func() (*resolved, error) {
		var out *resolved
		err := s.view(ctx, func(tx store.Tx) error {
			var err error
			out, err = s.resolveIn(tx, c, ref)
			return err
		})
		return out, err
	}
	var out *resolved
	var err error
	if s.resolves != nil {
		out, err = s.resolves.lookup(resolveKey{account: c.Principal.Account, region: c.Region, ref: ref}, read)
	} else {
		out, err = read()
	}
	if err == nil && s.deletionDue(out.key) { // due since a cached entry was read: gone, as resolveIn says
		return nil, errNotFound("Key '%s' does not exist", out.key.arn())
	}
	if err == nil {
		return out, nil
	}
	var missing *errManagedKeyMissing // declared here: it escapes to errors.As, and most calls have no error
	if errors.As(err, &missing) {
		if err := s.createManagedKey(ctx, missing.account, missing.region, missing.service); err != nil {
			return nil, err
		}
		out, err = read()
	}
	return out, err
}

// mutateKeyCall resolves ref, authorizes az (its Key and Alias filled in
// from the resolution) and applies fn to the key in a read-write
// transaction, in which operation op's record is written (commitCall): out
// builds the operation's output from the key as stored. Authorization
// happens before the transaction: a store transaction's fn must not call
// the store again, and policy evaluation may read it.
func mutateKeyCall[O any](s *Service, ctx context.Context, c *Call, op, ref string, az *authzReq, fn func(tx store.Tx, k *keyRecord) error, out func(k *keyRecord) *O) (*O, error) {
	k, err := s.authorizeKey(ctx, c, ref, az)
	if err != nil {
		return nil, err
	}
	return updateKeyCall(s, ctx, c, op, k, fn, out)
}

// authorizeKey resolves ref and authorizes az on the key, its Key and Alias
// filled in from the resolution.
func (s *Service) authorizeKey(ctx context.Context, c *Call, ref string, az *authzReq) (*keyRecord, error) {
	r, err := s.resolve(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	az.Key = r.key
	if az.Alias == "" {
		az.Alias = r.alias
	}
	if err := s.authorizeReq(ctx, c, az); err != nil {
		return nil, err
	}
	return r.key, nil
}

// updateKeyCall re-reads key k (by account, region and id) inside a
// read-write transaction, applies fn and stores the result; operation op's
// record is written in the same transaction (commitCall), with out(key as
// stored) as output.
func updateKeyCall[O any](s *Service, ctx context.Context, c *Call, op string, k *keyRecord, fn func(tx store.Tx, k *keyRecord) error, out func(k *keyRecord) *O) (*O, error) {
	return commitCall(s, ctx, c, op, func(tx store.Tx) (*O, error) {
		cur, err := s.updateKeyTx(tx, k, fn)
		if err != nil {
			return nil, err
		}
		return out(cur), nil
	})
}

// updateKeyTx re-reads key k in tx, applies fn and stores the result.
func (s *Service) updateKeyTx(tx store.Tx, k *keyRecord, fn func(tx store.Tx, k *keyRecord) error) (*keyRecord, error) {
	cur, err := getKey(tx, k.Account, k.Region, k.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.deletionDue(cur)) {
		return nil, errNotFound("Key '%s' does not exist", k.arn())
	}
	if err != nil {
		return nil, err
	}
	if err := fn(tx, cur); err != nil {
		return nil, err
	}
	if err := putKey(tx, cur); err != nil {
		return nil, err
	}
	return cur, nil
}

// empty is the output of an operation that answers nothing.
func empty(*keyRecord) *Empty { return &Empty{} }

func (s *Service) deletionDue(k *keyRecord) bool {
	return k.State == StatePendingDeletion && s.clock.Now().Unix() >= k.DeletionDate
}

// requireUsable checks that k can perform a cryptographic operation.
func requireUsable(k *keyRecord) error {
	switch k.State {
	case StateEnabled:
		return nil
	case StateDisabled:
		return errDisabled(k.arn())
	case StatePendingDeletion, StatePendingReplicaDeletion:
		return errInvalidState("%s is pending deletion.", k.arn())
	case StatePendingImport:
		return errInvalidState("%s is pending import.", k.arn())
	default:
		return errInvalidState("%s is unavailable.", k.arn())
	}
}

// requireNotPendingDeletion refuses management of a key pending deletion.
func requireNotPendingDeletion(k *keyRecord) error {
	if k.State == StatePendingDeletion || k.State == StatePendingReplicaDeletion {
		return errInvalidState("%s is pending deletion.", k.arn())
	}
	return nil
}
