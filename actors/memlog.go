package actors

import (
	"github.com/raftsidecar/raft/messages"
)

// storedEntries reads the entries of the log that are on disk: the part of storage.Storage
// RaftNode reads from (Persistence alone writes).
type storedEntries interface {
	Entries(lo, hi uint64) ([]*messages.Entry, error)
	Term(index uint64) (uint64, error)
}

// maxStoredRead bounds how many entries one read from storage returns when the caller
// gives no count: reads of old entries come in chunks, never the whole log at once.
const maxStoredRead = 1024

// memLog is RaftNode's view of its log, entries 1..last. The newest entries are held in
// memory (entries, after offset); older ones, which are durable, are read back from storage
// when needed (a follower far behind, a subscriber catching up). Entries leave memory only
// once committed (release), but a restarted node loads just the newest entries, and those
// before them may be an uncommitted tail a leader still replaces (truncateFrom). The
// configuration entries are all held, whatever their age. Entries are immutable once
// appended, so slices of them may be handed to other actors.
type memLog struct {
	stored  storedEntries     // entries 1..offset; nil when offset is 0
	offset  uint64            // index of the entry before entries[0]
	entries []*messages.Entry // entries[i] has index offset+i+1
	bytes   int               // payload bytes held in entries
	configs []*messages.Entry // every configuration entry of the log, by index
	fail    func(error)       // called when a read from storage fails
}

// newMemLog returns a log holding tail in memory (the newest entries, contiguous, ending
// at the end of the log; may be empty only for an empty log), with stored reading
// everything before it and configs the log's configuration entries.
func newMemLog(stored storedEntries, tail, configs []*messages.Entry, fail func(error)) memLog {
	l := memLog{stored: stored, fail: fail, configs: configs}
	if len(tail) > 0 {
		l.offset = tail[0].Index - 1
	}
	l.entries = tail
	for _, e := range tail {
		l.bytes += len(e.Data)
	}
	return l
}

func (l *memLog) lastIndex() uint64 { return l.offset + uint64(len(l.entries)) }

func (l *memLog) lastTerm() uint64 { return l.term(l.lastIndex()) }

// cached reports whether the entry at index is held in memory.
func (l *memLog) cached(index uint64) bool { return index > l.offset && index <= l.lastIndex() }

// term returns the term of the entry at index, 0 for index 0 or past the end.
func (l *memLog) term(index uint64) uint64 {
	if index == 0 || index > l.lastIndex() {
		return 0
	}
	if l.cached(index) {
		return l.entries[index-l.offset-1].Term
	}
	t, err := l.stored.Term(index)
	if err != nil {
		l.fail(err)
		return 0
	}
	return t
}

// entry returns the entry at index (which must exist), or nil if storage cannot read it.
func (l *memLog) entry(index uint64) *messages.Entry {
	if l.cached(index) {
		return l.entries[index-l.offset-1]
	}
	es := l.slice(index, index, 1, 0)
	if len(es) == 0 {
		return nil
	}
	return es[0]
}

// slice returns entries lo..hi inclusive, capped at maxCount entries (0: no cap) and
// maxBytes of payload (0: no cap), and at least one entry when any is available. Entries
// read from storage come in chunks: the result then ends before the first cached entry
// and holds at most maxStoredRead entries; ask again from where it stops.
func (l *memLog) slice(lo, hi uint64, maxCount, maxBytes int) []*messages.Entry {
	if lo == 0 || lo > hi || lo > l.lastIndex() {
		return nil
	}
	hi = min(hi, l.lastIndex())
	n := int(hi - lo + 1)
	if maxCount > 0 && n > maxCount {
		n = maxCount
	}
	var out []*messages.Entry
	if l.cached(lo) {
		start := lo - l.offset - 1
		out = l.entries[start : start+uint64(n)]
	} else {
		n = min(n, int(l.offset-lo+1), maxStoredRead)
		read, err := l.stored.Entries(lo, lo+uint64(n))
		if err != nil {
			l.fail(err)
			return nil
		}
		out = read
	}
	if maxBytes > 0 {
		size := 0
		for i, e := range out {
			size += len(e.Data) + 32
			if size > maxBytes && i > 0 {
				out = out[:i]
				break
			}
		}
	}
	return out[:len(out):len(out)]
}

// append adds entries that must start at lastIndex+1.
func (l *memLog) append(entries ...*messages.Entry) {
	l.entries = append(l.entries, entries...)
	for _, e := range entries {
		l.bytes += len(e.Data)
		if e.Type == messages.EntryType_ENTRY_TYPE_CONFIG {
			l.configs = append(l.configs, e)
		}
	}
}

// truncateFrom removes every entry at or above index (the caller makes sure none of them is
// committed). Entries removed below offset are those of an uncommitted tail longer than
// what a restart loaded: memory then starts empty at index, and the entries before it are
// read from storage, which keeps them (Persistence deletes only from index on).
func (l *memLog) truncateFrom(index uint64) {
	if index == 0 || index > l.lastIndex() {
		return
	}
	if index <= l.offset {
		l.offset = index - 1
		l.entries, l.bytes = nil, 0
		l.dropConfigsFrom(index)
		return
	}
	keep := index - l.offset - 1
	for _, e := range l.entries[keep:] {
		l.bytes -= len(e.Data)
	}
	// Capping the capacity makes the next append copy to a fresh array, so slices of the
	// old entries already handed to other actors are never overwritten.
	l.entries = l.entries[:keep:keep]
	l.dropConfigsFrom(index)
}

// dropConfigsFrom forgets the configuration entries at or above index.
func (l *memLog) dropConfigsFrom(index uint64) {
	for len(l.configs) > 0 && l.configs[len(l.configs)-1].Index >= index {
		l.configs = l.configs[:len(l.configs)-1]
	}
}

// release lets entries up to upTo (which must be durable and committed) leave memory once
// more than keepCount entries, or more than keepBytes of payload, are held; the newest
// entry always stays. It then drops the oldest down to three quarters of those limits, so
// the copy this costs is amortised over many appends.
func (l *memLog) release(upTo uint64, keepCount, keepBytes int) {
	if l.stored == nil || (len(l.entries) <= keepCount && l.bytes <= keepBytes) {
		return
	}
	upTo = min(upTo, l.lastIndex()-1)
	if upTo <= l.offset {
		return
	}
	targetCount, targetBytes := keepCount*3/4, keepBytes*3/4
	drop, bytes := 0, l.bytes
	for drop < int(upTo-l.offset) && (len(l.entries)-drop > targetCount || bytes > targetBytes) {
		bytes -= len(l.entries[drop].Data)
		drop++
	}
	if drop == 0 {
		return
	}
	rest := make([]*messages.Entry, len(l.entries)-drop, max(len(l.entries)-drop, keepCount))
	copy(rest, l.entries[drop:])
	l.entries, l.bytes, l.offset = rest, bytes, l.offset+uint64(drop)
}

// firstIndexOfTerm returns the first index at or before index whose entries, back to it,
// all have the term of index; it does not look below floor.
func (l *memLog) firstIndexOfTerm(index, floor uint64) uint64 {
	t := l.term(index)
	i := index
	for i > floor+1 && i > 1 && l.term(i-1) == t {
		i--
	}
	return i
}

// lastConfig returns the newest configuration entry at or below upTo, with its index, or
// (nil, 0) when there is none.
func (l *memLog) lastConfig(upTo uint64) (*messages.Configuration, uint64) {
	for i := len(l.configs) - 1; i >= 0; i-- {
		if e := l.configs[i]; e.Index <= upTo {
			return e.Config, e.Index
		}
	}
	return nil, 0
}
