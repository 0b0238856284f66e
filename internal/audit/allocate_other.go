//go:build !linux

package audit

import (
	"errors"
	"os"
)

// allocate is Linux's fallocate; elsewhere segments grow by writing zeros.
func allocate(*os.File, int64, int64) error { return errors.ErrUnsupported }
