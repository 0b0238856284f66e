package kms

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/store"
)

func errInvalidAliasName(format string, args ...any) *Error {
	return newErr("InvalidAliasNameException", 400, format, args...)
}

// checkAliasName applies AWS's alias name rules in AWS's order: the API
// model's constraints (length 1–256, pattern ^[a-zA-Z0-9:/_-]+$) and the
// "alias/" prefix are ValidationExceptions; a name that passes those but is
// still not a valid alias (nothing after "alias/", a colon) or lies in the
// reserved alias/aws/ namespace is an InvalidAliasNameException.
func checkAliasName(name string) error {
	switch {
	case name == "":
		return errValidation("1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(name) > 256:
		return errValidation("1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256")
	case !matchesAliasPattern(name):
		return errValidation("1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$", name)
	case !strings.HasPrefix(name, "alias/"):
		return errValidation(`Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	if !arn.ValidAliasName(name) {
		return errInvalidAliasName("Alias must start with the prefix \"alias/\" and contain only alphanumeric characters, forward slashes (/), underscores (_) and dashes (-): %s", name)
	}
	if arn.IsReservedAlias(name) {
		return errInvalidAliasName("Alias must not begin with 'alias/aws/'. The alias/aws/ prefix is reserved for AWS managed keys.")
	}
	return nil
}

func matchesAliasPattern(name string) bool {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '/', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// aliasTarget resolves TargetKeyId for CreateAlias and UpdateAlias: a key id
// or key ARN (not an alias) of a customer managed key in the caller's
// account and region.
func (s *Service) aliasTarget(tx store.Tx, c *Call, ref string) (*keyRecord, error) {
	r, err := arn.ParseKeyRef(ref)
	if err == nil && r.AliasName != "" {
		return nil, errValidation("TargetKeyId must be a key ID or key ARN, not an alias: %s", ref)
	}
	if err == nil && r.Account != "" && r.Account != c.Principal.Account {
		return nil, errValidation("You cannot associate an alias with a KMS key in a different AWS account.")
	}
	res, err := s.resolveIn(tx, c, ref)
	if err != nil {
		return nil, err
	}
	k := res.key
	if k.Manager != ManagerCustomer {
		return nil, errUnsupported("%s is an AWS managed key; aliases can only point to customer managed keys.", k.arn())
	}
	if err := requireNotPendingDeletion(k); err != nil {
		return nil, err
	}
	return k, nil
}

// CreateAlias creates an alias for a customer managed key.
func (s *Service) CreateAlias(ctx context.Context, c *Call, in *CreateAliasInput) (*Empty, error) {
	if err := checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	account, region := c.Principal.Account, c.Region
	var k *keyRecord
	err := s.view(ctx, func(tx store.Tx) error {
		var err error
		k, err = s.aliasTarget(tx, c, in.TargetKeyId)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "kms:CreateAlias", k); err != nil {
		return nil, err
	}
	return commitCall(s, ctx, c, "CreateAlias", func(tx store.Tx) (*Empty, error) {
		if _, err := s.aliasTarget(tx, c, k.arn()); err != nil {
			return nil, err
		}
		now := s.clock.Now().Unix()
		b, _ := json.Marshal(&aliasRecord{Target: k.ID, Created: now, Updated: now})
		err := tx.Create(store.KindAlias, scopeOf(account, region), in.AliasName, b)
		if errors.Is(err, store.ErrExists) {
			return nil, errAlreadyExists("An alias with the name %s already exists", arn.Alias(region, account, in.AliasName))
		}
		if err != nil {
			return nil, err
		}
		return &Empty{}, nil
	})
}

// UpdateAlias points an existing alias at another key of the same type and
// usage.
func (s *Service) UpdateAlias(ctx context.Context, c *Call, in *CreateAliasInput) (*Empty, error) {
	if err := checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	account, region := c.Principal.Account, c.Region
	var k, old *keyRecord
	var a *aliasRecord
	err := s.view(ctx, func(tx store.Tx) error {
		var err error
		a, err = getAlias(tx, account, region, in.AliasName)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("Alias %s is not found.", arn.Alias(region, account, in.AliasName))
		}
		if err != nil {
			return err
		}
		if k, err = s.aliasTarget(tx, c, in.TargetKeyId); err != nil {
			return err
		}
		old, _ = getKey(tx, account, region, a.Target)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "kms:UpdateAlias", k); err != nil {
		return nil, err
	}
	if old != nil {
		if err := s.authorize(ctx, c, "kms:UpdateAlias", old); err != nil {
			return nil, err
		}
		if keyClass(old.Spec) != keyClass(k.Spec) || old.Usage != k.Usage {
			return nil, errValidation("The current KMS key %s and the new KMS key %s must be the same type (both symmetric, both asymmetric or both HMAC) and have the same key usage.", old.arn(), k.arn())
		}
	}
	return commitCall(s, ctx, c, "UpdateAlias", func(tx store.Tx) (*Empty, error) {
		cur, err := getAlias(tx, account, region, in.AliasName)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("Alias %s is not found.", arn.Alias(region, account, in.AliasName))
		}
		if err != nil {
			return nil, err
		}
		if cur.Target != a.Target {
			return nil, newErr("ConflictException", 409, "The alias %s changed during the update; retry.", in.AliasName)
		}
		if _, err := s.aliasTarget(tx, c, k.arn()); err != nil {
			return nil, err
		}
		cur.Target = k.ID
		cur.Updated = s.clock.Now().Unix()
		if err := putAlias(tx, account, region, in.AliasName, cur); err != nil {
			return nil, err
		}
		return &Empty{}, nil
	})
}

// keyClass groups key specs as UpdateAlias compares them.
func keyClass(spec string) string {
	switch {
	case spec == SpecSymmetricDefault:
		return "symmetric"
	case len(spec) > 5 && spec[:5] == "HMAC_":
		return "hmac"
	}
	return "asymmetric"
}

// DeleteAlias deletes an alias; the key is unaffected.
func (s *Service) DeleteAlias(ctx context.Context, c *Call, in *DeleteAliasInput) (*Empty, error) {
	if err := checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	account, region := c.Principal.Account, c.Region
	var k *keyRecord
	err := s.view(ctx, func(tx store.Tx) error {
		a, err := getAlias(tx, account, region, in.AliasName)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("Alias %s is not found.", arn.Alias(region, account, in.AliasName))
		}
		if err != nil {
			return err
		}
		k, _ = getKey(tx, account, region, a.Target)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if k != nil {
		if err := s.authorize(ctx, c, "kms:DeleteAlias", k); err != nil {
			return nil, err
		}
	}
	return commitCall(s, ctx, c, "DeleteAlias", func(tx store.Tx) (*Empty, error) {
		err := tx.Delete(store.KindAlias, scopeOf(account, region), in.AliasName)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("Alias %s is not found.", arn.Alias(region, account, in.AliasName))
		}
		if err != nil {
			return nil, err
		}
		return &Empty{}, nil
	})
}

// ListAliases lists the aliases of the caller's account and region, or only
// those of one key.
func (s *Service) ListAliases(ctx context.Context, c *Call, in *ListAliasesInput) (*ListAliasesOutput, error) {
	limit, err := pageSize(in.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	after := ""
	if in.Marker != nil {
		if !arn.ValidAliasName(*in.Marker) {
			return nil, errInvalidMarker()
		}
		after = *in.Marker
	}
	account, region := c.Principal.Account, c.Region
	filter := ""
	if in.KeyId != nil {
		r, err := arn.ParseKeyRef(*in.KeyId)
		if err != nil || r.AliasName != "" {
			return nil, errInvalidArn("KeyId must be a key ID or key ARN: %s", *in.KeyId)
		}
		res, err := s.resolve(ctx, c, *in.KeyId)
		if err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, c, "kms:ListAliases", res.key); err != nil {
			return nil, err
		}
		filter = res.key.ID
		account = res.key.Account
	} else if err := s.authorize(ctx, c, "kms:ListAliases", nil); err != nil {
		return nil, err
	}
	out := &ListAliasesOutput{Aliases: []AliasListEntry{}}
	err = s.view(ctx, func(tx store.Tx) error {
		out.Aliases = out.Aliases[:0]
		cursor := after
		for len(out.Aliases) <= limit {
			items, err := tx.List(store.KindAlias, scopeOf(account, region), cursor, 500)
			if err != nil {
				return err
			}
			for _, it := range items {
				var a aliasRecord
				if err := json.Unmarshal(it.Value, &a); err != nil {
					return err
				}
				if filter != "" && a.Target != filter {
					continue
				}
				if k, err := getKey(tx, account, region, a.Target); err == nil && s.deletionDue(k) {
					continue
				}
				out.Aliases = append(out.Aliases, AliasListEntry{
					AliasName:       it.ID,
					AliasArn:        arn.Alias(region, account, it.ID),
					TargetKeyId:     a.Target,
					CreationDate:    tp(time.Unix(a.Created, 0).UTC()),
					LastUpdatedDate: tp(time.Unix(a.Updated, 0).UTC()),
				})
				if len(out.Aliases) > limit {
					break
				}
			}
			if len(items) < 500 {
				break
			}
			cursor = items[len(items)-1].ID
		}
		if filter != "" {
			return nil
		}
		// The AWS managed key aliases not created yet are listed too.
		var err error
		out.Aliases, err = withPredefinedAliases(tx, account, region, after, out.Aliases)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out.Aliases) > limit {
		out.Aliases = out.Aliases[:limit]
		out.Truncated = true
		out.NextMarker = out.Aliases[limit-1].AliasName
	}
	return out, nil
}
