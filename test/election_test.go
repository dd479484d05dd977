package test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// reelectionBound is the stated bound on electing a new leader after the leader is killed:
// an election timeout of at most 2T (600 ms) plus a pre-vote and a vote round, with margin
// for the race detector.
const reelectionBound = 3 * time.Second

// One leader is elected, and while it is healthy there is no new election: the term stays
// put for 5 seconds.
func TestLeaderElectedAndStable(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	term := c.mustStatus(leader).Term
	require.Eventually(t, func() bool {
		for _, id := range c.live() {
			if st := c.mustStatus(id); st.LeaderId != leader || st.Term != term {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond, "not every node learned the leader")
	observeFor(5*time.Second, func() {
		for _, id := range c.live() {
			st := c.mustStatus(id)
			require.Equal(t, term, st.Term, "node %d moved to a new term while the leader was healthy", id)
			require.Equal(t, leader, st.LeaderId, "node %d follows another leader", id)
		}
	})
}

// After the leader is killed the others elect a new one within reelectionBound.
func TestReelectionAfterLeaderKilled(t *testing.T) {
	c := newCluster(t, 3)
	old := c.waitLeader(5 * time.Second)
	c.mustSubmit([]byte("before"))
	oldTerm := c.mustStatus(old).Term
	killed := time.Now()
	c.crash(old)
	leader := c.waitLeader(reelectionBound)
	elapsed := time.Since(killed)
	t.Logf("new leader %d elected %v after killing leader %d", leader, elapsed, old)
	require.NotEqual(t, old, leader)
	require.Greater(t, c.mustStatus(leader).Term, oldTerm)
	c.mustSubmit([]byte("after"))
}

// PreVote: a follower cut off for many election timeouts rejoins without raising the
// cluster's term or deposing the leader.
func TestPreVoteRejoinDoesNotDisrupt(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	term := c.mustStatus(leader).Term
	var follower uint64
	for _, id := range c.live() {
		if id != leader {
			follower = id
			break
		}
	}
	c.faults.Isolate(follower)
	// Let it time out many times: with PreVote it never raises its own term.
	require.Eventually(t, func() bool {
		st := c.mustStatus(follower)
		return st.LeaderId == 0 && st.Role == "candidate"
	}, 5*time.Second, 20*time.Millisecond, "the isolated follower never noticed it lost the leader")
	observeFor(10*testElectionTimeout, func() {
		require.Equal(t, term, c.mustStatus(follower).Term, "an isolated node raised its term despite PreVote")
	})
	c.faults.Heal()
	c.mustSubmit([]byte("after-rejoin"))
	require.Eventually(t, func() bool {
		st := c.mustStatus(follower)
		return st.LeaderId == leader && st.Term == term
	}, 5*time.Second, 20*time.Millisecond, "the rejoined follower did not follow the leader again")
	for _, id := range c.live() {
		st := c.mustStatus(id)
		require.Equal(t, term, st.Term, "node %d changed term", id)
		require.Equal(t, leader, st.LeaderId, "node %d changed leader", id)
	}
}

// CheckQuorum: a leader cut off from every follower steps down; the rest elect a new one.
func TestCheckQuorumIsolatedLeaderStepsDown(t *testing.T) {
	c := newCluster(t, 3)
	old := c.waitLeader(5 * time.Second)
	c.faults.Isolate(old)
	require.Eventually(t, func() bool {
		return c.mustStatus(old).Role != "leader"
	}, 4*testElectionTimeout+time.Second, 20*time.Millisecond, "the isolated leader kept leading")
	var others []uint64
	for _, id := range c.live() {
		if id != old {
			others = append(others, id)
		}
	}
	leader := c.waitLeader(reelectionBound, others...)
	require.NotEqual(t, old, leader)
	c.faults.Heal()
	c.waitLeader(5 * time.Second)
}
