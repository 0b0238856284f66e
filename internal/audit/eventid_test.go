package audit

import (
	"regexp"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestNewEventID: a random (version 4, RFC 9562 variant) UUID in
// CloudTrail's lower-case form, never the same twice.
func TestNewEventID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewEventID()
		if !uuidV4.MatchString(id) {
			t.Fatalf("NewEventID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewEventID() gave %q twice", id)
		}
		seen[id] = true
	}
}
