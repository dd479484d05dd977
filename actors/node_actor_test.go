package actors

import (
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"github.com/stretchr/testify/require"
)

// A store is bound to its node on first use; a node that never took part in anything may
// still be bootstrapped later, one that did may not.
func TestInitialiseStore(t *testing.T) {
	store := storage.NewMemory()
	cfg := Config{ID: 1, ClusterID: "c", Address: "127.0.0.1:7001"}
	require.NoError(t, initialiseStore(store, cfg))
	st, err := store.Load()
	require.NoError(t, err)
	require.Nil(t, st.Config)
	require.Equal(t, storage.Identity{ClusterID: "c", NodeID: 1}, st.Identity)

	cfg.Bootstrap = []*messages.Member{{Id: 1, Address: "127.0.0.1:7001"}}
	require.NoError(t, initialiseStore(store, cfg), "a late bootstrap of an untouched node")
	st, _ = store.Load()
	require.Len(t, st.Config.GetVoters(), 1)

	cfg.Bootstrap = append(cfg.Bootstrap, &messages.Member{Id: 2, Address: "127.0.0.1:7002"})
	require.NoError(t, initialiseStore(store, cfg))
	st, _ = store.Load()
	require.Len(t, st.Config.GetVoters(), 1, "bootstrap applied twice")

	other := Config{ID: 2, ClusterID: "c", Address: "127.0.0.1:7002"}
	require.ErrorContains(t, initialiseStore(store, other), "belongs to node 1")

	joined := storage.NewMemory()
	require.NoError(t, initialiseStore(joined, Config{ID: 3, ClusterID: "c", Address: "127.0.0.1:7003"}))
	require.NoError(t, joined.Write(storage.Batch{HardState: &messages.HardState{Term: 2}}))
	require.NoError(t, initialiseStore(joined, Config{ID: 3, ClusterID: "c", Address: "127.0.0.1:7003", Bootstrap: cfg.Bootstrap}))
	st, _ = joined.Load()
	require.Nil(t, st.Config, "a node that took part in the cluster was bootstrapped")
}
