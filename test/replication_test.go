package test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/stretchr/testify/require"
)

// Every command is replicated to and applied by every node, in the same order.
func TestReplicationToAll(t *testing.T) {
	c := newCluster(t, 3)
	var last uint64
	for i := 0; i < 50; i++ {
		r := c.mustSubmit([]byte(fmt.Sprintf("cmd-%d", i)))
		require.Greater(t, r.Index, last, "real-time order: a later submit got a lower index")
		last = r.Index
	}
	applied := c.waitConverged(last, 10*time.Second)
	got := commands(applied)
	require.Len(t, got, 50)
	for i, cmd := range got {
		require.Equal(t, fmt.Sprintf("cmd-%d", i), cmd)
	}
}

// Concurrent submits through every node (followers forward) are all committed once.
func TestConcurrentSubmitsThroughEveryNode(t *testing.T) {
	c := newCluster(t, 3)
	c.waitAllFollow(5 * time.Second) // a follower that knows no leader yet would refuse
	var wg sync.WaitGroup
	results := make(chan *messages.SubmitResult, 300)
	for _, id := range c.live() {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(id uint64, w int) {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					results <- c.submit(id, []byte(fmt.Sprintf("n%d-w%d-%d", id, w, i)), 10*time.Second)
				}
			}(id, w)
		}
	}
	wg.Wait()
	close(results)
	var max uint64
	for r := range results {
		require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, r.Error)
		if r.Index > max {
			max = r.Index
		}
	}
	cmds := commands(c.waitConverged(max, 10*time.Second))
	require.Len(t, cmds, 300)
	seen := map[string]bool{}
	for _, cmd := range cmds {
		require.False(t, seen[cmd], "command %q applied twice", cmd)
		seen[cmd] = true
	}
}

// A follower partitioned away while hundreds of entries commit catches up after healing.
func TestPartitionedFollowerCatchesUp(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	var follower uint64
	for _, id := range c.live() {
		if id != leader {
			follower = id
			break
		}
	}
	c.faults.Isolate(follower)
	var last uint64
	for i := 0; i < 300; i++ {
		last = c.mustSubmit([]byte(fmt.Sprintf("while-away-%d", i))).Index
	}
	require.Less(t, len(c.appliedOf(follower)), 300)
	c.faults.Heal()
	cmds := commands(c.waitConverged(last, 15*time.Second))
	require.Len(t, cmds, 300)
}

// A leader cut off with a long uncommitted tail has that tail replaced by the new leader's
// log once it rejoins.
func TestDivergentTailReplaced(t *testing.T) {
	t.Run("in memory", func(t *testing.T) { testDivergentTailReplaced(t, false) })
	// The deposed leader restarts before it hears from the new one, with a log cache shorter
	// than its uncommitted tail: it reloads only the newest doomed entries, and the leader
	// replaces the tail from below what memory holds.
	t.Run("after a restart that loads part of it", func(t *testing.T) { testDivergentTailReplaced(t, true) })
}

func testDivergentTailReplaced(t *testing.T, restart bool) {
	c := newCluster(t, 3, func(cfg *actors.Config) { cfg.LogCacheEntries = 16 })
	old := c.waitLeader(5 * time.Second)
	c.mustSubmit([]byte("common"))
	c.faults.Isolate(old)
	// The isolated leader appends what it is given, but cannot commit it.
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := c.submit(old, []byte(fmt.Sprintf("doomed-%d", i)), 2*time.Second)
			require.NotEqual(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, "an isolated leader committed")
		}(i)
	}
	require.Eventually(t, func() bool { return c.mustStatus(old).LastLogIndex >= 100 }, 5*time.Second, 10*time.Millisecond)
	var others []uint64
	for _, id := range c.live() {
		if id != old {
			others = append(others, id)
		}
	}
	leader := c.waitLeader(reelectionBound, others...)
	var last uint64
	for i := 0; i < 20; i++ {
		r := c.submit(leader, []byte(fmt.Sprintf("winner-%d", i)), 5*time.Second)
		require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, r.Error)
		last = r.Index
	}
	wg.Wait()
	if restart {
		require.Eventually(t, func() bool { return c.mustStatus(old).DurableIndex >= 100 }, 5*time.Second, 10*time.Millisecond)
		c.crash(old)
		c.start(old)
		st := c.mustStatus(old)
		require.GreaterOrEqual(t, st.LastLogIndex, uint64(100), "the doomed tail is on disk")
		require.Less(t, st.CommitIndex, uint64(3), "the doomed tail is not committed")
	}
	c.faults.Heal()
	cmds := commands(c.waitConverged(last, 15*time.Second))
	require.Equal(t, "common", cmds[0])
	for _, cmd := range cmds {
		require.NotContains(t, cmd, "doomed", "an uncommitted entry of the deposed leader survived")
	}
	require.Len(t, cmds, 21)
	st := c.mustStatus(old)
	require.Equal(t, c.mustStatus(leader).LastLogIndex, st.LastLogIndex, "the old leader's log was not replaced")
}

// A minority partition cannot commit; the majority keeps committing; after healing there is one log.
func TestMinorityCannotCommit(t *testing.T) {
	c := newCluster(t, 5)
	old := c.waitLeader(5 * time.Second)
	c.mustSubmit([]byte("before"))
	var minority, majority []uint64
	minority = append(minority, old)
	for _, id := range c.live() {
		if id == old {
			continue
		}
		if len(minority) < 2 {
			minority = append(minority, id)
		} else {
			majority = append(majority, id)
		}
	}
	c.faults.Partition(minority, majority)
	r := c.submit(old, []byte("minority-write"), 2*time.Second)
	require.NotEqual(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, "the minority side committed a write")
	leader := c.waitLeader(reelectionBound, majority...)
	var last uint64
	for i := 0; i < 10; i++ {
		r := c.submit(leader, []byte(fmt.Sprintf("majority-%d", i)), 5*time.Second)
		require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, r.Error)
		last = r.Index
	}
	for _, id := range minority {
		require.Less(t, c.mustStatus(id).CommitIndex, last, "minority node %d learned commits across the partition", id)
	}
	c.faults.Heal()
	cmds := commands(c.waitConverged(last, 15*time.Second))
	require.NotContains(t, cmds, "minority-write")
	require.Len(t, cmds, 11)
}

// Replication converges over a network that drops, duplicates, delays and reorders.
func TestReplicationOverUnreliableNetwork(t *testing.T) {
	c := newCluster(t, 3)
	c.waitLeader(5 * time.Second)
	c.faults.SetDefault(remote.LinkFaults{DropRate: 0.05, DupRate: 0.1, Delay: time.Millisecond, Jitter: 5 * time.Millisecond})
	var last uint64
	acked := map[string]uint64{}
	for i := 0; i < 100; i++ {
		cmd := fmt.Sprintf("lossy-%d", i)
		leader := c.waitLeader(10 * time.Second)
		r := c.submit(leader, []byte(cmd), 3*time.Second)
		if r.Code == messages.ErrorCode_ERROR_CODE_NONE {
			acked[cmd] = r.Index
			last = max(last, r.Index)
		}
	}
	c.faults.Heal()
	applied := c.waitConverged(last, 15*time.Second)
	require.NotEmpty(t, acked)
	for cmd, idx := range acked {
		require.Equal(t, cmd, string(applied[idx-1].Data), "acknowledged write missing at its index")
	}
	seen := map[string]bool{}
	for _, cmd := range commands(applied) {
		require.False(t, seen[cmd], "a duplicated message applied %q twice", cmd)
		seen[cmd] = true
	}
}

// Peers addressed by host name (as containers address each other) are recognised as
// themselves: protoactor must announce the configured address, not the IP it bound.
func TestHostNameAddresses(t *testing.T) {
	c := newClusterOn(t, "localhost", 3)
	var last uint64
	for i := 0; i < 10; i++ {
		last = c.mustSubmit([]byte(fmt.Sprintf("by-name-%d", i))).Index
	}
	require.Len(t, commands(c.waitConverged(last, 10*time.Second)), 10)
}
