package audit

import (
	"errors"
	"os"
	"syscall"
)

// allocate reserves the blocks of f's [off, off+n) and extends f to cover
// them, without writing them (fallocate: they read as zeros until
// written). It returns errors.ErrUnsupported where the file system cannot.
func allocate(f *os.File, off, n int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, off, n)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EOPNOTSUPP || err == syscall.ENOSYS:
			return errors.ErrUnsupported
		}
		return err
	}
}
