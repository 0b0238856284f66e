package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"

	"strongroom/internal/arn"
	"strongroom/internal/store"
)

// metaBootstrap is the meta record in which app records the bootstrap
// account's id once it has bootstrapped the store.
const metaBootstrap = "bootstrap"

// BootstrapAccount returns the id of the account created when the store was
// first bootstrapped, or "" if it has not been.
func (d *Directory) BootstrapAccount(ctx context.Context) (string, error) {
	var id string
	err := d.st.View(ctx, func(tx store.Tx) error {
		b, err := tx.Get(store.KindMeta, "", metaBootstrap)
		id = string(b)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return id, err
}

// newAccountID returns a random 12-digit account id.
func newAccountID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e12))
	s := n.String()
	for len(s) < 12 {
		s = "0" + s
	}
	return s
}

// CreateAccount creates the account id ("" for a fresh random 12-digit id)
// and an access key for its root, which it returns with its secret: the
// only time it is revealed. It does no authorization: it is the operator's
// function (CreateAccountAs is the API's). An existing id is refused with
// EntityAlreadyExists.
func (d *Directory) CreateAccount(ctx context.Context, id string) (AccessKey, error) {
	generated := id == ""
	if !generated && !arn.IsAccountID(id) {
		return AccessKey{}, newError(CodeValidationError, "The account id must be 12 digits.")
	}
	for attempt := 0; ; attempt++ {
		if generated {
			id = newAccountID()
		}
		k, err := d.createAccount(ctx, id)
		if generated && attempt < 8 {
			if e, ok := AsError(err); ok && e.Code == CodeEntityAlreadyExists {
				continue
			}
		}
		return k, err
	}
}

func (d *Directory) createAccount(ctx context.Context, id string) (AccessKey, error) {
	now := d.clock.Now().Unix()
	acct, _ := json.Marshal(accountRecord{ID: id, Created: now})
	akid, secret := NewAccessKeyID(), NewSecret()
	rec, err := d.newAccessKeyRecord(akid, secret, Root(id))
	if err != nil {
		return AccessKey{}, err
	}
	err = d.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(store.KindAccount, "", id, acct); err != nil {
			return err
		}
		return putNewAccessKey(tx, rec)
	})
	if errors.Is(err, store.ErrExists) {
		return AccessKey{}, newError(CodeEntityAlreadyExists, "Account %s already exists.", id)
	}
	if err != nil {
		return AccessKey{}, err
	}
	k := rec.accessKey()
	k.SecretAccessKey = secret
	return k, nil
}

// CreateAccountAs is CreateAccount for an API caller: only the root user of
// the bootstrap account may create accounts, whatever its policies say.
func (d *Directory) CreateAccountAs(ctx context.Context, c Caller, id string) (AccessKey, error) {
	boot, err := d.BootstrapAccount(ctx)
	if err != nil {
		return AccessKey{}, err
	}
	if !c.Principal.IsRoot() || boot == "" || c.Principal.Account != boot {
		return AccessKey{}, newError(CodeAccessDenied, "User: %s is not authorized to perform: strongroom:CreateAccount: only the root user of the bootstrap account may create accounts", c.Principal.ARN)
	}
	return d.CreateAccount(ctx, id)
}
