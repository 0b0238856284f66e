package identity

import (
	"context"
	"strconv"
	"time"

	"strongroom/internal/policy"
)

// requestContext returns the global condition keys of a request by c at now.
func requestContext(c Caller, now time.Time) map[string][]string {
	ctx := map[string][]string{
		"aws:currenttime":     {now.UTC().Format(time.RFC3339)},
		"aws:epochtime":       {strconv.FormatInt(now.Unix(), 10)},
		"aws:securetransport": {strconv.FormatBool(c.SecureTransport)},
	}
	if c.SourceIP != "" {
		ctx["aws:sourceip"] = []string{c.SourceIP}
	}
	return ctx
}

// authorize decides whether c may perform the IAM action ("iam:CreateUser")
// on resource (an ARN in c's account), as IAM does without resource
// policies: an account's root may do anything in its account; anyone else
// needs an Allow in an identity policy and no Deny.
func (d *Directory) authorize(ctx context.Context, c Caller, action, resource string) error {
	pols, err := d.ParsedIdentityPolicies(ctx, c.Principal)
	if err != nil {
		return err
	}
	req := &policy.Request{
		Principal: c.Principal.ForPolicy(),
		Action:    action,
		Resource:  resource,
		Context:   requestContext(c, d.clock.Now()),
	}
	dec := policy.AuthorizeIdentity(pols, req)
	if !dec.Allowed {
		return newError(CodeAccessDenied, "%s", policy.DenyMessage(req, dec))
	}
	return nil
}
