package test

import (
	"fmt"
	"testing"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"github.com/stretchr/testify/require"
)

// prefilledLog returns a prepare function for buildCluster that gives every node the same
// log of n committed-looking 128-byte commands in term 1, written straight to its store,
// as if the cluster had run for a long time.
func prefilledLog(t testing.TB, n int) func(id uint64, dir string, members []*messages.Member) {
	return func(id uint64, dir string, members []*messages.Member) {
		store, err := storage.Open(dir, storage.Options{})
		require.NoError(t, err)
		defer store.Close()
		require.NoError(t, store.Write(storage.Batch{
			Identity:  &storage.Identity{ClusterID: clusterID, NodeID: id},
			HardState: &messages.HardState{Term: 1},
			Config:    &messages.Configuration{Voters: members},
		}))
		const batch = 10000
		for first := 1; first <= n; first += batch {
			b := storage.Batch{}
			for i := first; i < first+batch && i <= n; i++ {
				b.Entries = append(b.Entries, &messages.Entry{Index: uint64(i), Term: 1,
					Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte(fmt.Sprintf("%0128d", i))})
			}
			require.NoError(t, store.Write(b))
		}
	}
}

// A log far longer than the memory cache: subscribers still get every entry in order
// (read back from storage in chunks), a crashed follower restarts from it and takes part
// again, and a write acknowledged afterwards reaches it.
func TestLongLogBeyondMemoryCache(t *testing.T) {
	const n = 30000
	smallCache := func(c *actors.Config) { c.LogCacheEntries, c.LogCacheBytes = 500, 64<<10 }
	c := buildCluster(t, "", 3, prefilledLog(t, n), smallCache)
	leader := c.waitAllFollow(10 * time.Second)
	after := c.mustSubmit([]byte("after the long log"))
	require.Greater(t, after.Index, uint64(n))

	follower := uint64(1)
	if follower == leader {
		follower = 2
	}
	c.crash(follower)
	c.start(follower)
	again := c.mustSubmit([]byte("after the restart"))
	require.Eventually(t, func() bool {
		return uint64(len(c.appliedOf(follower))) >= again.Index
	}, 30*time.Second, 20*time.Millisecond, "the restarted follower did not apply the log")
	applied := c.appliedOf(follower)
	for i, e := range applied {
		require.Equal(t, uint64(i+1), e.Index, "entries out of order")
		if i < n {
			require.Equal(t, fmt.Sprintf("%0128d", i+1), string(e.Data))
		}
	}
	require.Equal(t, "after the restart", string(applied[again.Index-1].Data))
	st, err := c.status(follower)
	require.NoError(t, err)
	require.Equal(t, leader, st.LeaderId)
}

// BenchmarkRestartMillionEntryLog measures how long a follower with a 1,000,000-entry log
// takes, from the start of its restart, to be back in the cluster: following the leader,
// which has seen it match a write made while it was down. (Its subscriber replays the log
// afterwards, at its own pace; that is not counted.)
func BenchmarkRestartMillionEntryLog(b *testing.B) {
	const n = 1_000_000
	c := buildCluster(b, "", 3, prefilledLog(b, n))
	leader := c.waitAllFollow(30 * time.Second)
	follower := uint64(1)
	if follower == leader {
		follower = 2
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		c.crash(follower)
		w := c.mustSubmit([]byte(fmt.Sprintf("while down %d", i)))
		start := time.Now()
		c.start(follower)
		b.Logf("start returned after %v", time.Since(start))
		require.Eventually(b, func() bool {
			st, err := c.status(leader)
			if err != nil {
				return false
			}
			for _, m := range st.Members {
				if m.Id == follower && m.MatchIndex >= w.Index {
					fst, err := c.status(follower)
					return err == nil && fst.LeaderId == leader
				}
			}
			return false
		}, 30*time.Second, time.Millisecond, "the follower did not come back")
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/restart")
}

// The configuration entries of a log longer than the memory cache are found again after a
// restart of every node, though the restart reads only the log's tail.
func TestConfigurationOutsideTheCacheSurvivesRestart(t *testing.T) {
	smallCache := func(c *actors.Config) { c.LogCacheEntries, c.LogCacheBytes = 50, 64<<10 }
	c := newCluster(t, 3, smallCache)
	spare := c.addSpares(1)[0]
	leader := c.waitLeader(5 * time.Second)
	c.mustChange(leader, 1, 2, 3, spare)
	c.writeAndConverge("after the change", 200, []uint64{1, 2, 3, spare})
	all := []uint64{1, 2, 3, spare}
	for _, id := range all {
		c.crash(id)
	}
	for _, id := range all {
		c.start(id)
	}
	c.waitConfig(all, all, 10*time.Second)
	c.writeAndConverge("after the restart", 5, all)
}
