package awsapi

import (
	"regexp"
	"testing"
)

// TestNewRequestID: request ids have the UUID form the AWS SDKs print, and
// differ.
func TestNewRequestID(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	a, b := newRequestID(), newRequestID()
	if !form.MatchString(a) || !form.MatchString(b) || a == b {
		t.Fatalf("newRequestID() = %q, %q", a, b)
	}
}
