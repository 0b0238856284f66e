package identity

import (
	"context"
	"errors"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/store"
)

// userRecord is the persisted form of an IAM user, with its inline
// policies (name → document, as put).
type userRecord struct {
	Name     string            `json:"name"`
	Path     string            `json:"path"`
	ID       string            `json:"id"`
	Created  int64             `json:"created"`
	Policies map[string]string `json:"policies,omitempty"`
}

// User is an IAM user, or an account's root user (Name and Path empty, ID
// the account id).
type User struct {
	Account string
	Name    string
	Path    string
	ID      string
	ARN     string
	Created time.Time
}

func (u *userRecord) user(account string) User {
	return User{Account: account, Name: u.Name, Path: u.Path, ID: u.ID, ARN: arn.User(account, u.Path, u.Name), Created: unix(u.Created)}
}

func (u *userRecord) principal(account string) Principal {
	return Principal{Account: account, ARN: arn.User(account, u.Path, u.Name), Type: TypeIAMUser, Name: u.Name, PrincipalID: u.ID}
}

// Default and largest page sizes of IAM list operations.
const (
	DefaultMaxItems = 100
	MaxMaxItems     = 1000
)

func clampMaxItems(n int) int {
	if n <= 0 {
		return DefaultMaxItems
	}
	return min(n, MaxMaxItems)
}

// readUser returns the user record, or store.ErrNotFound.
func readUser(tx store.Tx, account, name string) (*userRecord, error) {
	var u userRecord
	if err := getJSON(tx, kindUser, account, fold(name), &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// userARN returns the ARN of the user name in account as authorization
// sees it: with the user's path if it exists, "/" otherwise.
func (d *Directory) userARN(ctx context.Context, account, name string) (string, *userRecord, error) {
	target, rec, err := d.entityARN(ctx, userEntity, account, name)
	u, _ := rec.(*userRecord)
	return target, u, err
}

// CreateUser creates the IAM user name (path "" is "/") in c's account.
func (d *Directory) CreateUser(ctx context.Context, c Caller, name, path string) (User, error) {
	if err := checkName("userName", name, 64); err != nil {
		return User{}, err
	}
	path, err := normPath(path)
	if err != nil {
		return User{}, err
	}
	account := c.Principal.Account
	if err := d.authorize(ctx, c, "iam:CreateUser", arn.User(account, path, name)); err != nil {
		return User{}, err
	}
	u := &userRecord{Name: name, Path: path, ID: newUniqueID(prefixUser), Created: d.clock.Now().Unix()}
	b, _ := jsonMarshal(u)
	err = d.st.Update(ctx, func(tx store.Tx) error { return tx.Create(kindUser, account, fold(name), b) })
	if errors.Is(err, store.ErrExists) {
		return User{}, newError(CodeEntityAlreadyExists, "User with name %s already exists.", name)
	}
	if err != nil {
		return User{}, err
	}
	d.dropPolicies(userEntity.cacheKey(account, name))
	return u.user(account), nil
}

// GetUser returns the user name of c's account, or, when name is "", the
// caller itself (an IAM user, or the account root).
func (d *Directory) GetUser(ctx context.Context, c Caller, name string) (User, error) {
	p := c.Principal
	if name == "" {
		switch p.Type {
		case TypeRoot:
			if err := d.authorize(ctx, c, "iam:GetUser", p.ARN); err != nil {
				return User{}, err
			}
			return d.rootUser(ctx, p.Account)
		case TypeIAMUser:
			name = p.Name
		default:
			return User{}, errNonUserCredentials()
		}
	}
	if err := checkName("userName", name, 64); err != nil {
		return User{}, err
	}
	target, u, err := d.userARN(ctx, p.Account, name)
	if err != nil {
		return User{}, err
	}
	if err := d.authorize(ctx, c, "iam:GetUser", target); err != nil {
		return User{}, err
	}
	if u == nil {
		return User{}, errNoSuchUser(name)
	}
	return u.user(p.Account), nil
}

func (d *Directory) rootUser(ctx context.Context, account string) (User, error) {
	var a accountRecord
	err := d.st.View(ctx, func(tx store.Tx) error { return getJSON(tx, store.KindAccount, "", account, &a) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return User{}, err
	}
	return User{Account: account, ID: account, ARN: arn.Root(account), Created: unix(a.Created)}, nil
}

// ListUsers lists the users of c's account whose path starts with
// pathPrefix ("" for all), by name, from after marker (the marker a previous
// page returned), at most maxItems (0: DefaultMaxItems). next is the marker
// of the next page, "" when this is the last.
func (d *Directory) ListUsers(ctx context.Context, c Caller, pathPrefix, marker string, maxItems int) (users []User, next string, err error) {
	account := c.Principal.Account
	if err := d.authorize(ctx, c, "iam:ListUsers", arn.User(account, "/", "")); err != nil {
		return nil, "", err
	}
	maxItems = clampMaxItems(maxItems)
	err = d.st.View(ctx, func(tx store.Tx) error {
		users, next = nil, ""
		after := marker
		for {
			items, err := tx.List(kindUser, account, after, 256)
			if err != nil {
				return err
			}
			for _, it := range items {
				var u userRecord
				if err := jsonUnmarshal(it.Value, &u); err != nil {
					return err
				}
				if !strings.HasPrefix(u.Path, pathPrefix) {
					continue
				}
				if len(users) == maxItems {
					next = users[len(users)-1].Name
					return nil
				}
				users = append(users, u.user(account))
			}
			if len(items) < 256 {
				return nil
			}
			after = items[len(items)-1].ID
		}
	})
	if next != "" {
		next = fold(next)
	}
	return users, next, err
}

// DeleteUser deletes the user name of c's account. As in IAM, a user that
// still has access keys or inline policies is refused with DeleteConflict.
func (d *Directory) DeleteUser(ctx context.Context, c Caller, name string) error {
	account := c.Principal.Account
	return d.deleteEntity(ctx, c, userEntity, name, func(tx store.Tx) error {
		keys, err := tx.List(kindOwnedKey, ownedScope(account, ownerUser(name)), "", 1)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			return newError(CodeDeleteConflict, "Cannot delete entity, must delete access keys first.")
		}
		return nil
	})
}

// PutUserPolicy adds or replaces the inline policy policyName of the user.
func (d *Directory) PutUserPolicy(ctx context.Context, c Caller, userName, policyName, doc string) error {
	return d.putInlinePolicy(ctx, c, userEntity, userName, policyName, doc)
}

// GetUserPolicy returns the inline policy document policyName of the user,
// as it was put, and the user's name as stored.
func (d *Directory) GetUserPolicy(ctx context.Context, c Caller, userName, policyName string) (user, doc string, err error) {
	return d.getInlinePolicy(ctx, c, userEntity, userName, policyName)
}

// DeleteUserPolicy deletes the inline policy policyName of the user.
func (d *Directory) DeleteUserPolicy(ctx context.Context, c Caller, userName, policyName string) error {
	return d.deleteInlinePolicy(ctx, c, userEntity, userName, policyName)
}

// ListUserPolicies lists the names of the user's inline policies, sorted,
// from after marker, at most maxItems; next is the marker of the next page.
func (d *Directory) ListUserPolicies(ctx context.Context, c Caller, userName, marker string, maxItems int) (names []string, next string, err error) {
	return d.listInlinePolicies(ctx, c, userEntity, userName, marker, maxItems)
}
