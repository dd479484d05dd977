package actors

import (
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"github.com/stretchr/testify/require"
)

func cmdEntries(from uint64, terms ...uint64) []*messages.Entry {
	var out []*messages.Entry
	for i, t := range terms {
		out = append(out, &messages.Entry{Index: from + uint64(i), Term: t, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte{1}})
	}
	return out
}

// Requests queued before the flush land in one batch; one Persisted acknowledges them all.
func TestPersistenceGroupCommit(t *testing.T) {
	store := storage.NewMemory()
	p := newPersistenceLogic(store, SystemClock{})
	p.handle(&messages.PersistRequest{Seq: 1, HardState: &messages.HardState{Term: 1, Vote: 1}})
	outs := p.drain()
	require.Len(t, outs, 1)
	require.IsType(t, &messages.FlushPersistence{}, outs[0].msg)
	p.handle(&messages.PersistRequest{Seq: 2, Entries: cmdEntries(1, 1, 1)})
	p.handle(&messages.PersistRequest{Seq: 3, Entries: cmdEntries(3, 1)})
	require.Empty(t, p.drain(), "a second flush was scheduled")
	p.handle(&messages.FlushPersistence{})
	outs = p.drain()
	require.Len(t, outs, 1)
	persisted := outs[0].msg.(*messages.Persisted)
	require.Equal(t, uint64(3), persisted.Seq)
	require.Equal(t, uint64(3), persisted.Entries)
	require.Equal(t, uint64(1), p.batches)
	st, err := store.Load()
	require.NoError(t, err)
	require.Equal(t, uint64(3), st.LastIndex)
	require.Equal(t, uint64(1), st.HardState.Vote)
}

// Truncations inside a batch cut what the batch itself wrote or become its truncation.
func TestMergeRequests(t *testing.T) {
	b := mergeRequests([]*messages.PersistRequest{
		{Entries: cmdEntries(5, 2, 2, 2)},
		{TruncateFrom: 6, Entries: cmdEntries(6, 3)},
		{HardState: &messages.HardState{Term: 3}},
		{Entries: cmdEntries(7, 3)},
	})
	require.Equal(t, uint64(0), b.TruncateFrom)
	require.Len(t, b.Entries, 3)
	require.Equal(t, []uint64{2, 3, 3}, []uint64{b.Entries[0].Term, b.Entries[1].Term, b.Entries[2].Term})
	require.Equal(t, uint64(3), b.HardState.Term)

	b = mergeRequests([]*messages.PersistRequest{
		{Entries: cmdEntries(5, 2)},
		{TruncateFrom: 3, Entries: cmdEntries(3, 4)},
	})
	require.Equal(t, uint64(3), b.TruncateFrom)
	require.Len(t, b.Entries, 1)
	require.Equal(t, uint64(3), b.Entries[0].Index)
}

// A failed write is reported and nothing more is written.
func TestPersistenceFailureStops(t *testing.T) {
	store := storage.NewMemory()
	p := newPersistenceLogic(store, SystemClock{})
	p.handle(&messages.PersistRequest{Seq: 1, Entries: cmdEntries(5, 1)}) // a gap: invalid
	p.drain()
	p.handle(&messages.FlushPersistence{})
	outs := p.drain()
	require.Len(t, outs, 1)
	failed, ok := outs[0].msg.(*messages.PersistFailed)
	require.True(t, ok)
	require.Equal(t, uint64(1), failed.Seq)
	p.handle(&messages.PersistRequest{Seq: 2, Entries: cmdEntries(1, 1)})
	p.drain()
	p.handle(&messages.FlushPersistence{})
	require.Empty(t, p.drain())
	st, _ := store.Load()
	require.Equal(t, uint64(0), st.LastIndex)
}
