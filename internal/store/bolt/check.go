package bolt

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// CheckMode is how much of the file Open verifies before it returns.
//
// Whatever the mode, every record is checksummed when it is read, so
// damage is never served: the modes differ in when damage that no read
// has met yet is found, and in what start-up costs.
type CheckMode int

const (
	// CheckFull walks the whole file before Open returns: its length
	// against its pages, every record's checksum (LazyKinds excepted: their
	// pages are followed, their records checked when read) and lookup, and
	// bbolt's page and free-list check. Time grows with the file: about
	// 0.4 s for 100,000 keys.
	CheckFull CheckMode = iota
	// CheckQuick checks only that the file is as long as its pages reach.
	CheckQuick
	// CheckAuto is CheckFull when the file was not closed cleanly (a crash,
	// a kill, a power loss: no clean-close marker), or when it changed
	// since that close (the marker's fingerprint: device, inode, size,
	// modification and change times, and a hash of both meta pages, no
	// longer matches — a copy, a restore, an editor, a stray write). After
	// a clean close of an unchanged file it is CheckQuick, and the full
	// verification (LazyKinds included) runs in the background once Open
	// has returned: if it finds damage, every operation of the store
	// returns that error from then on (Damage reports it) and
	// Options.OnCheck is told.
	CheckAuto
)

// String returns the mode's name as the --store-check flag spells it.
func (m CheckMode) String() string {
	switch m {
	case CheckFull:
		return "full"
	case CheckQuick:
		return "quick"
	case CheckAuto:
		return "auto"
	}
	return fmt.Sprintf("CheckMode(%d)", int(m))
}

// markerSuffix names the clean-close marker: strongroom.db.clean, next to
// the file. Close writes it; Open reads and removes it before any write.
// It holds the file's fingerprint as Close left it (fingerprint), so a
// marker that outlived a later crash, or a file changed since, does not
// match. It is a hint that the file is as a healthy process left it, not a
// proof: the background verification is what finds damage it cannot show
// (bit rot under unchanged metadata).
const markerSuffix = ".clean"

// Tuning of giving the mapped file back to the kernel (dropMapped).
const (
	// dropRecords is how many records the walk of the background
	// verification (and Check) reads between drops: the kernel maps up to
	// 64 KB around each page read, so a few thousand records can map in
	// tens of megabytes.
	dropRecords = 1 << 12
	// trimEvery and trimAbove: while the store is open, its mapped pages
	// are dropped when, checked every trimEvery, the process holds more
	// than trimAbove bytes of file-backed pages: clients paging through
	// every key map the whole file in, and the kernel maps up to 64 KB
	// around each page read (fault-around), so a scan maps hundreds of
	// megabytes a second. A check reads /proc/self/statm: microseconds.
	trimEvery = 100 * time.Millisecond
	trimAbove = 64 << 20
)

// Checked says what Open verified before it returned: "full, before
// serving", "quick", or "quick (clean close), full in the background".
func (s *Store) Checked() string { return s.checked }

// Damage returns the error every operation returns once the background
// verification found the file damaged, or nil.
func (s *Store) Damage() error {
	if p := s.damage.Load(); p != nil {
		return *p
	}
	return nil
}

// verifyInBackground runs the full verification after Open has returned
// (CheckAuto after a clean close), and fences the store if it fails.
func (s *Store) verifyInBackground(onCheck func(error, time.Duration)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		start := time.Now()
		err := s.verify(s.stop, true, true)
		s.afterWalk()
		if s.stop.Err() != nil {
			return // Close interrupted it: nothing was found, nothing is known
		}
		if err != nil {
			fenced := fmt.Errorf("%w; found by the verification that runs after a clean start: every operation is refused until strongroom restarts, and a restart refuses the file", err)
			s.damage.CompareAndSwap(nil, &fenced)
			err = fenced
		}
		if onCheck != nil {
			onCheck(err, time.Since(start))
		}
	}()
}

// trimInBackground drops the mapped pages every trimEvery while the
// process holds more than trimAbove bytes of file-backed pages.
func (s *Store) trimInBackground() {
	s.every(trimEvery, nil, func() {
		if fileResident() > trimAbove {
			s.dropMapped()
		}
	})
}

// every runs fn in a goroutine of its own every interval, and whenever
// kick (if not nil) receives, until Close.
func (s *Store) every(interval time.Duration, kick <-chan struct{}, fn func()) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop.Done():
				return
			case <-t.C:
			case <-kick:
			}
			fn()
		}
	}()
}

// afterWalk gives back what a walk over the whole file took: the mapped
// pages, and the heap of bbolt's page check (a map entry per page).
func (s *Store) afterWalk() {
	s.dropMapped()
	debug.FreeOSMemory()
}

// dropMapped tells the kernel that the process no longer needs the pages
// of the mapped file (madvise MADV_DONTNEED). The file is mapped shared
// and read-only, and bbolt writes through the file, never the mapping, so
// nothing is lost: the pages stay in the page cache, and a later read
// maps them in again, with the same bytes. It runs in a read transaction,
// during which bbolt cannot remap the file.
func (s *Store) dropMapped() {
	defer func() { recover() }() // a closed store: nothing to drop
	_ = s.db.View(func(btx *bbolt.Tx) error {
		s.dropMappedTx(btx)
		return nil
	})
}

// dropMappedTx is dropMapped inside the read transaction btx.
func (s *Store) dropMappedTx(btx *bbolt.Tx) {
	dropPages(s.db.Info().Data, btx.Size())
}

func (s *Store) markerPath() string { return s.path + markerSuffix }

// takeCleanMarker removes the clean-close marker and reports whether it
// described the file as it is now.
func (s *Store) takeCleanMarker() bool {
	b, err := os.ReadFile(s.markerPath())
	if err != nil {
		return false
	}
	os.Remove(s.markerPath())
	want, err := fingerprint(s.path, s.pageSize)
	return err == nil && string(b) == want
}

// cleanMarker returns the marker Close leaves, or "" when it must leave
// none: a commit failed, or damage was seen. It must run when no write
// can be in flight.
func (s *Store) cleanMarker() string {
	if s.sawDamage.Load() || s.fenced.Load() != nil || s.damage.Load() != nil {
		return ""
	}
	fp, err := fingerprint(s.path, s.pageSize)
	if err != nil {
		return ""
	}
	return fp
}

// writeCleanMarker writes the marker. It is not synced: a marker that a
// crash loses, or leaves torn, does not match, and the next Open verifies
// in full, which is safe.
func (s *Store) writeCleanMarker(m string) {
	if m != "" {
		os.WriteFile(s.markerPath(), []byte(m), 0o600)
	}
}
