// Package durable owns the file-system calls that make a write durable:
// Fdatasync, for a file's data (and the metadata needed to read it back),
// and SyncDir, for a directory's entries after a create, rename or link.
// The embedded store's files, its redo logs and the audit trail's segments
// use them.
package durable

import "os"

// SyncDir makes the entries of directory dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
