package kms

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fill sets every exported field reachable from v to a non-zero value.
func fill(t *testing.T, v reflect.Value, depth int) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), depth)
			}
		}
	case reflect.Pointer:
		if depth > 3 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), depth)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(t, k, depth)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(t, e, depth)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]any{"x": []any{"y"}}))
	default:
		t.Fatalf("fill: a %s in keyRecord: teach fill and cloneRecord about it", v.Kind())
	}
}

// shared reports a slice, map or pointer of a that b shares.
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				if p := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
					return p
				}
			}
		}
	case reflect.Pointer, reflect.Map:
		if !a.IsNil() && a.UnsafePointer() == b.UnsafePointer() {
			return path
		}
		if a.Kind() == reflect.Pointer && !a.IsNil() {
			return shared(a.Elem(), b.Elem(), path)
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Index(0).Addr().UnsafePointer() == b.Index(0).Addr().UnsafePointer() {
			return path
		}
		for i := range a.Len() {
			if p := shared(a.Index(i), b.Index(i), path); p != "" {
				return p
			}
		}
	case reflect.Interface:
		if !a.IsNil() {
			return shared(a.Elem(), b.Elem(), path)
		}
	}
	return ""
}

// TestCloneRecord: a clone of a record with every field set is equal to it
// and shares nothing with it, whatever fields keyRecord has grown.
func TestCloneRecord(t *testing.T) {
	var k keyRecord
	fill(t, reflect.ValueOf(&k).Elem(), 0)
	c := cloneRecord(&k)
	if !reflect.DeepEqual(&k, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", k, *c)
	}
	if p := shared(reflect.ValueOf(&k).Elem(), reflect.ValueOf(c).Elem(), "keyRecord"); p != "" {
		t.Fatalf("the clone shares %s", p)
	}
}

// TestRecordCache: a hit is a private copy; other bytes under the same id
// decode afresh.
func TestRecordCache(t *testing.T) {
	c := &recordCache{max: 2, m: make(map[recordID]cachedRecord)}
	v1, _ := json.Marshal(&keyRecord{ID: "k", State: StateEnabled, Tags: []Tag{{TagKey: "a", TagValue: "b"}}})
	v2, _ := json.Marshal(&keyRecord{ID: "k", State: StateDisabled})
	a, err := c.decode("s", "k", v1)
	if err != nil {
		t.Fatal(err)
	}
	a.State, a.Tags[0].TagValue = StateDisabled, "changed"
	b, _ := c.decode("s", "k", v1)
	if b.State != StateEnabled || b.Tags[0].TagValue != "b" {
		t.Fatalf("a change to a returned record reached the cache: %+v", b)
	}
	if d, _ := c.decode("s", "k", v2); d.State != StateDisabled {
		t.Fatalf("new bytes answered from the cache: %+v", d)
	}
	for _, id := range []string{"x", "y", "z"} {
		c.decode("s", id, v1)
	}
	if len(c.m) > 2 {
		t.Fatalf("%d entries, max 2", len(c.m))
	}
	if _, err := c.decode("s", "bad", []byte("{")); err == nil {
		t.Fatal("a record that does not decode decoded")
	}
}

// TestRecordCacheShared: bytes decodeShared is given are the store's (a
// Peek), which may change once the read ends: the cache keeps its own copy,
// so what it answers later does not change with them.
func TestRecordCacheShared(t *testing.T) {
	c := &recordCache{max: 2, m: make(map[recordID]cachedRecord)}
	v, _ := json.Marshal(&keyRecord{ID: "k", State: StateEnabled})
	shared := append([]byte{}, v...)
	if k, err := c.decodeShared("s", "k", shared); err != nil || k.State != StateEnabled {
		t.Fatalf("%+v, %v", k, err)
	}
	for i := range shared { // the store reuses its memory
		shared[i] = ' '
	}
	k, err := c.decodeShared("s", "k", v)
	if err != nil || k.State != StateEnabled || c.hits.Load() != 1 {
		t.Fatalf("after the caller's bytes changed: %+v, %v, %d hits (want 1)", k, err, c.hits.Load())
	}
}

func BenchmarkGetKeyRecord(b *testing.B) {
	doc := `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	raw, _ := json.Marshal(&keyRecord{ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", Region: "us-east-1", State: StateEnabled,
		Spec: SpecSymmetricDefault, Usage: UsageEncryptDecrypt, Origin: OriginKMS, Manager: ManagerCustomer, Policy: doc, Current: 1,
		Materials: []materialRecord{{Version: 1, ID: "ab", Sealed: make([]byte, 60), Created: 1}}})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeKey(raw)
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			keyRecords.decode("s", "k", raw)
		}
	})
}

// TestRecordARNMemo: copies from the cache know their ARN without
// formatting it, and a copy whose region, account or id is changed (a
// replica made from its primary's record) answers its own.
func TestRecordARNMemo(t *testing.T) {
	c := &recordCache{max: 4, m: make(map[recordID]cachedRecord)}
	v, _ := json.Marshal(&keyRecord{ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", Region: "us-east-1"})
	want := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	c.decode("s", "k", v)
	k, _ := c.decode("s", "k", v) // a hit: a copy
	if k.arnOf.arn != want {
		t.Fatalf("a copy from the cache has ARN memo %q, want %q", k.arnOf.arn, want)
	}
	if got := k.arn(); got != want {
		t.Fatalf("arn() = %q, want %q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { k.arn() }); n != 0 {
		t.Errorf("arn() of a cached copy allocates %v times", n)
	}
	k.Region = "eu-west-1"
	if got := k.arn(); got != "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" {
		t.Errorf("after a region change arn() = %q", got)
	}
	k.Region, k.Account = "us-east-1", "444455556666"
	if got := k.arn(); got != "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab" {
		t.Errorf("after an account change arn() = %q", got)
	}
	k.Account, k.ID = "111122223333", "mrk-1"
	if got := k.arn(); got != "arn:aws:kms:us-east-1:111122223333:key/mrk-1" {
		t.Errorf("after an id change arn() = %q", got)
	}
}
