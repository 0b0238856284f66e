package kms

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"strongroom/internal/metering"
)

func codecSamples() []*auditEffect {
	at := time.Date(2026, 11, 28, 1, 2, 3, 456789000, time.UTC)
	arn := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	return []*auditEffect{
		{},
		{usage: &metering.Usage{Request: &metering.Request{Account: "111122223333", Region: "us-east-1", Time: at, Class: "symmetric"}},
			uses: []keyUse{{arn, keyUsage{Operation: "Encrypt", Time: at.UnixMilli(), EventID: "e-1", RequestID: "r-1"}}}},
		{usage: &metering.Usage{Key: &metering.KeyChange{Account: "111122223333", Region: "eu-west-1", KeyID: "k", What: "created", Time: at}}},
		{usage: &metering.Usage{Request: &metering.Request{Account: "a", Region: "r", Time: at, Class: "rsa"}, Key: &metering.KeyChange{Account: "a", Region: "r", KeyID: "k", What: "rotated", Time: at.Add(time.Hour)}},
			uses:   []keyUse{{"a1", keyUsage{Operation: "Sign"}}, {"a2", keyUsage{Operation: "Verify", Time: -1, EventID: "ü", RequestID: ""}}},
			forget: []string{arn, ""}},
		{forget: []string{"gone"}},
	}
}

// TestEffectCodecRoundTrip: every effect decodes to what was encoded, in
// the binary form and from the JSON form older segment files hold.
func TestEffectCodecRoundTrip(t *testing.T) {
	c := effectCodec{}
	for i, want := range codecSamples() {
		b, err := c.AppendEffect(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != effectBinary {
			t.Fatalf("sample %d: encoded as %q", i, b)
		}
		got, err := c.DecodeEffect(b)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sample %d: decoded %+v, want %+v", i, got, want)
		}
		// The JSON form, as segment files written before the binary one
		// hold it.
		j := effectJSON{Usage: want.usage, Forget: want.forget}
		for _, u := range want.uses {
			j.Uses = append(j.Uses, keyUseJSON{u.keyARN, u.use})
		}
		old, _ := json.Marshal(j)
		got, err = c.DecodeEffect(old)
		if err != nil {
			t.Fatalf("sample %d, JSON: %v", i, err)
		}
		g := got.(*auditEffect)
		if g.usage != nil && g.usage.Request != nil {
			g.usage.Request.Time = g.usage.Request.Time.UTC()
		}
		if g.usage != nil && g.usage.Key != nil {
			g.usage.Key.Time = g.usage.Key.Time.UTC()
		}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("sample %d, JSON: decoded %+v, want %+v", i, g, want)
		}
	}
	for _, bad := range [][]byte{{effectBinary}, {effectBinary, 0x80}, {effectBinary, hasForget}, {effectBinary, hasForget, 0}, {effectBinary, hasRequest, 5, 'a'}, {effectBinary, 0, 0}} {
		if _, err := c.DecodeEffect(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// FuzzEffectCodec: decoding never panics, and what decodes encodes to bytes
// that decode to the same effect (not always the same bytes: a varint may
// be written longer than it need be).
func FuzzEffectCodec(f *testing.F) {
	c := effectCodec{}
	for _, s := range codecSamples() {
		b, _ := c.AppendEffect(nil, s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := c.DecodeEffect(b)
		if err != nil || len(b) == 0 || b[0] != effectBinary {
			return
		}
		again, err := c.AppendEffect(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := c.DecodeEffect(again)
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("%q decoded as %+v, encoded as %q, decoded as %+v (%v)", b, e, again, e2, err)
		}
	})
}
