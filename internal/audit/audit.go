// Package audit owns Strongroom's audit trail: CloudTrail-shaped records of
// every call and background event, chained by hash, sealed by signed
// digests, stored durably, queried (LookupEvents), exported as JSON lines and
// verified offline.
//
// Guarantees:
//
//   - Durable before acknowledged: Append returns only once the record is
//     committed to the store (for the embedded store: fsynced). Concurrent
//     Appends are written together, one store transaction for the group
//     (group commit), so the fsync is shared; AppendTx writes inside a
//     caller's transaction, so a background change and its record commit
//     together or not at all.
//   - Tamper evident: record n carries hash(n) = SHA-256 over its sequence
//     number, hash(n-1) and its event's exact bytes. Every DigestEvery
//     records or DigestInterval of time a digest signs (n, hash(n)) with an
//     Ed25519 key that exists only sealed under the root of trust; digests
//     are chained to each other. An export ends with a signed statement of
//     its first and last record. Verify checks all of it offline and names
//     the first record altered, removed, inserted or moved.
//   - No payload: the package stores what it is given. Deciding what of a
//     request may be recorded (never plaintexts, data keys, blobs, secrets)
//     is the caller's job — in Strongroom the kms core's per-operation
//     whitelist — and this package adds nothing else.
//
// The export format (one JSON object per line) is documented in docs/audit.md
// and versioned by the "version" member of its header line.
package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"strongroom/internal/clock"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
	"strongroom/internal/uuid"
)

// Event is one record in CloudTrail's shape (record version 1.08). Fields
// are emitted in CloudTrail's order with CloudTrail's names.
type Event struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        UserIdentity   `json:"userIdentity"`
	EventTime           string         `json:"eventTime"`
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	RequestID           string         `json:"requestID,omitempty"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []Resource     `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	EventCategory       string         `json:"eventCategory"`

	// RawRequestParameters and RawResponseElements, when not nil, are
	// requestParameters and responseElements already encoded (a JSON object,
	// or null), written instead of the maps above: the kms core renders its
	// whitelisted members straight into them. A record read back holds the
	// maps.
	RawRequestParameters []byte `json:"-"`
	RawResponseElements  []byte `json:"-"`
}

// UserIdentity is CloudTrail's userIdentity element.
type UserIdentity struct {
	Type           string          `json:"type,omitempty"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
}

// SessionContext describes the role behind an assumed-role session.
type SessionContext struct {
	SessionIssuer SessionIssuer `json:"sessionIssuer"`
}

// SessionIssuer is the role an assumed-role session was issued for.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// Resource is one element of CloudTrail's resources list.
type Resource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// Constant values of records.
const (
	EventVersion     = "1.08"
	EventTypeCall    = "AwsApiCall"
	EventTypeService = "AwsServiceEvent"
	CategoryMgmt     = "Management"
	// TimeFormat is eventTime's format: UTC, to the second.
	TimeFormat = "2006-01-02T15:04:05Z"
)

// Username is what LookupEvents reports as the event's user name: the IAM
// user's name, the session name of an assumed role, "root" for an account
// root, or the service that acted.
func (e *Event) Username() string { return e.UserIdentity.username() }

func (u *UserIdentity) username() string {
	switch {
	case u.UserName != "":
		return u.UserName
	case u.Type == "Root":
		return "root"
	case u.Type == "AssumedRole":
		if i := lastIndexByte(u.PrincipalID, ':'); i >= 0 {
			return u.PrincipalID[i+1:]
		}
	case u.InvokedBy != "":
		return u.InvokedBy
	}
	return ""
}

func lastIndexByte(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// NewEventID returns a random CloudTrail event id (a version 4 UUID).
func NewEventID() string {
	return uuid.New()
}

// Entry is one record to append.
type Entry struct {
	Event *Event
	// Apply, if set, runs in the transaction that appends the record, so
	// that what it writes commits with the record or not at all. It may run
	// more than once (the store retries transactions) and must have no
	// effect outside tx. If it fails, only this entry fails.
	Apply func(tx store.Tx) error
	// MayWait says that the call may be answered before its record is
	// durable if the store refuses writes (a full disk, a failing fsync):
	// the record is then held in memory, in order, and written as soon as
	// the store accepts writes again. For read-only calls, so that a node
	// with a broken disk keeps serving them; a record held is lost if the
	// process stops before the store recovers.
	MayWait bool
	// Effect, if set, is handed to the trail's Effects with the effects of the
	// other entries written in the same transaction, so that they can be
	// applied together (one counter update for a hundred requests).
	Effect any
}

// Options tune a Trail. The zero value is the default.
type Options struct {
	// Clock stamps digests and decides retention. Nil: the system clock.
	Clock clock.Clock
	// Retention is how long records are kept; Prune removes older ones.
	// Zero keeps them forever.
	Retention time.Duration
	// DigestEvery is the most records between two signed digests
	// (default 1000).
	DigestEvery int
	// DigestInterval is the longest time between two digests while
	// records arrive (default one hour, as CloudTrail's digest files).
	DigestInterval time.Duration
	Logger         *slog.Logger
	// SegmentDir, if set, keeps the records in segment files in this
	// directory (segment.go) instead of the store: for a store on the
	// same machine (the embedded one), where one fdatasync per group
	// costs far less than a store commit. The store keeps the head, the
	// digests and what records change, applied behind the records.
	SegmentDir string
	// SyncDelay, with SegmentDir: how a record that is not durable
	// elsewhere (a read-only call's, a failed call's) is made durable.
	// Zero: its group is synced (fdatasync) before Append returns, so it
	// survives a power cut once acknowledged. Above zero: its group is
	// written to the operating system before Append returns, which a
	// crash or kill of the process cannot undo, and synced within
	// SyncDelay; a power cut can lose the records of that last moment.
	// A changing call's record commits with its change either way.
	SyncDelay time.Duration
	// Codec encodes Entry.Effect for the segment files (required with
	// SegmentDir), and Effects applies them (SetEffects): both must be
	// set before Open when SegmentDir is, because Open applies the
	// effects of records written but not applied before a crash.
	Codec   EffectCodec
	Effects func(tx store.Tx, effects []any) error
}

// EffectCodec turns an Entry.Effect into bytes and back.
type EffectCodec interface {
	// AppendEffect appends effect's encoding to b.
	AppendEffect(b []byte, effect any) ([]byte, error)
	DecodeEffect(b []byte) (any, error)
}

// Defaults of Options.
const (
	DefaultDigestEvery    = 1000
	DefaultDigestInterval = time.Hour
	maxBatch              = 4096
)

// Trail is the audit trail over a store. It is safe for concurrent use.
type Trail struct {
	st    store.Store
	clock clock.Clock
	opts  Options
	log   *slog.Logger
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
	// effects applies entries' Effects (SetEffects).
	effects func(tx store.Tx, effects []any) error

	// Group commit: Appends queue here; one of them, the leader, writes
	// the queue in one transaction and hands leadership to the next.
	mu      sync.Mutex
	queue   []*waiter
	leading bool
	held    []*waiter // acknowledged while the store refused writes (MayWait)
	batch   []*waiter // the leader's batch, reused (leader only)

	appended, groups atomic.Int64 // Appends, and the transactions that wrote them
	txRecords        atomic.Int64 // AppendTx's, in transactions that committed (stats.go)
	// queued counts AppendTxQueued's records handed to the queue and not
	// yet written (Sync waits for them).
	queued atomic.Int64

	seg *segTrail // nil: the records are in the store
}

// Stats returns how many records Append has written, and in how many
// transactions (the group commit's batching is their ratio).
func (t *Trail) Stats() (records, transactions int64) {
	return t.appended.Load(), t.groups.Load()
}

// head is the trail's state, stored in KindAuditMeta/"head".
type head struct {
	Seq        uint64 `json:"seq"`
	Hash       string `json:"hash"`
	First      uint64 `json:"first"` // oldest retained record; 0 when none yet
	DigestSeq  uint64 `json:"digestSeq"`
	DigestHash string `json:"digestHash"` // of the last digest's signed message
	DigestTime int64  `json:"digestTime"`
	Genesis    int64  `json:"genesis"` // when the trail began
	// Segment files (Options.SegmentDir): SegFrom is the first record
	// kept in them (those before are in the store; 0: none are), SegFile
	// and SegOff the segment and offset just after record Seq.
	SegFrom uint64 `json:"segFrom,omitempty"`
	SegFile uint64 `json:"segFile,omitempty"`
	SegOff  int64  `json:"segOff,omitempty"`
}

const (
	metaHead       = "head"
	metaSigningKey = "signing-key"
	signingKeyAAD  = "strongroom audit signing key v1"
)

var zeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// Open returns the trail stored in st, creating its signing key (sealed by
// sealer) and head on first use.
func Open(ctx context.Context, st store.Store, sealer rootkey.Sealer, o Options) (*Trail, error) {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.DigestEvery <= 0 {
		o.DigestEvery = DefaultDigestEvery
	}
	if o.DigestInterval <= 0 {
		o.DigestInterval = DefaultDigestInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Trail{st: st, clock: o.Clock, opts: o, log: o.Logger, effects: o.Effects}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	defer clear(seed)
	fresh, err := sealer.Seal(seed, []byte(signingKeyAAD))
	if err != nil {
		return nil, fmt.Errorf("audit: sealing a signing key: %w", err)
	}
	var sealed []byte
	err = st.Update(ctx, func(tx store.Tx) error {
		sealed = nil
		b, err := tx.Get(store.KindAuditMeta, "", metaSigningKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := tx.Create(store.KindAuditMeta, "", metaSigningKey, fresh); err != nil {
				return err
			}
			sealed = fresh
		case err != nil:
			return err
		default:
			sealed = b
		}
		if _, err := tx.Get(store.KindAuditMeta, "", metaHead); errors.Is(err, store.ErrNotFound) {
			now := t.clock.Now().Unix()
			h := head{Hash: zeroHash, DigestHash: zeroHash, Genesis: now, DigestTime: now}
			return tx.Create(store.KindAuditMeta, "", metaHead, mustJSON(h))
		} else {
			return err
		}
	})
	if err != nil {
		return nil, fmt.Errorf("audit: opening the trail: %w", err)
	}
	s, err := sealer.Open(sealed, []byte(signingKeyAAD))
	if err != nil {
		return nil, fmt.Errorf("audit: unsealing the trail's signing key: %w", err)
	}
	if len(s) != ed25519.SeedSize {
		clear(s)
		return nil, errors.New("audit: the trail's signing key has the wrong size")
	}
	t.priv = ed25519.NewKeyFromSeed(s)
	clear(s)
	t.pub = t.priv.Public().(ed25519.PublicKey)
	t.keyID = KeyID(t.pub)
	if o.SegmentDir != "" {
		if err := t.openSegments(ctx); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// SetEffects installs fn to apply the Effect of the entries written in one
// transaction, in trail order, inside it (metering, a key's last use). Like
// Entry.Apply it may run more than once; if it fails, the whole group
// fails. Call it before the trail is used.
func (t *Trail) SetEffects(fn func(tx store.Tx, effects []any) error) { t.effects = fn }

// RecordsInStore says whether the records are kept in the store (and
// AppendTx writes the record itself inside the caller's transaction), as
// opposed to segment files (where AppendTx goes through an outbox and the
// record is chained later, after records appended meanwhile).
func (t *Trail) RecordsInStore() bool { return t.seg == nil }

// KeyID is the fingerprint that names a signing key: the hex SHA-256 of
// its public key.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:])
}

// PublicKey returns the key digests and exports are signed with.
func (t *Trail) PublicKey() ed25519.PublicKey { return t.pub }

// Genesis returns when the trail began recording.
func (t *Trail) Genesis(ctx context.Context) (time.Time, error) {
	var h head
	err := t.st.View(ctx, func(tx store.Tx) error {
		var err error
		h, err = readHead(tx)
		return err
	})
	return time.Unix(h.Genesis, 0).UTC(), err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func readHead(tx store.Tx) (head, error) {
	var h head
	b, err := tx.Get(store.KindAuditMeta, "", metaHead)
	if err != nil {
		return h, fmt.Errorf("audit: reading the trail's head: %w", err)
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("audit: decoding the trail's head: %w", err)
	}
	return h, nil
}

// seqID is a record's id in the store: zero-padded, so ids sort by number.
func seqID(n uint64) string {
	const width = 20 // the digits of the largest uint64
	b := [width]byte{'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'}
	for i := width - 1; n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

// waiter is one Append waiting for the group commit.
type waiter struct {
	e    *Entry
	buf  []byte      // the record line, its head (before the event) written by appendTx
	body []byte      // the event's JSON, within buf
	res  chan result // nil for AppendTx's
	// held: kept in memory until the store accepts writes; acked: its
	// caller has been answered; queued: an AppendTxQueued record, durable
	// in the outbox, that nobody waits for.
	held, acked, queued bool
	// outboxID names the outbox record this is (segment mode: AppendTx).
	outboxID string
}

type result struct {
	err  error
	lead bool
}

// newWaiter encodes e's event into a buffer that leaves room before it
// for the record line's head (recordLine's layout, built in place).
func newWaiter(e *Entry, pooled bool) (*waiter, error) {
	var buf []byte
	if pooled {
		buf = (*bufPool.Get().(*[]byte))[:maxLineHead]
	} else {
		buf = make([]byte, maxLineHead, maxLineHead+1536)
	}
	buf, err := e.Event.appendJSON(buf)
	if err != nil {
		return nil, err
	}
	buf = append(buf, '}')
	return &waiter{e: e, buf: buf, body: buf[maxLineHead : len(buf)-1]}, nil
}

// line writes the record line's head in front of the event and returns the
// line: the bytes recordLine would build.
func (w *waiter) line(seq uint64, prev, hash string) []byte {
	var hb [maxLineHead]byte
	head := appendLineHead(hb[:0], seq, prev, hash)
	start := maxLineHead - len(head)
	copy(w.buf[start:], head)
	return w.buf[start:]
}

// Append adds e to the trail and returns once it is durable. It waits for
// the write even if ctx ends: the call it records has happened.
func (t *Trail) Append(ctx context.Context, e *Entry) error {
	w, err := newWaiter(e, true)
	if err != nil {
		return err
	}
	w.res = make(chan result, 1)
	t.mu.Lock()
	t.queue = append(t.queue, w)
	if t.leading {
		t.mu.Unlock()
		if r := <-w.res; !r.lead {
			return r.err
		}
	} else {
		t.leading = true
		t.mu.Unlock()
	}
	return t.lead(w)
}

// lead writes the held records and the head of the queue (which includes
// me, unless me is nil), delivers the others' results and hands leadership
// on.
func (t *Trail) lead(me *waiter) (mine error) {
	t.mu.Lock()
	n := min(len(t.queue), maxBatch)
	held := t.held
	t.held = nil
	batch := append(append(t.batch[:0], held...), t.queue[:n]...)
	t.queue = slices.Delete(t.queue, 0, n)
	t.mu.Unlock()

	delivered := false
	defer func() {
		if !delivered {
			for _, w := range batch {
				switch {
				case w.queued:
					t.unqueue(w, false)
				case w.res != nil && w != me && !w.acked:
					w.res <- result{err: errors.New("audit: group commit failed")}
				}
			}
			mine = errors.New("audit: group commit failed")
		}
		clear(batch) // the next leader's, with no waiter kept alive
		t.mu.Lock()
		if cap(batch) <= maxBatch+MaxHeld {
			t.batch = batch[:0]
		}
		switch {
		case len(t.queue) == 0:
			t.leading = false
		case t.queue[0].res == nil: // an AppendTxQueued record: nobody waits
			go t.lead(nil)
		default:
			t.queue[0].res <- result{lead: true}
		}
		t.mu.Unlock()
	}()
	var errs []error
	if len(batch) > 0 {
		var storeErr error
		if t.seg != nil {
			errs, storeErr = t.commitSegment(batch)
		} else {
			errs, storeErr = t.commit(batch)
		}
		if storeErr != nil {
			t.hold(batch, errs, storeErr)
		} else {
			for _, w := range batch {
				w.held = false // written (or failed on its own)
			}
			if len(held) > 0 {
				t.log.Warn("audit trail: the store accepts writes again; records held in memory are written", "records", len(held))
			}
		}
	}
	for i, w := range batch {
		switch {
		case w.acked: // answered when it was first held
		case w == me:
			mine = errs[i]
		case w.queued:
			t.unqueue(w, errs[i] == nil)
		default:
			w.res <- result{err: errs[i]}
		}
		if w.held {
			w.acked = true
		} else if w.res != nil && cap(w.buf) <= 16<<10 { // done with: its buffer serves again
			b := w.buf[:0]
			bufPool.Put(&b)
		}
	}
	delivered = true
	return mine
}

// bufPool recycles the buffers records are encoded into, once written
// (stores copy what they are given).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, maxLineHead+1536); return &b }}

// MaxHeld bounds the records held in memory while the store refuses
// writes.
const MaxHeld = 10000

// hold keeps in memory, when the store refused the batch's transaction,
// the records held already and those of the batch that may wait (Entry.
// MayWait), up to MaxHeld: those are acknowledged (their error cleared)
// and written by the next transaction that succeeds.
func (t *Trail) hold(batch []*waiter, errs []error, storeErr error) {
	var keep []*waiter
	for i, w := range batch {
		switch {
		case w.acked:
			keep = append(keep, w) // answered already: never dropped
		case errs[i] == storeErr && w.e.MayWait && len(keep) < MaxHeld:
			w.held, errs[i] = true, nil // answered as written
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		return
	}
	t.mu.Lock()
	t.held = append(keep, t.held...)
	n := len(t.held)
	t.mu.Unlock()
	t.log.Error("audit trail: the store refuses writes; records of read-only calls are held in memory until it accepts them again, and lost if the process stops first",
		"held", n, "err", storeErr)
}

// Held returns how many records are held in memory, acknowledged but not
// yet durable, because the store refuses writes.
func (t *Trail) Held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.held)
}

// flushHeld writes the held records, if any and if no Append is under way
// (the next one writes them anyway).
func (t *Trail) flushHeld() error {
	t.mu.Lock()
	if t.leading || len(t.held) == 0 {
		t.mu.Unlock()
		return nil
	}
	t.leading = true
	t.mu.Unlock()
	t.lead(nil)
	if n := t.Held(); n > 0 {
		return fmt.Errorf("audit: %d records are still held in memory: the store refuses writes", n)
	}
	return nil
}

// entryError says which entry's Apply failed a batch.
type entryError struct {
	i   int
	err error
}

func (e *entryError) Error() string { return e.err.Error() }
func (e *entryError) Unwrap() error { return e.err }

// commit appends the batch in one transaction. An entry whose Apply fails
// gets its error and the others are written without it. If the store
// refuses the transaction, storeErr is its error, which every entry left
// gets.
func (t *Trail) commit(batch []*waiter) (errs []error, storeErr error) {
	errs = make([]error, len(batch))
	pending := make([]*waiter, len(batch))
	copy(pending, batch)
	index := make(map[*waiter]int, len(batch))
	for i, w := range batch {
		index[w] = i
	}
	for len(pending) > 0 {
		err := t.st.Update(context.Background(), func(tx store.Tx) error {
			return t.appendTx(tx, pending)
		})
		if err == nil {
			t.appended.Add(int64(len(pending)))
			t.groups.Add(1)
		}
		var ee *entryError
		if errors.As(err, &ee) {
			errs[index[pending[ee.i]]] = ee.err
			pending = slices.Delete(pending, ee.i, ee.i+1)
			continue
		}
		for _, w := range pending {
			errs[index[w]] = err
		}
		return errs, err
	}
	return errs, nil
}

// AppendTx appends e inside tx: the record commits with the caller's other
// writes. For background events, whose record must not be lost or
// duplicated if the process dies.
func (t *Trail) AppendTx(tx store.Tx, e *Entry) error {
	if t.seg != nil {
		return t.outboxTx(tx, e)
	}
	w, err := newWaiter(e, false) // the caller's transaction may run again: not pooled
	if err != nil {
		return err
	}
	err = t.appendTx(tx, []*waiter{w})
	var ee *entryError
	if errors.As(err, &ee) {
		return ee.err
	}
	return err
}

// appendTx chains and writes ws in tx, with a digest when one is due.
func (t *Trail) appendTx(tx store.Tx, ws []*waiter) error {
	h, err := readHead(tx)
	if err != nil {
		return err
	}
	var effects []any
	for i, w := range ws {
		seq := h.Seq + 1
		hash := recordHash(seq, h.Hash, w.body)
		if err := tx.Put(store.KindAudit, "", seqID(seq), w.line(seq, h.Hash, hash)); err != nil {
			return err
		}
		if w.e.Apply != nil {
			if err := w.e.Apply(tx); err != nil {
				return &entryError{i: i, err: err}
			}
		}
		if w.e.Effect != nil {
			effects = append(effects, w.e.Effect)
		}
		h.Seq, h.Hash = seq, hash
		if h.First == 0 {
			h.First = seq
		}
	}
	if len(effects) > 0 && t.effects != nil {
		if err := t.effects(tx, effects); err != nil {
			return err
		}
	}
	now := t.clock.Now()
	if h.Seq-h.DigestSeq >= uint64(t.opts.DigestEvery) || t.sealDue(h) {
		if err := t.digestTx(tx, &h, now); err != nil {
			return err
		}
	}
	return tx.Put(store.KindAuditMeta, "", metaHead, mustJSON(h))
}

// digestTx signs the head's current record.
func (t *Trail) digestTx(tx store.Tx, h *head, now time.Time) error {
	d := Digest{Seq: h.Seq, Hash: h.Hash, Time: now.UTC().Format(TimeFormat), PrevDigest: h.DigestHash, KeyID: t.keyID}
	msg := d.message()
	d.Signature = ed25519.Sign(t.priv, msg)
	if err := tx.Put(store.KindAuditDigest, "", seqID(d.Seq), d.line()); err != nil {
		return err
	}
	sum := sha256.Sum256(msg)
	h.DigestSeq, h.DigestHash, h.DigestTime = d.Seq, hex.EncodeToString(sum[:]), now.Unix()
	return nil
}

// Seal writes a digest if records arrived since the last one and the last
// one is DigestInterval old, so that the newest records of a quiet trail
// are signed too. Background work calls it periodically.
func (t *Trail) Seal(ctx context.Context) error {
	if err := t.flushHeld(); err != nil {
		return err
	}
	if err := t.Sync(ctx); err != nil {
		return err
	}
	var h head
	err := t.st.View(ctx, func(tx store.Tx) error {
		var err error
		h, err = readHead(tx)
		return err
	})
	if err != nil || !t.sealDue(h) {
		return err
	}
	return t.st.Update(ctx, func(tx store.Tx) error {
		h, err := readHead(tx)
		if err != nil {
			return err
		}
		if !t.sealDue(h) {
			return nil
		}
		if err := t.digestTx(tx, &h, t.clock.Now()); err != nil {
			return err
		}
		return tx.Put(store.KindAuditMeta, "", metaHead, mustJSON(h))
	})
}

func (t *Trail) sealDue(h head) bool {
	return h.Seq > h.DigestSeq && t.clock.Now().Unix()-h.DigestTime >= int64(t.opts.DigestInterval/time.Second)
}

// pruneTo makes next the oldest record kept: it removes the digests of the
// records before it and moves the head's First.
func pruneTo(tx store.Tx, h head, next uint64) error {
	for {
		ds, err := tx.List(store.KindAuditDigest, "", "", 1000)
		if err != nil {
			return err
		}
		n := 0
		for _, d := range ds {
			if d.ID >= seqID(next) {
				break
			}
			if err := tx.Delete(store.KindAuditDigest, "", d.ID); err != nil {
				return err
			}
			n++
		}
		if n < 1000 {
			break
		}
	}
	h.First = next
	return tx.Put(store.KindAuditMeta, "", metaHead, mustJSON(h))
}

// Prune removes records older than the retention period (and the digests
// of removed records) and returns how many records it removed.
func (t *Trail) Prune(ctx context.Context) (int, error) {
	if t.opts.Retention <= 0 {
		return 0, nil
	}
	cutoff := t.clock.Now().Add(-t.opts.Retention).UTC().Format(TimeFormat)
	total := 0
	for {
		removed, more := 0, false
		err := t.st.Update(ctx, func(tx store.Tx) error {
			removed, more = 0, false
			h, err := readHead(tx)
			if err != nil || h.First == 0 {
				return err
			}
			items, err := tx.List(store.KindAudit, "", seqID(h.First-1), 1000)
			if err != nil {
				return err
			}
			next := h.First
			for _, it := range items {
				r, err := parseLine(it.Value)
				if err != nil {
					return fmt.Errorf("audit: record %s: %w", it.ID, err)
				}
				// Never remove the newest record: it holds the chain's head.
				if r.meta.EventTime >= cutoff || r.Seq == h.Seq {
					break
				}
				if err := tx.Delete(store.KindAudit, "", it.ID); err != nil {
					return err
				}
				removed++
				next = r.Seq + 1
			}
			if removed == 0 {
				return nil
			}
			more = removed == len(items)
			return pruneTo(tx, h, next)
		})
		total += removed
		if err == nil && !more && t.seg != nil {
			n, serr := t.pruneSegments(ctx, cutoff)
			return total + n, serr
		}
		if err != nil || !more {
			return total, err
		}
	}
}
