// Package metering owns Strongroom's meter and bill: requests counted by
// price class, and customer managed keys' lifecycles, per account, region
// and month; and the bill those come to under a price table.
//
// Guarantees:
//
//   - Exact: the meter is written by Add inside the transaction that
//     appends the audit record of the same event (audit.Entry.Apply), so a
//     request is counted if and only if its record is in the trail — once,
//     whatever the concurrency, and across restarts and crashes.
//   - AWS's published rules: a customer managed key is charged per hour
//     (every started clock hour, UTC) from its creation; not from the
//     moment its deletion is scheduled; as if never scheduled when the
//     deletion is cancelled; its first and second rotation each add a
//     key-month from the rotation on; AWS managed keys are free (their
//     requests are not); the free tier applies per account, region and
//     month to the classes the price table marks.
//   - Checkable: every line of a Bill carries the numbers it was computed
//     from and the computation in words. Amounts are exact decimals, each
//     line rounded half up to the cent; totals add the rounded lines.
package metering

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"strongroom/internal/store"
)

// Request price classes.
const (
	// ClassSymmetric: requests on symmetric and HMAC keys, and every
	// request that is not a cryptographic operation on an asymmetric key.
	ClassSymmetric = "symmetric"
	// ClassRSA2048: cryptographic operations on RSA_2048 keys.
	ClassRSA2048 = "rsa_2048"
	// ClassAsymmetric: cryptographic operations on other asymmetric keys.
	ClassAsymmetric = "asymmetric"
	// ClassDataKeyPairECC and ClassDataKeyPairRSA: GenerateDataKeyPair and
	// GenerateDataKeyPairWithoutPlaintext, by the pair's key spec.
	ClassDataKeyPairECC = "data_key_pair_ecc"
	ClassDataKeyPairRSA = "data_key_pair_rsa"
)

// Key lifecycle changes.
const (
	KeyCreated   = "created"
	KeyScheduled = "scheduled" // deletion scheduled
	KeyCancelled = "cancelled" // deletion cancelled
	KeyDeleted   = "deleted"
	KeyRotated   = "rotated"
)

// Usage is what one event adds to the meter.
type Usage struct {
	// Request is the billable request, if the event is one.
	Request *Request
	// Key is a change in a customer managed key's life, if the event is
	// one. Only customer managed keys are charged: send no Key change for
	// an AWS managed key.
	Key *KeyChange
}

// Request is one billable request, charged to the account that made it in
// the region it was made in.
type Request struct {
	Account, Region string
	Time            time.Time
	Class           string
}

// KeyChange is one change in a customer managed key's life.
type KeyChange struct {
	Account, Region, KeyID string
	What                   string
	Time                   time.Time
}

// keyLife is the stored lifecycle of a key, in Unix seconds.
type keyLife struct {
	Created   int64   `json:"created"`
	Scheduled int64   `json:"scheduled,omitempty"` // deletion scheduled at; 0: not pending
	Deleted   int64   `json:"deleted,omitempty"`
	Rotations []int64 `json:"rotations,omitempty"` // the first maxRotations
	Rotated   int     `json:"rotated,omitempty"`   // rotations in all
}

const maxRotations = 10

// monthOf is t's month, "2006-01", UTC.
func monthOf(t time.Time) string {
	y, m, _ := t.UTC().Date()
	if c := lastMonth.Load(); c != nil && c.y == y && c.m == m {
		return c.s
	}
	s := t.UTC().Format("2006-01")
	lastMonth.Store(&monthName{y, m, s})
	return s
}

// lastMonth is the month monthOf named last: every request of a month
// names the same one.
var lastMonth atomic.Pointer[monthName]

type monthName struct {
	y int
	m time.Month
	s string
}

func counterID(month, region, class string) string { return "r/" + month + "/" + region + "/" + class }
func keyID(region, id string) string               { return "k/" + region + "/" + id }

// Add writes u to the meter in tx. It may run more than once for one
// event when the store retries tx: it reads what it changes from tx.
func Add(tx store.Tx, u *Usage) error {
	if r := u.Request; r != nil && r.Class != "" {
		id := counterID(monthOf(r.Time), r.Region, r.Class)
		n, err := getCount(tx, r.Account, id)
		if err != nil {
			return err
		}
		if err := tx.Put(store.KindMeter, r.Account, id, strconv.AppendInt(nil, n+1, 10)); err != nil {
			return err
		}
	}
	if k := u.Key; k != nil {
		return changeKey(tx, k)
	}
	return nil
}

// AddAll writes us to the meter in tx, as Add would one by one, with one
// update per counter.
func AddAll(tx store.Tx, us []*Usage) error {
	type counter struct{ account, id string }
	counts := map[counter]int64{}
	var order []counter
	for _, u := range us {
		if r := u.Request; r != nil && r.Class != "" {
			c := counter{r.Account, counterID(monthOf(r.Time), r.Region, r.Class)}
			if counts[c] == 0 {
				order = append(order, c)
			}
			counts[c]++
		}
	}
	for _, c := range order {
		n, err := getCount(tx, c.account, c.id)
		if err != nil {
			return err
		}
		if err := tx.Put(store.KindMeter, c.account, c.id, strconv.AppendInt(nil, n+counts[c], 10)); err != nil {
			return err
		}
	}
	for _, u := range us {
		if u.Key != nil {
			if err := changeKey(tx, u.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

func getCount(tx store.Tx, account, id string) (int64, error) {
	b, err := tx.Get(store.KindMeter, account, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("metering: counter %s of %s: %w", id, account, err)
	}
	return n, nil
}

func changeKey(tx store.Tx, k *KeyChange) error {
	id := keyID(k.Region, k.KeyID)
	var life keyLife
	b, err := tx.Get(store.KindMeter, k.Account, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if k.What != KeyCreated {
			return nil // a key the meter never saw created (not customer managed)
		}
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &life); err != nil {
			return fmt.Errorf("metering: key %s of %s: %w", k.KeyID, k.Account, err)
		}
	}
	at := k.Time.Unix()
	switch k.What {
	case KeyCreated:
		if life.Created != 0 {
			return nil
		}
		life.Created = at
	case KeyScheduled:
		life.Scheduled = at
	case KeyCancelled:
		life.Scheduled = 0 // charged as if never scheduled
	case KeyDeleted:
		life.Deleted = at
		if life.Scheduled == 0 {
			life.Scheduled = at
		}
	case KeyRotated:
		life.Rotated++
		if len(life.Rotations) < maxRotations {
			life.Rotations = append(life.Rotations, at)
		}
	default:
		return fmt.Errorf("metering: unknown key change %q", k.What)
	}
	nb, _ := json.Marshal(life)
	return tx.Put(store.KindMeter, k.Account, id, nb)
}
