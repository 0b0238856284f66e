//go:build !linux

package bolt

import "errors"

// fingerprint is not implemented here: without it Close leaves no marker,
// and CheckAuto always verifies in full at Open.
func fingerprint(path string, pageSize int) (string, error) {
	return "", errors.New("bolt: no clean-close fingerprint on this system")
}

func dropPages(addr uintptr, n int64) {}

func fileResident() int64 { return 0 }
