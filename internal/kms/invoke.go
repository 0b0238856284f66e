package kms

import (
	"context"
	"reflect"
	"time"

	"strongroom/internal/store"
)

// Event is one call of one operation, as every entrance hands it to the
// Recorder: who called, what, on which keys, and how it ended. Input and
// Output are the operation's request and response shapes and carry
// plaintexts and data keys: a Recorder must whitelist what it keeps.
type Event struct {
	Operation string
	// Source is the event source of a call of another service on the
	// endpoint (SourceIAM, SourceSTS). Empty: the operation's own (KMS,
	// CloudTrail or Strongroom's admin API).
	Source string
	Call   *Call
	Input  any
	Output any // nil when Err is set
	Err    error
	Start  time.Time
	End    time.Time

	// outside: recorded by RecordCall, not by Invoke.
	outside bool
	// inTx: the operation wrote the record inside the transaction that
	// made its change, which committed (commitCall).
	inTx bool
}

// Recorder receives every call (audit, metering). Record returns only once
// the record is durable; an error fails the request, so nothing is
// acknowledged without its record.
type Recorder interface {
	Record(ctx context.Context, ev *Event) error
}

// SetRecorder installs the recorder of every call. It must be called before
// the service serves requests.
func (s *Service) SetRecorder(r Recorder) { s.recorder = r }

// Invoke runs one operation for an entrance (the JSON API, the console, the
// CLI): run decodes the input into in (if it has not been) and calls the
// operation. Every call — allowed, denied or failed — is recorded exactly
// once, so no entrance can skip the audit trail or metering: by the
// operation itself, inside the store transaction that makes its change, for
// a changing operation that succeeds (commitCall: the change and its record
// are durable together, in one commit, or neither is); here, after the
// operation, for every other call.
func (s *Service) Invoke(ctx context.Context, c *Call, op string, in any, run func() (any, error)) (any, error) {
	ev := &Event{Operation: op, Call: c, Input: in, Start: s.clock.Now()}
	if c != nil {
		prev := c.ev
		c.ev = ev
		defer func() { c.ev = prev }()
	}
	out, err := run()
	if err != nil || isNilPointer(out) {
		out = nil
	}
	if ev.inTx && err == nil {
		return out, nil // recorded with the change
	}
	// (A call whose change committed with its record and that failed
	// afterwards would be recorded twice, the change and the failure the
	// client saw; commitCall's callers return nothing but success once
	// their transaction has committed.)
	ev.Output, ev.Err, ev.End = out, err, s.clock.Now()
	if s.recorder != nil {
		if rerr := s.recorder.Record(ctx, ev); rerr != nil {
			return nil, rerr
		}
	}
	return out, err
}

// commitCall runs fn in a read-write transaction, as update does, and when
// c is a call Invoke is running as operation op, writes the call's record
// in the same transaction with fn's output: the change and its record
// commit together (one durable commit instead of two), and Invoke records
// nothing more. Without Invoke (a direct call of the core), or with a
// recorder that cannot write inside a transaction, it is update and Invoke
// records after the operation.
//
// fn may run more than once (store.Update): each run writes the record
// again, in its own transaction, and only what the run that committed did
// reaches Invoke. When commitCall returns an error, nothing of fn's
// committed and Invoke records the failure. The caller must return fn's
// output as the operation's, and must not fail once commitCall succeeded.
func commitCall[O any](s *Service, ctx context.Context, c *Call, op string, fn func(tx store.Tx) (*O, error)) (*O, error) {
	var out *O
	recorded := false
	if s.recordsInTx(c, op) {
		// The record moves the trail's head, which every other such
		// call moves too: on PostgreSQL the transaction waits for the
		// others rather than conflicting with them (store.WithContention).
		ctx = store.WithContention(ctx)
	}
	err := s.update(ctx, func(tx store.Tx) error {
		out, recorded = nil, false // this run's, not an earlier one's
		o, err := fn(tx)
		if err != nil {
			return err
		}
		if recorded, err = s.recordInTx(tx, c, op, o); err != nil {
			return err
		}
		out = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	if recorded {
		c.ev.inTx = true
	}
	return out, nil
}

// recordInTx writes, inside tx, the record of call c with out as its
// output, if Invoke is running c as operation op (a helper shared by two
// operations, or a nested call, records nothing here) and the recorder can
// write inside a transaction. It reports whether it wrote it. The record
// is the one Invoke would write after the operation: the same event, ended
// now.
func (s *Service) recordInTx(tx store.Tx, c *Call, op string, out any) (bool, error) {
	if !s.recordsInTx(c, op) {
		return false, nil
	}
	tr := s.recorder.(TxRecorder)
	ev := *c.ev // Invoke's own is left alone: this run may not be the one that commits
	if isNilPointer(out) {
		out = nil
	}
	ev.Output, ev.Err, ev.End = out, nil, s.clock.Now()
	if err := tr.RecordTx(tx, &ev); err != nil {
		return false, err
	}
	return true, nil
}

// recordsInTx reports whether commitCall writes the record of call c,
// operation op, inside its transaction (recordInTx).
func (s *Service) recordsInTx(c *Call, op string) bool {
	if c == nil || c.ev == nil || c.ev.Operation != op {
		return false
	}
	if _, ok := s.recorder.(TxRecorder); !ok {
		return false
	}
	// With segment files the record goes to the store's outbox and, once
	// the transaction has committed, straight into the group commit's queue
	// (audit.Trail.AppendTxQueued): the call waits for one durable commit,
	// not two, and its record keeps its place before those of later calls.
	return true
}

// RecordCall records a call that does not go through Invoke, so that every
// request on every entrance leaves exactly one record: a request refused
// before the core (a failed authentication, an unknown operation, a body
// too large or unreadable, throttling) and every call of the other
// services on the endpoint (IAM, STS), allowed, denied or failed.
//
// ev.Input must be nil or, for IAM and STS, the request's query parameters
// (a url.Values) once the request is authenticated and valid: never the
// body of a request that failed to parse, which may hold plaintext. What of
// it is kept is decided by the same whitelists as Invoke's. ev.Err is what
// the client is answered: its *Error carries the code and message
// recorded. RecordCall sets ev.Start and ev.End to the service clock's now
// if they are zero. Like Invoke, it returns only once the record is
// durable (or, for a read-only or refused call, held: audit.Entry.MayWait),
// and an error means the call must fail.
func (s *Service) RecordCall(ctx context.Context, ev *Event) error {
	if s.recorder == nil {
		return nil
	}
	now := s.clock.Now()
	if ev.Start.IsZero() {
		ev.Start = now
	}
	if ev.End.IsZero() {
		ev.End = now
	}
	if ev.Err != nil || isNilPointer(ev.Output) {
		ev.Output = nil
	}
	ev.outside = true
	return s.recorder.Record(ctx, ev)
}

func isNilPointer(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
