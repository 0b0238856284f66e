package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/policy"
	"strongroom/internal/store"
)

// Session durations of AssumeRole, in seconds.
const (
	MinSessionDuration     = 900
	MaxSessionDuration     = 43200
	DefaultSessionDuration = 3600
	// chainedSessionLimit caps a session whose caller is itself a role
	// session ("role chaining").
	chainedSessionLimit = 3600
)

// sessionRetention is how long an expired session stays in the store before
// PurgeExpiredSessions removes it: until then its use is answered with
// ExpiredToken (which tells SDKs to refresh their credentials), afterwards
// like an unknown key. Its secret is useless once expired.
const sessionRetention = 24 * time.Hour

// purgeEvery spaces the purges AssumeRole runs on its own.
const purgeEvery = time.Minute

// sessionRecord is the persisted form of an STS session. The secret is
// sealed under the root of trust, bound to the session's access key id;
// the session token is kept only as its SHA-256 (it is 63 random bytes, so
// the hash reveals nothing usable).
type sessionRecord struct {
	ID        string    `json:"id"`
	Principal Principal `json:"principal"`
	Sealed    []byte    `json:"sealedSecret"`
	TokenHash []byte    `json:"tokenHash"`
	Created   int64     `json:"created"`
	Expires   int64     `json:"expires"`
}

type cachedSession struct {
	p         Principal
	secret    []byte
	tokenHash [sha256.Size]byte
	expires   time.Time
	fetched   time.Time
}

func sessionAAD(akid string) []byte { return []byte("strongroom/sts-session/v1\x00" + akid) }

func sessionExpiryID(expires int64, akid string) string {
	return fmt.Sprintf("%020d/%s", expires, akid)
}

// newSessionToken returns a fresh session token: a version byte and 63
// random bytes, base64.
func newSessionToken() string {
	var b [64]byte
	b[0] = 1
	rand.Read(b[1:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// SessionCredentials are temporary credentials issued by AssumeRole.
// String and LogValue never print the secret or the token.
type SessionCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// String describes c without its secrets.
func (c SessionCredentials) String() string {
	return "identity.SessionCredentials{" + c.AccessKeyID + " secret REDACTED token REDACTED expires " + c.Expiration.Format(time.RFC3339) + "}"
}

// GoString is String, so that %#v does not print the secrets either.
func (c SessionCredentials) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secrets.
func (c SessionCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key_id", c.AccessKeyID), slog.Time("expiration", c.Expiration))
}

// AssumeRoleInput is what AssumeRole takes.
type AssumeRoleInput struct {
	RoleARN     string
	SessionName string
	// DurationSeconds is 900 to 43200 and at most the role's
	// MaxSessionDuration; 0 is 3600.
	DurationSeconds int
	// ExternalID, if set, is the sts:ExternalId condition key.
	ExternalID string
}

// AssumedRole is AssumeRole's answer.
type AssumedRole struct {
	Credentials SessionCredentials
	// ARN is the session's ARN: arn:aws:sts::A:assumed-role/R/session.
	ARN string
	// AssumedRoleID is the role's unique id, a colon and the session name.
	AssumedRoleID string
}

// String describes a without its secrets.
func (a AssumedRole) String() string {
	return "identity.AssumedRole{" + a.ARN + " " + a.Credentials.String() + "}"
}

// GoString is String, so that %#v does not print the secrets either.
func (a AssumedRole) GoString() string { return a.String() }

// LogValue implements slog.LogValuer without the secrets.
func (a AssumedRole) LogValue() slog.Value {
	return slog.GroupValue(slog.String("arn", a.ARN), slog.Any("credentials", a.Credentials))
}

// validSessionName: 2 to 64 characters of [\w+=,.@-].
func validSessionName(s string) bool { return len(s) >= 2 && validName(s, 64) }

// parseRoleARN splits arn:aws:iam::A:role/path/name.
func parseRoleARN(s string) (account, path, name string, ok bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Partition != arn.Partition || a.Service != "iam" || a.Region != "" || !arn.IsAccountID(a.Account) {
		return "", "", "", false
	}
	rest, ok := strings.CutPrefix(a.Resource, "role/")
	if !ok {
		return "", "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	path, name = "/"+rest[:i+1], rest[i+1:]
	if i < 0 {
		path = "/"
	}
	if !validName(name, 64) || !validPath(path) {
		return "", "", "", false
	}
	return a.Account, path, name, true
}

// AssumeRole issues temporary credentials for the role in.RoleARN to c, as
// STS does: the role's trust policy must allow c sts:AssumeRole. A trust
// policy that names c's account rather than c itself delegates to c's
// identity policies, which must allow too; a caller from another account
// always needs both. Account roots may not assume roles. A role that does
// not exist is denied like a role whose trust policy does not allow.
func (d *Directory) AssumeRole(ctx context.Context, c Caller, in AssumeRoleInput) (AssumedRole, error) {
	if !validSessionName(in.SessionName) {
		return AssumedRole{}, newError(CodeValidationError, "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", in.SessionName)
	}
	if in.DurationSeconds == 0 {
		in.DurationSeconds = DefaultSessionDuration
	}
	if in.DurationSeconds < MinSessionDuration || in.DurationSeconds > MaxSessionDuration {
		return AssumedRole{}, newError(CodeValidationError, "The requested DurationSeconds must be between %d and %d seconds.", MinSessionDuration, MaxSessionDuration)
	}
	p := c.Principal
	if p.IsRoot() {
		return AssumedRole{}, newError(CodeAccessDenied, "Roles may not be assumed by root accounts.")
	}
	account, path, name, ok := parseRoleARN(in.RoleARN)
	if !ok {
		return AssumedRole{}, newError(CodeValidationError, "%s is invalid", in.RoleARN)
	}
	now := d.clock.Now().UTC().Truncate(time.Second)
	rctx := requestContext(c, now)
	rctx["sts:rolesessionname"] = []string{in.SessionName}
	if in.ExternalID != "" {
		rctx["sts:externalid"] = []string{in.ExternalID}
	}
	req := &policy.Request{Principal: p.ForPolicy(), Action: "sts:AssumeRole", Resource: in.RoleARN, Context: rctx}

	var r *roleRecord
	err := d.st.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = readRole(tx, account, name)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return AssumedRole{}, err
	}
	if r == nil || r.Path != path {
		return AssumedRole{}, newError(CodeAccessDenied, "%s", policy.DenyMessage(req, policy.Decision{Reason: policy.ReasonNoKeyPolicyAllow}))
	}
	trust, err := ParseTrustPolicy(r.TrustPolicy)
	if err != nil {
		return AssumedRole{}, fmt.Errorf("identity: stored trust policy of %s no longer parses: %w", in.RoleARN, err)
	}
	ids, err := d.ParsedIdentityPolicies(ctx, p)
	if err != nil {
		return AssumedRole{}, err
	}
	dec := policy.Authorize(policy.KeyAccess{KeyAccount: account, KeyPolicy: trust, IdentityPolicies: ids}, req)
	if !dec.Allowed {
		return AssumedRole{}, newError(CodeAccessDenied, "%s", policy.DenyMessage(req, dec))
	}
	if in.DurationSeconds > r.MaxSessionDuration {
		return AssumedRole{}, newError(CodeValidationError, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if p.Type == TypeAssumedRole && in.DurationSeconds > chainedSessionLimit {
		return AssumedRole{}, newError(CodeValidationError, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}

	role := r.role(account)
	sp := Principal{
		Account:     account,
		ARN:         arn.AssumedRole(account, r.Name, in.SessionName),
		Type:        TypeAssumedRole,
		Name:        in.SessionName,
		RoleARN:     role.ARN,
		PrincipalID: r.ID + ":" + in.SessionName,
	}
	akid, secret, token := newSessionKeyID(), NewSecret(), newSessionToken()
	sealed, err := d.sealer.Seal([]byte(secret), sessionAAD(akid))
	if err != nil {
		return AssumedRole{}, fmt.Errorf("identity: sealing session secret: %w", err)
	}
	th := sha256.Sum256([]byte(token))
	expires := now.Add(time.Duration(in.DurationSeconds) * time.Second)
	rec := sessionRecord{ID: akid, Principal: sp, Sealed: sealed, TokenHash: th[:], Created: now.Unix(), Expires: expires.Unix()}
	b, _ := jsonMarshal(rec)
	err = d.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(kindSession, "", akid, b); err != nil {
			return err
		}
		return tx.Put(kindSessionExp, "", sessionExpiryID(rec.Expires, akid), nil)
	})
	if err != nil {
		return AssumedRole{}, err
	}
	d.maybePurge(ctx)
	return AssumedRole{
		Credentials:   SessionCredentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token, Expiration: expires},
		ARN:           sp.ARN,
		AssumedRoleID: sp.PrincipalID,
	}, nil
}

// LookupSession returns the principal of the STS session akid and its
// secret, if token is the session's token: ErrUnknownKey if there is no such
// session or the token does not match (compared in constant time), and
// ErrExpiredToken if it matches but the session has expired by the service
// clock. The secret must not be retained or modified by the caller.
func (d *Directory) LookupSession(ctx context.Context, akid, token string) (Principal, []byte, error) {
	th := sha256.Sum256([]byte(token))
	wall := d.wall()
	d.mu.RLock()
	cs, ok := d.sessions[akid]
	gen := d.gen
	d.mu.RUnlock()
	hit := ok && fresh(cs.fetched, wall)
	d.sessionCount.count(hit)
	if !hit {
		var rec sessionRecord
		err := d.st.View(ctx, func(tx store.Tx) error { return getJSON(tx, kindSession, "", akid, &rec) })
		if errors.Is(err, store.ErrNotFound) {
			d.dropSession(akid)
			return Principal{}, nil, ErrUnknownKey
		}
		if err != nil {
			return Principal{}, nil, err
		}
		if len(rec.TokenHash) != sha256.Size {
			return Principal{}, nil, fmt.Errorf("identity: session %s has a malformed token hash", akid)
		}
		secret, err := d.sealer.Open(rec.Sealed, sessionAAD(akid))
		if err != nil {
			return Principal{}, nil, fmt.Errorf("identity: unsealing secret of session %s: %w", akid, err)
		}
		cs = cachedSession{p: rec.Principal, secret: secret, expires: unix(rec.Expires), fetched: wall}
		copy(cs.tokenHash[:], rec.TokenHash)
		cs.p.AccessKeyID = akid
		d.mu.Lock()
		if d.gen == gen {
			evictOne(d.sessions)
			d.sessions[akid] = cs
		}
		d.mu.Unlock()
	}
	if subtle.ConstantTimeCompare(th[:], cs.tokenHash[:]) != 1 {
		return Principal{}, nil, ErrUnknownKey
	}
	if !d.clock.Now().Before(cs.expires) {
		return Principal{}, nil, ErrExpiredToken
	}
	return cs.p, cs.secret, nil
}

func (d *Directory) dropSession(akid string) {
	d.mu.Lock()
	delete(d.sessions, akid)
	d.gen++
	d.mu.Unlock()
}

// maybePurge runs PurgeExpiredSessions at most once per purgeEvery.
func (d *Directory) maybePurge(ctx context.Context) {
	now := d.wall()
	d.mu.Lock()
	due := now.Sub(d.lastPurge) >= purgeEvery || now.Before(d.lastPurge)
	if due {
		d.lastPurge = now
	}
	d.mu.Unlock()
	if due {
		d.PurgeExpiredSessions(ctx) // best effort: the next call retries
	}
}

// PurgeExpiredSessions deletes the sessions that expired more than a day
// ago by the service clock and returns how many it deleted. AssumeRole runs
// it now and then; a node may also run it periodically.
func (d *Directory) PurgeExpiredSessions(ctx context.Context) (int, error) {
	cutoff := d.clock.Now().Add(-sessionRetention).Unix()
	n := 0
	for {
		var due []string
		err := d.st.View(ctx, func(tx store.Tx) error {
			items, err := tx.List(kindSessionExp, "", "", 256)
			if err != nil {
				return err
			}
			for _, it := range items {
				exp, _, _ := strings.Cut(it.ID, "/")
				t, err := strconv.ParseInt(exp, 10, 64)
				if err != nil || t > cutoff {
					break
				}
				due = append(due, it.ID)
			}
			return nil
		})
		if err != nil || len(due) == 0 {
			return n, err
		}
		err = d.st.Update(ctx, func(tx store.Tx) error {
			for _, id := range due {
				_, akid, _ := strings.Cut(id, "/")
				if err := tx.Delete(kindSession, "", akid); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if err := tx.Delete(kindSessionExp, "", id); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		for _, id := range due {
			_, akid, _ := strings.Cut(id, "/")
			d.dropSession(akid)
		}
		n += len(due)
	}
}
