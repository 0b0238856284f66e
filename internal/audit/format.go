package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The trail's line format, version 1. Every line is one JSON object whose
// "type" says what it is:
//
//	{"type":"header","version":1,"keyId":…,"publicKey":…,"start":…,"end":…,"exportedAt":…}
//	{"type":"record","seq":N,"prev":H(N-1),"hash":H(N),"event":{…CloudTrail record…}}
//	{"type":"digest","seq":N,"hash":H(N),"time":…,"prevDigest":…,"keyId":…,"signature":…}
//	{"type":"end","firstSeq":…,"firstPrev":…,"lastSeq":…,"lastHash":…,"start":…,"end":…,"exportedAt":…,"keyId":…,"signature":…}
//
// H(N) is the lowercase hex SHA-256 of
//
//	"strongroom-audit-v1\n" + decimal N + "\n" + H(N-1) + "\n" + the event's bytes exactly as on the line
//
// with H(0) 64 zeros. Signatures are Ed25519, base64 (standard, padded), over
// the messages built by Digest.message and End.message. A record line is
// written by concatenation, so its event bytes are the ones hashed.

// FormatVersion is the version of the line format this package writes.
const FormatVersion = 1

const (
	recordDomain = "strongroom-audit-v1\n"
	digestDomain = "strongroom-audit-digest-v1\n"
	exportDomain = "strongroom-audit-export-v1\n"
)

// recordHash is H(seq).
func recordHash(seq uint64, prev string, event []byte) string {
	// One allocation, the result: the head is hashed from the stack.
	var head [len(recordDomain) + 20 + 1 + 64 + 1]byte
	hb := append(head[:0], recordDomain...)
	hb = strconv.AppendUint(hb, seq, 10)
	hb = append(hb, '\n')
	hb = append(hb, prev...)
	hb = append(hb, '\n')
	h := sha256.New()
	h.Write(hb)
	h.Write(event)
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], h.Sum(sum[:0]))
	return string(out[:])
}

const eventKey = `,"event":`

// maxLineHead bounds a record line's head (all before the event): a
// 20-digit seq and two 64-digit hashes.
const maxLineHead = len(`{"type":"record","seq":`) + 20 + len(`,"prev":"`) + 64 + len(`","hash":"`) + 64 + 1 + len(eventKey)

// appendLineHead appends what comes before the event in a record line.
func appendLineHead(b []byte, seq uint64, prev, hash string) []byte {
	b = append(b, `{"type":"record","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"prev":"`...)
	b = append(b, prev...)
	b = append(b, `","hash":"`...)
	b = append(b, hash...)
	b = append(b, '"')
	return append(b, eventKey...)
}

// recordLine is a record's line (and its stored value).
func recordLine(seq uint64, prev, hash string, event []byte) []byte {
	b := appendLineHead(make([]byte, 0, len(event)+maxLineHead+1), seq, prev, hash)
	b = append(b, event...)
	return append(b, '}')
}

// storedEvent returns the event bytes of a record line this package wrote.
func storedEvent(line []byte) ([]byte, error) {
	i := bytes.Index(line, []byte(eventKey))
	if i < 0 || len(line) < i+len(eventKey)+2 || line[len(line)-1] != '}' {
		return nil, errors.New("audit: malformed record")
	}
	return line[i+len(eventKey) : len(line)-1], nil
}

// Digest is a signed statement that the trail's record Seq had hash Hash at
// Time; PrevDigest chains it to the digest before it (the hex SHA-256 of
// that digest's signed message; 64 zeros for the first).
type Digest struct {
	Seq        uint64
	Hash       string
	Time       string
	PrevDigest string
	KeyID      string
	Signature  []byte
}

func (d *Digest) message() []byte {
	return fmt.Appendf(nil, "%s%d\n%s\n%s\n%s\n%s", digestDomain, d.Seq, d.Hash, d.Time, d.PrevDigest, d.KeyID)
}

func (d *Digest) line() []byte {
	return mustJSON(struct {
		Type       string `json:"type"`
		Seq        uint64 `json:"seq"`
		Hash       string `json:"hash"`
		Time       string `json:"time"`
		PrevDigest string `json:"prevDigest"`
		KeyID      string `json:"keyId"`
		Signature  []byte `json:"signature"`
	}{"digest", d.Seq, d.Hash, d.Time, d.PrevDigest, d.KeyID, d.Signature})
}

// Header is an export's first line: the format version and the key its
// signatures verify with.
type Header struct {
	Version    int
	KeyID      string
	PublicKey  []byte
	Start, End string // the requested range; empty when unbounded
	ExportedAt string
}

func (h *Header) line() []byte {
	return mustJSON(struct {
		Type       string `json:"type"`
		Version    int    `json:"version"`
		KeyID      string `json:"keyId"`
		PublicKey  []byte `json:"publicKey"`
		Start      string `json:"start"`
		End        string `json:"end"`
		ExportedAt string `json:"exportedAt"`
	}{"header", h.Version, h.KeyID, h.PublicKey, h.Start, h.End, h.ExportedAt})
}

// End is an export's last line: a signed statement of the records the
// export holds, first (and the hash it links to) to last. An empty export
// has FirstSeq and LastSeq 0.
type End struct {
	FirstSeq   uint64
	FirstPrev  string
	LastSeq    uint64
	LastHash   string
	Start, End string
	ExportedAt string
	KeyID      string
	Signature  []byte
}

func (e *End) message() []byte {
	return fmt.Appendf(nil, "%s%d\n%s\n%d\n%s\n%s\n%s\n%s\n%s", exportDomain, e.FirstSeq, e.FirstPrev, e.LastSeq, e.LastHash, e.Start, e.End, e.ExportedAt, e.KeyID)
}

func (e *End) line() []byte {
	return mustJSON(struct {
		Type       string `json:"type"`
		FirstSeq   uint64 `json:"firstSeq"`
		FirstPrev  string `json:"firstPrev"`
		LastSeq    uint64 `json:"lastSeq"`
		LastHash   string `json:"lastHash"`
		Start      string `json:"start"`
		End        string `json:"end"`
		ExportedAt string `json:"exportedAt"`
		KeyID      string `json:"keyId"`
		Signature  []byte `json:"signature"`
	}{"end", e.FirstSeq, e.FirstPrev, e.LastSeq, e.LastHash, e.Start, e.End, e.ExportedAt, e.KeyID, e.Signature})
}

// anyLine is any line, as Verify parses it.
type anyLine struct {
	Type       string          `json:"type"`
	Version    int             `json:"version"`
	Seq        *uint64         `json:"seq"`
	Prev       string          `json:"prev"`
	Hash       string          `json:"hash"`
	Event      json.RawMessage `json:"event"`
	Time       string          `json:"time"`
	PrevDigest string          `json:"prevDigest"`
	KeyID      string          `json:"keyId"`
	PublicKey  []byte          `json:"publicKey"`
	Signature  []byte          `json:"signature"`
	FirstSeq   uint64          `json:"firstSeq"`
	FirstPrev  string          `json:"firstPrev"`
	LastSeq    uint64          `json:"lastSeq"`
	LastHash   string          `json:"lastHash"`
	Start      string          `json:"start"`
	End        string          `json:"end"`
	ExportedAt string          `json:"exportedAt"`
}

// eventMeta is what queries read of a stored record's event.
type eventMeta struct {
	EventTime    string `json:"eventTime"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	EventID      string `json:"eventID"`
	ReadOnly     bool   `json:"readOnly"`
	UserIdentity struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
		InvokedBy   string `json:"invokedBy"`
	} `json:"userIdentity"`
	Resources          []Resource `json:"resources"`
	RecipientAccountID string     `json:"recipientAccountId"`
}

// stored is a record as read back from the store.
type stored struct {
	Seq   uint64
	line  []byte
	event []byte
	meta  eventMeta
}

// parseLine reads a stored record line: its sequence number and what
// queries need of its event.
func parseLine(line []byte) (*stored, error) {
	ev, err := storedEvent(line)
	if err != nil {
		return nil, err
	}
	var hdr struct {
		Seq uint64 `json:"seq"`
	}
	// The members before the event are decoded alone.
	if err := json.Unmarshal(append(bytes.Clone(line[:len(line)-len(ev)-len(eventKey)-1]), '}'), &hdr); err != nil {
		return nil, fmt.Errorf("audit: malformed record: %w", err)
	}
	s := &stored{Seq: hdr.Seq, line: line, event: ev}
	if err := json.Unmarshal(ev, &s.meta); err != nil {
		return nil, fmt.Errorf("audit: malformed event: %w", err)
	}
	return s, nil
}
