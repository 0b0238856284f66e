package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/policy"
	"strongroom/internal/store"
)

// Session durations of roles, in seconds.
const (
	DefaultMaxSessionDuration = 3600
	MinMaxSessionDuration     = 3600
	MaxMaxSessionDuration     = 43200
)

// roleRecord is the persisted form of an IAM role.
type roleRecord struct {
	Name               string            `json:"name"`
	Path               string            `json:"path"`
	ID                 string            `json:"id"`
	Created            int64             `json:"created"`
	Description        string            `json:"description,omitempty"`
	TrustPolicy        string            `json:"trustPolicy"`
	MaxSessionDuration int               `json:"maxSessionDuration"`
	Policies           map[string]string `json:"policies,omitempty"`
}

// Role is an IAM role.
type Role struct {
	Account            string
	Name               string
	Path               string
	ID                 string
	ARN                string
	Description        string
	TrustPolicy        string // the AssumeRolePolicyDocument, as given
	MaxSessionDuration int    // seconds
	Created            time.Time
}

func (r *roleRecord) role(account string) Role {
	return Role{Account: account, Name: r.Name, Path: r.Path, ID: r.ID, ARN: arn.Role(account, r.Path, r.Name),
		Description: r.Description, TrustPolicy: r.TrustPolicy, MaxSessionDuration: r.MaxSessionDuration, Created: unix(r.Created)}
}

// RoleInput is what CreateRole takes.
type RoleInput struct {
	Name        string
	Path        string // "" is "/"
	TrustPolicy string // the AssumeRolePolicyDocument
	Description string
	// MaxSessionDuration in seconds, 3600 to 43200; 0 is 3600.
	MaxSessionDuration int
}

func readRole(tx store.Tx, account, name string) (*roleRecord, error) {
	var r roleRecord
	if err := getJSON(tx, kindRole, account, fold(name), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (d *Directory) roleARN(ctx context.Context, account, name string) (string, *roleRecord, error) {
	target, rec, err := d.entityARN(ctx, roleEntity, account, name)
	r, _ := rec.(*roleRecord)
	return target, r, err
}

// ParseTrustPolicy parses a role's trust policy (AssumeRolePolicyDocument):
// a resource policy whose statements name principals and, as in IAM, no
// Resource. It is evaluated as a resource policy on the role's ARN.
func ParseTrustPolicy(doc string) (*policy.Policy, error) {
	if err := checkDocumentChars(doc); err != nil {
		return nil, err
	}
	if n := policyChars(doc); n > maxTrustPolicyChars {
		return nil, newError(CodeLimitExceeded, "Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicyChars)
	}
	derived, err := trustAsResourcePolicy(doc)
	if err != nil {
		return nil, err
	}
	p, err := policy.ParseKeyPolicy(derived)
	if err != nil {
		return nil, malformed(err)
	}
	return p, nil
}

// trustAsResourcePolicy returns doc with "Resource": "*" added to every
// statement, for the policy engine, which wants a resource in each. A
// statement that has a Resource or NotResource of its own is refused, as
// IAM refuses it, and so is a member repeated in one object (which
// encoding/json would silently resolve).
func trustAsResourcePolicy(doc string) (string, error) {
	bad := newError(CodeMalformedPolicyDocument, "Syntax errors in policy.")
	if err := checkNoDuplicates(doc); err != nil {
		return "", newError(CodeMalformedPolicyDocument, "%s", err.Error())
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &top); err != nil {
		return doc, nil // the engine says what is wrong
	}
	raw, ok := top["Statement"]
	if !ok {
		return doc, nil // the engine says what is missing
	}
	var list []map[string]json.RawMessage
	single := false
	if err := json.Unmarshal(raw, &list); err != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(raw, &one) != nil {
			return doc, nil
		}
		list, single = []map[string]json.RawMessage{one}, true
	}
	for _, st := range list {
		if st == nil {
			return doc, nil
		}
		for _, f := range []string{"Resource", "NotResource"} {
			if _, ok := st[f]; ok {
				return "", newError(CodeMalformedPolicyDocument, "Has prohibited field %s", f)
			}
		}
		st["Resource"] = json.RawMessage(`"*"`)
	}
	var b []byte
	var err error
	if single {
		b, err = json.Marshal(list[0])
	} else {
		b, err = json.Marshal(list)
	}
	if err != nil {
		return "", bad
	}
	top["Statement"] = b
	out, err := json.Marshal(top)
	if err != nil {
		return "", bad
	}
	return string(out), nil
}

// checkNoDuplicates fails if an object of the JSON document doc repeats a
// member name.
func checkNoDuplicates(doc string) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	type frame struct {
		obj     bool
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // EOF, or a syntax error the engine will describe
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.wantKey {
			if s, ok := tok.(string); ok {
				if top.keys[s] {
					return errors.New("Policy contains the element \"" + s + "\" more than once in one object.")
				}
				top.keys[s] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// CreateRole creates a role in c's account.
func (d *Directory) CreateRole(ctx context.Context, c Caller, in RoleInput) (Role, error) {
	if err := checkName("roleName", in.Name, 64); err != nil {
		return Role{}, err
	}
	path, err := normPath(in.Path)
	if err != nil {
		return Role{}, err
	}
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = DefaultMaxSessionDuration
	}
	if in.MaxSessionDuration < MinMaxSessionDuration || in.MaxSessionDuration > MaxMaxSessionDuration {
		return Role{}, newError(CodeValidationError, "The specified value for maxSessionDuration is invalid. It must be between %d and %d seconds.", MinMaxSessionDuration, MaxMaxSessionDuration)
	}
	if len(in.Description) > 1000 {
		return Role{}, newError(CodeValidationError, "The specified value for description is invalid. It must be at most 1000 characters long.")
	}
	account := c.Principal.Account
	if err := d.authorize(ctx, c, "iam:CreateRole", arn.Role(account, path, in.Name)); err != nil {
		return Role{}, err
	}
	if _, err := ParseTrustPolicy(in.TrustPolicy); err != nil {
		return Role{}, err
	}
	r := &roleRecord{Name: in.Name, Path: path, ID: newUniqueID(prefixRole), Created: d.clock.Now().Unix(),
		Description: in.Description, TrustPolicy: in.TrustPolicy, MaxSessionDuration: in.MaxSessionDuration}
	b, _ := jsonMarshal(r)
	err = d.st.Update(ctx, func(tx store.Tx) error { return tx.Create(kindRole, account, fold(in.Name), b) })
	if errors.Is(err, store.ErrExists) {
		return Role{}, newError(CodeEntityAlreadyExists, "Role with name %s already exists.", in.Name)
	}
	if err != nil {
		return Role{}, err
	}
	d.dropPolicies(roleEntity.cacheKey(account, in.Name))
	return r.role(account), nil
}

// GetRole returns the role name of c's account.
func (d *Directory) GetRole(ctx context.Context, c Caller, name string) (Role, error) {
	if err := checkName("roleName", name, 64); err != nil {
		return Role{}, err
	}
	target, r, err := d.roleARN(ctx, c.Principal.Account, name)
	if err != nil {
		return Role{}, err
	}
	if err := d.authorize(ctx, c, "iam:GetRole", target); err != nil {
		return Role{}, err
	}
	if r == nil {
		return Role{}, errNoSuchRole(name)
	}
	return r.role(c.Principal.Account), nil
}

// ListRoles lists the roles of c's account whose path starts with
// pathPrefix, by name, a page at a time (see ListUsers).
func (d *Directory) ListRoles(ctx context.Context, c Caller, pathPrefix, marker string, maxItems int) (roles []Role, next string, err error) {
	account := c.Principal.Account
	if err := d.authorize(ctx, c, "iam:ListRoles", arn.Role(account, "/", "")); err != nil {
		return nil, "", err
	}
	maxItems = clampMaxItems(maxItems)
	err = d.st.View(ctx, func(tx store.Tx) error {
		roles, next = nil, ""
		after := marker
		for {
			items, err := tx.List(kindRole, account, after, 256)
			if err != nil {
				return err
			}
			for _, it := range items {
				var r roleRecord
				if err := jsonUnmarshal(it.Value, &r); err != nil {
					return err
				}
				if !strings.HasPrefix(r.Path, pathPrefix) {
					continue
				}
				if len(roles) == maxItems {
					next = fold(roles[len(roles)-1].Name)
					return nil
				}
				roles = append(roles, r.role(account))
			}
			if len(items) < 256 {
				return nil
			}
			after = items[len(items)-1].ID
		}
	})
	return roles, next, err
}

// DeleteRole deletes the role name of c's account; a role that still has
// inline policies is refused with DeleteConflict, as in IAM. Sessions of
// the role keep authenticating until they expire, but with no policies.
func (d *Directory) DeleteRole(ctx context.Context, c Caller, name string) error {
	return d.deleteEntity(ctx, c, roleEntity, name, nil)
}

// PutRolePolicy adds or replaces the inline policy policyName of the role.
func (d *Directory) PutRolePolicy(ctx context.Context, c Caller, roleName, policyName, doc string) error {
	return d.putInlinePolicy(ctx, c, roleEntity, roleName, policyName, doc)
}

// GetRolePolicy returns the inline policy document policyName of the role,
// as it was put, and the role's name as stored.
func (d *Directory) GetRolePolicy(ctx context.Context, c Caller, roleName, policyName string) (role, doc string, err error) {
	return d.getInlinePolicy(ctx, c, roleEntity, roleName, policyName)
}

// DeleteRolePolicy deletes the inline policy policyName of the role.
func (d *Directory) DeleteRolePolicy(ctx context.Context, c Caller, roleName, policyName string) error {
	return d.deleteInlinePolicy(ctx, c, roleEntity, roleName, policyName)
}

// ListRolePolicies lists the names of the role's inline policies, sorted,
// a page at a time.
func (d *Directory) ListRolePolicies(ctx context.Context, c Caller, roleName, marker string, maxItems int) (names []string, next string, err error) {
	return d.listInlinePolicies(ctx, c, roleEntity, roleName, marker, maxItems)
}
