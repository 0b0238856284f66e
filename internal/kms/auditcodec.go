package kms

import (
	"encoding/json"
	"errors"

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

// effectCodec encodes an *auditEffect as JSON.
type effectCodec struct{}

type effectJSON struct {
	Usage  *metering.Usage `json:"u,omitempty"`
	Uses   []keyUseJSON    `json:"k,omitempty"`
	Forget []string        `json:"f,omitempty"`
}

type keyUseJSON struct {
	Key string   `json:"a"`
	Use keyUsage `json:"u"`
}

func (effectCodec) EncodeEffect(e any) ([]byte, error) {
	eff, ok := e.(*auditEffect)
	if !ok {
		return nil, errors.New("kms: not an audit effect")
	}
	j := effectJSON{Usage: eff.usage, Forget: eff.forget}
	for _, u := range eff.uses {
		j.Uses = append(j.Uses, keyUseJSON{u.keyARN, u.use})
	}
	return json.Marshal(j)
}

func (effectCodec) DecodeEffect(b []byte) (any, error) {
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
