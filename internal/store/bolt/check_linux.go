package bolt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// fingerprint describes the file at path as it is now: where it is
// (device, inode), its size, its modification and change times (the
// change time moves with any write, truncation or metadata change, and
// cannot be set back from user space), and a hash of its two meta pages
// (which every commit rewrites, one or the other).
func fingerprint(path string, pageSize int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", errors.New("bolt: no stat")
	}
	meta := make([]byte, 2*pageSize)
	if _, err := f.ReadAt(meta, 0); err != nil {
		return "", err
	}
	return fmt.Sprintf("strongroom clean close, marker version 1\nfile %s\ndevice %d\ninode %d\nsize %d\nmodified %d\nchanged %d\nmeta pages sha256 %x\n",
		filepath.Base(path), st.Dev, st.Ino, fi.Size(), st.Mtim.Nano(), st.Ctim.Nano(), sha256.Sum256(meta)), nil
}

// dropPages is madvise(addr, n, MADV_DONTNEED).
func dropPages(addr uintptr, n int64) {
	if addr != 0 && n > 0 {
		syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED)
	}
}

var osPageSize = int64(os.Getpagesize())

// fileResident returns the bytes of file-backed (and shared) pages the
// process has mapped in, from /proc/self/statm, or 0.
func fileResident() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[2]), 10, 64)
	return n * osPageSize
}
