package test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

const changeTimeout = 20 * time.Second

// mustChange runs a configuration change through node id and requires it to succeed and
// every member of the new configuration to hold it and converge.
func (c *cluster) mustChange(via uint64, ids ...uint64) *messages.ChangeConfigurationResult {
	c.t.Helper()
	r := c.changeConfig(via, c.memberList(ids...), changeTimeout)
	// A change that lost its leader fails cleanly (UNAVAILABLE: configuration unchanged,
	// or a committed joint configuration the next leader completes); asking again for the
	// same configuration is safe, as a client would. The cluster tests run with 300 ms
	// election timeouts under -race on two cores, where a stall of the whole process can
	// depose a leader (seen once in 260 membership test runs).
	for attempt := 1; attempt < 3 && lostLeader(r); attempt++ {
		c.t.Logf("change to %v: %s; asking again", ids, r.Error)
		require.True(c.t, waitFor(changeTimeout, 20*time.Millisecond, func() bool {
			r = c.changeConfig(via, c.memberList(ids...), changeTimeout)
			return !inProgress(r)
		}), "change to %v: still in progress after %v", ids, changeTimeout)
	}
	require.Equal(c.t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, "change to %v: %s", ids, r.Error)
	want := slices.Clone(ids)
	slices.Sort(want)
	require.Equal(c.t, want, voterIDs(r.Config.Voters))
	require.Empty(c.t, r.Config.OldVoters)
	c.waitConfig(ids, want, 10*time.Second)
	return r
}

// lostLeader tells whether a change failed because its leader lost leadership.
func lostLeader(r *messages.ChangeConfigurationResult) bool {
	return r.Code == messages.ErrorCode_ERROR_CODE_UNAVAILABLE
}

// inProgress tells whether a change was refused because another one is still running.
func inProgress(r *messages.ChangeConfigurationResult) bool {
	return r.Code == messages.ErrorCode_ERROR_CODE_FAILED_PRECONDITION
}

// writeAndConverge commits n commands and waits until the given nodes applied the same log.
func (c *cluster) writeAndConverge(prefix string, n int, ids []uint64) {
	c.t.Helper()
	var last uint64
	for i := 0; i < n; i++ {
		last = c.mustSubmit([]byte(fmt.Sprintf("%s-%d", prefix, i))).Index
	}
	require.Eventually(c.t, func() bool {
		var ref []*messages.Entry
		for i, id := range ids {
			got := c.appliedOf(id)
			if uint64(len(got)) < last {
				return false
			}
			if i == 0 {
				ref = got
			} else if len(got) != len(ref) {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "nodes %v did not converge to index %d", ids, last)
}

func leaderOf(c *cluster, ids []uint64) uint64 { return c.waitLeader(10*time.Second, ids...) }

func TestAddOneNode(t *testing.T) {
	c := newCluster(t, 3)
	c.writeAndConverge("before", 20, []uint64{1, 2, 3})
	spare := c.addSpares(1)[0]
	leader := c.waitLeader(5 * time.Second)
	c.mustChange(leader, 1, 2, 3, spare)
	c.writeAndConverge("after", 10, []uint64{1, 2, 3, spare})
	cmds := commands(c.appliedOf(spare))
	require.Equal(t, "before-0", cmds[0], "the new member did not receive the log from the start")
}

func TestAddTwoNodesAtOnce(t *testing.T) {
	c := newCluster(t, 3)
	c.writeAndConverge("before", 10, []uint64{1, 2, 3})
	spares := c.addSpares(2)
	// Through a follower: it forwards the change to the leader.
	leader := c.waitLeader(5 * time.Second)
	via := uint64(1)
	if via == leader {
		via = 2
	}
	c.mustChange(via, 1, 2, 3, spares[0], spares[1])
	all := []uint64{1, 2, 3, spares[0], spares[1]}
	c.writeAndConverge("after", 10, all)
	// The joint configuration and the final one are both in the log, in that order.
	var configs []*messages.Configuration
	for _, e := range c.appliedOf(spares[0]) {
		if e.Type == messages.EntryType_ENTRY_TYPE_CONFIG {
			configs = append(configs, e.Config)
		}
	}
	require.Len(t, configs, 2)
	require.Equal(t, []uint64{1, 2, 3}, voterIDs(configs[0].OldVoters))
	require.Equal(t, all, voterIDs(configs[0].Voters))
	require.Empty(t, configs[1].OldVoters)
}

func TestRemoveTwoNodesAtOnce(t *testing.T) {
	c := newCluster(t, 5)
	leader := c.waitLeader(5 * time.Second)
	var keep, drop []uint64
	keep = append(keep, leader)
	for id := uint64(1); id <= 5; id++ {
		if id == leader {
			continue
		}
		if len(keep) < 3 {
			keep = append(keep, id)
		} else {
			drop = append(drop, id)
		}
	}
	c.mustChange(leader, keep...)
	c.writeAndConverge("after", 10, keep)
	// The removed nodes no longer take part: they never campaign, so terms stay put.
	term := c.mustStatus(leader).Term
	observeFor(5*testElectionTimeout, func() {
		for _, id := range keep {
			require.Equal(t, term, c.mustStatus(id).Term, "a removed node disturbed the cluster")
		}
		for _, id := range drop {
			require.NotEqual(t, "leader", c.mustStatus(id).Role)
			require.NotEqual(t, "candidate", c.mustStatus(id).Role, "removed node %d campaigns", id)
		}
	})
}

func TestReplaceAllMembers(t *testing.T) {
	c := newCluster(t, 3)
	c.writeAndConverge("old", 20, []uint64{1, 2, 3})
	spares := c.addSpares(3)
	leader := c.waitLeader(5 * time.Second)
	c.mustChange(leader, spares...)
	newLeader := leaderOf(c, spares)
	require.Contains(t, spares, newLeader)
	c.writeAndConverge("new", 10, spares)
	require.Equal(t, "old-0", commands(c.appliedOf(spares[0]))[0])
}

func TestRemoveLeader(t *testing.T) {
	c := newCluster(t, 3)
	old := c.waitLeader(5 * time.Second)
	var rest []uint64
	for id := uint64(1); id <= 3; id++ {
		if id != old {
			rest = append(rest, id)
		}
	}
	c.mustChange(old, rest...)
	leader := leaderOf(c, rest)
	require.NotEqual(t, old, leader)
	require.Eventually(t, func() bool { return c.mustStatus(old).Role == "learner" }, 5*time.Second, 20*time.Millisecond,
		"the removed leader did not step down")
	c.writeAndConverge("after", 10, rest)
}

func TestChangeWhileMinorityPartitioned(t *testing.T) {
	c := newCluster(t, 5)
	leader := c.waitLeader(5 * time.Second)
	var others []uint64
	for id := uint64(1); id <= 5; id++ {
		if id != leader {
			others = append(others, id)
		}
	}
	cut := others[2:] // two followers: a minority
	c.faults.Partition(append([]uint64{leader}, others[:2]...), cut)
	// Remove one of the unreachable nodes: both majorities are still reachable.
	keep := []uint64{leader, others[0], others[1], cut[0]}
	c.mustChangeWithout(leader, keep, cut)
	c.faults.Heal()
	c.waitConfig(keep, sorted(keep), 15*time.Second)
	c.writeAndConverge("healed", 5, keep)
}

// mustChangeWithout is mustChange when some members (absent) are unreachable: it checks the
// configuration only on the others.
func (c *cluster) mustChangeWithout(via uint64, ids, absent []uint64) {
	c.t.Helper()
	r := c.changeConfig(via, c.memberList(ids...), changeTimeout)
	require.Equal(c.t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, r.Error)
	var reachable []uint64
	for _, id := range ids {
		if !slices.Contains(absent, id) {
			reachable = append(reachable, id)
		}
	}
	c.waitConfig(reachable, sorted(ids), 10*time.Second)
}

func sorted(ids []uint64) []uint64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// slowLinks delays every message so that a change's joint phase lasts long enough to be seen.
func slowLinks(c *cluster) {
	c.faults.SetDefault(remote.LinkFaults{Delay: 40 * time.Millisecond})
}

// waitJoint polls until a follower of the old configuration holds the joint configuration
// as well as the leader: the change is then in its joint phase cluster-wide, and whatever
// happens to the leader, the next leader will have the joint entry.
func waitJoint(t *testing.T, c *cluster, leader uint64, old []uint64) {
	require.Eventually(t, func() bool {
		for _, id := range old {
			if id == leader {
				continue
			}
			if st, err := c.status(id); err == nil && len(st.Config.GetOldVoters()) > 0 {
				return true
			}
		}
		return false
	}, 15*time.Second, 2*time.Millisecond, "never saw the joint configuration on a follower")
}

// waitJointDurable polls until a majority of the old voters hold the joint configuration
// entry on disk. Then no node lacking it can be elected (it needs votes of a majority of the
// old voters, and those refuse a shorter log), so whatever crashes, the next leader has the
// entry and must finish the change. (Held in memory only, the entry may be lost in a crash
// of every node; the change is then legitimately abandoned.)
func waitJointDurable(t *testing.T, c *cluster, old []uint64) {
	var joint uint64 // index of the joint entry, once seen
	require.Eventually(t, func() bool {
		held := 0
		for _, id := range old {
			st, err := c.status(id)
			if err != nil {
				continue
			}
			if joint == 0 && len(st.Config.GetOldVoters()) > 0 {
				joint = st.ConfigIndex
			}
			if joint != 0 && st.ConfigIndex >= joint && st.DurableIndex >= joint {
				held++
			}
		}
		return held > len(old)/2
	}, 15*time.Second, 2*time.Millisecond, "the joint configuration never reached the disks of a majority of %v", old)
}

func TestCrashLeaderInJointPhase(t *testing.T) {
	c := newCluster(t, 3)
	spares := c.addSpares(2)
	leader := c.waitLeader(5 * time.Second)
	slowLinks(c)
	all := []uint64{1, 2, 3, spares[0], spares[1]}
	// The client's answer is lost with the leader: the cluster must finish the change anyway.
	go c.changeConfig(leader, c.memberList(all...), changeTimeout)
	waitJoint(t, c, leader, []uint64{1, 2, 3})
	c.crash(leader)
	c.faults.Heal()
	var rest []uint64
	for _, id := range all {
		if id != leader {
			rest = append(rest, id)
		}
	}
	c.waitConfig(rest, all, 20*time.Second)
	c.start(leader)
	c.waitConfig(all, all, 20*time.Second)
	c.writeAndConverge("after", 5, all)
}

func TestRestartEveryNodeInJointPhase(t *testing.T) {
	for _, together := range []bool{true, false} {
		name := map[bool]string{true: "together", false: "one after another"}[together]
		t.Run(name, func(t *testing.T) { restartEveryNodeInJointPhase(t, together) })
	}
}

// restartEveryNodeInJointPhase crashes all five nodes of a change from three to five in its
// joint phase, once the joint entry is on the disks of a majority of the old voters, and
// restarts them, all at once or one by one (then the first ones back send to peers that are
// still down): the cluster must elect a leader and finish the change.
func restartEveryNodeInJointPhase(t *testing.T, together bool) {
	c := newCluster(t, 3)
	spares := c.addSpares(2)
	leader := c.waitLeader(5 * time.Second)
	slowLinks(c)
	all := []uint64{1, 2, 3, spares[0], spares[1]}
	go c.changeConfig(leader, c.memberList(all...), changeTimeout)
	waitJointDurable(t, c, []uint64{1, 2, 3})
	for _, id := range all {
		c.crash(id)
	}
	c.faults.Heal()
	var wg sync.WaitGroup
	for _, id := range all {
		if !together {
			c.start(id)
			continue
		}
		wg.Add(1)
		go func(id uint64) {
			defer wg.Done()
			c.start(id)
		}(id)
	}
	wg.Wait()
	c.waitConfig(all, all, 30*time.Second)
	c.writeAndConverge("after", 5, all)
}

// Adding two fresh nodes that must catch up a long log, under a steady write load: no
// acknowledged write is lost, and commits never pause for long.
func TestChangeUnderLoadKeepsCommitting(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	// A long log for the new members to catch up.
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				r := c.submit(leader, []byte(fmt.Sprintf("prefill-%d-%d", w, i)), 5*time.Second)
				require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, r.Error)
			}
		}(w)
	}
	wg.Wait()
	spares := c.addSpares(2)

	type ack struct {
		index uint64
		cmd   string
		at    time.Time
	}
	var mu sync.Mutex
	var acks []ack
	stop := make(chan struct{})
	writers := sync.WaitGroup{}
	for w := 0; w < 4; w++ {
		writers.Add(1)
		go func(w int) {
			defer writers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cmd := fmt.Sprintf("load-%d-%d", w, i)
				if r := c.submit(leader, []byte(cmd), 5*time.Second); r.Code == messages.ErrorCode_ERROR_CODE_NONE {
					mu.Lock()
					acks = append(acks, ack{r.Index, cmd, time.Now()})
					mu.Unlock()
				}
			}
		}(w)
	}
	started := time.Now()
	all := []uint64{1, 2, 3, spares[0], spares[1]}
	r := c.changeConfig(leader, c.memberList(all...), changeTimeout)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, r.Error)
	took := time.Since(started)
	// Keep writing a little after the change, then stop.
	mu.Lock()
	n := len(acks)
	mu.Unlock()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(acks) > n+50 }, 10*time.Second, 10*time.Millisecond)
	close(stop)
	writers.Wait()

	slices.SortFunc(acks, func(a, b ack) int { return a.at.Compare(b.at) })
	var gap time.Duration
	for i := 1; i < len(acks); i++ {
		gap = max(gap, acks[i].at.Sub(acks[i-1].at))
	}
	t.Logf("change adding 2 nodes behind by %d entries took %v; %d writes acknowledged meanwhile; longest gap between commits %v",
		2000, took, len(acks), gap)
	require.Less(t, gap, time.Second, "commits paused during the change")

	var last uint64
	for _, a := range acks {
		last = max(last, a.index)
	}
	c.writeAndConverge("final", 1, all)
	applied := c.appliedOf(spares[1])
	for _, a := range acks {
		require.Equal(t, a.cmd, string(applied[a.index-1].Data), "acknowledged write at %d lost", a.index)
	}
}

// Every malformed change is refused with an error naming the problem, and leaves the
// configuration untouched.
func TestBadConfigurationChangesRefused(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	before := c.mustStatus(leader)
	a := func(id uint64, addr string) *messages.Member { return &messages.Member{Id: id, Address: addr} }
	cases := []struct {
		name    string
		members []*messages.Member
		want    string
	}{
		{"no members", nil, "no members"},
		{"id 0", []*messages.Member{a(0, "127.0.0.1:1")}, "id"},
		{"duplicate id", append(c.memberList(1, 2), a(2, "127.0.0.1:9")), "duplicate id"},
		{"duplicate address", append(c.memberList(1, 2), a(9, c.nodes[1].address)), "duplicate address"},
		{"malformed address", append(c.memberList(1, 2), a(9, "not-an-address")), "address"},
		{"empty address", append(c.memberList(1, 2), a(9, "")), "address"},
		{"port out of range", append(c.memberList(1, 2), a(9, "127.0.0.1:70000")), "address"},
		{"member moved", []*messages.Member{a(1, "127.0.0.1:1"), a(2, c.nodes[2].address)}, "address"},
	}
	for _, tc := range cases {
		for _, via := range []uint64{leader, leader%3 + 1} {
			r := c.changeConfig(via, tc.members, 5*time.Second)
			require.Equal(t, messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, r.Code, "%s via %d: %s", tc.name, via, r.Error)
			require.Contains(t, r.Error, tc.want, tc.name)
		}
	}
	// Equal to the current configuration: returns at once, nothing appended.
	r := c.changeConfig(leader, c.memberList(3, 1, 2), 5*time.Second)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, r.Error)
	after := c.mustStatus(leader)
	require.Equal(t, before.LastLogIndex, after.LastLogIndex, "a refused or empty change appended")
	require.True(t, proto.Equal(before.Config, after.Config))

	// A second change while one is in progress: a learner that cannot catch up keeps the first going.
	spare := c.addSpares(1)[0]
	c.faults.Isolate(spare)
	first := make(chan *messages.ChangeConfigurationResult, 1)
	go func() { first <- c.changeConfig(leader, c.memberList(1, 2, 3, spare), changeTimeout) }()
	require.Eventually(t, func() bool { return len(c.mustStatus(leader).Config.GetLearners()) == 1 }, 5*time.Second, 5*time.Millisecond)
	r = c.changeConfig(leader, c.memberList(1, 2), 5*time.Second)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, r.Code, r.Error)
	require.Contains(t, r.Error, "change in progress")
	c.faults.Heal()
	require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, (<-first).Code)
}

// A learner that never catches up makes the change fail after the catch-up timeout, leaving
// the old configuration in force.
func TestChangeFailsWhenLearnerNeverCatchesUp(t *testing.T) {
	c := newCluster(t, 3, func(cfg *actors.Config) { cfg.CatchUpTimeout = 2 * time.Second })
	leader := c.waitLeader(5 * time.Second)
	before := c.mustStatus(leader)
	spare := c.addSpares(1)[0]
	c.faults.Isolate(spare)
	r := c.changeConfig(leader, c.memberList(1, 2, 3, spare), changeTimeout)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_TIMEOUT, r.Code, r.Error)
	require.Contains(t, r.Error, "did not catch up")
	after := c.mustStatus(leader)
	require.True(t, proto.Equal(before.Config, after.Config), "configuration changed: %v", after.Config)
	require.Equal(t, before.LastLogIndex, after.LastLogIndex)
}

func TestLeadershipTransfer(t *testing.T) {
	c := newCluster(t, 3)
	old := c.waitLeader(5 * time.Second)
	c.writeAndConverge("before", 10, []uint64{1, 2, 3})
	target := old%3 + 1
	res := c.transfer(old, target)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, res.Code, res.Error)
	require.Equal(t, target, res.LeaderId)
	require.Equal(t, target, c.waitLeader(5*time.Second))

	// To "whoever is most caught up", asked through a follower (once it knows the new leader:
	// before that it would forward to the old one and be told to retry).
	via := target%3 + 1
	require.Eventually(t, func() bool { return c.mustStatus(via).LeaderId == target }, 5*time.Second, 10*time.Millisecond)
	res = c.transfer(via, 0)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, res.Code, res.Error)
	require.NotEqual(t, target, res.LeaderId)
	c.writeAndConverge("after", 5, []uint64{1, 2, 3})

	// A target that cannot be reached: the transfer gives up and the leader keeps leading.
	leader := c.waitLeader(5 * time.Second)
	unreachable := leader%3 + 1
	c.faults.Isolate(unreachable)
	c.mustSubmit([]byte("while-isolated"))
	res = c.transfer(leader, unreachable)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_TIMEOUT, res.Code, res.Error)
	require.Equal(t, "leader", c.mustStatus(leader).Role)
	c.mustSubmit([]byte("writes accepted again"))
	c.faults.Heal()
}

func (c *cluster) transfer(via, target uint64) *messages.TransferLeadershipResult {
	n := c.nodes[via]
	res, err := n.endpoint.System.Root.RequestFuture(n.pid, &messages.TransferLeadership{TargetId: target}, 10*time.Second).Result()
	require.NoError(c.t, err)
	return res.(*messages.TransferLeadershipResult)
}
