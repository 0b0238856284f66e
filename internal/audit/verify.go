package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Problem kinds Verify reports.
const (
	Altered   = "altered"
	Removed   = "removed"
	Inserted  = "inserted"
	Reordered = "reordered"
	Truncated = "truncated"
	Malformed = "malformed"
	BadKey    = "wrong-key"
)

// Problem is the first thing wrong with an export, located as precisely as
// the evidence allows.
type Problem struct {
	Kind string
	// Line is the 1-based line where the problem shows.
	Line int
	// Seq and EventID name the record concerned, when there is one.
	Seq     uint64
	EventID string
	Message string
}

func (p *Problem) Error() string { return fmt.Sprintf("line %d: %s", p.Line, p.Message) }

// Report is the result of Verify.
type Report struct {
	// KeyID is the fingerprint of the key the export's signatures were
	// checked with: compare it with the server's (or pin the key).
	KeyID             string
	Records, Digests  int
	FirstSeq, LastSeq uint64
	// Problem is nil when the export verifies.
	Problem *Problem
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// PublicKey pins the signing key. Nil trusts the key in the export's
	// header: the export is then checked for consistency, and the report's
	// KeyID must be compared with the server's out of band.
	PublicKey ed25519.PublicKey
}

type vline struct {
	anyLine
	n       int    // 1-based line number
	raw     []byte // the line
	eventID string
}

// Verify checks an export read from r: the header, the hash chain, every
// digest's and the end's signature, and that the records run without gap or
// repeat from the signed first to the signed last. It returns an error only
// when r cannot be read; what is wrong with the content is the report's
// Problem.
func Verify(r io.Reader, o VerifyOptions) (*Report, error) {
	var lines []*vline
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			b = bytes.TrimRight(b, "\r\n")
			if len(b) > 0 || err == nil {
				lines = append(lines, &vline{n: n, raw: b})
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	v := &verifier{lines: lines, rep: &Report{}, bySeq: map[uint64][]int{}, hashes: map[uint64]string{}}
	v.rep.Problem = v.run(o)
	return v.rep, nil
}

type verifier struct {
	lines  []*vline
	rep    *Report
	pub    ed25519.PublicKey
	keyID  string
	bySeq  map[uint64][]int // record seq → indexes into lines
	hashes map[uint64]string
}

func (v *verifier) problem(kind string, l *vline, seq uint64, eventID, format string, args ...any) *Problem {
	p := &Problem{Kind: kind, Seq: seq, EventID: eventID, Message: fmt.Sprintf(format, args...)}
	if l != nil {
		p.Line = l.n
	}
	return p
}

// name describes record line l for messages.
func name(l *vline) string {
	s := fmt.Sprintf("record seq %d", *l.Seq)
	if l.eventID != "" {
		s += " (eventID " + l.eventID + ")"
	}
	return s + fmt.Sprintf(" at line %d", l.n)
}

func (v *verifier) run(o VerifyOptions) *Problem {
	if len(v.lines) == 0 {
		return &Problem{Kind: Truncated, Line: 1, Message: "the file is empty"}
	}
	for _, l := range v.lines {
		if err := json.Unmarshal(l.raw, &l.anyLine); err != nil {
			return v.problem(Malformed, l, 0, "", "not a JSON object: the line was altered or inserted")
		}
		if l.Type == "record" {
			if l.Seq == nil || len(l.Event) == 0 {
				return v.problem(Malformed, l, 0, "", "a record line without seq or event: altered")
			}
			var id struct {
				EventID string `json:"eventID"`
			}
			json.Unmarshal(l.Event, &id)
			l.eventID = id.EventID
		}
	}
	hdr := v.lines[0]
	if hdr.Type != "header" {
		return v.problem(Truncated, hdr, 0, "", "the first line is not the export's header: the start of the export was removed or altered")
	}
	if hdr.Version != FormatVersion {
		return v.problem(Malformed, hdr, 0, "", "export format version %d; this verifier reads version %d", hdr.Version, FormatVersion)
	}
	v.pub = o.PublicKey
	if v.pub == nil {
		if len(hdr.PublicKey) != ed25519.PublicKeySize {
			return v.problem(Malformed, hdr, 0, "", "the header's public key is not an Ed25519 key")
		}
		v.pub = ed25519.PublicKey(hdr.PublicKey)
	}
	v.keyID = KeyID(v.pub)
	v.rep.KeyID = v.keyID
	if hdr.KeyID != v.keyID {
		return v.problem(BadKey, hdr, 0, "", "the export names signing key %s, not the expected key %s", hdr.KeyID, v.keyID)
	}

	var end *vline
	endValid := false
	for i, l := range v.lines { // what lies after the end is not part of the export
		if l.Type == "record" {
			v.bySeq[*l.Seq] = append(v.bySeq[*l.Seq], i)
		} else if l.Type == "end" {
			end = l
			e := endOf(l)
			endValid = l.KeyID == v.keyID && ed25519.Verify(v.pub, e.message(), l.Signature)
			break
		}
	}

	var expected uint64
	var prevHash string
	havePrev := false
	if endValid && end.FirstSeq > 0 {
		expected, prevHash, havePrev = end.FirstSeq, end.FirstPrev, true
	}
	var last *vline // the last record accepted
	lastDigest, lastDigestSeq := "", uint64(0)
	for i, l := range v.lines {
		if i == 0 {
			continue
		}
		switch l.Type {
		case "header":
			return v.problem(Inserted, l, 0, "", "a second header: inserted")
		case "record":
			s := *l.Seq
			if !havePrev { // no signed start: the first record anchors the chain
				expected, prevHash, havePrev = s, l.Prev, true
			}
			if s != expected {
				return v.outOfPlace(l, i, s, expected, last, end, endValid)
			}
			if occ := v.bySeq[s]; len(occ) > 1 {
				if g := v.genuine(occ, prevHash); g >= 0 && g != i {
					return v.problem(Inserted, l, s, l.eventID, "%s was inserted: the chain goes on from the record with the same seq at line %d", name(l), v.lines[g].n)
				} else if g < 0 {
					return v.problem(Inserted, l, s, l.eventID, "record seq %d appears %d times: records were inserted", s, len(occ))
				}
			}
			if l.Prev != prevHash {
				if last != nil {
					return v.problem(Altered, last, *last.Seq, last.eventID, "%s was altered: its hash was rewritten, and the next record still links to the original", name(last))
				}
				return v.problem(Altered, l, s, l.eventID, "%s was altered: it does not link to the export's signed start", name(l))
			}
			h := recordHash(s, l.Prev, l.Event)
			if h != l.Hash {
				return v.problem(Altered, l, s, l.eventID, "%s was altered: its content does not match its hash", name(l))
			}
			v.hashes[s], prevHash, expected, last = h, h, s+1, l
			if v.rep.Records == 0 {
				v.rep.FirstSeq = s
			}
			v.rep.Records++
			v.rep.LastSeq = s
		case "digest":
			if l.Seq == nil {
				return v.problem(Malformed, l, 0, "", "a digest line without seq: altered")
			}
			d := &Digest{Seq: *l.Seq, Hash: l.Hash, Time: l.Time, PrevDigest: l.PrevDigest, KeyID: l.KeyID}
			msg := d.message()
			if l.KeyID != v.keyID || !ed25519.Verify(v.pub, msg, l.Signature) {
				return v.problem(Altered, l, d.Seq, "", "the digest of seq %d does not verify: altered or forged", d.Seq)
			}
			if last == nil || d.Seq > *last.Seq {
				from := expected
				if !havePrev {
					from = d.Seq
				}
				if len(v.bySeq[d.Seq]) > 0 {
					return v.problem(Reordered, l, d.Seq, "", "the digest of seq %d comes before its record (line %d): lines were moved", d.Seq, v.lines[v.bySeq[d.Seq][0]].n)
				}
				return v.problem(Removed, l, from, "", "%s removed before line %d (the digest signed at %s covers seq %d)", seqRange(from, d.Seq), l.n, d.Time, d.Seq)
			}
			if got, ok := v.hashes[d.Seq]; ok && got != d.Hash {
				return v.problem(Altered, l, d.Seq, "", "records were altered and their hashes rewritten: the chain at seq %d does not match the digest signed at %s; the change lies in seq %d..%d", d.Seq, d.Time, max(lastDigestSeq+1, v.rep.FirstSeq), d.Seq)
			}
			if lastDigest != "" && d.PrevDigest != lastDigest {
				return v.problem(Removed, l, d.Seq, "", "a digest was removed between seq %d and seq %d", lastDigestSeq, d.Seq)
			}
			sum := sha256.Sum256(msg)
			lastDigest, lastDigestSeq = hex.EncodeToString(sum[:]), d.Seq
			v.rep.Digests++
		case "end":
			if l != end {
				return v.problem(Inserted, l, 0, "", "a second end line: inserted")
			}
			if !endValid {
				return v.problem(Altered, l, 0, "", "the export's signed end does not verify: altered or forged")
			}
			if i != len(v.lines)-1 {
				return v.problem(Inserted, v.lines[i+1], 0, "", "content after the export's signed end: inserted")
			}
			if end.LastSeq == 0 {
				if last != nil {
					return v.problem(Inserted, last, *last.Seq, last.eventID, "the export's signed end says it holds no records, yet %s is here: inserted", name(last))
				}
				return nil
			}
			if last == nil || end.LastSeq > *last.Seq {
				from := end.FirstSeq
				if last != nil {
					from = *last.Seq + 1
				}
				return v.problem(Truncated, l, from, "", "%s removed from the end: the signed end says the last record is seq %d", seqRange(from, end.LastSeq), end.LastSeq)
			}
			if v.hashes[end.LastSeq] != end.LastHash {
				return v.problem(Altered, l, end.LastSeq, "", "records were altered and their hashes rewritten: the chain does not match the export's signed end; the change lies in seq %d..%d", max(lastDigestSeq+1, v.rep.FirstSeq), end.LastSeq)
			}
			return nil
		default:
			return v.problem(Malformed, l, 0, "", "unknown line type %q: inserted or altered", l.Type)
		}
	}
	at := v.lines[len(v.lines)-1]
	if last != nil {
		return v.problem(Truncated, at, *last.Seq, last.eventID, "the export is truncated: its signed end line is missing after %s", name(last))
	}
	return v.problem(Truncated, at, 0, "", "the export is truncated: its signed end line is missing")
}

func seqRange(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("record seq %d was", from)
	}
	return fmt.Sprintf("records seq %d..%d were", from, to)
}

// outOfPlace explains record line l (index i) whose seq s is not the
// expected one.
func (v *verifier) outOfPlace(l *vline, i int, s, expected uint64, last, end *vline, endValid bool) *Problem {
	if s < expected {
		for _, j := range v.bySeq[s] {
			if j < i {
				return v.problem(Inserted, l, s, l.eventID, "%s was inserted: seq %d is already at line %d", name(l), s, v.lines[j].n)
			}
		}
		return v.problem(Reordered, l, s, l.eventID, "%s is out of order: it comes after seq %d", name(l), expected-1)
	}
	if occ := v.bySeq[expected]; len(occ) > 0 {
		later := v.lines[occ[0]]
		return v.problem(Reordered, l, s, l.eventID, "records out of order: %s comes before %s", name(l), name(later))
	}
	if endValid && end.LastSeq > 0 && s > end.LastSeq {
		return v.problem(Inserted, l, s, l.eventID, "%s was inserted: the export's signed end says the last record is seq %d", name(l), end.LastSeq)
	}
	between := fmt.Sprintf("before %s", name(l))
	if last != nil {
		between = fmt.Sprintf("between %s and %s", name(last), name(l))
	}
	return v.problem(Removed, l, expected, "", "%s removed %s", seqRange(expected, s-1), between)
}

// genuine returns which of the record lines at indexes occ (all with the
// same seq) the chain goes on from: the one whose hash, linked to prev, is
// what the next record, a digest or the end names. -1 if none or several.
func (v *verifier) genuine(occ []int, prev string) int {
	seq := *v.lines[occ[0]].Seq
	named := map[string]bool{}
	for _, l := range v.lines {
		switch {
		case l.Type == "record" && *l.Seq == seq+1:
			named[l.Prev] = true
		case l.Type == "digest" && l.Seq != nil && *l.Seq == seq:
			named[l.Hash] = true
		case l.Type == "end" && l.LastSeq == seq:
			named[l.LastHash] = true
		}
	}
	g := -1
	for _, j := range occ {
		l := v.lines[j]
		if h := recordHash(seq, prev, l.Event); h == l.Hash && l.Prev == prev && named[h] {
			if g >= 0 && !bytes.Equal(v.lines[g].raw, l.raw) {
				return -1
			}
			if g < 0 { // of identical copies, the first
				g = j
			}
		}
	}
	return g
}

func endOf(l *vline) *End {
	return &End{FirstSeq: l.FirstSeq, FirstPrev: l.FirstPrev, LastSeq: l.LastSeq, LastHash: l.LastHash, Start: l.Start, End: l.End, ExportedAt: l.ExportedAt, KeyID: l.KeyID}
}
