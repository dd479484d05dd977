package storage

import (
	"github.com/raftsidecar/raft/messages"
)

// Batch is one atomic change. Applied in this order: Identity (if non-nil), HardState (if
// non-nil), Config (if non-nil), then if TruncateFrom > 0 delete every entry with index >=
// TruncateFrom, then write Entries.
//
// Write rejects a Batch, changing nothing, with an error wrapping ErrInvalidBatch when:
//   - Identity has an empty ClusterID or a zero NodeID, or differs from the identity
//     already stored (an identity, once stored, never changes; writing it again is fine);
//   - HardState has a lower term than the one stored, or the same term and a different
//     vote when a vote is already stored for that term (a node votes once per term);
//   - TruncateFrom > 0 and it is outside [FirstIndex, LastIndex+1];
//   - an entry is nil, has type ENTRY_TYPE_UNSPECIFIED or term 0;
//   - the first entry's index is not TruncateFrom (when TruncateFrom > 0) or LastIndex+1
//     (otherwise), so that an empty log starts at index 1, or the entries are not
//     contiguous;
//   - the entry terms decrease, or the first entry's term is below the term of the entry
//     just before it in the log.
//
// Write does not keep the Batch or its messages: the caller may reuse them afterwards.
type Batch struct {
	// Identity, when non-nil, is stored as the node's identity.
	Identity *Identity
	// HardState, when non-nil, replaces the stored hard state.
	HardState *messages.HardState
	// Config, when non-nil, replaces the stored base configuration.
	Config *messages.Configuration
	// TruncateFrom, when > 0, deletes every entry with index >= TruncateFrom.
	TruncateFrom uint64
	// Entries are appended (after the truncation); they must be contiguous.
	Entries []*messages.Entry
}

// current is the part of a store's state that validation needs.
type current struct {
	meta     logMeta
	identity Identity // zero when none is stored
	term     uint64   // of the stored hard state
	vote     uint64   // of the stored hard state
}

// validate checks b against the state cur and returns the log bounds after b. termAt
// returns the term of a stored entry in [cur.meta.first, cur.meta.last); it is called at
// most once, when b truncates. An error from termAt is returned as it is: it is not the
// batch's fault.
func (b *Batch) validate(cur *current, termAt func(index uint64) (uint64, error)) (logMeta, error) {
	if id := b.Identity; id != nil {
		if id.ClusterID == "" || id.NodeID == 0 {
			return logMeta{}, invalidf("identity (cluster %q, node %d) needs a cluster id and a nonzero node id",
				id.ClusterID, id.NodeID)
		}
		if !cur.identity.IsZero() && *id != cur.identity {
			return logMeta{}, invalidf("identity (cluster %q, node %d) differs from the stored identity (cluster %q, node %d)",
				id.ClusterID, id.NodeID, cur.identity.ClusterID, cur.identity.NodeID)
		}
	}
	if hs := b.HardState; hs != nil {
		if hs.GetTerm() < cur.term {
			return logMeta{}, invalidf("hard state term %d is below the stored term %d", hs.GetTerm(), cur.term)
		}
		if hs.GetTerm() == cur.term && cur.vote != 0 && hs.GetVote() != cur.vote {
			return logMeta{}, invalidf("hard state changes the vote of term %d from %d to %d",
				cur.term, cur.vote, hs.GetVote())
		}
	}

	next := cur.meta
	want := cur.meta.last + 1 // index of the first entry of b
	if b.TruncateFrom > 0 {
		if b.TruncateFrom < cur.meta.first || b.TruncateFrom > cur.meta.last+1 {
			return logMeta{}, invalidf("truncate from %d is outside [%d, %d]",
				b.TruncateFrom, cur.meta.first, cur.meta.last+1)
		}
		want = b.TruncateFrom
	}
	if len(b.Entries) == 0 && b.TruncateFrom == 0 {
		return next, nil
	}

	// Term of the entry just before the first one of b, which b leaves in place.
	var prevTerm uint64
	switch prev := want - 1; {
	case prev == 0:
	case prev == cur.meta.last:
		prevTerm = cur.meta.lastTerm
	default:
		t, err := termAt(prev)
		if err != nil {
			return logMeta{}, err
		}
		prevTerm = t
	}
	next.last, next.lastTerm = want-1, prevTerm

	for i, e := range b.Entries {
		if e == nil {
			return logMeta{}, invalidf("entry %d of the batch is nil", i)
		}
		if e.GetIndex() != want+uint64(i) {
			if i == 0 {
				return logMeta{}, invalidf("first entry has index %d, want %d", e.GetIndex(), want)
			}
			return logMeta{}, invalidf("entries not contiguous: index %d follows %d", e.GetIndex(), want+uint64(i)-1)
		}
		if e.GetType() == messages.EntryType_ENTRY_TYPE_UNSPECIFIED {
			return logMeta{}, invalidf("entry %d has no type", e.GetIndex())
		}
		if e.GetTerm() == 0 {
			return logMeta{}, invalidf("entry %d has term 0", e.GetIndex())
		}
		if e.GetTerm() < next.lastTerm {
			return logMeta{}, invalidf("entry %d has term %d, below the term %d of entry %d before it",
				e.GetIndex(), e.GetTerm(), next.lastTerm, e.GetIndex()-1)
		}
		next.last, next.lastTerm = e.GetIndex(), e.GetTerm()
	}
	return next, nil
}
