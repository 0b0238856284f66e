package durable

import (
	"os"
	"syscall"
)

// Fdatasync flushes f's data, and the metadata needed to read it back, to
// stable storage. The error is an *os.PathError naming f.
func Fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
		}
		return nil
	}
}
