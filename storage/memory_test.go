package storage

import (
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

func TestMemoryReopen(t *testing.T) {
	m := NewMemory()
	require.NoError(t, m.Write(Batch{HardState: &messages.HardState{Term: 2, Vote: 1}, Entries: ents(1, 3, 1)}))
	_, err := m.Reopen()
	require.Error(t, err, "a store is opened once at a time")

	want := takeSnapshot(t, m)
	require.NoError(t, m.Close())
	m2, err := m.Reopen()
	require.NoError(t, err)
	requireSnapshotEqual(t, want, takeSnapshot(t, m2))

	// The old handle stays closed; the new one writes.
	require.ErrorIs(t, m.Write(Batch{Entries: ents(4, 4, 1)}), ErrClosed)
	require.NoError(t, m2.Write(Batch{Entries: ents(4, 4, 1)}))
	st, err := m2.Load()
	require.NoError(t, err)
	require.Equal(t, uint64(4), st.LastIndex)
}
