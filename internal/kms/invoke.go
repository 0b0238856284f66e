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
	Call      *Call
	Input     any
	Output    any // nil when Err is set
	Err       error
	Start     time.Time
	End       time.Time
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

func isNilPointer(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
