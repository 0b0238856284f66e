package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/store"
)

// Key rotation: automatic (EnableKeyRotation, DisableKeyRotation,
// GetKeyRotationStatus and the scheduler RotateDueKeys), on demand
// (RotateKeyOnDemand) and the history (ListKeyRotations).
//
// A rotation adds a material version and makes it current (addMaterial):
// new ciphertexts name the new version, every older version is kept, so
// older ciphertexts still decrypt, and KeyId, ARN, aliases, grants and
// policy stay as they were.
//
// Due automatic rotations are found through an index (kind rotation_due,
// ids "<unix seconds, 20 digits>/<account>/<region>/<key id>", sorted by
// time), like the pending-deletion index. The scheduler checks an entry
// against the key's stored next-rotation time and rotates in the same store
// Update that consumes the entry, so a rotation happens once whatever the
// number of nodes sharing the store, and a restart neither loses nor
// repeats one. An entry that no longer matches its key (rotation disabled,
// period changed, key deleted) is dropped.

// Rotation types, as ListKeyRotations reports them.
const (
	RotationAutomatic = "AUTOMATIC"
	RotationOnDemand  = "ON_DEMAND"
)

// Rotation periods and limits.
const (
	// DefaultRotationDays is EnableKeyRotation's default period.
	DefaultRotationDays = 365
	minRotationDays     = 90
	maxRotationDays     = 2560
	// DefaultAWSManagedRotationDays is the chapter's rotation period of AWS
	// managed keys: about every three years.
	DefaultAWSManagedRotationDays = 1095
	// AWSManagedRotationDaysToday is AWS's period since May 2022: yearly.
	AWSManagedRotationDaysToday = 365
	// maxOnDemandRotations is AWS's limit of RotateKeyOnDemand per key.
	maxOnDemandRotations = 25
	// onDemandConflictWindow: RotateKeyOnDemand is refused while an
	// automatic rotation is due this soon.
	onDemandConflictWindow = 20 * time.Minute
)

const kindRotationDue store.Kind = "rotation_due"

// rotationState is a key's automatic rotation setting and counters.
type rotationState struct {
	Enabled bool  `json:"enabled,omitempty"`
	Period  int32 `json:"period,omitempty"` // days
	// Since is when automatic rotation was last enabled (unix seconds).
	Since int64 `json:"since,omitempty"`
	// Next is when the next automatic rotation is due (unix seconds); 0
	// when none is scheduled.
	Next int64 `json:"next,omitempty"`
	// Waiting: the rotation came due while the key was disabled or pending
	// deletion; it happens as soon as the key is enabled again.
	Waiting bool `json:"waiting,omitempty"`
	// OnDemand counts RotateKeyOnDemand calls (AWS allows 25 per key).
	OnDemand int32 `json:"onDemand,omitempty"`
}

// materialInfo is the lifecycle record of one material version.
type materialInfo struct {
	Version uint32 `json:"v"`
	ID      string `json:"id"`
	// RotationType is AUTOMATIC or ON_DEMAND for material a rotation made
	// current; empty for a key's first material and pending imports.
	RotationType string `json:"rotationType,omitempty"`
	RotationDate int64  `json:"rotationDate,omitempty"`

	// Imported material only.
	Imported        bool   `json:"imported,omitempty"`
	ExpirationModel string `json:"expirationModel,omitempty"`
	ValidTo         int64  `json:"validTo,omitempty"` // unix seconds; 0 = does not expire
	Description     string `json:"description,omitempty"`
	// PendingRotation: imported for an on-demand rotation that has not
	// happened yet (KeyMaterialState PENDING_ROTATION).
	PendingRotation bool `json:"pendingRotation,omitempty"`
}

// rotation returns k's rotation state, creating an empty one.
func (k *keyRecord) rotation() *rotationState {
	if k.Rotation == nil {
		k.Rotation = &rotationState{}
	}
	return k.Rotation
}

// info returns the lifecycle record of version v: the stored one, or for
// material that predates these records, one made from the material.
func (k *keyRecord) info(v uint32) materialInfo {
	for _, mi := range k.MaterialInfo {
		if mi.Version == v {
			return mi
		}
	}
	mi := materialInfo{Version: v}
	if m := k.material(v); m != nil {
		mi.ID = m.ID
	}
	return mi
}

// setInfo stores mi, replacing the record of the same version.
func (k *keyRecord) setInfo(mi materialInfo) {
	for i := range k.MaterialInfo {
		if k.MaterialInfo[i].Version == mi.Version {
			k.MaterialInfo[i] = mi
			return
		}
	}
	k.MaterialInfo = append(k.MaterialInfo, mi)
}

// versions returns every material version k knows, ascending: present
// material and imported material that expired or was deleted.
func (k *keyRecord) versions() []uint32 {
	var vs []uint32
	for _, m := range k.Materials {
		vs = append(vs, m.Version)
	}
	for _, mi := range k.MaterialInfo {
		if !slices.Contains(vs, mi.Version) {
			vs = append(vs, mi.Version)
		}
	}
	slices.Sort(vs)
	return vs
}

// lastAutomaticRotation returns when k last rotated automatically, or 0.
func (k *keyRecord) lastAutomaticRotation() int64 {
	var last int64
	for _, mi := range k.MaterialInfo {
		if mi.RotationType == RotationAutomatic && mi.RotationDate > last {
			last = mi.RotationDate
		}
	}
	return last
}

func rotationDueID(when int64, k *keyRecord) string {
	return fmt.Sprintf("%020d/%s/%s/%s", when, k.Account, k.Region, k.ID)
}

// scheduleRotation sets k's next automatic rotation to when and indexes it,
// dropping the index entry of the previous schedule.
func scheduleRotation(tx store.Tx, k *keyRecord, when int64) error {
	if err := unscheduleRotation(tx, k); err != nil {
		return err
	}
	r := k.rotation()
	r.Next, r.Waiting = when, false
	return tx.Put(kindRotationDue, "", rotationDueID(when, k), nil)
}

// unscheduleRotation removes k's scheduled automatic rotation, if any.
func unscheduleRotation(tx store.Tx, k *keyRecord) error {
	r := k.Rotation
	if r == nil || r.Next == 0 {
		return nil
	}
	err := tx.Delete(kindRotationDue, "", rotationDueID(r.Next, k))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r.Next = 0
	return nil
}

// resumeRotation is called when a key becomes Enabled again: a rotation
// that came due while it could not rotate is indexed at its original time,
// so the next scheduler run performs it.
func resumeRotation(tx store.Tx, k *keyRecord) error {
	r := k.Rotation
	if r == nil || !r.Enabled || !r.Waiting || r.Next == 0 {
		return nil
	}
	r.Waiting = false
	return tx.Put(kindRotationDue, "", rotationDueID(r.Next, k), nil)
}

func days(n int32) time.Duration { return time.Duration(n) * 24 * time.Hour }

// requireAutoRotatable refuses keys whose rotation cannot be configured:
// asymmetric and HMAC keys and keys with imported material
// (UnsupportedOperationException, as AWS answers).
func requireAutoRotatable(k *keyRecord) error {
	if k.Spec != SpecSymmetricDefault {
		return errUnsupported("%s has key spec %s: automatic key rotation is supported only on symmetric encryption KMS keys.", k.arn(), k.Spec)
	}
	if k.Origin != OriginKMS {
		return errUnsupported("%s origin is %s which is not valid for this operation.", k.arn(), k.Origin)
	}
	return nil
}

// requireNotReplica refuses rotation changes on a multi-Region replica key:
// AWS has the owner set them on the primary key, whose rotations reach
// every replica.
func requireNotReplica(k *keyRecord, op string) error {
	if k.MultiRegion && k.PrimaryRegion != "" && k.PrimaryRegion != k.Region {
		return errUnsupported("%s is a multi-Region replica key: call %s on its primary key in %s.", k.arn(), op, k.PrimaryRegion)
	}
	return nil
}

// requireRotationState applies the key state table to EnableKeyRotation,
// DisableKeyRotation and RotateKeyOnDemand.
func requireRotationState(k *keyRecord) error {
	switch k.State {
	case StateEnabled:
		return nil
	case StateDisabled:
		return errDisabled(k.arn())
	case StatePendingDeletion:
		return errInvalidState("%s is pending deletion.", k.arn())
	case StatePendingImport:
		return errInvalidState("%s is pending import.", k.arn())
	default:
		return errInvalidState("%s is unavailable.", k.arn())
	}
}

// EnableKeyRotation turns on automatic rotation of a symmetric customer
// managed key, every RotationPeriodInDays (90–2560, default 365) from now;
// on a key that already rotates it changes the period, counted from the
// last automatic rotation (or from when rotation was enabled).
func (s *Service) EnableKeyRotation(ctx context.Context, c *Call, in *EnableKeyRotationInput) (*Empty, error) {
	period := int32(DefaultRotationDays)
	if in.RotationPeriodInDays != nil {
		period = *in.RotationPeriodInDays
		if period < minRotationDays {
			return nil, errValidation("1 validation error detected: Value '%d' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to %d", period, minRotationDays)
		}
		if period > maxRotationDays {
			return nil, errValidation("1 validation error detected: Value '%d' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to %d", period, maxRotationDays)
		}
	}
	az := &authzReq{Action: "kms:EnableKeyRotation", Extra: map[string][]string{"kms:rotationperiodindays": {strconv.Itoa(int(period))}}}
	return mutateKeyCall(s, ctx, c, "EnableKeyRotation", in.KeyId, az, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, az.Action); err != nil {
			return err
		}
		if err := requireAutoRotatable(k); err != nil {
			return err
		}
		if err := requireNotReplica(k, "EnableKeyRotation"); err != nil {
			return err
		}
		if err := requireRotationState(k); err != nil {
			return err
		}
		now := s.clock.Now()
		r := k.rotation()
		next := now.Add(days(period)).Unix()
		if r.Enabled {
			base := max(k.lastAutomaticRotation(), r.Since)
			next = max(time.Unix(base, 0).Add(days(period)).Unix(), now.Unix())
		} else {
			r.Enabled, r.Since = true, now.Unix()
		}
		r.Period = period
		return scheduleRotation(tx, k, next)
	}, empty)
}

// DisableKeyRotation turns off automatic rotation. On-demand rotation stays
// available.
func (s *Service) DisableKeyRotation(ctx context.Context, c *Call, in *KeyInput) (*Empty, error) {
	az := &authzReq{Action: "kms:DisableKeyRotation"}
	return mutateKeyCall(s, ctx, c, "DisableKeyRotation", in.KeyId, az, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, az.Action); err != nil {
			return err
		}
		if err := requireAutoRotatable(k); err != nil {
			return err
		}
		if err := requireNotReplica(k, "DisableKeyRotation"); err != nil {
			return err
		}
		if err := requireRotationState(k); err != nil {
			return err
		}
		if err := unscheduleRotation(tx, k); err != nil {
			return err
		}
		r := k.rotation()
		r.Enabled, r.Waiting, r.Period, r.Since = false, false, 0, 0
		return nil
	}, empty)
}

// GetKeyRotationStatus reports whether a key rotates automatically, its
// period and the next rotation date. A key pending deletion reports false
// (its setting returns if the deletion is cancelled); AWS managed keys
// always report true. On-demand rotations complete within the call, so
// OnDemandRotationStartDate (the start of one in progress) is never set.
func (s *Service) GetKeyRotationStatus(ctx context.Context, c *Call, in *KeyInput) (*GetKeyRotationStatusOutput, error) {
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:GetKeyRotationStatus", Key: r.key, Alias: r.alias}); err != nil {
		return nil, err
	}
	k := r.key
	if err := requireAutoRotatable(k); err != nil {
		return nil, err
	}
	out := &GetKeyRotationStatusOutput{KeyId: k.ID}
	rs := k.Rotation
	if rs == nil || !rs.Enabled || k.State == StatePendingDeletion {
		return out, nil
	}
	out.KeyRotationEnabled = true
	period := rs.Period
	out.RotationPeriodInDays = &period
	if rs.Next != 0 {
		out.NextRotationDate = tp(time.Unix(rs.Next, 0).UTC())
	}
	return out, nil
}

// RotateKeyOnDemand rotates a symmetric customer managed key now, whether
// or not it rotates automatically (its schedule does not move). A key with
// imported material rotates to the material imported for the purpose
// (ImportKeyMaterial with ImportType NEW_KEY_MATERIAL); for a multi-Region
// primary key, only once every replica holds that material too, and then
// every member of the family rotates to it in the same transaction
// (rotateFamilyImported). AWS's limits apply: 25 on-demand rotations per
// key, and none while an automatic rotation is due within 20 minutes
// (ConflictException).
func (s *Service) RotateKeyOnDemand(ctx context.Context, c *Call, in *KeyInput) (*RotateKeyOnDemandOutput, error) {
	az := &authzReq{Action: "kms:RotateKeyOnDemand"}
	return mutateKeyCall(s, ctx, c, "RotateKeyOnDemand", in.KeyId, az, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, az.Action); err != nil {
			return err
		}
		if k.Spec != SpecSymmetricDefault {
			return errUnsupported("%s has key spec %s: on-demand key rotation is supported only on symmetric encryption KMS keys.", k.arn(), k.Spec)
		}
		if err := requireNotReplica(k, "RotateKeyOnDemand"); err != nil {
			return err
		}
		if k.Origin == OriginExternal {
			s.expireLazily(k) // material past its ValidTo is gone, swept or not
		}
		if err := requireRotationState(k); err != nil {
			return err
		}
		r := k.rotation()
		if r.OnDemand >= maxOnDemandRotations {
			return errLimit("%s has reached the limit of %d on-demand rotations.", k.arn(), maxOnDemandRotations)
		}
		now := s.clock.Now()
		if r.Enabled && r.Next != 0 && time.Unix(r.Next, 0).Sub(now) < onDemandConflictWindow {
			return newErr("ConflictException", 400, "An automatic rotation of %s is in progress or scheduled to begin within the next 20 minutes.", k.arn())
		}
		if k.Origin == OriginExternal {
			if err := s.rotateToPendingImport(tx, k, now, r.OnDemand+1); err != nil {
				return err
			}
		} else {
			if err := s.addMaterial(k, now); err != nil {
				return err
			}
			k.setInfo(materialInfo{Version: k.Current, ID: k.material(k.Current).ID, RotationType: RotationOnDemand, RotationDate: now.Unix()})
		}
		r.OnDemand++
		return nil
	}, func(k *keyRecord) *RotateKeyOnDemandOutput { return &RotateKeyOnDemandOutput{KeyId: k.ID} })
}

// Values of ListKeyRotations' IncludeKeyMaterial.
const (
	includeRotationsOnly  = "ROTATIONS_ONLY"
	includeAllKeyMaterial = "ALL_KEY_MATERIAL"
)

// KeyMaterialState values of imported material waiting for an on-demand
// rotation: PENDING_MULTI_REGION_IMPORT_AND_ROTATION on a multi-Region
// primary key while some replica does not hold the material yet.
const (
	materialPendingRotation = "PENDING_ROTATION"
	materialPendingFamily   = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
)

// ListKeyRotations lists a symmetric key's rotations, oldest first,
// paginated (Limit 1–1000, default 100; the marker is the material
// version). ROTATIONS_ONLY (the default) lists the material made current by
// automatic or on-demand rotations; ALL_KEY_MATERIAL adds the first
// material and imported material pending rotation (on a multi-Region
// primary key, PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every replica
// holds it).
func (s *Service) ListKeyRotations(ctx context.Context, c *Call, in *ListKeyRotationsInput) (*ListKeyRotationsOutput, error) {
	include := includeRotationsOnly
	if in.IncludeKeyMaterial != nil {
		include = *in.IncludeKeyMaterial
		if include != includeRotationsOnly && include != includeAllKeyMaterial {
			return nil, errValidation("1 validation error detected: Value '%s' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]", include)
		}
	}
	limit, err := pageSize(in.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	var after uint64
	if in.Marker != nil {
		if after, err = strconv.ParseUint(*in.Marker, 10, 32); err != nil {
			return nil, errInvalidMarker()
		}
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:ListKeyRotations", Key: r.key, Alias: r.alias}); err != nil {
		return nil, err
	}
	k := r.key
	if k.Spec != SpecSymmetricDefault {
		return nil, errUnsupported("%s has key spec %s: only symmetric encryption KMS keys have key rotations.", k.arn(), k.Spec)
	}
	incomplete, err := s.familyIncomplete(ctx, k)
	if err != nil {
		return nil, err
	}
	out := &ListKeyRotationsOutput{Rotations: []RotationsListEntry{}}
	var versions []uint32
	for _, v := range k.versions() {
		if uint64(v) <= after {
			continue
		}
		mi := k.info(v)
		rotated := mi.RotationType != ""
		if !rotated && include == includeRotationsOnly {
			continue
		}
		e := RotationsListEntry{KeyId: k.ID, KeyMaterialId: mi.ID}
		switch {
		case mi.PendingRotation && incomplete[v]:
			e.KeyMaterialState = materialPendingFamily
		case mi.PendingRotation:
			e.KeyMaterialState = materialPendingRotation
		case v == k.Current:
			e.KeyMaterialState = "CURRENT"
		default:
			e.KeyMaterialState = "NON_CURRENT"
		}
		if rotated {
			e.RotationType = mi.RotationType
			e.RotationDate = tp(time.Unix(mi.RotationDate, 0).UTC())
		}
		if k.Origin == OriginExternal {
			e.KeyMaterialDescription = mi.Description
			e.ImportState = "PENDING_IMPORT"
			if k.material(v) != nil {
				e.ImportState = "IMPORTED"
			}
			e.ExpirationModel = mi.ExpirationModel
			if mi.ValidTo != 0 {
				e.ValidTo = tp(time.Unix(mi.ValidTo, 0).UTC())
			}
		}
		out.Rotations = append(out.Rotations, e)
		versions = append(versions, v)
		if len(out.Rotations) > limit {
			break
		}
	}
	if len(out.Rotations) > limit {
		out.Rotations = out.Rotations[:limit]
		out.Truncated = true
		out.NextMarker = strconv.FormatUint(uint64(versions[limit-1]), 10)
	}
	return out, nil
}

// RotateDueKeys performs every automatic rotation that is due and returns
// the ARNs of the keys rotated. A due key that is disabled or pending
// deletion is not rotated: its rotation waits until it is enabled again. It
// is safe to run concurrently on several nodes sharing a store.
func (s *Service) RotateDueKeys(ctx context.Context) ([]string, error) {
	var rotated []string
	for {
		var batch []string
		removed := 0
		err := s.update(ctx, func(tx store.Tx) error {
			batch, removed = batch[:0], 0
			now := s.clock.Now()
			items, err := tx.List(kindRotationDue, "", "", 100)
			if err != nil {
				return err
			}
			for _, it := range items {
				when, account, region, id, err := parseDueID(it.ID)
				if err != nil {
					return err
				}
				if when > now.Unix() {
					break
				}
				if err := tx.Delete(kindRotationDue, "", it.ID); err != nil {
					return err
				}
				removed++
				k, err := getKey(tx, account, region, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				r := k.Rotation
				if r == nil || !r.Enabled || r.Next != when || s.deletionDue(k) {
					continue // disabled, rescheduled or deleted since
				}
				if k.State != StateEnabled || k.Spec != SpecSymmetricDefault || k.Origin != OriginKMS {
					r.Waiting = true
					if err := putKey(tx, k); err != nil {
						return err
					}
					continue
				}
				if err := s.addMaterial(k, now); err != nil {
					return err
				}
				k.setInfo(materialInfo{Version: k.Current, ID: k.material(k.Current).ID, RotationType: RotationAutomatic, RotationDate: now.Unix()})
				r.Next = 0 // its entry is consumed
				period := r.Period
				if k.Manager == ManagerAWS {
					period = s.managedRotationDays()
					r.Period = period
				}
				if err := scheduleRotation(tx, k, now.Add(days(period)).Unix()); err != nil {
					return err
				}
				if err := putKey(tx, k); err != nil {
					return err
				}
				if err := s.recordServiceEvent(tx, "RotateKey", k, &ServiceEventInput{KeyId: k.arn(), RotationType: RotationAutomatic, KeyMaterialId: k.material(k.Current).ID}); err != nil {
					return err
				}
				batch = append(batch, k.arn())
			}
			return nil
		})
		if err != nil {
			return rotated, err
		}
		for _, a := range batch {
			s.log.Info("key material rotated automatically", "key", a)
		}
		rotated = append(rotated, batch...)
		if removed < 100 {
			return rotated, nil
		}
	}
}

// parseDueID splits an index id "<unix seconds>/<account>/<region>/<key
// id>[/<more>]" of the rotation and expiry indexes.
func parseDueID(id string) (when int64, account, region, keyID string, err error) {
	parts := strings.SplitN(id, "/", 5)
	if len(parts) < 4 {
		return 0, "", "", "", fmt.Errorf("kms: malformed index entry %q", id)
	}
	// Decimal, zero-padded: not fmt.Sscan, which reads a leading 0 as octal.
	when, err = strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, "", "", "", fmt.Errorf("kms: malformed index entry %q", id)
	}
	return when, parts[1], parts[2], parts[3], nil
}
