package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"strongroom/internal/durable"
	"strongroom/internal/store"
)

// Segment files hold the trail's records in the embedded deployment
// (Options.SegmentDir): append-only files, each written by one group commit
// at a time and made durable with one fdatasync per group, in place of a
// B+tree insert per record and the store's commit. The store keeps the
// trail's head, its digests and what the records change (the meter, keys'
// last use); those are applied behind the records (see applier.go).
//
// A segment is named by the sequence number of its first record,
// "%020d.seg", and is
//
//	"SRAUDSEG" | first seq (u64, little endian) | frame | frame | … | zeros
//
// where a frame is
//
//	payload length (u32 LE, > 0) | CRC-32C of the payload (u32 LE) | payload
//	payload: seq (u64 LE) | line length (u32 LE) | record line | effect
//
// The record line is the trail's line format (format.go), the same bytes an
// export carries; effect is the encoded Effect of the record (SetEffectCodec),
// kept so that a record written but not yet applied to the store is applied
// after a crash. Files grow in 1 MiB chunks ahead of the writes, zero-filled
// so that a group's fdatasync rarely changes a file's size, or allocated
// without writing when groups are synced behind the writes
// (segLog.allocOnly); a frame of length zero ends the segment, and Open cuts
// the newest segment after its last record. A group that fails to write
// leaves its segment: the next group starts a new one, and a newer segment
// supersedes any frames of an older one from its first seq on.

const (
	segMagic      = "SRAUDSEG"
	segHeaderSize = 16
	frameHeadSize = 8
	payloadHead   = 12
	segChunk      = 1 << 20 // zero-filled growth ahead of the writes (zeroChunk)
	markEvery     = 64      // frames between two index marks
	maxFrame      = 16 << 20
)

// zeroChunk is what a segment grows by: never written to (a buffer
// allocated for every growth was a tenth of the server's allocations).
var zeroChunk [segChunk]byte

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segMaxSize is the size after which a group starts a new segment (a
// variable for tests).
var segMaxSize int64 = 64 << 20

// segWriteFault, if set, fails segment writes (tests); segSyncFault, their
// fdatasyncs.
var segWriteFault, segSyncFault atomic.Pointer[error]

// segment is one segment file.
type segment struct {
	first uint64
	path  string

	mu      sync.Mutex
	indexed bool // marks, last and end describe the whole file
	// resumed: the segment written after a restart; index scans only up
	// to scanTo, the writer keeps the rest.
	resumed bool
	scanTo  uint64
	marks   []segMark // every markEvery-th frame
	last    uint64    // the last record's seq (first-1 when none)
	end     int64     // the offset after the last frame
	rf      *os.File  // opened for reads on first use
}

type segMark struct {
	seq uint64
	off int64
}

// segLog is the trail's segment files. Readers may use it concurrently;
// writes come from the trail's group-commit leader alone.
type segLog struct {
	dir string

	mu   sync.RWMutex
	segs []*segment // by first seq

	// The writer's state (the leader's, or Open's).
	w      *os.File
	wseg   *segment
	off    int64 // where the next frame goes in wseg
	alloc  int64 // the file's size (zero-filled beyond off)
	broken bool  // the last write failed: the next group starts a new segment
	// allocOnly: the file grows by fallocate (blocks reserved, not written:
	// they read as zeros) instead of writing zeros, when groups are synced
	// behind the writes (Options.SyncDelay): one sync every few ms may as
	// well record the extents written, and writing the zeros cost as much
	// CPU as the records. Either way the space is taken ahead of the
	// records, so that a filling disk fails the store's writes first.
	allocOnly bool

	// unsynced are the groups written to w without fdatasync (see
	// write), not yet visible to readers. dmu guards it, syncErr and
	// which file w is, for a moment at a time; smu serializes the syncs
	// and is held across an fdatasync, so that the writer goes on writing
	// while one runs (a writer that syncs takes smu, then dmu).
	smu      sync.Mutex
	dmu      sync.Mutex
	unsynced []unsyncedGroup
	// syncErr is a failed sync of groups written before: whether they are
	// on disk is unknown, and the groups after them chain on them, so
	// nothing more is written or applied until a restart (which finds
	// the records of changing calls in the outbox).
	syncErr error
}

// unsyncedGroup is a group written but not synced: what becomes visible
// of its segment once it is.
type unsyncedGroup struct {
	seg   *segment
	last  uint64
	end   int64
	marks []segMark
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// openSegLog lists the segments in dir, creating dir if needed.
func openSegLog(dir string) (*segLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: segment directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: segment directory: %w", err)
	}
	l := &segLog{dir: dir}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".seg") || e.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 64)
		if err != nil || segName(first) != name || first == 0 {
			return nil, fmt.Errorf("audit: %s: not a segment name", filepath.Join(dir, name))
		}
		l.segs = append(l.segs, &segment{first: first, path: filepath.Join(dir, name), last: first - 1})
	}
	slices.SortFunc(l.segs, func(a, b *segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return l, nil
}

// segFrame is one frame read back.
type segFrame struct {
	seq          uint64
	line, effect []byte
	off, next    int64 // where the frame starts, and the next one
}

// errSegEnd says a segment's frames end here (a zero length: the end of
// what was written).
var errSegEnd = errors.New("end of segment")

// readFrame reads the frame at off from f. It returns errSegEnd at the end
// of the frames, and an error naming the offset for a frame that is torn or
// damaged.
func readFrame(f io.ReaderAt, path string, off int64, buf []byte) (segFrame, []byte, error) {
	var hd [frameHeadSize]byte
	n, err := f.ReadAt(hd[:], off)
	if n < frameHeadSize {
		if n == 0 && errors.Is(err, io.EOF) {
			return segFrame{}, buf, errSegEnd
		}
		if errors.Is(err, io.EOF) {
			return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: truncated frame", path, off)
		}
		return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: %w", path, off, err)
	}
	size := binary.LittleEndian.Uint32(hd[0:4])
	sum := binary.LittleEndian.Uint32(hd[4:8])
	if size == 0 {
		if sum != 0 {
			return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: damaged frame", path, off)
		}
		return segFrame{}, buf, errSegEnd
	}
	if size < payloadHead || size > maxFrame {
		return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: damaged frame (length %d)", path, off, size)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	p := buf[:size]
	if n, err := f.ReadAt(p, off+frameHeadSize); n < len(p) {
		if errors.Is(err, io.EOF) {
			return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: truncated frame", path, off)
		}
		return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: %w", path, off, err)
	}
	if crc32.Checksum(p, castagnoli) != sum {
		return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: damaged frame (checksum)", path, off)
	}
	ll := binary.LittleEndian.Uint32(p[8:12])
	if uint64(ll) > uint64(len(p)-payloadHead) {
		return segFrame{}, buf, fmt.Errorf("audit: %s: offset %d: damaged frame (line length)", path, off)
	}
	fr := segFrame{
		seq:    binary.LittleEndian.Uint64(p[0:8]),
		line:   p[payloadHead : payloadHead+ll],
		effect: p[payloadHead+ll:],
		off:    off,
		next:   off + frameHeadSize + int64(size),
	}
	return fr, buf, nil
}

// appendFrame appends a frame to b.
func appendFrame(b []byte, seq uint64, line, effect []byte) []byte {
	size := payloadHead + len(line) + len(effect)
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(size))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(line)))
	b = append(b, line...)
	b = append(b, effect...)
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+frameHeadSize:], castagnoli))
	return b
}

// readHeader checks a segment's header.
func (s *segment) readHeader(f io.ReaderAt) error {
	var h [segHeaderSize]byte
	if n, _ := f.ReadAt(h[:], 0); n < segHeaderSize {
		return fmt.Errorf("audit: %s: truncated header", s.path)
	}
	if string(h[:8]) != segMagic || binary.LittleEndian.Uint64(h[8:]) != s.first {
		return fmt.Errorf("audit: %s: not a segment of this trail (bad header)", s.path)
	}
	return nil
}

// reader returns the segment opened for reading.
func (s *segment) reader() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rf == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		s.rf = f
	}
	return s.rf, nil
}

// index reads the whole segment once to find its frames (a segment written
// before this process started); upTo is the last seq it may hold (the next
// segment's first - 1).
func (s *segment) index(upTo uint64) error {
	s.mu.Lock()
	done, resumed := s.indexed, s.resumed
	if resumed {
		upTo = min(upTo, s.scanTo)
	}
	s.mu.Unlock()
	if done {
		return nil
	}
	f, err := s.reader()
	if err != nil {
		return err
	}
	if err := s.readHeader(f); err != nil {
		return err
	}
	var marks []segMark
	last, off := s.first-1, int64(segHeaderSize)
	var buf []byte
	for last < upTo {
		var fr segFrame
		fr, buf, err = readFrame(f, s.path, off, buf)
		if errors.Is(err, errSegEnd) {
			break
		}
		if err != nil {
			if upTo != ^uint64(0) && !resumed {
				break // the tail a newer segment supersedes
			}
			return err
		}
		if fr.seq != last+1 {
			return fmt.Errorf("audit: %s: offset %d: record %d where %d was expected", s.path, off, fr.seq, last+1)
		}
		if (fr.seq-s.first)%markEvery == 0 {
			marks = append(marks, segMark{fr.seq, off})
		}
		last, off = fr.seq, fr.next
	}
	s.mu.Lock()
	if !s.indexed {
		if resumed {
			s.marks = append(marks, s.marks...) // the writer's marks come after
		} else {
			s.marks, s.last, s.end = marks, last, off
		}
		s.indexed = true
	}
	s.mu.Unlock()
	return nil
}

// find returns the segment that holds seq, indexed.
func (l *segLog) find(seq uint64) (*segment, error) {
	l.mu.RLock()
	i, _ := slices.BinarySearchFunc(l.segs, seq, func(s *segment, seq uint64) int {
		switch {
		case s.first < seq:
			return -1
		case s.first > seq:
			return 1
		}
		return 0
	})
	if i == len(l.segs) || l.segs[i].first > seq {
		i--
	}
	if i < 0 {
		l.mu.RUnlock()
		return nil, fmt.Errorf("audit: record %d: no segment holds it: %w", seq, store.ErrNotFound)
	}
	s, upTo := l.segs[i], ^uint64(0)
	if i+1 < len(l.segs) {
		upTo = l.segs[i+1].first - 1
	}
	l.mu.RUnlock()
	if err := s.index(upTo); err != nil {
		return nil, err
	}
	return s, nil
}

// scan calls fn with the lines of records from..to, in order. The lines
// are only valid during the call.
func (l *segLog) scan(from, to uint64, fn func(seq uint64, line []byte) error) error {
	var buf []byte
	for seq := from; seq <= to; {
		s, err := l.find(seq)
		if err != nil {
			return err
		}
		s.mu.Lock()
		last, off := s.last, int64(segHeaderSize)
		i, found := slices.BinarySearchFunc(s.marks, seq, func(m segMark, seq uint64) int {
			switch {
			case m.seq < seq:
				return -1
			case m.seq > seq:
				return 1
			}
			return 0
		})
		if !found {
			i--
		}
		cur := s.first
		if i >= 0 {
			cur, off = s.marks[i].seq, s.marks[i].off
		}
		s.mu.Unlock()
		if seq > last {
			return fmt.Errorf("audit: record %d: beyond the end of %s", seq, s.path)
		}
		f, err := s.reader()
		if err != nil {
			return err
		}
		for ; cur <= last && seq <= to; cur++ {
			var fr segFrame
			fr, buf, err = readFrame(f, s.path, off, buf)
			if err != nil {
				if errors.Is(err, errSegEnd) {
					err = fmt.Errorf("audit: %s: offset %d: record %d missing", s.path, off, cur)
				}
				return err
			}
			if fr.seq != cur {
				return fmt.Errorf("audit: %s: offset %d: record %d where %d was expected", s.path, off, fr.seq, cur)
			}
			if cur >= seq {
				if err := fn(cur, fr.line); err != nil {
					return err
				}
				seq = cur + 1
			}
			off = fr.next
		}
	}
	return nil
}

// write appends a group's frames (records first..last) and makes them
// durable and visible to readers. On failure the segment is left as it is
// and the next write starts a new one.
//
// A group written without sync — its records are all durable elsewhere
// until it is applied (in the store's outbox), or the trail syncs behind
// the writes (Options.SyncDelay) — stays invisible to readers, since a
// power loss could lose it, until a later write syncs, or syncWritten
// (which the applier calls before it applies the group, and the trail's
// syncer within SyncDelay).
func (l *segLog) write(frames []byte, first, last uint64, offs []int64, sync bool) error {
	l.dmu.Lock()
	err := l.syncErr
	l.dmu.Unlock()
	if err != nil {
		return err
	}
	if l.w == nil || l.broken || l.off+int64(len(frames)) > segMaxSize && l.off > segHeaderSize {
		if err := l.startSegment(first); err != nil {
			l.broken = true
			return err
		}
	}
	if err := segWriteFault.Load(); err != nil {
		l.broken = true
		return *err
	}
	end := l.off + int64(len(frames))
	if end > l.alloc {
		grow := (end - l.alloc + segChunk - 1) / segChunk * segChunk
		if err := l.grow(l.w, l.alloc, grow); err != nil {
			l.broken = true
			return fmt.Errorf("audit: growing %s: %w", l.wseg.path, err)
		}
		l.alloc += grow
	}
	if _, err := l.w.WriteAt(frames, l.off); err != nil {
		l.broken = true
		return fmt.Errorf("audit: writing %s: %w", l.wseg.path, err)
	}
	s := l.wseg
	g := unsyncedGroup{seg: s, last: last, end: end}
	for i, seq := 0, first; seq <= last; i, seq = i+1, seq+1 {
		if (seq-s.first)%markEvery == 0 && (!s.resumed || seq > s.scanTo) {
			g.marks = append(g.marks, segMark{seq, l.off + offs[i]})
		}
	}
	l.off = end
	l.dmu.Lock()
	l.unsynced = append(l.unsynced, g)
	l.dmu.Unlock()
	if !sync {
		return nil
	}
	if err := l.syncGroups(1); err != nil {
		l.broken = true // this group failed: it never becomes visible
		return err
	}
	return nil
}

// grow makes f's [off, off+n) zeros, space taken: allocated when
// allocOnly (and the file system can), written otherwise.
func (l *segLog) grow(f *os.File, off, n int64) error {
	if l.allocOnly {
		if err := allocate(f, off, n); !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	for n > 0 {
		k := min(n, segChunk)
		if _, err := f.WriteAt(zeroChunk[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// syncWritten makes the groups written without sync durable and visible.
func (l *segLog) syncWritten() error {
	return l.syncGroups(0)
}

// syncGroups syncs w and makes the groups written before it began durable
// and visible. The last own groups of unsynced are the caller's, the
// writer's (who writes nothing while it waits): a failure that covers only
// them is theirs alone, and drops them; one that covers groups written
// before sets syncErr.
func (l *segLog) syncGroups(own int) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	l.dmu.Lock()
	n, w, path, err := len(l.unsynced), l.w, "", l.syncErr
	if l.wseg != nil {
		path = l.wseg.path
	}
	l.dmu.Unlock()
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	// Every group of unsynced[:n] was written to w before it was listed:
	// this fdatasync covers them.
	err = durable.Fdatasync(w)
	if f := segSyncFault.Load(); f != nil {
		err = *f
	}
	l.dmu.Lock()
	defer l.dmu.Unlock()
	if err != nil {
		err = fmt.Errorf("audit: syncing %s: %w", path, err)
		if n > own {
			l.syncErr = fmt.Errorf("%w; the trail takes no more records until strongroom restarts", err)
			return l.syncErr
		}
		l.unsynced = slices.Delete(l.unsynced, n-own, n)
		return err
	}
	for _, g := range l.unsynced[:n] {
		s := g.seg
		s.mu.Lock()
		s.marks = append(s.marks, g.marks...)
		s.last, s.end = g.last, g.end
		s.mu.Unlock()
	}
	l.unsynced = slices.Delete(l.unsynced, 0, n)
	return nil
}

// startSegment creates the segment whose first record is first, and makes
// it the one written.
func (l *segLog) startSegment(first uint64) error {
	if l.w != nil {
		err := l.syncGroups(0)
		l.smu.Lock() // no sync of the old file under way
		l.dmu.Lock()
		l.unsynced = nil // a failed sync: syncErr holds the trail
		old := l.w
		l.w = nil
		l.dmu.Unlock()
		old.Close()
		l.smu.Unlock()
		if err != nil {
			return err
		}
	}
	s := &segment{first: first, path: filepath.Join(l.dir, segName(first)), last: first - 1, indexed: true, end: segHeaderSize}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("audit: creating a segment: %w", err)
	}
	var hd [segHeaderSize]byte
	copy(hd[:], segMagic)
	binary.LittleEndian.PutUint64(hd[8:], first)
	_, err = f.WriteAt(hd[:], 0)
	if err == nil {
		err = l.grow(f, segHeaderSize, segChunk-segHeaderSize)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: creating %s: %w", s.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: creating %s: %w", s.path, err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.mu.Lock()
	// A segment that starts where an older one does replaces it (a group
	// that failed at the very start of a segment).
	l.segs = slices.DeleteFunc(l.segs, func(o *segment) bool { return o.first >= first })
	l.segs = append(l.segs, s)
	l.dmu.Lock() // wseg is read under mu (removeBefore) and under dmu (syncs)
	l.w, l.wseg = f, s
	l.dmu.Unlock()
	l.mu.Unlock()
	l.off, l.alloc, l.broken = segHeaderSize, segChunk, false
	return nil
}

// resume makes s, whose frames end at off, the segment written next.
func (l *segLog) resume(s *segment, off int64) error {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	l.w, l.wseg, l.off, l.alloc, l.broken = f, s, off, fi.Size(), false
	return nil
}

// close closes the files.
func (l *segLog) close() error {
	var err error
	l.smu.Lock()
	l.dmu.Lock()
	if l.w != nil {
		err = l.w.Close()
		l.w = nil
	}
	l.dmu.Unlock()
	l.smu.Unlock()
	l.mu.Lock()
	for _, s := range l.segs {
		s.mu.Lock()
		if s.rf != nil {
			s.rf.Close()
			s.rf = nil
		}
		s.mu.Unlock()
	}
	l.mu.Unlock()
	return err
}

// remove deletes the segments whose records all come before seq, except the
// newest, and returns how many it removed.
func (l *segLog) removeBefore(seq uint64) (int, error) {
	l.mu.Lock()
	var gone []*segment
	for len(l.segs) > 1 && l.segs[1].first <= seq && l.segs[0] != l.wseg {
		gone = append(gone, l.segs[0])
		l.segs = l.segs[1:]
	}
	l.mu.Unlock()
	for _, s := range gone {
		s.mu.Lock()
		if s.rf != nil {
			s.rf.Close()
			s.rf = nil
		}
		s.mu.Unlock()
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("audit: removing a pruned segment: %w", err)
		}
	}
	if len(gone) > 0 {
		return len(gone), syncDir(l.dir)
	}
	return 0, nil
}

// truncateSync cuts the file at path to size, durably.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("audit: syncing %s: %w", dir, err)
	}
	return nil
}
