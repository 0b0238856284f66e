package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/store"
)

// ErrInvalidToken is returned for a NextToken this trail did not issue for
// the same query.
var ErrInvalidToken = errors.New("audit: invalid next token")

// slack is how far a record's eventTime (when its call started) may lag
// behind records appended before it: range searches widen by it and then
// filter exactly.
const slack = 2 * time.Minute

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// readRecord returns record seq.
func (t *Trail) readRecord(tx store.Tx, seq uint64) (*stored, error) {
	if t.inSegments(seq) {
		var r *stored
		err := t.seg.log.scan(seq, seq, func(_ uint64, line []byte) error {
			var err error
			r, err = parseLine(bytes.Clone(line))
			return err
		})
		return r, err
	}
	b, err := tx.Get(store.KindAudit, "", seqID(seq))
	if err != nil {
		return nil, fmt.Errorf("audit: record %d: %w", seq, err)
	}
	return parseLine(b)
}

// inSegments says whether record seq is kept in the segment files.
func (t *Trail) inSegments(seq uint64) bool { return t.seg != nil && seq >= t.seg.from }

// listRecords returns the lines of records from..to that exist, in order.
func (t *Trail) listRecords(tx store.Tx, from, to uint64) ([]store.Item, error) {
	var items []store.Item
	if !t.inSegments(from) {
		end := to
		if t.seg != nil && end >= t.seg.from {
			end = t.seg.from - 1
		}
		var err error
		if items, err = tx.List(store.KindAudit, "", seqID(from-1), int(end-from+1)); err != nil {
			return nil, err
		}
		if end == to {
			return items, nil
		}
		from = end + 1
	}
	err := t.seg.log.scan(from, to, func(seq uint64, line []byte) error {
		items = append(items, store.Item{ID: seqID(seq), Value: bytes.Clone(line)})
		return nil
	})
	return items, err
}

// firstAtOrAfter returns the first seq in [lo, hi] whose eventTime is at or
// after t (hi+1 if none), by binary search: eventTimes grow with seq, up to
// slack.
func (t *Trail) firstAtOrAfter(tx store.Tx, lo, hi uint64, at string) (uint64, error) {
	end := hi + 1
	for lo < end {
		mid := lo + (end-lo)/2
		r, err := t.readRecord(tx, mid)
		if errors.Is(err, store.ErrNotFound) { // pruned under us: search above
			lo = mid + 1
			continue
		}
		if err != nil {
			return 0, err
		}
		if r.meta.EventTime >= at {
			end = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// ExportQuery selects an export page.
type ExportQuery struct {
	// Start and End bound the records by eventTime (zero: unbounded). The
	// export is the contiguous run of records from the first at or after
	// Start to the last at or before End.
	Start, End time.Time
	// MaxLines bounds the page (default 1000, at most 10000).
	MaxLines int
	// NextToken continues an export; Start and End are then ignored.
	NextToken string
}

// ExportPage is one page of an export: lines in trail order. The first page
// starts with the header line; the last one ends with the signed end line
// and has no NextToken.
type ExportPage struct {
	Lines     [][]byte
	NextToken string
}

type exportToken struct {
	Next  uint64 `json:"n"`
	First uint64 `json:"f"`
	Last  uint64 `json:"l"`
	Start string `json:"s"`
	End   string `json:"e"`
	At    string `json:"a"`
}

func encodeToken(v any) string {
	return base64.RawURLEncoding.EncodeToString(mustJSON(v))
}

func decodeToken(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, v) != nil {
		return ErrInvalidToken
	}
	return nil
}

// Export returns one page of the trail's records and digests.
func (t *Trail) Export(ctx context.Context, q ExportQuery) (*ExportPage, error) {
	max := q.MaxLines
	if max <= 0 {
		max = 1000
	}
	max = min(max, 10000)
	page := &ExportPage{}
	var tok exportToken
	if q.NextToken != "" {
		if err := decodeToken(q.NextToken, &tok); err != nil {
			return nil, err
		}
		if tok.First == 0 || tok.Next < tok.First || tok.Next > tok.Last+1 {
			return nil, ErrInvalidToken
		}
	}
	if err := t.Sync(ctx); err != nil {
		return nil, err
	}
	err := t.st.View(ctx, func(tx store.Tx) error {
		page.Lines = page.Lines[:0]
		if q.NextToken == "" {
			h, err := readHead(tx)
			if err != nil {
				return err
			}
			tok = exportToken{Start: fmtTime(q.Start), End: fmtTime(q.End), At: fmtTime(t.clock.Now())}
			page.Lines = append(page.Lines, (&Header{Version: FormatVersion, KeyID: t.keyID, PublicKey: t.pub, Start: tok.Start, End: tok.End, ExportedAt: tok.At}).line())
			if h.First == 0 {
				page.Lines = append(page.Lines, t.end(0, "", 0, "", tok))
				return nil
			}
			first, last := h.First, h.Seq
			if tok.Start != "" {
				if first, err = t.firstAtOrAfter(tx, first, last, tok.Start); err != nil {
					return err
				}
			}
			if tok.End != "" {
				after, err := t.firstAtOrAfter(tx, first, last, fmtTime(q.End.Add(time.Second)))
				if err != nil {
					return err
				}
				last = after - 1
			}
			if first > last {
				page.Lines = append(page.Lines, t.end(0, "", 0, "", tok))
				return nil
			}
			tok.Next, tok.First, tok.Last = first, first, last
		}
		upTo := min(tok.Last, tok.Next+uint64(max)-1)
		items, err := t.listRecords(tx, tok.Next, upTo)
		if err != nil {
			return err
		}
		digests, err := tx.List(store.KindAuditDigest, "", seqID(tok.Next-1), int(upTo-tok.Next+1))
		if err != nil {
			return err
		}
		var lastRec *stored
		for _, it := range items {
			r, err := parseLine(it.Value)
			if err != nil {
				return fmt.Errorf("audit: record %s: %w", it.ID, err)
			}
			if r.Seq > upTo {
				break
			}
			page.Lines = append(page.Lines, it.Value)
			for len(digests) > 0 && digests[0].ID <= it.ID {
				page.Lines = append(page.Lines, digests[0].Value)
				digests = digests[1:]
			}
			lastRec = r
		}
		if upTo < tok.Last {
			next := tok
			next.Next = upTo + 1
			page.NextToken = encodeToken(next)
			return nil
		}
		first, err := t.readRecord(tx, tok.First)
		if err != nil {
			return err
		}
		if lastRec == nil || lastRec.Seq != tok.Last {
			if lastRec, err = t.readRecord(tx, tok.Last); err != nil {
				return err
			}
		}
		firstPrev, _, err := linkOf(first.line)
		if err != nil {
			return err
		}
		_, lastHash, err := linkOf(lastRec.line)
		if err != nil {
			return err
		}
		page.Lines = append(page.Lines, t.end(tok.First, firstPrev, tok.Last, lastHash, tok))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// linkOf returns a stored record's prev and hash.
func linkOf(line []byte) (prev, hash string, err error) {
	ev, err := storedEvent(line)
	if err != nil {
		return "", "", err
	}
	var l struct {
		Prev string `json:"prev"`
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(append(line[:len(line)-len(ev)-len(eventKey)-1:len(line)-len(ev)-len(eventKey)-1], '}'), &l); err != nil {
		return "", "", fmt.Errorf("audit: malformed record: %w", err)
	}
	return l.Prev, l.Hash, nil
}

func (t *Trail) end(first uint64, firstPrev string, last uint64, lastHash string, tok exportToken) []byte {
	e := &End{FirstSeq: first, FirstPrev: firstPrev, LastSeq: last, LastHash: lastHash, Start: tok.Start, End: tok.End, ExportedAt: tok.At, KeyID: t.keyID}
	e.Signature = ed25519.Sign(t.priv, e.message())
	return e.line()
}

// Lookup attribute keys (CloudTrail's LookupAttributeKey).
const (
	AttrEventID      = "EventId"
	AttrEventName    = "EventName"
	AttrReadOnly     = "ReadOnly"
	AttrUsername     = "Username"
	AttrResourceType = "ResourceType"
	AttrResourceName = "ResourceName"
	AttrEventSource  = "EventSource"
	AttrAccessKeyID  = "AccessKeyId"
)

// LookupQuery selects events, newest first.
type LookupQuery struct {
	// Account limits the answer to events of this account: made by one of
	// its principals, or on one of its resources. Empty: every event.
	Account string
	// Key and Value are one lookup attribute; Key empty: none.
	Key, Value string
	// Start and End bound eventTime, inclusive.
	Start, End time.Time
	// MaxResults is the most events returned (1–50).
	MaxResults int
	NextToken  string
	// ScanLimit bounds the records examined per call (default 10000): a
	// selective lookup over a long range answers in several pages, some
	// of them possibly empty, each with a NextToken.
	ScanLimit int
}

// Found is one event found by Lookup.
type Found struct {
	EventID     string
	EventName   string
	EventSource string
	EventTime   time.Time
	ReadOnly    bool
	Username    string
	AccessKeyID string
	Resources   []Resource
	// Event is the CloudTrail record, as JSON.
	Event []byte
}

// LookupPage is Lookup's answer.
type LookupPage struct {
	Events    []Found
	NextToken string
}

// lookupToken continues a lookup: the next record to examine, the query's
// fingerprint and its time range (so that later pages keep the first page's
// range even when it defaulted to "until now").
type lookupToken struct {
	Next  uint64 `json:"n"`
	Query string `json:"q"`
	Start string `json:"s"`
	End   string `json:"e"`
}

func (q *LookupQuery) fingerprint() string {
	h := sha256.Sum256([]byte(strings.Join([]string{q.Account, q.Key, q.Value}, "\x00")))
	return hex.EncodeToString(h[:8])
}

// matches reports whether m passes q's account and attribute filters.
func (q *LookupQuery) matches(m *eventMeta) bool {
	if q.Account != "" && m.UserIdentity.AccountID != q.Account && m.RecipientAccountID != q.Account &&
		!slices.ContainsFunc(m.Resources, func(r Resource) bool { return r.AccountID == q.Account }) {
		return false
	}
	v := q.Value
	switch q.Key {
	case "":
		return true
	case AttrEventID:
		return m.EventID == v
	case AttrEventName:
		return m.EventName == v
	case AttrReadOnly:
		return strconv.FormatBool(m.ReadOnly) == v
	case AttrUsername:
		u := UserIdentity{Type: m.UserIdentity.Type, PrincipalID: m.UserIdentity.PrincipalID, UserName: m.UserIdentity.UserName, InvokedBy: m.UserIdentity.InvokedBy}
		return u.username() == v
	case AttrResourceType:
		return slices.ContainsFunc(m.Resources, func(r Resource) bool { return r.Type == v })
	case AttrResourceName:
		return slices.ContainsFunc(m.Resources, func(r Resource) bool { return r.ARN == v || strings.HasSuffix(r.ARN, "/"+v) })
	case AttrEventSource:
		return m.EventSource == v
	case AttrAccessKeyID:
		return m.UserIdentity.AccessKeyID == v
	}
	return false
}

// Lookup finds events, newest first.
func (t *Trail) Lookup(ctx context.Context, q LookupQuery) (*LookupPage, error) {
	if q.MaxResults <= 0 {
		q.MaxResults = 50
	}
	if q.ScanLimit <= 0 {
		q.ScanLimit = 10000
	}
	fp := q.fingerprint()
	var tok lookupToken
	if q.NextToken != "" {
		if err := decodeToken(q.NextToken, &tok); err != nil || tok.Query != fp {
			return nil, ErrInvalidToken
		}
	}
	start, end := fmtTime(q.Start), fmtTime(q.End)
	if q.NextToken != "" {
		start, end = tok.Start, tok.End
	}
	page := &LookupPage{}
	if err := t.Sync(ctx); err != nil {
		return nil, err
	}
	err := t.st.View(ctx, func(tx store.Tx) error {
		page.Events, page.NextToken = page.Events[:0], ""
		h, err := readHead(tx)
		if err != nil || h.First == 0 {
			return err
		}
		lo, hi := h.First, h.Seq
		if start != "" {
			st, _ := time.Parse(TimeFormat, start)
			if lo, err = t.firstAtOrAfter(tx, lo, hi, fmtTime(st.Add(-slack))); err != nil {
				return err
			}
		}
		if end != "" {
			et, _ := time.Parse(TimeFormat, end)
			after, err := t.firstAtOrAfter(tx, lo, hi, fmtTime(et.Add(slack+time.Second)))
			if err != nil {
				return err
			}
			hi = after - 1
		}
		if q.NextToken != "" {
			hi = min(hi, tok.Next)
		}
		scanned := 0
		for cur := hi; cur >= lo && cur > 0; {
			from := lo
			if cur-lo >= 100 {
				from = cur - 99
			}
			items, err := t.listRecords(tx, from, cur)
			if err != nil {
				return err
			}
			for i := len(items) - 1; i >= 0; i-- {
				r, err := parseLine(items[i].Value)
				if err != nil {
					return fmt.Errorf("audit: record %s: %w", items[i].ID, err)
				}
				if r.Seq > cur {
					continue
				}
				if len(page.Events) == q.MaxResults || scanned == q.ScanLimit {
					page.NextToken = encodeToken(lookupToken{Next: r.Seq, Query: fp, Start: start, End: end})
					return nil
				}
				scanned++
				m := &r.meta
				if (start != "" && m.EventTime < start) || (end != "" && m.EventTime > end) || !q.matches(m) {
					continue
				}
				et, _ := time.Parse(TimeFormat, m.EventTime)
				page.Events = append(page.Events, Found{
					EventID: m.EventID, EventName: m.EventName, EventSource: m.EventSource, EventTime: et,
					ReadOnly: m.ReadOnly, AccessKeyID: m.UserIdentity.AccessKeyID, Resources: m.Resources,
					Username: (&UserIdentity{Type: m.UserIdentity.Type, PrincipalID: m.UserIdentity.PrincipalID, UserName: m.UserIdentity.UserName, InvokedBy: m.UserIdentity.InvokedBy}).username(),
					Event:    r.event,
				})
			}
			if from <= lo {
				break
			}
			cur = from - 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}
