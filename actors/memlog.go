package actors

import "github.com/raftsidecar/raft/messages"

// memLog is RaftNode's in-memory copy of its log: entries 1..last in order. Entries are
// immutable once appended, so slices of them may be handed to other actors.
type memLog struct {
	entries []*messages.Entry // entries[i] has index i+1
}

func (l *memLog) lastIndex() uint64 { return uint64(len(l.entries)) }

func (l *memLog) lastTerm() uint64 { return l.term(l.lastIndex()) }

// term returns the term of the entry at index, 0 for index 0 or past the end.
func (l *memLog) term(index uint64) uint64 {
	if index == 0 || index > l.lastIndex() {
		return 0
	}
	return l.entries[index-1].Term
}

// entry returns the entry at index (which must exist).
func (l *memLog) entry(index uint64) *messages.Entry { return l.entries[index-1] }

// slice returns entries lo..hi inclusive, capped at maxCount entries and maxBytes of payload
// (at least one entry when any is available).
func (l *memLog) slice(lo, hi uint64, maxCount, maxBytes int) []*messages.Entry {
	if lo == 0 || lo > hi || lo > l.lastIndex() {
		return nil
	}
	if hi > l.lastIndex() {
		hi = l.lastIndex()
	}
	n := int(hi - lo + 1)
	if maxCount > 0 && n > maxCount {
		n = maxCount
	}
	out := l.entries[lo-1 : lo-1+uint64(n)]
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
}

// truncateFrom removes every entry at or above index.
func (l *memLog) truncateFrom(index uint64) {
	if index == 0 || index > l.lastIndex() {
		return
	}
	// Capping the capacity makes the next append copy to a fresh array, so slices of the
	// old entries already handed to other actors are never overwritten.
	l.entries = l.entries[: index-1 : index-1]
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
	if upTo > l.lastIndex() {
		upTo = l.lastIndex()
	}
	for i := upTo; i >= 1; i-- {
		if e := l.entries[i-1]; e.Type == messages.EntryType_ENTRY_TYPE_CONFIG {
			return e.Config, i
		}
	}
	return nil, 0
}
