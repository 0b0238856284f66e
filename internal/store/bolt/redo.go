package bolt

// The redo log makes a commit durable with one sequential write and one
// fdatasync, where a bbolt commit writes every page on the path to each
// record it changes and syncs twice (pages, then meta page).
//
// An Update's writes (a group commit's, together) are encoded as one entry,
// appended to the log and synced; then they are published in the
// memtable (memtable.go), where reads find them, and the Update returns.
// The applier writes the memtable into the bbolt file in one ordinary,
// synced bbolt commit every applyEvery (and at Close, and before a
// Backup), recording in the file the last commit it holds ("applied").
// The file is therefore always a consistent bbolt file; the log holds
// what came after it.
//
// The log is two files, strongroom.db.redo0 and .redo1, written one at a
// time: when the one written passes logSwitchAt and everything in the
// other is applied, writing moves to the other, which starts afresh with
// a new salt. Open reads the entries past "applied" back into the
// memtable, in order, and goes on writing after them; the applier writes
// them into the file as soon as it can.
//
// Layout (little-endian). Header, at offset 0:
//
//	magic "SRLOG001" | salt u64 | store id [16] | crc32c of the above u32
//
// entries from logHeaderSize:
//
//	length u32 | crc32c of the rest u32 | salt u64 | seq u64 | operations
//
// an operation being
//
//	1 (put) | len u8 | kind | len u16 | scope | len u16 | id | len u32 | value
//	2 (delete) | len u8 | kind | len u16 | scope | len u16 | id
//
// A file is written full of zeros ahead of the entries, so that an
// entry's write is an overwrite inside the file and its fdatasync flushes
// no file-system metadata. An entry whose length, checksum or salt does
// not match ends the file's entries: a write torn by a crash, or an older
// cycle's.

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	"strongroom/internal/durable"
	"strongroom/internal/store"
)

const (
	logMagic       = "SRLOG001"
	logHeaderSize  = 4096
	logHeaderLen   = 8 + 8 + 16
	logInitialSize = 256 << 10
	logSwitchAt    = 4 << 20
	entryHeaderLen = 24

	opPut    = 1
	opDelete = 2
)

// logPath is the path of log file i of the database at path.
func logPath(path string, i int) string { return fmt.Sprintf("%s.redo%d", path, i) }

// logFile is one of the two files.
type logFile struct {
	f    *os.File
	size int64  // bytes in the file (zeros past off)
	off  int64  // where the next entry goes
	salt uint64 // the salt of this cycle's entries
	last uint64 // the newest commit written in this cycle (0: none)
}

// redoLog is the log. Its fields change only under Store.wmu (or in Open
// and Close).
type redoLog struct {
	files [2]*logFile
	cur   int      // the file written
	id    [16]byte // the store's id, in every header
}

func encodeLogHeader(salt uint64, id [16]byte) []byte {
	b := make([]byte, 0, logHeaderLen+4)
	b = append(b, logMagic...)
	b = binary.LittleEndian.AppendUint64(b, salt)
	b = append(b, id[:]...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// logScan is what a log file holds: its header and its cycle's entries.
type logScan struct {
	ok   bool // the file has a valid header
	id   [16]byte
	salt uint64
	end  int64  // where its cycle's entries end
	last uint64 // the seq of its last entry (0: none)
	n    int    // its cycle's entries
	// the entries past `after` (scanLog's), in order
	seqs []uint64
	ops  [][]byte
}

// scanLog reads a log file sequentially, entry by entry, up to the first
// one that is not of its cycle (torn, or an older cycle's), keeping the
// operations of the entries past after.
func scanLog(f io.ReaderAt, size int64, after uint64) (s logScan) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	hd := make([]byte, logHeaderSize)
	if _, err := io.ReadFull(r, hd); err != nil || string(hd[:8]) != logMagic ||
		crc32.Checksum(hd[:logHeaderLen], castagnoli) != binary.LittleEndian.Uint32(hd[logHeaderLen:]) {
		return s
	}
	s.ok, s.salt, s.end = true, binary.LittleEndian.Uint64(hd[8:]), logHeaderSize
	copy(s.id[:], hd[16:32])
	var head [entryHeaderLen]byte
	var skip []byte // the bodies of entries not kept
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return s
		}
		n := int64(binary.LittleEndian.Uint32(head[0:]))
		if n < entryHeaderLen || n > size-s.end || binary.LittleEndian.Uint64(head[8:]) != s.salt {
			return s
		}
		seq := binary.LittleEndian.Uint64(head[16:])
		var body []byte
		if seq > after {
			body = make([]byte, n-entryHeaderLen)
		} else {
			skip = slices.Grow(skip[:0], int(n-entryHeaderLen))[:n-entryHeaderLen]
			body = skip
		}
		if _, err := io.ReadFull(r, body); err != nil ||
			crc32.Update(crc32.Checksum(head[8:], castagnoli), castagnoli, body) != binary.LittleEndian.Uint32(head[4:]) {
			return s
		}
		if seq > after {
			s.seqs, s.ops = append(s.seqs, seq), append(s.ops, body)
		}
		s.end += n
		s.last = seq
		s.n++
	}
}

// readLog scans the store's two log files and returns the entries past
// applied, in order, checked to follow on from it without a gap, and the
// scans (for openLog).
func readLog(path string, id [16]byte, applied uint64) (ops [][]byte, last uint64, scans [2]logScan, err error) {
	type ent struct {
		seq uint64
		ops []byte
	}
	var all []ent
	for i := range 2 {
		f, err := os.Open(logPath(path, i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, scans, fmt.Errorf("bolt: %w", err)
		}
		fi, err := f.Stat()
		if err == nil {
			scans[i] = scanLog(f, fi.Size(), applied)
		}
		f.Close()
		if err != nil {
			return nil, 0, scans, fmt.Errorf("bolt: %w", err)
		}
		sc := scans[i]
		if !sc.ok {
			continue // never written past its making: a crash while it was made
		}
		if sc.id != id && sc.n > 0 {
			return nil, 0, scans, fmt.Errorf("bolt: the redo log %s belongs to another store than %s: "+
				"if %s was replaced (by a backup, say), move its redo logs (%s.redo0 and .redo1) away, which loses what they hold",
				logPath(path, i), path, FileName, FileName)
		}
		for k, seq := range sc.seqs {
			all = append(all, ent{seq, sc.ops[k]})
		}
		scans[i].seqs, scans[i].ops = nil, nil
	}
	slices.SortFunc(all, func(a, b ent) int {
		if a.seq < b.seq {
			return -1
		}
		return 1
	})
	last = applied
	for _, e := range all {
		if e.seq != last+1 {
			return nil, 0, scans, fmt.Errorf("bolt: the redo log of %s does not follow on from it: the file holds commits up to %d, the log goes on from %d. "+
				"If %s was restored from a backup, move its redo logs (%s.redo0 and .redo1) away, which loses what they hold",
				path, applied, e.seq, FileName, FileName)
		}
		ops = append(ops, e.ops)
		last = e.seq
	}
	return ops, last, scans, nil
}

// openLog opens the two files where their entries end, so that commits go
// on after the last one (which Open has replayed into the memtable), and
// writes nothing to a file that is there and whole: a store whose disk is
// full still opens. A file that is missing, too short or without a valid
// header of this store is made afresh. scans are readLog's.
func openLog(path string, id [16]byte, scans [2]logScan) (*redoLog, error) {
	r := &redoLog{id: id}
	for i := range 2 {
		p := logPath(path, i)
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			r.close()
			return nil, err
		}
		lf := &logFile{f: f}
		r.files[i] = lf
		fi, err := f.Stat()
		if err != nil {
			r.close()
			return nil, err
		}
		lf.size = fi.Size()
		if sc := scans[i]; lf.size >= logInitialSize && sc.ok && sc.id == id {
			lf.salt, lf.off, lf.last = sc.salt, sc.end, sc.last
			if lf.last >= r.files[r.cur].last {
				r.cur = i
			}
			continue
		}
		if lf.size < logInitialSize {
			if err := zeroFill(f, lf.size, logInitialSize); err != nil {
				r.close()
				return nil, err
			}
			lf.size = logInitialSize
		}
		if err := lf.restart(id); err != nil {
			r.close()
			return nil, err
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// restart begins a new cycle of the file: a new salt in its header, synced,
// so that nothing it held before counts.
func (lf *logFile) restart(id [16]byte) error {
	var salt [8]byte
	rand.Read(salt[:])
	lf.salt = binary.LittleEndian.Uint64(salt[:])
	if _, err := lf.f.WriteAt(encodeLogHeader(lf.salt, id), 0); err != nil {
		return err
	}
	if err := durable.Fdatasync(lf.f); err != nil {
		return err
	}
	lf.off, lf.last = logHeaderSize, 0
	return nil
}

func (r *redoLog) close() {
	for _, lf := range r.files {
		if lf != nil {
			lf.f.Close()
		}
	}
}

// append writes the entry of commit seq (e, whose first entryHeaderLen
// bytes it fills in) to the log, without syncing it. applied is the last
// commit the file holds: a file whose commits are all applied may be
// started afresh. written reports whether the failure may have left some
// of the entry in the file.
func (r *redoLog) append(seq uint64, e []byte, applied uint64) (written bool, err error) {
	lf := r.files[r.cur]
	if lf.off >= logSwitchAt {
		if other := r.files[1-r.cur]; other.last <= applied {
			if err := other.restart(r.id); err != nil {
				return true, err // its header may be torn: the other file holds what counts
			}
			r.cur, lf = 1-r.cur, other
		}
	}
	n := int64(len(e))
	if lf.off+n > lf.size {
		size := max(2*lf.size, lf.off+n+logInitialSize)
		if err := zeroFill(lf.f, lf.size, size); err != nil {
			lf.f.Truncate(lf.size)
			return false, err
		}
		if err := durable.Fdatasync(lf.f); err != nil {
			lf.f.Truncate(lf.size)
			return false, err
		}
		lf.size = size
	}
	putEntryHeader(e, lf.salt, seq)
	if _, err := lf.f.WriteAt(e, lf.off); err != nil {
		return true, err
	}
	lf.off += n
	lf.last = seq
	return true, nil
}

// putEntryHeader fills in an entry's header: its length, the checksum,
// the salt and the commit's seq.
func putEntryHeader(e []byte, salt, seq uint64) {
	binary.LittleEndian.PutUint32(e[0:], uint32(len(e)))
	binary.LittleEndian.PutUint64(e[8:], salt)
	binary.LittleEndian.PutUint64(e[16:], seq)
	binary.LittleEndian.PutUint32(e[4:], crc32.Checksum(e[8:], castagnoli))
}

// sync makes the entries appended so far durable.
func (r *redoLog) sync() error { return durable.Fdatasync(r.files[r.cur].f) }

// zeroFill writes zeros to f from off to end.
func zeroFill(f *os.File, off, end int64) error {
	zeros := make([]byte, 64<<10)
	for off < end {
		n := min(int64(len(zeros)), end-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// encodeEntry encodes a write set as an entry's operations, after room for
// the entry's header, in buf.
func encodeEntry(buf []byte, w *writeSet) []byte {
	b := append(buf[:0], make([]byte, entryHeaderLen)...)
	for kind, scopes := range w.kinds {
		for scope, recs := range scopes {
			for id, v := range recs {
				op := byte(opPut)
				if v.del {
					op = opDelete
				}
				b = append(b, op, byte(len(kind)))
				b = append(b, kind...)
				b = binary.LittleEndian.AppendUint16(b, uint16(len(scope)))
				b = append(b, scope...)
				b = binary.LittleEndian.AppendUint16(b, uint16(len(id)))
				b = append(b, id...)
				if !v.del {
					b = binary.LittleEndian.AppendUint32(b, uint32(len(v.val)))
					b = append(b, v.val...)
				}
			}
		}
	}
	return b
}

var errBadEntry = errors.New("bolt: a redo log entry is malformed")

// decodeEntry decodes an entry's operations into a write set.
func decodeEntry(ops []byte) (*writeSet, error) {
	w := newWriteSet()
	take := func(n int) ([]byte, bool) {
		if n < 0 || n > len(ops) {
			return nil, false
		}
		b := ops[:n]
		ops = ops[n:]
		return b, true
	}
	u16 := func() int {
		b, ok := take(2)
		if !ok {
			return -1
		}
		return int(binary.LittleEndian.Uint16(b))
	}
	for len(ops) > 0 {
		if len(ops) < 2 {
			return nil, errBadEntry
		}
		op, kl := ops[0], int(ops[1])
		ops = ops[2:]
		kind, ok1 := take(kl)
		scope, ok2 := take(u16())
		id, ok3 := take(u16())
		if !ok1 || !ok2 || !ok3 || checkKind(store.Kind(kind)) != nil || len(id) == 0 {
			return nil, errBadEntry
		}
		switch op {
		case opPut:
			lb, ok := take(4)
			if !ok {
				return nil, errBadEntry
			}
			val, ok := take(int(binary.LittleEndian.Uint32(lb)))
			if !ok {
				return nil, errBadEntry
			}
			w.set(store.Kind(kind), string(scope), string(id), version{val: slices.Clone(val)})
		case opDelete:
			w.set(store.Kind(kind), string(scope), string(id), version{del: true})
		default:
			return nil, errBadEntry
		}
	}
	return w, nil
}
