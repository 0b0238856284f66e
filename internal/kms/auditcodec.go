package kms

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"strongroom/internal/audit"
	"strongroom/internal/metering"
	"strongroom/internal/store"
)

// AuditEffects returns how the audit trail applies what a record changes
// besides the trail (the meter, keys' last use), and how it keeps that in
// its segment files until applied (audit.Options.Effects and Codec).
func AuditEffects() (apply func(tx store.Tx, effects []any) error, codec audit.EffectCodec) {
	return applyAuditEffects, effectCodec{}
}

// effectCodec encodes an *auditEffect in a compact binary form, written
// for every record of the segment files (encoding/json cost ~1.3 µs a
// record). It decodes that form and the JSON form that segment files
// written before it hold.
//
// The binary form: the byte effectBinary, a byte of flags (which parts
// follow), then the parts in this order — the metered request (account,
// region, time, class), the key change (account, region, key id, what,
// time), the keys used (count, then key ARN, operation, time in Unix
// milliseconds, event id, request id each), the keys forgotten (count, then
// ARNs). Strings are a uvarint length and the bytes; times in Unix
// nanoseconds (varint), decoded in UTC; counts uvarints.
type effectCodec struct{}

const (
	effectBinary = 'b' // never '{', the first byte of the JSON form

	hasRequest = 1 << iota
	hasKeyChange
	hasUses
	hasForget
)

// maxEffectItems bounds the counts a decoded effect may claim.
const maxEffectItems = 1 << 16

func (effectCodec) AppendEffect(b []byte, e any) ([]byte, error) {
	eff, ok := e.(*auditEffect)
	if !ok {
		return nil, errors.New("kms: not an audit effect")
	}
	var flags byte
	var req *metering.Request
	var kc *metering.KeyChange
	if eff.usage != nil {
		req, kc = eff.usage.Request, eff.usage.Key
	}
	if req != nil {
		flags |= hasRequest
	}
	if kc != nil {
		flags |= hasKeyChange
	}
	if len(eff.uses) > 0 {
		flags |= hasUses
	}
	if len(eff.forget) > 0 {
		flags |= hasForget
	}
	b = append(b, effectBinary, flags)
	if req != nil {
		b = appendStr(b, req.Account)
		b = appendStr(b, req.Region)
		b = binary.AppendVarint(b, req.Time.UnixNano())
		b = appendStr(b, req.Class)
	}
	if kc != nil {
		b = appendStr(b, kc.Account)
		b = appendStr(b, kc.Region)
		b = appendStr(b, kc.KeyID)
		b = appendStr(b, kc.What)
		b = binary.AppendVarint(b, kc.Time.UnixNano())
	}
	if len(eff.uses) > 0 {
		b = binary.AppendUvarint(b, uint64(len(eff.uses)))
		for _, u := range eff.uses {
			b = appendStr(b, u.keyARN)
			b = appendStr(b, u.use.Operation)
			b = binary.AppendVarint(b, u.use.Time)
			b = appendStr(b, u.use.EventID)
			b = appendStr(b, u.use.RequestID)
		}
	}
	if len(eff.forget) > 0 {
		b = binary.AppendUvarint(b, uint64(len(eff.forget)))
		for _, a := range eff.forget {
			b = appendStr(b, a)
		}
	}
	return b, nil
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errEffect = errors.New("kms: undecodable audit effect")

// effectReader reads the binary form; the first error sticks.
type effectReader struct {
	b   []byte
	err error
}

func (r *effectReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errEffect
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *effectReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errEffect
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *effectReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errEffect
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *effectReader) count() int {
	n := r.uvarint()
	if n == 0 || n > maxEffectItems {
		r.err = errEffect
		return 0
	}
	return int(n)
}

func (r *effectReader) time() time.Time { return time.Unix(0, r.varint()).UTC() }

func (effectCodec) DecodeEffect(b []byte) (any, error) {
	if len(b) == 0 || b[0] != effectBinary {
		return decodeEffectJSON(b)
	}
	if len(b) < 2 || b[1]&^(hasRequest|hasKeyChange|hasUses|hasForget) != 0 {
		return nil, errEffect
	}
	flags := b[1]
	r := &effectReader{b: b[2:]}
	eff := &auditEffect{}
	if flags&(hasRequest|hasKeyChange) != 0 {
		eff.usage = &metering.Usage{}
	}
	if flags&hasRequest != 0 {
		eff.usage.Request = &metering.Request{Account: r.str(), Region: r.str(), Time: r.time(), Class: r.str()}
	}
	if flags&hasKeyChange != 0 {
		eff.usage.Key = &metering.KeyChange{Account: r.str(), Region: r.str(), KeyID: r.str(), What: r.str(), Time: r.time()}
	}
	if flags&hasUses != 0 {
		for range r.count() {
			eff.uses = append(eff.uses, keyUse{keyARN: r.str(), use: keyUsage{Operation: r.str(), Time: r.varint(), EventID: r.str(), RequestID: r.str()}})
		}
	}
	if flags&hasForget != 0 {
		for range r.count() {
			eff.forget = append(eff.forget, r.str())
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errEffect
	}
	return eff, nil
}

// The JSON form, of segment files written before the binary one.
type effectJSON struct {
	Usage  *metering.Usage `json:"u,omitempty"`
	Uses   []keyUseJSON    `json:"k,omitempty"`
	Forget []string        `json:"f,omitempty"`
}

type keyUseJSON struct {
	Key string   `json:"a"`
	Use keyUsage `json:"u"`
}

func decodeEffectJSON(b []byte) (any, error) {
	var j effectJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	eff := &auditEffect{usage: j.Usage, forget: j.Forget}
	for _, u := range j.Uses {
		eff.uses = append(eff.uses, keyUse{u.Key, u.Use})
	}
	return eff, nil
}
