package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"time"

	"strongroom/internal/store"
)

// A lease is a named, time-bounded claim recorded in the store: the way
// several nodes sharing one store agree that one of them — and only one at a
// time — does a piece of work (bootstrap, the background sweeps). It is held
// by one node until it expires or is released; its holder renews it while it
// works. Leases use the wall clock, not the service clock: they are about
// processes being alive.
//
// A lease alone cannot promise exactly-once (a holder stalled past its
// expiry may still finish a step), so the work done under one is also
// idempotent inside each store transaction; the lease keeps the nodes from
// all doing it, and from fighting over the same records.
type leaseRecord struct {
	Holder  string `json:"holder"`
	Expires int64  `json:"expires"` // unix nanoseconds, wall clock
}

func leaseID(name string) string { return "lease/" + name }

// nodeID returns a random node id: host and pid (for an operator reading
// the store) and random bits.
func nodeID() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
}

// acquireLease takes or renews the lease name for holder until now+ttl. It
// reports whether holder has it.
func acquireLease(ctx context.Context, st store.Store, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	var got bool
	err := st.Update(ctx, func(tx store.Tx) error {
		got = false
		b, err := tx.Get(store.KindMeta, "", leaseID(name))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			var cur leaseRecord
			if json.Unmarshal(b, &cur) == nil && cur.Holder != holder && cur.Expires > now.UnixNano() {
				return nil // held by another node
			}
		}
		b, _ = json.Marshal(leaseRecord{Holder: holder, Expires: now.Add(ttl).UnixNano()})
		got = true
		return tx.Put(store.KindMeta, "", leaseID(name), b)
	})
	return got && err == nil, err
}

// releaseLease gives the lease up if holder has it, so that another node
// can take over at once rather than at expiry.
func releaseLease(ctx context.Context, st store.Store, name, holder string) error {
	return st.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Get(store.KindMeta, "", leaseID(name))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var cur leaseRecord
		if json.Unmarshal(b, &cur) != nil || cur.Holder != holder {
			return nil
		}
		return tx.Delete(store.KindMeta, "", leaseID(name))
	})
}
