package kms

import (
	"context"
	"reflect"
	"time"
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
// operation. Every call — allowed, denied or failed — is recorded here, so
// no entrance can skip the audit trail or metering.
func (s *Service) Invoke(ctx context.Context, c *Call, op string, in any, run func() (any, error)) (any, error) {
	ev := &Event{Operation: op, Call: c, Input: in, Start: s.clock.Now()}
	out, err := run()
	if err != nil || isNilPointer(out) {
		out = nil
	}
	ev.Output, ev.Err, ev.End = out, err, s.clock.Now()
	if s.recorder != nil {
		if rerr := s.recorder.Record(ctx, ev); rerr != nil {
			return nil, rerr
		}
	}
	return out, err
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
