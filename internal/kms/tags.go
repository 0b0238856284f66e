package kms

import (
	"context"
	"slices"

	"strongroom/internal/store"
)

// TagResource adds or replaces tags on a customer managed key.
func (s *Service) TagResource(ctx context.Context, c *Call, in *TagResourceInput) (*Empty, error) {
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	return mutateKeyCall(s, ctx, c, "TagResource", in.KeyId, &authzReq{Action: "kms:TagResource", RequestTags: in.Tags}, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, "kms:TagResource"); err != nil {
			return err
		}
		if err := requireNotPendingDeletion(k); err != nil {
			return err
		}
		k.Tags = mergeTags(k.Tags, in.Tags)
		if len(k.Tags) > 50 {
			return errLimit("A KMS key can have at most 50 tags.")
		}
		return nil
	}, empty)
}

// UntagResource removes tags from a customer managed key.
func (s *Service) UntagResource(ctx context.Context, c *Call, in *UntagResourceInput) (*Empty, error) {
	return mutateKeyCall(s, ctx, c, "UntagResource", in.KeyId, &authzReq{Action: "kms:UntagResource", Extra: map[string][]string{"aws:tagkeys": in.TagKeys}}, func(tx store.Tx, k *keyRecord) error {
		if err := requireCustomerManaged(k, "kms:UntagResource"); err != nil {
			return err
		}
		if err := requireNotPendingDeletion(k); err != nil {
			return err
		}
		k.Tags = slices.DeleteFunc(k.Tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.TagKey) })
		return nil
	}, empty)
}

// ListResourceTags lists a key's tags.
func (s *Service) ListResourceTags(ctx context.Context, c *Call, in *ListResourceTagsInput) (*ListResourceTagsOutput, error) {
	limit, err := pageSize(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "kms:ListResourceTags", r.key); err != nil {
		return nil, err
	}
	tags := slices.Clone(r.key.Tags)
	slices.SortFunc(tags, func(a, b Tag) int {
		switch {
		case a.TagKey < b.TagKey:
			return -1
		case a.TagKey > b.TagKey:
			return 1
		}
		return 0
	})
	start := 0
	if in.Marker != nil {
		start = -1
		for i, t := range tags {
			if t.TagKey > *in.Marker {
				start = i
				break
			}
		}
		if start < 0 {
			start = len(tags)
		}
	}
	out := &ListResourceTagsOutput{Tags: tags[start:]}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	if len(out.Tags) > limit {
		out.Tags = out.Tags[:limit]
		out.Truncated = true
		out.NextMarker = out.Tags[limit-1].TagKey
	}
	return out, nil
}

// GetKeyPolicy returns a key's policy. The only policy name is "default".
func (s *Service) GetKeyPolicy(ctx context.Context, c *Call, in *GetKeyPolicyInput) (*GetKeyPolicyOutput, error) {
	if in.PolicyName != nil && *in.PolicyName != "default" {
		return nil, errNotFound("Policy %s does not exist. The only valid policy name is \"default\".", *in.PolicyName)
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "kms:GetKeyPolicy", r.key); err != nil {
		return nil, err
	}
	return &GetKeyPolicyOutput{Policy: r.key.Policy, PolicyName: "default"}, nil
}

// ListKeyPolicies lists a key's policy names: always ["default"].
func (s *Service) ListKeyPolicies(ctx context.Context, c *Call, in *ListKeyPoliciesInput) (*ListKeyPoliciesOutput, error) {
	if _, err := pageSize(in.Limit, 100, 1000); err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, "kms:ListKeyPolicies", r.key); err != nil {
		return nil, err
	}
	return &ListKeyPoliciesOutput{PolicyNames: []string{"default"}}, nil
}

// PutKeyPolicy replaces a customer managed key's policy.
func (s *Service) PutKeyPolicy(ctx context.Context, c *Call, in *PutKeyPolicyInput) (*Empty, error) {
	if in.PolicyName != nil && *in.PolicyName != "default" {
		return nil, errNotFound("Policy %s does not exist. The only valid policy name is \"default\".", *in.PolicyName)
	}
	newPolicy, err := s.parseKeyPolicy(in.Policy)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "kms:PutKeyPolicy", Key: r.key, Alias: r.alias}); err != nil {
		return nil, err
	}
	if err := requireCustomerManaged(r.key, "kms:PutKeyPolicy"); err != nil {
		return nil, err
	}
	if !in.BypassPolicyLockoutSafetyCheck {
		if err := s.checkLockout(ctx, c, r.key, newPolicy); err != nil {
			return nil, err
		}
	}
	return updateKeyCall(s, ctx, c, "PutKeyPolicy", r.key, func(tx store.Tx, k *keyRecord) error {
		k.Policy = in.Policy
		return nil
	}, empty)
}
