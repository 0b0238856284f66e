package kms

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/store"
)

// Multi-Region keys: CreateKey with MultiRegion (a KeyId "mrk-…"),
// ReplicateKey, UpdatePrimaryRegion, and what a family of related keys
// means for the rest of the core.
//
// A family is one primary key and its replicas: one key record per Region,
// all with the same key id in the same account. Every record of a family
// names the family (PrimaryRegion, ReplicaRegions), and every change of the
// family rewrites all of them in one store transaction, so DescribeKey reads
// the family from the key alone and no member ever disagrees with another.
//
// Shared properties — key material and its versions, and the rotation
// state — are copied to every member whenever a member is written (putKey
// calls syncFamily). Sealed material is bound to the account, the key id and
// the version, not to the Region (materialAAD), so the same sealed bytes
// open in every member, and a ciphertext made in one Region names a key id
// that resolves in each Region holding a member: it decrypts there.
// Independent properties — description, policy, grants, aliases, tags,
// key state — belong to each record.
//
// Deletion follows AWS: a primary with replicas scheduled for deletion goes
// to PendingReplicaDeletion, unusable, and its waiting period starts only
// when its last replica is deleted (leaveFamily). A replica can be deleted
// at any time; its material survives in the other members.

// StatePendingReplicaDeletion is the state of a multi-Region primary key
// scheduled for deletion while it still has replicas.
const StatePendingReplicaDeletion = "PendingReplicaDeletion"

// MultiRegionKeyType values.
const (
	MultiRegionPrimary = "PRIMARY"
	MultiRegionReplica = "REPLICA"
)

// newMultiRegionKeyID returns "mrk-" and 32 hex digits.
func newMultiRegionKeyID() string {
	var b [16]byte
	rand.Read(b[:])
	return "mrk-" + hex.EncodeToString(b[:])
}

// regionPattern is the API model's pattern of a Region name.
var regionPattern = regexp.MustCompile(`^([a-z]+-){2,3}\d+$`)

// serves reports whether region is one the service is configured for (any
// Region when none is configured).
func (s *Service) serves(region string) bool {
	return len(s.cfg.Regions) == 0 || slices.Contains(s.cfg.Regions, region)
}

// isPrimary reports whether k is a multi-Region primary key.
func (k *keyRecord) isPrimary() bool {
	return k.MultiRegion && (k.PrimaryRegion == "" || k.PrimaryRegion == k.Region)
}

// primaryRegion returns the Region of k's family's primary key.
func (k *keyRecord) primaryRegion() string {
	if k.PrimaryRegion == "" {
		return k.Region
	}
	return k.PrimaryRegion
}

// familyRegions lists the Regions of every member of k's family, the
// primary first.
func (k *keyRecord) familyRegions() []string {
	return append([]string{k.primaryRegion()}, k.ReplicaRegions...)
}

// multiRegionMetadata fills DescribeKey's MultiRegionConfiguration: the
// family as every member records it. ReplicaKeys lists every replica,
// including k when it is one.
func (k *keyRecord) multiRegionMetadata(m *KeyMetadata) {
	if !k.MultiRegion {
		return
	}
	cfg := &MultiRegionConfiguration{
		MultiRegionKeyType: MultiRegionReplica,
		PrimaryKey:         &MultiRegionKey{Arn: arn.Key(k.primaryRegion(), k.Account, k.ID), Region: k.primaryRegion()},
		ReplicaKeys:        []MultiRegionKey{},
	}
	if k.isPrimary() {
		cfg.MultiRegionKeyType = MultiRegionPrimary
	}
	for _, r := range k.ReplicaRegions {
		cfg.ReplicaKeys = append(cfg.ReplicaKeys, MultiRegionKey{Arn: arn.Key(r, k.Account, k.ID), Region: r})
	}
	m.MultiRegionConfiguration = cfg
	if k.State == StatePendingReplicaDeletion {
		m.PendingDeletionWindowInDays = k.PendingWindow
	}
}

// sharedState is what the members of a family share and syncFamily
// copies: the material and the rotation state.
type sharedState struct {
	Materials    []materialRecord `json:"m,omitempty"`
	Current      uint32           `json:"c"`
	Rotation     *rotationState   `json:"r,omitempty"`
	MaterialInfo []materialInfo   `json:"i,omitempty"`
	TopVersion   uint32           `json:"t,omitempty"`
}

// shared returns k's shared state. The rotation state is shared without
// its schedule (Next, Waiting), which belongs to the primary alone: its
// index entry names the primary's Region, and UpdatePrimaryRegion moves it.
func (k *keyRecord) shared() sharedState {
	sh := sharedState{Materials: k.Materials, Current: k.Current, MaterialInfo: k.MaterialInfo, TopVersion: k.TopVersion}
	if k.Rotation != nil {
		r := *k.Rotation
		r.Next, r.Waiting = 0, false
		sh.Rotation = &r
	}
	return sh
}

// setShared copies from's shared state onto k, keeping k's own rotation
// schedule.
func (k *keyRecord) setShared(from *keyRecord) {
	b, _ := json.Marshal(from.shared())
	var sh sharedState
	json.Unmarshal(b, &sh) // a deep copy
	k.Materials, k.Current, k.MaterialInfo, k.TopVersion = sh.Materials, sh.Current, sh.MaterialInfo, sh.TopVersion
	if sh.Rotation != nil && k.Rotation != nil {
		sh.Rotation.Next, sh.Rotation.Waiting = k.Rotation.Next, k.Rotation.Waiting
	}
	k.Rotation = sh.Rotation
}

func sameShared(a, b *keyRecord) bool {
	x, _ := json.Marshal(a.shared())
	y, _ := json.Marshal(b.shared())
	return string(x) == string(y)
}

// syncFamily copies k's shared state to the other members of its family,
// inside k's transaction: called by putKey whenever a multi-Region key is
// written, so a rotation (automatic or on demand) of the primary reaches
// every replica at once. Keys with imported material are left alone: AWS
// has the owner import the same material into each member.
func syncFamily(tx store.Tx, k *keyRecord) error {
	if !k.MultiRegion || k.Origin != OriginKMS {
		return nil
	}
	for _, region := range k.familyRegions() {
		if region == k.Region {
			continue
		}
		m, err := getKey(tx, k.Account, region, k.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if sameShared(m, k) {
			continue
		}
		m.setShared(k)
		if err := putMember(tx, m); err != nil {
			return err
		}
	}
	return nil
}

// putMember stores a family member without syncing the family again.
func putMember(tx store.Tx, k *keyRecord) error {
	return tx.Put(store.KindKey, scopeOf(k.Account, k.Region), k.ID, encodeKey(k))
}

// setFamily records the family (primary Region, replica Regions) on every
// member of k's family, old and new: members lists the Regions to rewrite.
func setFamily(tx store.Tx, account, id string, members []string, primary string, replicas []string) error {
	replicas = slices.Clone(replicas)
	slices.Sort(replicas)
	for _, region := range members {
		m, err := getKey(tx, account, region, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		m.PrimaryRegion, m.ReplicaRegions = primary, replicas
		if err := putMember(tx, m); err != nil {
			return err
		}
	}
	return nil
}

// scheduleFamilyDeletion handles ScheduleKeyDeletion of a primary key with
// replicas: it goes to PendingReplicaDeletion and remembers the waiting
// period, which starts when its last replica is deleted. It reports whether
// it handled k.
func scheduleFamilyDeletion(k *keyRecord, days int32) bool {
	if !k.isPrimary() || len(k.ReplicaRegions) == 0 {
		return false
	}
	k.State = StatePendingReplicaDeletion
	k.PendingWindow = days
	k.DeletionDate = 0
	return true
}

// leaveFamily removes k, about to be deleted for good, from its family:
// every other member forgets it, and a primary waiting in
// PendingReplicaDeletion for its last replica starts its waiting period.
func (s *Service) leaveFamily(tx store.Tx, k *keyRecord, now time.Time) error {
	if !k.MultiRegion {
		return nil
	}
	primary := k.primaryRegion()
	if primary == k.Region {
		// A primary is deleted only without replicas; nothing to tell.
		return nil
	}
	replicas := slices.DeleteFunc(slices.Clone(k.ReplicaRegions), func(r string) bool { return r == k.Region })
	members := append([]string{primary}, replicas...)
	if err := setFamily(tx, k.Account, k.ID, members, primary, replicas); err != nil {
		return err
	}
	if len(replicas) > 0 {
		return nil
	}
	p, err := getKey(tx, k.Account, primary, k.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.State != StatePendingReplicaDeletion {
		return nil
	}
	p.State = StatePendingDeletion
	p.DeletionDate = now.Add(time.Duration(p.PendingWindow) * 24 * time.Hour).Unix()
	if err := tx.Put(store.KindPending, "", pendingID(p), nil); err != nil {
		return err
	}
	s.log.Info("multi-Region primary key's waiting period started: its last replica was deleted", "key", p.arn())
	return putMember(tx, p)
}

// ReplicateKey creates a replica of a multi-Region primary key in another
// Region: the same key id and material, with its own policy, description,
// tags and state. The request is made in the primary's Region; the caller
// needs kms:ReplicateKey on the primary and kms:CreateKey in the replica's
// Region.
func (s *Service) ReplicateKey(ctx context.Context, c *Call, in *ReplicateKeyInput) (*ReplicateKeyOutput, error) {
	region := in.ReplicaRegion
	if !regionPattern.MatchString(region) || len(region) > 32 {
		return nil, errValidation("1 validation error detected: Value '%s' at 'replicaRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$", region)
	}
	if !s.serves(region) {
		return nil, errUnsupported("The Region %s is not served by this endpoint.", region)
	}
	policyDoc := DefaultKeyPolicy(c.Principal.Account)
	if in.Policy != nil {
		if _, err := s.parseKeyPolicy(*in.Policy); err != nil {
			return nil, err
		}
		policyDoc = *in.Policy
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:ReplicateKey", Key: k, Alias: r.alias}); err != nil {
		return nil, err
	}
	if err := checkReplicable(k, region); err != nil {
		return nil, err
	}
	// In the replica's Region the call creates a key.
	rc := *c
	rc.Region, rc.Resources = region, nil
	if err := s.authorizeReq(ctx, &rc, &authzReq{Action: "kms:CreateKey", RequestTags: in.Tags}); err != nil {
		return nil, err
	}
	replica := &keyRecord{
		ID:          k.ID,
		Account:     k.Account,
		Region:      region,
		Created:     s.clock.Now().Unix(),
		State:       StateEnabled,
		Spec:        k.Spec,
		Usage:       k.Usage,
		Origin:      k.Origin,
		Manager:     ManagerCustomer,
		MultiRegion: true,
		Policy:      policyDoc,
		Tags:        in.Tags,
		// The family as it is before the replica joins; the transaction
		// below records it as it is after.
		PrimaryRegion:  k.Region,
		ReplicaRegions: append(slices.Clone(k.ReplicaRegions), region),
	}
	if in.Description != nil {
		replica.Description = *in.Description
	}
	if in.Policy != nil && !in.BypassPolicyLockoutSafetyCheck {
		p, _ := s.parseKeyPolicy(policyDoc)
		if err := s.checkLockout(ctx, &rc, replica, p); err != nil {
			return nil, err
		}
	}
	// The replica, the family's new members list and the call's record
	// commit together (commitCall). The record names the replica among the
	// call's resources, after the primary, and its metadata as stored.
	base := c.Resources
	out, err := commitCall(s, ctx, c, "ReplicateKey", func(tx store.Tx) (*ReplicateKeyOutput, error) {
		p, err := getKey(tx, k.Account, k.Region, k.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && s.deletionDue(p)) {
			return nil, errNotFound("Key '%s' does not exist", k.arn())
		}
		if err != nil {
			return nil, err
		}
		if err := checkReplicable(p, region); err != nil {
			return nil, err
		}
		replica := *replica // this run's
		replica.setShared(p)
		if p.Origin == OriginExternal {
			// Imported material is imported into each member by its owner.
			replica.Materials, replica.Current, replica.MaterialInfo, replica.TopVersion = nil, 0, nil, 0
			replica.State = StatePendingImport
		}
		replicas := append(slices.Clone(p.ReplicaRegions), region)
		slices.Sort(replicas)
		replica.PrimaryRegion, replica.ReplicaRegions = p.Region, replicas
		if err := tx.Create(store.KindKey, scopeOf(replica.Account, region), replica.ID, encodeKey(&replica)); err != nil {
			if errors.Is(err, store.ErrExists) {
				return nil, errAlreadyExists("The key %s already has a replica in %s.", p.arn(), region)
			}
			return nil, err
		}
		if err := setFamily(tx, p.Account, p.ID, p.familyRegions(), p.Region, replicas); err != nil {
			return nil, err
		}
		got, err := getKey(tx, replica.Account, region, replica.ID)
		if err != nil {
			return nil, err
		}
		c.Resources = append(base[:len(base):len(base)], replica.arn()) // this run's, not an earlier one's too
		tags := got.Tags
		if tags == nil {
			tags = []Tag{}
		}
		return &ReplicateKeyOutput{ReplicaKeyMetadata: got.metadata(), ReplicaPolicy: got.Policy, ReplicaTags: tags}, nil
	})
	if err != nil {
		c.Resources = base // a failure names the keys authorized, as before
		return nil, err
	}
	return out, nil
}

// checkReplicable refuses to replicate k into region unless k is a
// multi-Region primary key that can be replicated there.
func checkReplicable(k *keyRecord, region string) error {
	if !k.MultiRegion {
		return errUnsupported("%s is not a multi-Region key: only multi-Region keys can be replicated.", k.arn())
	}
	if !k.isPrimary() {
		return errUnsupported("%s is a multi-Region replica key: replicate its primary key, in %s.", k.arn(), k.primaryRegion())
	}
	switch k.State {
	case StateEnabled, StatePendingImport:
	case StateDisabled:
		return errDisabled(k.arn())
	case StatePendingDeletion, StatePendingReplicaDeletion:
		return errInvalidState("%s is pending deletion.", k.arn())
	default:
		return errInvalidState("%s is unavailable.", k.arn())
	}
	if region == k.Region {
		return errValidation("The replica Region %s is the Region of the primary key: choose another Region.", region)
	}
	if slices.Contains(k.ReplicaRegions, region) {
		return errAlreadyExists("The key %s already has a replica in %s.", k.arn(), region)
	}
	return nil
}

// UpdatePrimaryRegion makes the replica of a multi-Region key in
// PrimaryRegion the family's primary key; the current primary becomes a
// replica. It is called in the current primary's Region, and needs
// kms:UpdatePrimaryRegion on both keys.
func (s *Service) UpdatePrimaryRegion(ctx context.Context, c *Call, in *UpdatePrimaryRegionInput) (*Empty, error) {
	target := in.PrimaryRegion
	if !regionPattern.MatchString(target) || len(target) > 32 {
		return nil, errValidation("1 validation error detected: Value '%s' at 'primaryRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$", target)
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:UpdatePrimaryRegion", Key: k, Alias: r.alias}); err != nil {
		return nil, err
	}
	if err := checkPrimaryMove(k, nil, target); err != nil {
		return nil, err
	}
	var replica *keyRecord
	err = s.view(ctx, func(tx store.Tx) error {
		var err error
		replica, err = getKey(tx, k.Account, target, k.ID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound("The multi-Region key %s has no replica in %s.", k.arn(), target)
	}
	if err != nil {
		return nil, err
	}
	rc := *c
	rc.Region = target
	if err := s.authorizeReq(ctx, &rc, &authzReq{Action: "kms:UpdatePrimaryRegion", Key: replica}); err != nil {
		return nil, err
	}
	c.Resources = append(c.Resources, rc.Resources[len(c.Resources):]...)
	// The family's new roles and the call's record commit together
	// (commitCall).
	return commitCall(s, ctx, c, "UpdatePrimaryRegion", func(tx store.Tx) (*Empty, error) {
		if err := s.movePrimary(tx, k, target); err != nil {
			return nil, err
		}
		return &Empty{}, nil
	})
}

// movePrimary is UpdatePrimaryRegion's change, inside its transaction: the
// replica of k in target becomes the primary key, k (re-read) a replica.
func (s *Service) movePrimary(tx store.Tx, k *keyRecord, target string) error {
	p, err := getKey(tx, k.Account, k.Region, k.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.deletionDue(p)) {
		return errNotFound("Key '%s' does not exist", k.arn())
	}
	if err != nil {
		return err
	}
	n, err := getKey(tx, k.Account, target, k.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.deletionDue(n)) {
		return errNotFound("The multi-Region key %s has no replica in %s.", k.arn(), target)
	}
	if err != nil {
		return err
	}
	if err := checkPrimaryMove(p, n, target); err != nil {
		return err
	}
	// The automatic rotation schedule moves with the primary role.
	next := int64(0)
	if p.Rotation != nil {
		next = p.Rotation.Next
	}
	if err := unscheduleRotation(tx, p); err != nil {
		return err
	}
	members := p.familyRegions()
	replicas := slices.DeleteFunc(slices.Clone(p.ReplicaRegions), func(r string) bool { return r == target })
	replicas = append(replicas, p.Region)
	if err := putMember(tx, p); err != nil { // the cleared schedule
		return err
	}
	if err := setFamily(tx, p.Account, p.ID, members, target, replicas); err != nil {
		return err
	}
	if next == 0 {
		return nil
	}
	if n, err = getKey(tx, k.Account, target, k.ID); err != nil {
		return err
	}
	if err := scheduleRotation(tx, n, next); err != nil {
		return err
	}
	return putMember(tx, n)
}

// checkPrimaryMove refuses UpdatePrimaryRegion unless k is a multi-Region
// primary key that can hand its role to its replica in target (n, once
// read).
func checkPrimaryMove(k, n *keyRecord, target string) error {
	if !k.MultiRegion {
		return errUnsupported("%s is not a multi-Region key.", k.arn())
	}
	if !k.isPrimary() {
		return errUnsupported("%s is not the primary key of its multi-Region key: call UpdatePrimaryRegion in %s.", k.arn(), k.primaryRegion())
	}
	if target == k.Region {
		return errValidation("%s is already the primary key: the primary Region is %s.", k.arn(), target)
	}
	if !slices.Contains(k.ReplicaRegions, target) {
		return errNotFound("The multi-Region key %s has no replica in %s.", k.arn(), target)
	}
	for _, m := range []*keyRecord{k, n} {
		if m == nil {
			continue
		}
		switch m.State {
		case StatePendingDeletion, StatePendingReplicaDeletion:
			return errInvalidState("%s is pending deletion.", m.arn())
		case StateUnavailable:
			return errInvalidState("%s is unavailable.", m.arn())
		}
	}
	return nil
}

// familyImport decides whether material with KeyMaterialId matID, not yet
// associated with k, may be imported into k, a multi-Region key, given the
// imported material of the other members of its family (read in the
// import's transaction, so two members importing at once cannot both set
// different material). It returns the family's record of that material
// when a related key holds it: k takes it with the same version. It
// returns ok false when the material is new to the family and k may take
// it: k is the first member to receive material, or k is the primary key
// and already has material (new material for an on-demand rotation: AWS
// has it imported into the primary first, then into each replica). Any
// other new material is refused with IncorrectKeyMaterialException: it is
// not the material of the related keys. k's TopVersion is raised past the
// family's, so that a new version number of k is new to the family.
//
// The ids are compared in constant time; they reveal nothing of the
// material (checkMaterial).
func familyImport(tx store.Tx, k *keyRecord, matID string, everImported bool) (materialInfo, bool, error) {
	var fam []materialInfo
	for _, region := range k.familyRegions() {
		if region == k.Region {
			continue
		}
		m, err := getKey(tx, k.Account, region, k.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return materialInfo{}, false, err
		}
		for _, mi := range m.MaterialInfo {
			if mi.Imported && mi.ID != "" {
				fam = append(fam, mi)
				k.TopVersion = max(k.TopVersion, mi.Version)
			}
		}
		k.TopVersion = max(k.TopVersion, m.TopVersion)
	}
	found, ok := materialInfo{}, false
	for _, mi := range fam {
		if subtle.ConstantTimeCompare([]byte(mi.ID), []byte(matID)) == 1 {
			found, ok = mi, true
		}
	}
	switch {
	case ok:
		return materialInfo{Version: found.Version, ID: found.ID, Imported: true, PendingRotation: found.PendingRotation}, true, nil
	case len(fam) == 0 && !everImported:
		return materialInfo{}, false, nil // the family's first material
	case k.isPrimary() && everImported:
		return materialInfo{}, false, nil // new material for a rotation
	case k.isPrimary():
		return materialInfo{}, false, errIncorrectKeyMaterial("The key material is not the key material imported into the related multi-Region keys of %s: import the same key material into every related multi-Region key.", k.arn())
	default:
		return materialInfo{}, false, errIncorrectKeyMaterial("The key material is not the key material of the related multi-Region keys of %s: import new key material into the primary key, in %s, then the same key material into each replica key.", k.arn(), k.primaryRegion())
	}
}

// On-demand rotation of a family with imported material. AWS does not copy
// imported material, so new material goes into the primary key first
// (ImportType NEW_KEY_MATERIAL), then, the same, into each replica; while
// some replica lacks it, the primary lists it as
// PENDING_MULTI_REGION_IMPORT_AND_ROTATION and RotateKeyOnDemand (on the
// primary only) is refused with KMSInvalidStateException. Once every replica
// holds it, it is PENDING_ROTATION everywhere, and the rotation makes it
// current in every member in one transaction, whatever each member's own
// state (a disabled replica is rotated too; it encrypts under the new
// material once enabled). Deleting (or the expiry of) the primary's pending
// material removes it from the replicas too; a replica's copy deleted
// leaves the primary and the other replicas as they are.

// otherMembers reads, in tx, the members of k's family other than k; a
// member whose deletion is due counts as gone.
func (s *Service) otherMembers(tx store.Tx, k *keyRecord) ([]*keyRecord, error) {
	var out []*keyRecord
	for _, region := range k.familyRegions() {
		if region == k.Region {
			continue
		}
		m, err := getKey(tx, k.Account, region, k.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && s.deletionDue(m)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// holdsPending reports whether m holds material mi (of a related key)
// waiting for an on-demand rotation: the same version and id, imported, with
// its sealed bytes.
func holdsPending(m *keyRecord, mi materialInfo) bool {
	got := m.info(mi.Version)
	return got.PendingRotation && m.material(mi.Version) != nil &&
		subtle.ConstantTimeCompare([]byte(got.ID), []byte(mi.ID)) == 1
}

// rotateFamilyImported is the family's part of RotateKeyOnDemand on k, a
// multi-Region primary key with imported material, inside its transaction:
// mi is k's material pending rotation. Every replica must hold it (else
// KMSInvalidStateException naming the Regions that lack it); each then
// makes it current, and takes k's count of on-demand rotations (onDemand,
// this one included), so the limit holds for the family whichever member
// is primary later.
func (s *Service) rotateFamilyImported(tx store.Tx, k *keyRecord, mi materialInfo, now time.Time, onDemand int32) error {
	if !k.isPrimary() {
		return requireNotReplica(k, "RotateKeyOnDemand")
	}
	members, err := s.otherMembers(tx, k)
	if err != nil {
		return err
	}
	var missing []string
	for _, m := range members {
		s.expireLazily(m)
		if !holdsPending(m, mi) {
			missing = append(missing, m.Region)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return errInvalidState("The key material %s of %s is in %s state: import the same key material into the replica keys in %s (ImportType EXISTING_KEY_MATERIAL) before rotating it on demand.",
			mi.ID, k.arn(), materialPendingFamily, strings.Join(missing, ", "))
	}
	for _, m := range members {
		rotateInfo(m, m.info(mi.Version), now)
		m.rotation().OnDemand = onDemand
		if m.State == StatePendingImport && !m.missingMaterial() {
			m.State = StateEnabled
		}
		if err := putMember(tx, m); err != nil {
			return err
		}
	}
	return nil
}

// familyIncomplete returns, for k, a multi-Region primary key with imported
// material pending rotation, the versions of that material some replica
// does not hold yet (PENDING_MULTI_REGION_IMPORT_AND_ROTATION); nil for any
// other key.
func (s *Service) familyIncomplete(ctx context.Context, k *keyRecord) (map[uint32]bool, error) {
	if !k.MultiRegion || !k.isPrimary() || k.Origin != OriginExternal || len(k.ReplicaRegions) == 0 {
		return nil, nil
	}
	var pending []materialInfo
	for _, mi := range k.MaterialInfo {
		if mi.PendingRotation {
			pending = append(pending, mi)
		}
	}
	if len(pending) == 0 {
		return nil, nil
	}
	out := map[uint32]bool{}
	err := s.view(ctx, func(tx store.Tx) error {
		clear(out)
		members, err := s.otherMembers(tx, k)
		if err != nil {
			return err
		}
		for _, m := range members {
			s.expireLazily(m)
			for _, mi := range pending {
				if !holdsPending(m, mi) {
					out[mi.Version] = true
				}
			}
		}
		return nil
	})
	return out, err
}

// dropFamilyPending removes from the replicas of k, a multi-Region primary
// key whose material mi, pending rotation, was just deleted or expired, their
// copies of that material (sealed bytes, record and expiry), inside the
// same transaction. It does nothing for a replica key or a single-Region
// key.
func dropFamilyPending(tx store.Tx, k *keyRecord, mi materialInfo) error {
	if !k.MultiRegion || !k.isPrimary() {
		return nil
	}
	for _, region := range k.ReplicaRegions {
		m, err := getKey(tx, k.Account, region, k.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		got := m.info(mi.Version)
		if !got.PendingRotation || subtle.ConstantTimeCompare([]byte(got.ID), []byte(mi.ID)) != 1 {
			continue
		}
		if err := setExpiry(tx, m, &got, "", 0); err != nil {
			return err
		}
		m.dropMaterial(got.Version)
		m.dropInfo(got.Version)
		if err := putMember(tx, m); err != nil {
			return err
		}
	}
	return nil
}
