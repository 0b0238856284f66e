package bolt

import (
	"slices"
	"sort"
	"sync"

	"strongroom/internal/store"
)

// The memtable holds the commits that are durable in the redo log but not
// yet applied to the bbolt file (redo.go), as versions: every write of
// commit seq to a record is one version of it. A read looks here first —
// the newest version at or before its snapshot — and in the file after.
//
// A version stays until the file holds it and no reader can still need it:
// apply writes the versions up to seq S in a bbolt commit X, and drop
// removes them once every open reader's bbolt snapshot is X or later (see
// Store.readers).

// version is one write of a record: its value, or its deletion.
type version struct {
	seq uint64
	val []byte // the value (nil for a deletion)
	del bool
}

// entry is a record's version, named by id.
type entry struct {
	id string
	version
}

// scopeTab holds the versions of the records of one (kind, scope).
type scopeTab struct {
	ids  []string             // the ids with versions, sorted
	vers map[string][]version // by id, oldest first
}

type memtable struct {
	mu    sync.RWMutex
	seq   uint64 // the newest commit published
	kinds map[store.Kind]map[string]*scopeTab
	n     int // versions held
}

func newMemtable(seq uint64) *memtable {
	return &memtable{seq: seq, kinds: map[store.Kind]map[string]*scopeTab{}}
}

// at returns the newest commit published.
func (m *memtable) at() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.seq
}

// size returns the number of versions held.
func (m *memtable) size() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.n
}

// newest returns the last of vs at or before at.
func newest(vs []version, at uint64) (version, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].seq <= at {
			return vs[i], true
		}
	}
	return version{}, false
}

// get returns the newest version of a record at or before at.
func (m *memtable) get(kind store.Kind, scope, id string, at uint64) (version, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := m.kinds[kind][scope]
	if st == nil {
		return version{}, false
	}
	return newest(st.vers[id], at)
}

// span returns, in id order, the newest version at or before at of every
// record of (kind, scope) whose id sorts after `after`.
func (m *memtable) span(kind store.Kind, scope, after string, at uint64) []entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := m.kinds[kind][scope]
	if st == nil {
		return nil
	}
	i := sort.SearchStrings(st.ids, after)
	var out []entry
	for ; i < len(st.ids); i++ {
		id := st.ids[i]
		if id <= after {
			continue
		}
		if v, ok := newest(st.vers[id], at); ok {
			out = append(out, entry{id, v})
		}
	}
	return out
}

// publish adds the writes of commit seq, which must follow the last one.
func (m *memtable) publish(seq uint64, w *writeSet) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for kind, scopes := range w.kinds {
		tabs := m.kinds[kind]
		if tabs == nil {
			tabs = map[string]*scopeTab{}
			m.kinds[kind] = tabs
		}
		for scope, recs := range scopes {
			st := tabs[scope]
			if st == nil {
				st = &scopeTab{vers: map[string][]version{}}
				tabs[scope] = st
			}
			for id, v := range recs {
				vs, ok := st.vers[id]
				if !ok {
					i, _ := slices.BinarySearch(st.ids, id)
					st.ids = slices.Insert(st.ids, i, id)
				}
				v.seq = seq
				st.vers[id] = append(vs, v)
				m.n++
			}
		}
	}
	m.seq = seq
}

// applyItem is a record's newest version at or before a commit, for apply.
type applyItem struct {
	kind  store.Kind
	scope string
	entry
}

// upTo returns the newest version at or before seq of every record that
// has one, ordered by kind, scope and id.
func (m *memtable) upTo(seq uint64) (out []applyItem) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for kind, tabs := range m.kinds {
		for scope, st := range tabs {
			for _, id := range st.ids {
				if v, ok := newest(st.vers[id], seq); ok {
					out = append(out, applyItem{kind, scope, entry{id, v}})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b applyItem) int {
		if a.kind != b.kind {
			if a.kind < b.kind {
				return -1
			}
			return 1
		}
		if a.scope != b.scope {
			if a.scope < b.scope {
				return -1
			}
			return 1
		}
		if a.id < b.id {
			return -1
		}
		return 1
	})
	return out
}

// drop removes every version at or before seq: the file holds them, and
// no reader needs them.
func (m *memtable) drop(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for kind, tabs := range m.kinds {
		for scope, st := range tabs {
			ids := st.ids[:0]
			for _, id := range st.ids {
				vs := st.vers[id]
				k := 0
				for k < len(vs) && vs[k].seq <= seq {
					k++
				}
				m.n -= k
				if k == len(vs) {
					delete(st.vers, id)
					continue
				}
				st.vers[id] = slices.Clone(vs[k:])
				ids = append(ids, id)
			}
			clear(st.ids[len(ids):])
			st.ids = ids
			if len(ids) == 0 {
				delete(tabs, scope)
			}
		}
		if len(tabs) == 0 {
			delete(m.kinds, kind)
		}
	}
}

// writeSet is a write transaction's writes, not yet committed: the last
// write of each record.
type writeSet struct {
	kinds map[store.Kind]map[string]map[string]version
	n     int
}

func newWriteSet() *writeSet {
	return &writeSet{kinds: map[store.Kind]map[string]map[string]version{}}
}

func (w *writeSet) get(kind store.Kind, scope, id string) (version, bool) {
	v, ok := w.kinds[kind][scope][id]
	return v, ok
}

func (w *writeSet) set(kind store.Kind, scope, id string, v version) {
	scopes := w.kinds[kind]
	if scopes == nil {
		scopes = map[string]map[string]version{}
		w.kinds[kind] = scopes
	}
	recs := scopes[scope]
	if recs == nil {
		recs = map[string]version{}
		scopes[scope] = recs
	}
	if _, ok := recs[id]; !ok {
		w.n++
	}
	recs[id] = v
}

// span is memtable.span for the write set.
func (w *writeSet) span(kind store.Kind, scope, after string) []entry {
	recs := w.kinds[kind][scope]
	var out []entry
	for id, v := range recs {
		if id > after {
			out = append(out, entry{id, v})
		}
	}
	slices.SortFunc(out, func(a, b entry) int {
		if a.id < b.id {
			return -1
		}
		return 1
	})
	return out
}

// over merges two spans in id order, upper's version winning where both
// have an id.
func over(upper, lower []entry) []entry {
	if len(upper) == 0 {
		return lower
	}
	if len(lower) == 0 {
		return upper
	}
	out := make([]entry, 0, len(upper)+len(lower))
	i, j := 0, 0
	for i < len(upper) || j < len(lower) {
		switch {
		case j == len(lower) || i < len(upper) && upper[i].id < lower[j].id:
			out = append(out, upper[i])
			i++
		case i == len(upper) || lower[j].id < upper[i].id:
			out = append(out, lower[j])
			j++
		default:
			out = append(out, upper[i])
			i, j = i+1, j+1
		}
	}
	return out
}
