package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	bbolt "go.etcd.io/bbolt"
)

// walkPages checks the page structure of the snapshot of the read
// transaction btx, as bbolt's Tx.Check does for its reachability part, but
// reading the file with pread (nothing mapped in, nothing resident after)
// and against the snapshot's own free list, so that it is right while
// writes go on (Tx.Check compares with the live free list, which
// concurrent commits change: it reports healthy files as damaged unless
// writers are stopped). Every page below the high-water mark must be
// exactly one of: a meta page, the free list's, free, or reachable once
// from the root, with a header that names it and a type that fits; every
// element must lie inside its page. It never panics on a damaged file: all
// it reads is bounds-checked.
//
// It reads the snapshot's meta page, which a writer may overwrite two
// commits later: errStaleMeta then says to begin again.
func (s *Store) walkPages(btx *bbolt.Tx) error {
	w, err := s.newPageWalker(btx)
	if err != nil {
		return err
	}
	defer w.f.Close()
	return w.walk()
}

// newPageWalker reads the meta page of btx's snapshot.
func (s *Store) newPageWalker(btx *bbolt.Tx) (*pageWalker, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("bolt: %w", err)
	}
	w := &pageWalker{f: f, ps: s.pageSize, hwm: uint64(btx.Size()) / uint64(s.pageSize)}
	for id := range uint64(2) {
		m, err := w.read(id, 0)
		if err != nil {
			f.Close()
			return nil, err
		}
		if len(m) < 80 || binary.NativeEndian.Uint64(m[64:]) != uint64(btx.ID()) {
			continue
		}
		w.root, w.freelistID = binary.NativeEndian.Uint64(m[32:]), binary.NativeEndian.Uint64(m[48:])
		if hwm := binary.NativeEndian.Uint64(m[56:]); hwm != w.hwm {
			f.Close()
			return nil, fmt.Errorf("meta page %d: high-water mark %d, the transaction says %d", id, hwm, w.hwm)
		}
		return w, nil
	}
	f.Close()
	return nil, errStaleMeta
}

// walk checks the pages of the snapshot newPageWalker read.
func (w *pageWalker) walk() error {
	w.used = make([]byte, w.hwm)
	w.used[0], w.used[1] = 'm', 'm'
	if w.freelistID != noFreelist {
		if err := w.freelist(w.freelistID); err != nil {
			return err
		}
	}
	if err := w.tree(w.root); err != nil {
		return err
	}
	for id, u := range w.used {
		if u == 0 {
			return fmt.Errorf("page %d: neither reachable nor free", id)
		}
	}
	return nil
}

var errStaleMeta = errors.New("bolt: the snapshot's meta page was overwritten")

// The on-disk format of bbolt (go.etcd.io/bbolt/internal/common): a page
// starts with id u64, flags u16, count u16, overflow u32; branch elements
// are pos u32, ksize u32, pgid u64; leaf elements flags u32, pos u32,
// ksize u32, vsize u32; an element's key starts pos bytes after the
// element. A bucket's value is root u64, sequence u64, and, when root is
// 0, the bucket's page inline.
const (
	pageHeader    = 16
	elementSize   = 16
	branchFlag    = 0x01
	leafFlag      = 0x02
	freelistFlag  = 0x10
	bucketElement = 0x01
	noFreelist    = ^uint64(0)
)

type pageWalker struct {
	f   *os.File
	ps  int
	hwm uint64
	// root and freelistID are the snapshot's root bucket page and free
	// list page.
	root, freelistID uint64
	// used marks each page below the high-water mark: 'm' meta, 'f' free
	// list page, 'F' free, 't' tree.
	used []byte
	buf  []byte
}

// read returns page id with its overflow pages, checking that they lie
// below the high-water mark and that the page names itself, and marks
// them used as mark (0: not marked). The result is valid until the next
// read.
func (w *pageWalker) read(id uint64, mark byte) ([]byte, error) {
	if id >= w.hwm {
		return nil, fmt.Errorf("page %d: beyond the high-water mark %d", id, w.hwm)
	}
	if cap(w.buf) < w.ps {
		w.buf = make([]byte, w.ps)
	}
	p := w.buf[:w.ps]
	if _, err := w.f.ReadAt(p, int64(id)*int64(w.ps)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if got := binary.NativeEndian.Uint64(p); got != id {
		return nil, fmt.Errorf("page %d: its header names page %d", id, got)
	}
	over := uint64(binary.NativeEndian.Uint32(p[12:]))
	if over >= w.hwm || id+over >= w.hwm {
		return nil, fmt.Errorf("page %d: %d overflow pages reach beyond the high-water mark %d", id, over, w.hwm)
	}
	if over > 0 {
		n := int(over+1) * w.ps
		if cap(w.buf) < n {
			grown := make([]byte, n)
			copy(grown, p)
			w.buf = grown
		}
		p = w.buf[:n]
		if _, err := w.f.ReadAt(p[w.ps:], int64(id+1)*int64(w.ps)); err != nil {
			return nil, fmt.Errorf("page %d: %w", id, err)
		}
	}
	if mark != 0 {
		for i := id; i <= id+over; i++ {
			if prev := w.used[i]; prev != 0 {
				return nil, fmt.Errorf("page %d: used twice (%s and %s)", i, usage(prev), usage(mark))
			}
			w.used[i] = mark
		}
	}
	return p, nil
}

func usage(b byte) string {
	switch b {
	case 'm':
		return "meta"
	case 'f':
		return "free list"
	case 'F':
		return "free"
	}
	return "tree"
}

// freelist marks the free-list page and the free pages it lists.
func (w *pageWalker) freelist(id uint64) error {
	if id < 2 {
		return fmt.Errorf("meta page: free list at page %d", id)
	}
	p, err := w.read(id, 'f')
	if err != nil {
		return err
	}
	if flags := binary.NativeEndian.Uint16(p[8:]); flags != freelistFlag {
		return fmt.Errorf("page %d: the free list's page has flags %#x", id, flags)
	}
	n, ids := uint64(binary.NativeEndian.Uint16(p[10:])), p[pageHeader:]
	if n == 0xFFFF {
		if len(ids) < 8 {
			return fmt.Errorf("page %d: free list cut short", id)
		}
		n, ids = binary.NativeEndian.Uint64(ids), ids[8:]
	}
	if n > uint64(len(ids)/8) {
		return fmt.Errorf("page %d: the free list counts %d pages, its page holds %d", id, n, len(ids)/8)
	}
	free := make([]uint64, n)
	for i := range free {
		free[i] = binary.NativeEndian.Uint64(ids[8*i:])
	}
	for _, fid := range free {
		if fid < 2 || fid >= w.hwm {
			return fmt.Errorf("page %d: the free list holds page %d, outside [2, %d)", id, fid, w.hwm)
		}
		if prev := w.used[fid]; prev != 0 {
			return fmt.Errorf("page %d: used twice (%s and free)", fid, usage(prev))
		}
		w.used[fid] = 'F'
	}
	return nil
}

// tree walks the bucket tree from the root bucket's root page.
func (w *pageWalker) tree(root uint64) error {
	stack := []uint64{root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id < 2 {
			return fmt.Errorf("a tree page points to page %d", id)
		}
		p, err := w.read(id, 't')
		if err != nil {
			return err
		}
		more, err := walkElements(id, p)
		if err != nil {
			return err
		}
		stack = append(stack, more...)
	}
	return nil
}

// walkElements checks a branch or leaf page (p may be a bucket's inline
// page) and returns the pages it points to: a branch's children, the root
// pages of the buckets a leaf holds (and of those inline in it).
func walkElements(id uint64, p []byte) ([]uint64, error) {
	if len(p) < pageHeader {
		return nil, fmt.Errorf("page %d: cut short", id)
	}
	flags, count := binary.NativeEndian.Uint16(p[8:]), int(binary.NativeEndian.Uint16(p[10:]))
	if pageHeader+count*elementSize > len(p) {
		return nil, fmt.Errorf("page %d: %d elements do not fit in it", id, count)
	}
	var out []uint64
	for i := range count {
		e := pageHeader + i*elementSize
		switch flags {
		case branchFlag:
			pos, ksize := uint64(binary.NativeEndian.Uint32(p[e:])), uint64(binary.NativeEndian.Uint32(p[e+4:]))
			if uint64(e)+pos+ksize > uint64(len(p)) {
				return nil, fmt.Errorf("page %d: element %d's key lies outside the page", id, i)
			}
			out = append(out, binary.NativeEndian.Uint64(p[e+8:]))
		case leafFlag:
			a, pos, ksize, vsize := binary.NativeEndian.Uint32(p[e:]), uint64(binary.NativeEndian.Uint32(p[e+4:])), uint64(binary.NativeEndian.Uint32(p[e+8:])), uint64(binary.NativeEndian.Uint32(p[e+12:]))
			end := uint64(e) + pos + ksize + vsize
			if end > uint64(len(p)) {
				return nil, fmt.Errorf("page %d: element %d lies outside the page", id, i)
			}
			if a&bucketElement == 0 {
				continue
			}
			v := p[uint64(e)+pos+ksize : end]
			if len(v) < 16 {
				return nil, fmt.Errorf("page %d: element %d: a bucket header cut short", id, i)
			}
			if r := binary.NativeEndian.Uint64(v); r != 0 {
				out = append(out, r)
				continue
			}
			inline, err := walkElements(id, v[16:])
			if err != nil {
				return nil, err
			}
			out = append(out, inline...)
		default:
			return nil, fmt.Errorf("page %d: a tree page with flags %#x", id, flags)
		}
	}
	if flags == branchFlag && count == 0 {
		return nil, fmt.Errorf("page %d: an empty branch page", id)
	}
	return out, nil
}
