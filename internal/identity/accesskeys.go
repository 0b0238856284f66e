package identity

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"strongroom/internal/store"
)

// maxAccessKeys is IAM's quota of access keys per user (and per root).
const maxAccessKeys = 2

// AccessKey describes a long-term access key. SecretAccessKey is set only in
// the answers of CreateUserAccessKey and CreateAccount: a secret is never
// returned again. String and LogValue never print it.
type AccessKey struct {
	Account         string
	UserName        string // "" for an account root's key
	AccessKeyID     string
	SecretAccessKey string
	Status          string
	Created         time.Time
}

// String describes k without its secret.
func (k AccessKey) String() string {
	s := "identity.AccessKey{" + k.AccessKeyID + " " + k.Status + " account " + k.Account
	if k.UserName != "" {
		s += " user " + k.UserName
	}
	if k.SecretAccessKey != "" {
		s += " secret REDACTED"
	}
	return s + "}"
}

// GoString is String, so that %#v does not print the secret either.
func (k AccessKey) GoString() string { return k.String() }

// LogValue implements slog.LogValuer without the secret.
func (k AccessKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key_id", k.AccessKeyID), slog.String("account", k.Account),
		slog.String("user", k.UserName), slog.String("status", k.Status))
}

func (r *accessKeyRecord) accessKey() AccessKey {
	k := AccessKey{Account: r.Principal.Account, AccessKeyID: r.ID, Status: r.Status, Created: unix(r.Created)}
	if r.Principal.Type == TypeIAMUser {
		k.UserName = r.Principal.Name
	}
	return k
}

// keyOwner resolves the owner of the access keys an operation names: the
// user userName of c's account, or the caller itself when userName is "".
// It returns the owner's index name, the ARN to authorize against, and the
// principal new keys belong to (nil if the user does not exist).
func (d *Directory) keyOwner(ctx context.Context, c Caller, userName string) (owner, target string, holder *Principal, err error) {
	p := c.Principal
	if userName == "" {
		switch p.Type {
		case TypeRoot:
			root := Root(p.Account)
			return ownerRoot, p.ARN, &root, nil
		case TypeIAMUser:
			userName = p.Name
		default:
			return "", "", nil, errNonUserCredentials()
		}
	}
	if err := checkName("userName", userName, 64); err != nil {
		return "", "", nil, err
	}
	target, u, err := d.userARN(ctx, p.Account, userName)
	if err != nil {
		return "", "", nil, err
	}
	if u != nil {
		up := u.principal(p.Account)
		holder = &up
	}
	return ownerUser(userName), target, holder, nil
}

// CreateUserAccessKey creates an access key for the user userName of c's
// account, or, when userName is "", for the caller (an account root gets a
// root access key). The answer is the only time the secret is revealed.
func (d *Directory) CreateUserAccessKey(ctx context.Context, c Caller, userName string) (AccessKey, error) {
	owner, target, holder, err := d.keyOwner(ctx, c, userName)
	if err != nil {
		return AccessKey{}, err
	}
	if err := d.authorize(ctx, c, "iam:CreateAccessKey", target); err != nil {
		return AccessKey{}, err
	}
	if holder == nil {
		return AccessKey{}, errNoSuchUser(userName)
	}
	akid, secret := NewAccessKeyID(), NewSecret()
	rec, err := d.newAccessKeyRecord(akid, secret, *holder)
	if err != nil {
		return AccessKey{}, err
	}
	account := c.Principal.Account
	err = d.st.Update(ctx, func(tx store.Tx) error {
		if holder.Type == TypeIAMUser {
			// The user may have been deleted (or replaced) since keyOwner.
			u, err := readUser(tx, account, holder.Name)
			if errors.Is(err, store.ErrNotFound) || (err == nil && u.ID != holder.PrincipalID) {
				return errNoSuchUser(holder.Name)
			}
			if err != nil {
				return err
			}
		}
		keys, err := tx.List(kindOwnedKey, ownedScope(account, owner), "", maxAccessKeys)
		if err != nil {
			return err
		}
		if len(keys) >= maxAccessKeys {
			return newError(CodeLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeys)
		}
		return putNewAccessKey(tx, rec)
	})
	if err != nil {
		return AccessKey{}, err
	}
	k := rec.accessKey()
	k.SecretAccessKey = secret
	return k, nil
}

// ListAccessKeys lists the access keys (without secrets) of the user
// userName of c's account, or of the caller when userName is "", sorted by
// id. userName is answered as stored ("" for a root).
func (d *Directory) ListAccessKeys(ctx context.Context, c Caller, userName, marker string, maxItems int) (user string, keys []AccessKey, next string, err error) {
	owner, target, holder, err := d.keyOwner(ctx, c, userName)
	if err != nil {
		return "", nil, "", err
	}
	if err := d.authorize(ctx, c, "iam:ListAccessKeys", target); err != nil {
		return "", nil, "", err
	}
	if holder == nil {
		return "", nil, "", errNoSuchUser(userName)
	}
	if holder.Type == TypeIAMUser {
		user = holder.Name
	}
	maxItems = clampMaxItems(maxItems)
	err = d.st.View(ctx, func(tx store.Tx) error {
		keys, next = nil, ""
		items, err := tx.List(kindOwnedKey, ownedScope(c.Principal.Account, owner), marker, maxItems+1)
		if err != nil {
			return err
		}
		if len(items) > maxItems {
			items = items[:maxItems]
			next = items[len(items)-1].ID
		}
		for _, it := range items {
			var rec accessKeyRecord
			err := getJSON(tx, store.KindAccessKey, "", it.ID, &rec)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			keys = append(keys, rec.accessKey())
		}
		return nil
	})
	return user, keys, next, err
}

// ownedKey reads the access key akid and checks that it belongs to owner in
// account.
func ownedKey(tx store.Tx, account, owner, akid string) (*accessKeyRecord, error) {
	var rec accessKeyRecord
	err := getJSON(tx, store.KindAccessKey, "", akid, &rec)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (rec.Principal.Account != account || ownerOf(rec.Principal) != owner)) {
		return nil, errNoSuchAccessKey(akid)
	}
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// UpdateAccessKey sets the status (StatusActive or StatusInactive) of the
// access key akid of the user userName (or of the caller). An inactive key
// is refused at once by this node, and by the others within a second.
func (d *Directory) UpdateAccessKey(ctx context.Context, c Caller, userName, akid, status string) error {
	if status != StatusActive && status != StatusInactive {
		return newError(CodeValidationError, "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	owner, target, holder, err := d.keyOwner(ctx, c, userName)
	if err != nil {
		return err
	}
	if err := d.authorize(ctx, c, "iam:UpdateAccessKey", target); err != nil {
		return err
	}
	if holder == nil {
		return errNoSuchUser(userName)
	}
	account := c.Principal.Account
	err = d.st.Update(ctx, func(tx store.Tx) error {
		rec, err := ownedKey(tx, account, owner, akid)
		if err != nil {
			return err
		}
		rec.Status = status
		return putJSON(tx, store.KindAccessKey, "", akid, rec)
	})
	d.dropKey(akid)
	return err
}

// DeleteAccessKey deletes the access key akid of the user userName (or of
// the caller).
func (d *Directory) DeleteAccessKey(ctx context.Context, c Caller, userName, akid string) error {
	owner, target, holder, err := d.keyOwner(ctx, c, userName)
	if err != nil {
		return err
	}
	if err := d.authorize(ctx, c, "iam:DeleteAccessKey", target); err != nil {
		return err
	}
	if holder == nil {
		return errNoSuchUser(userName)
	}
	account := c.Principal.Account
	err = d.st.Update(ctx, func(tx store.Tx) error {
		if _, err := ownedKey(tx, account, owner, akid); err != nil {
			return err
		}
		if err := tx.Delete(store.KindAccessKey, "", akid); err != nil {
			return err
		}
		err := tx.Delete(kindOwnedKey, ownedScope(account, owner), akid)
		if errors.Is(err, store.ErrNotFound) {
			return nil // a key created before the owner index existed
		}
		return err
	})
	d.dropKey(akid)
	return err
}
