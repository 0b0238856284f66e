package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/store"
	"strongroom/internal/uuid"
)

// Key specs and usages this file knows; asymmetric and HMAC specs are
// described by algorithmsFor.
const (
	SpecSymmetricDefault = "SYMMETRIC_DEFAULT"
	UsageEncryptDecrypt  = "ENCRYPT_DECRYPT"
)

// DefaultKeyPolicy is the policy AWS gives a key created without one: the
// account root may do everything, which is what lets IAM policies grant
// access to the key at all.
func DefaultKeyPolicy(account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// newKeyID returns the id of a key created at now: a version 7 UUID, so
// that the store appends new keys at the end of its B-tree (and their
// meter records next to each other) rather than dirtying a random page
// each (docs/performance.md, session 7).
func newKeyID(now time.Time) string { return uuid.NewV7(now) }

func validateTags(tags []Tag) error {
	if len(tags) > 50 {
		return errTag("Too many tags: a KMS key can have at most 50 tags.")
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t.TagKey), "aws:") {
			return errTag("Tag keys beginning with 'aws:' are reserved for AWS use.")
		}
		if seen[t.TagKey] {
			return errTag("Duplicate tag keys")
		}
		seen[t.TagKey] = true
	}
	return nil
}

// mergeTags sets each tag in add on existing, replacing values of keys that
// are already present.
func mergeTags(existing, add []Tag) []Tag {
	for _, t := range add {
		replaced := false
		for i := range existing {
			if existing[i].TagKey == t.TagKey {
				existing[i].TagValue = t.TagValue
				replaced = true
				break
			}
		}
		if !replaced {
			existing = append(existing, t)
		}
	}
	return existing
}

// CreateKey creates a customer managed key.
func (s *Service) CreateKey(ctx context.Context, c *Call, in *CreateKeyInput) (*CreateKeyOutput, error) {
	spec := SpecSymmetricDefault
	if in.KeySpec != nil && in.CustomerMasterKeySpec != nil {
		return nil, errValidation("You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec only")
	}
	if in.KeySpec != nil {
		spec = *in.KeySpec
	} else if in.CustomerMasterKeySpec != nil {
		spec = *in.CustomerMasterKeySpec
	}
	usage := ""
	if in.KeyUsage != nil {
		usage = *in.KeyUsage
	}
	origin := OriginKMS
	if in.Origin != nil {
		origin = *in.Origin
	}
	usage, err := checkSpecUsage(spec, usage)
	if err != nil {
		return nil, err
	}
	switch origin {
	case OriginKMS:
	case OriginExternal:
		if strings.HasPrefix(spec, "ML_DSA_") {
			return nil, errUnsupported("You cannot import key material for a %s key: ML-DSA keys must have Origin AWS_KMS.", spec)
		}
	default:
		return nil, errUnsupported("Origin %s is not supported: Strongroom has no custom key stores.", origin)
	}
	if in.CustomKeyStoreId != nil || in.XksKeyId != nil {
		return nil, newErr("CustomKeyStoreNotFoundException", 400, "Custom key store not found.")
	}
	account, region := c.Principal.Account, c.Region
	policyDoc := DefaultKeyPolicy(account)
	if in.Policy != nil {
		if _, err := s.parseKeyPolicy(*in.Policy); err != nil {
			return nil, err
		}
		policyDoc = *in.Policy
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:CreateKey", RequestTags: in.Tags}); err != nil {
		return nil, err
	}

	now := s.clock.Now()
	k := &keyRecord{
		ID:      newKeyID(now),
		Account: account,
		Region:  region,
		Created: now.Unix(),
		State:   StateEnabled,
		Spec:    spec,
		Usage:   usage,
		Origin:  origin,
		Manager: ManagerCustomer,
		Policy:  policyDoc,
		Tags:    in.Tags,
	}
	if in.MultiRegion { // a multi-Region primary key (multiregion.go)
		k.ID, k.MultiRegion, k.PrimaryRegion = newMultiRegionKeyID(), true, region
	}
	if in.Description != nil {
		k.Description = *in.Description
	}
	if in.Policy != nil && !in.BypassPolicyLockoutSafetyCheck {
		p, _ := s.parseKeyPolicy(policyDoc)
		if err := s.checkLockout(ctx, c, k, p); err != nil {
			return nil, err
		}
	}
	if origin == OriginExternal {
		k.State = StatePendingImport // no material until ImportKeyMaterial
	} else if err := s.addMaterial(k, now); err != nil {
		return nil, err
	}
	return commitCall(s, ctx, c, "CreateKey", func(tx store.Tx) (*CreateKeyOutput, error) {
		if err := tx.Create(store.KindKey, scopeOf(account, region), k.ID, encodeKey(k)); err != nil {
			return nil, err
		}
		return &CreateKeyOutput{KeyMetadata: k.metadata()}, nil
	})
}

// addMaterial generates a new version of k's material, seals it and makes it
// current.
func (s *Service) addMaterial(k *keyRecord, now time.Time) error {
	plain, err := generateMaterial(k.Spec)
	if err != nil {
		return err
	}
	defer clear(plain)
	version := k.Current + 1
	for _, m := range k.Materials {
		if m.Version >= version {
			version = m.Version + 1
		}
	}
	sealed, err := s.sealer.Seal(plain, materialAAD(k.Account, k.ID, version))
	if err != nil {
		return fmt.Errorf("kms: sealing key material: %w", err)
	}
	k.Materials = append(k.Materials, materialRecord{Version: version, ID: newMaterialID(), Sealed: sealed, Created: now.Unix()})
	k.Current = version
	return nil
}

// DescribeKey returns a key's metadata.
func (s *Service) DescribeKey(ctx context.Context, c *Call, in *KeyInput) (*DescribeKeyOutput, error) {
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "kms:DescribeKey", r.key); err != nil {
		return nil, err
	}
	return &DescribeKeyOutput{KeyMetadata: r.key.metadata()}, nil
}

// pageSize returns the page size a List operation uses: def when limit is
// absent, capped at most (the operation's documented maximum; AWS may return
// fewer items than asked for). A limit outside the API model's range 1–1000
// is a ValidationException, as AWS answers it.
func pageSize(limit *int32, def, most int) (int, error) {
	if limit == nil {
		return def, nil
	}
	switch n := int(*limit); {
	case n < 1:
		return 0, errValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
	case n > 1000:
		return 0, errValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000", n)
	case n > most:
		return most, nil
	default:
		return n, nil
	}
}

// ListKeys lists the keys of the caller's account in the request's region.
func (s *Service) ListKeys(ctx context.Context, c *Call, in *ListKeysInput) (*ListKeysOutput, error) {
	if err := s.authorize(ctx, c, "kms:ListKeys", nil); err != nil {
		return nil, err
	}
	limit, err := pageSize(in.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	after := ""
	if in.Marker != nil {
		if !arn.IsKeyID(*in.Marker) {
			return nil, errInvalidMarker()
		}
		after = *in.Marker
	}
	out := &ListKeysOutput{Keys: []KeyListEntry{}}
	err = s.view(ctx, func(tx store.Tx) error {
		out.Keys = out.Keys[:0]
		cursor := after
		for len(out.Keys) < limit+1 {
			items, err := tx.List(store.KindKey, c.scope(), cursor, limit+1-len(out.Keys))
			if err != nil {
				return err
			}
			for _, it := range items {
				k, err := decodeKey(it.Value)
				if err != nil {
					return err
				}
				if s.deletionDue(k) {
					continue
				}
				out.Keys = append(out.Keys, KeyListEntry{KeyId: k.ID, KeyArn: k.arn()})
			}
			if len(items) == 0 {
				break
			}
			cursor = items[len(items)-1].ID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out.Keys) > limit {
		out.Keys = out.Keys[:limit]
		out.Truncated = true
		out.NextMarker = out.Keys[limit-1].KeyId
	}
	return out, nil
}

// EnableKey sets a key's state to Enabled.
func (s *Service) EnableKey(ctx context.Context, c *Call, in *KeyInput) (*Empty, error) {
	return s.setEnabled(ctx, c, in.KeyId, true)
}

// DisableKey sets a key's state to Disabled.
func (s *Service) DisableKey(ctx context.Context, c *Call, in *KeyInput) (*Empty, error) {
	return s.setEnabled(ctx, c, in.KeyId, false)
}

func (s *Service) setEnabled(ctx context.Context, c *Call, ref string, enable bool) (*Empty, error) {
	op := "DisableKey"
	if enable {
		op = "EnableKey"
	}
	action := "kms:" + op
	return mutateKeyCall(s, ctx, c, op, ref, &authzReq{Action: action}, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, action); err != nil {
			return err
		}
		switch k.State {
		case StateEnabled, StateDisabled:
		case StatePendingDeletion:
			return errInvalidState("%s is pending deletion.", k.arn())
		case StatePendingImport:
			return errInvalidState("%s is pending import.", k.arn())
		default:
			return errInvalidState("%s is unavailable.", k.arn())
		}
		if enable {
			k.State = StateEnabled
			return resumeRotation(tx, k) // a rotation that came due while disabled
		}
		k.State = StateDisabled
		return nil
	}, empty)
}

func requireCustomerManaged(k *keyRecord, action string) error {
	if k.Manager != ManagerCustomer {
		return errUnsupported("%s is an AWS managed key: %s is not allowed on it.", k.arn(), strings.TrimPrefix(action, "kms:"))
	}
	return nil
}

// ScheduleKeyDeletion starts a key's deletion window (7–30 days, default 30).
func (s *Service) ScheduleKeyDeletion(ctx context.Context, c *Call, in *ScheduleKeyDeletionInput) (*ScheduleKeyDeletionOutput, error) {
	days := int32(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
		if days < 7 || days > 30 {
			return nil, errValidation("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
		}
	}
	return mutateKeyCall(s, ctx, c, "ScheduleKeyDeletion", in.KeyId, &authzReq{Action: "kms:ScheduleKeyDeletion"}, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, "kms:ScheduleKeyDeletion"); err != nil {
			return err
		}
		if k.State == StatePendingDeletion || k.State == StatePendingReplicaDeletion {
			return errInvalidState("%s is pending deletion.", k.arn())
		}
		if scheduleFamilyDeletion(k, days) {
			return nil // PendingReplicaDeletion until its replicas are gone
		}
		k.State = StatePendingDeletion
		k.PendingWindow = days
		k.DeletionDate = s.clock.Now().Add(time.Duration(days) * 24 * time.Hour).Unix()
		return tx.Put(store.KindPending, "", pendingID(k), nil)
	}, func(k *keyRecord) *ScheduleKeyDeletionOutput {
		out := &ScheduleKeyDeletionOutput{
			KeyId:               k.arn(),
			KeyState:            k.State,
			PendingWindowInDays: days,
		}
		if k.State == StatePendingDeletion {
			out.DeletionDate = tp(time.Unix(k.DeletionDate, 0).UTC())
		}
		return out
	})
}

// CancelKeyDeletion ends a key's deletion window; the key returns Disabled
// (or PendingImport if it has no material).
func (s *Service) CancelKeyDeletion(ctx context.Context, c *Call, in *KeyInput) (*CancelKeyDeletionOutput, error) {
	return mutateKeyCall(s, ctx, c, "CancelKeyDeletion", in.KeyId, &authzReq{Action: "kms:CancelKeyDeletion"}, func(tx store.Tx, k *keyRecord) error {
		if k.State != StatePendingDeletion && k.State != StatePendingReplicaDeletion {
			return errInvalidState("%s is not pending deletion.", k.arn())
		}
		if err := tx.Delete(store.KindPending, "", pendingID(k)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		k.State = StateDisabled
		if k.missingMaterial() {
			k.State = StatePendingImport
		}
		k.DeletionDate, k.PendingWindow = 0, 0
		return nil
	}, func(k *keyRecord) *CancelKeyDeletionOutput { return &CancelKeyDeletionOutput{KeyId: k.arn()} })
}

// pendingID is the id of a key's entry in the pending-deletion index:
// sorted by deletion time, so the sweeper reads only what is due.
func pendingID(k *keyRecord) string {
	return fmt.Sprintf("%020d/%s/%s/%s", k.DeletionDate, k.Account, k.Region, k.ID)
}

// DeleteDueKeys destroys every key whose deletion window has ended: its
// sealed material and record are removed for good (crypto-shredding), with
// the aliases that pointed at it. It returns the ARNs of the deleted keys.
func (s *Service) DeleteDueKeys(ctx context.Context) ([]string, error) {
	now := s.clock.Now().Unix()
	var deleted []string
	for {
		var batch []string
		removed := 0 // index entries consumed, deleted keys or not
		err := s.update(ctx, func(tx store.Tx) error {
			batch, removed = batch[:0], 0
			items, err := tx.List(store.KindPending, "", "", 100)
			if err != nil {
				return err
			}
			for _, it := range items {
				parts := strings.SplitN(it.ID, "/", 4)
				if len(parts) != 4 {
					return fmt.Errorf("kms: malformed pending-deletion entry %q", it.ID)
				}
				// Decimal, zero-padded: not fmt.Sscan, which reads a
				// leading 0 as an octal prefix.
				when, err := strconv.ParseInt(parts[0], 10, 64)
				if err != nil {
					return fmt.Errorf("kms: malformed pending-deletion entry %q", it.ID)
				}
				account, region, id := parts[1], parts[2], parts[3]
				if when > now {
					break
				}
				if err := tx.Delete(store.KindPending, "", it.ID); err != nil {
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
				if k.State != StatePendingDeletion || k.DeletionDate > now {
					continue // cancelled, or rescheduled
				}
				if err := s.leaveFamily(tx, k, time.Unix(now, 0)); err != nil {
					return err
				}
				if err := deleteKeyAndAliases(tx, k); err != nil {
					return err
				}
				if err := s.recordServiceEvent(tx, "DeleteKey", k, nil); err != nil {
					return err
				}
				batch = append(batch, k.arn())
			}
			return nil
		})
		if err != nil {
			return deleted, err
		}
		for _, a := range batch {
			if r, err := arn.Parse(a); err == nil {
				s.cache.forget(r.Account, strings.TrimPrefix(r.Resource, "key/"))
			}
			s.log.Info("key deleted at the end of its waiting period", "key", a)
		}
		deleted = append(deleted, batch...)
		// A full page may be followed by more due entries, even when some
		// of this page's keys had been cancelled.
		if removed < 100 {
			return deleted, nil
		}
	}
}

func deleteKeyAndAliases(tx store.Tx, k *keyRecord) error {
	if err := deleteGrantsOf(tx, k); err != nil {
		return err
	}
	scope := scopeOf(k.Account, k.Region)
	after := ""
	for {
		items, err := tx.List(store.KindAlias, scope, after, 500)
		if err != nil {
			return err
		}
		for _, it := range items {
			var a aliasRecord
			if json.Unmarshal(it.Value, &a) == nil && a.Target == k.ID {
				if err := tx.Delete(store.KindAlias, scope, it.ID); err != nil {
					return err
				}
			}
		}
		if len(items) < 500 {
			break
		}
		after = items[len(items)-1].ID
	}
	return tx.Delete(store.KindKey, scope, k.ID)
}

// UpdateKeyDescription replaces a key's description.
func (s *Service) UpdateKeyDescription(ctx context.Context, c *Call, in *UpdateKeyDescriptionInput) (*Empty, error) {
	return mutateKeyCall(s, ctx, c, "UpdateKeyDescription", in.KeyId, &authzReq{Action: "kms:UpdateKeyDescription"}, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, "kms:UpdateKeyDescription"); err != nil {
			return err
		}
		if err := requireNotPendingDeletion(k); err != nil {
			return err
		}
		k.Description = in.Description
		return nil
	}, empty)
}
