package arn

import (
	"strings"
	"testing"
)

// parseSplit is Parse as it was written first: the reference Parse keeps
// to without its slice.
func parseSplit(s string) (ARN, error) {
	if !strings.HasPrefix(s, "arn:") {
		return ARN{}, ErrMalformed
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[1] == "" || parts[2] == "" {
		return ARN{}, ErrMalformed
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, nil
}

var parseCases = []string{
	"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"arn:aws:kms:us-east-1:111122223333:alias/a:b:c",
	"arn:aws:iam::111122223333:root",
	"arn:aws:iam::111122223333:role/path/name",
	"arn:aws:sts::111122223333:assumed-role/r/s",
	"arn:aws:kms:us-east-1:111122223333:",
	"arn:aws:kms:us-east-1:111122223333",
	"arn::kms:r:a:k", "arn:aws::r:a:k", "arn:aws:kms", "arn:", "arn", "", "ARN:aws:kms:r:a:k",
	"arn:aws:kms:::", "arn:aws:kms::::", ":::::::",
}

func TestParse(t *testing.T) {
	for _, s := range parseCases {
		got, err := Parse(s)
		want, wantErr := parseSplit(s)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", s, got, err, want, wantErr)
		}
	}
	a, err := Parse("arn:aws:kms:eu-west-1:111122223333:alias/x:y")
	if err != nil || a.Region != "eu-west-1" || a.Account != "111122223333" || a.Resource != "alias/x:y" || a.String() != "arn:aws:kms:eu-west-1:111122223333:alias/x:y" {
		t.Errorf("Parse = %+v, %v", a, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range parseCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		want, wantErr := parseSplit(s)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v, %v", s, got, err, want, wantErr)
		}
	})
}
