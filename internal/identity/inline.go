package identity

import (
	"context"
	"errors"
	"maps"
	"slices"

	"strongroom/internal/arn"
	"strongroom/internal/store"
)

// The operations on the inline policies of users and roles, which IAM gives
// the same rules: PutUserPolicy and PutRolePolicy, and so on, differ only
// in the entity below.

// entity is a kind of IAM principal that carries inline policies.
type entity struct {
	what      string // "user" or "role": names the argument, the actions, the cache key and messages
	action    string // "User" or "Role", as in the action names (iam:PutUserPolicy)
	kind      store.Kind
	limit     int // aggregate size quota of its inline policies
	arn       func(account, path, name string) string
	noSuch    func(name string) *Error
	newRecord func() entityRecord
}

// entityRecord is the persisted form of an entity: userRecord or roleRecord.
type entityRecord interface {
	// fields returns the name and path as stored, and the inline policies.
	fields() (name, path string, policies *map[string]string)
}

func (u *userRecord) fields() (string, string, *map[string]string) {
	return u.Name, u.Path, &u.Policies
}

func (r *roleRecord) fields() (string, string, *map[string]string) {
	return r.Name, r.Path, &r.Policies
}

var (
	userEntity = entity{what: "user", action: "User", kind: kindUser, limit: maxUserPolicyChars,
		arn: arn.User, noSuch: errNoSuchUser, newRecord: func() entityRecord { return new(userRecord) }}
	roleEntity = entity{what: "role", action: "Role", kind: kindRole, limit: maxRolePolicyChars,
		arn: arn.Role, noSuch: errNoSuchRole, newRecord: func() entityRecord { return new(roleRecord) }}
)

// read returns the record of the entity name in account, or store.ErrNotFound.
func (e entity) read(tx store.Tx, account, name string) (entityRecord, error) {
	rec := e.newRecord()
	if err := getJSON(tx, e.kind, account, fold(name), rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// cacheKey is the key of the entity's policies in Directory.policies.
func (e entity) cacheKey(account, name string) string {
	return e.what + "/" + account + "/" + fold(name)
}

func (e entity) checkNames(name, policyName string) error {
	if err := checkName(e.what+"Name", name, 64); err != nil {
		return err
	}
	return checkName("policyName", policyName, 128)
}

func (e entity) errNoSuchPolicy(policyName string) *Error {
	return newError(CodeNoSuchEntity, "The %s policy with name %s cannot be found.", e.what, policyName)
}

// entityARN returns the ARN of the entity name in account as authorization
// sees it: with its path if it exists, "/" otherwise; and its record, nil
// if it does not exist.
func (d *Directory) entityARN(ctx context.Context, e entity, account, name string) (string, entityRecord, error) {
	var rec entityRecord
	err := d.st.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = e.read(tx, account, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return e.arn(account, "/", name), nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	stored, path, _ := rec.fields()
	return e.arn(account, path, stored), rec, nil
}

// authorizeOn authorizes c for action on the entity name of c's account;
// it returns the entity's record, nil if it does not exist.
func (d *Directory) authorizeOn(ctx context.Context, c Caller, e entity, action, name string) (entityRecord, error) {
	target, rec, err := d.entityARN(ctx, e, c.Principal.Account, name)
	if err != nil {
		return nil, err
	}
	if err := d.authorize(ctx, c, action, target); err != nil {
		return nil, err
	}
	return rec, nil
}

// updateEntity runs change on the record of the entity name of account in
// a transaction, the entity's NoSuchEntity if there is none, and drops the
// cached policies of the entity whatever the outcome.
func (d *Directory) updateEntity(ctx context.Context, e entity, account, name string, change func(tx store.Tx, rec entityRecord) error) error {
	err := d.st.Update(ctx, func(tx store.Tx) error {
		rec, err := e.read(tx, account, name)
		if errors.Is(err, store.ErrNotFound) {
			return e.noSuch(name)
		}
		if err != nil {
			return err
		}
		return change(tx, rec)
	})
	d.dropPolicies(e.cacheKey(account, name))
	return err
}

func (d *Directory) putInlinePolicy(ctx context.Context, c Caller, e entity, name, policyName, doc string) error {
	if err := e.checkNames(name, policyName); err != nil {
		return err
	}
	if _, err := d.authorizeOn(ctx, c, e, "iam:Put"+e.action+"Policy", name); err != nil {
		return err
	}
	if err := checkIdentityPolicy(doc); err != nil {
		return err
	}
	account := c.Principal.Account
	return d.updateEntity(ctx, e, account, name, func(tx store.Tx, rec entityRecord) error {
		stored, _, policies := rec.fields()
		updated, err := setInlinePolicy(*policies, policyName, doc, e.limit, e.what+" "+stored)
		if err != nil {
			return err
		}
		*policies = updated
		return putJSON(tx, e.kind, account, fold(name), rec)
	})
}

// getInlinePolicy returns the inline policy document policyName of the
// entity, and the entity's name as stored.
func (d *Directory) getInlinePolicy(ctx context.Context, c Caller, e entity, name, policyName string) (stored, doc string, err error) {
	if err := e.checkNames(name, policyName); err != nil {
		return "", "", err
	}
	rec, err := d.authorizeOn(ctx, c, e, "iam:Get"+e.action+"Policy", name)
	if err != nil {
		return "", "", err
	}
	if rec == nil {
		return "", "", e.noSuch(name)
	}
	stored, _, policies := rec.fields()
	doc, ok := (*policies)[policyName]
	if !ok {
		return "", "", e.errNoSuchPolicy(policyName)
	}
	return stored, doc, nil
}

func (d *Directory) deleteInlinePolicy(ctx context.Context, c Caller, e entity, name, policyName string) error {
	if err := e.checkNames(name, policyName); err != nil {
		return err
	}
	if _, err := d.authorizeOn(ctx, c, e, "iam:Delete"+e.action+"Policy", name); err != nil {
		return err
	}
	account := c.Principal.Account
	return d.updateEntity(ctx, e, account, name, func(tx store.Tx, rec entityRecord) error {
		_, _, policies := rec.fields()
		if _, ok := (*policies)[policyName]; !ok {
			return e.errNoSuchPolicy(policyName)
		}
		*policies = maps.Clone(*policies)
		delete(*policies, policyName)
		return putJSON(tx, e.kind, account, fold(name), rec)
	})
}

func (d *Directory) listInlinePolicies(ctx context.Context, c Caller, e entity, name, marker string, maxItems int) (names []string, next string, err error) {
	if err := checkName(e.what+"Name", name, 64); err != nil {
		return nil, "", err
	}
	rec, err := d.authorizeOn(ctx, c, e, "iam:List"+e.action+"Policies", name)
	if err != nil {
		return nil, "", err
	}
	if rec == nil {
		return nil, "", e.noSuch(name)
	}
	_, _, policies := rec.fields()
	names, next = pageNames(slices.Collect(maps.Keys(*policies)), marker, clampMaxItems(maxItems))
	return names, next, nil
}

// deleteEntity deletes the entity name of c's account once check, if not
// nil, has passed; as in IAM, one that still has inline policies is refused
// with DeleteConflict.
func (d *Directory) deleteEntity(ctx context.Context, c Caller, e entity, name string, check func(tx store.Tx) error) error {
	if err := checkName(e.what+"Name", name, 64); err != nil {
		return err
	}
	if _, err := d.authorizeOn(ctx, c, e, "iam:Delete"+e.action, name); err != nil {
		return err
	}
	account := c.Principal.Account
	return d.updateEntity(ctx, e, account, name, func(tx store.Tx, rec entityRecord) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		if _, _, policies := rec.fields(); len(*policies) > 0 {
			return newError(CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		return tx.Delete(e.kind, account, fold(name))
	})
}
