package kms

import (
	"context"

	"strongroom/internal/arn"
)

// authorize is the one door every operation passes through: it decides
// whether the caller may perform action ("kms:Encrypt") on key k (nil for
// operations without a key, such as CreateKey and ListKeys).
//
// Until the policy engine is wired in, a caller may act only on the keys of
// its own account, as that account's root.
func (s *Service) authorize(ctx context.Context, c *Call, action string, k *keyRecord) error {
	if k == nil || k.Account == c.Principal.Account {
		return nil
	}
	return errAccessDenied("User: " + c.Principal.ARN + " is not authorized to perform: " + action +
		" on resource: " + arn.Key(k.Region, k.Account, k.ID) + " because no resource-based policy allows the " + action + " action")
}
