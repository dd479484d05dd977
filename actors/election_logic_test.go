package actors

import (
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

func timers(outs []outgoing) []outgoing {
	var found []outgoing
	for _, o := range outs {
		if o.after > 0 {
			found = append(found, o)
		}
	}
	return found
}

// Election timeouts are drawn from [T, 2T) and differ between draws.
func TestElectionTimeoutsRandomized(t *testing.T) {
	e := newElectionLogic(testSettings(1, &simClock{now: time.Unix(1000, 0)}))
	seen := map[time.Duration]bool{}
	for i := 0; i < 200; i++ {
		d := e.randomTimeout()
		require.GreaterOrEqual(t, d, e.s.electionTimeout)
		require.Less(t, d, 2*e.s.electionTimeout)
		seen[d] = true
	}
	require.Greater(t, len(seen), 50)
}

// A follower that hears from its leader never times out; once silent, it does.
func TestElectionTimerRespectsLeaderContact(t *testing.T) {
	clock := &simClock{now: time.Unix(1000, 0)}
	e := newElectionLogic(testSettings(1, clock))
	e.handle(&messages.RoleChanged{Term: 1, Role: "follower", Voter: true})
	ts := timers(e.drain())
	require.Len(t, ts, 1)
	fire := ts[0].msg.(*messages.ElectionTimerFired)

	clock.now = clock.now.Add(ts[0].after - time.Millisecond)
	e.handle(&messages.LeaderContact{Term: 1})
	clock.now = clock.now.Add(time.Millisecond)
	e.handle(fire)
	outs := e.drain()
	require.Empty(t, sent[*messages.ElectionTimeout](outs), "timed out despite a recent leader contact")
	ts = timers(outs)
	require.Len(t, ts, 1)

	clock.now = clock.now.Add(ts[0].after)
	e.handle(ts[0].msg)
	require.Len(t, sent[*messages.ElectionTimeout](e.drain()), 1)
}

// A node that is not a voter never asks for an election.
func TestNonVoterNeverCampaigns(t *testing.T) {
	clock := &simClock{now: time.Unix(1000, 0)}
	e := newElectionLogic(testSettings(1, clock))
	e.handle(&messages.RoleChanged{Term: 1, Role: "follower", Voter: false})
	for i := 0; i < 10; i++ {
		ts := timers(e.drain())
		require.Len(t, ts, 1)
		clock.now = clock.now.Add(ts[0].after)
		e.handle(ts[0].msg)
		require.Empty(t, sent[*messages.ElectionTimeout](e.out))
	}
}

// A campaign asks every other voter and is won by a majority, lost by a majority of refusals.
func TestCampaignCountsVotes(t *testing.T) {
	e := newElectionLogic(testSettings(1, &simClock{now: time.Unix(1000, 0)}))
	cfg := &messages.Configuration{Voters: threeMembers}
	e.handle(&messages.StartCampaign{Term: 3, PreVote: true, Config: cfg})
	reqs := sent[*messages.RequestVote](e.drain())
	require.Len(t, reqs, 2)
	require.True(t, reqs[0].PreVote)
	// A grant for another term does not count.
	e.handle(&messages.RequestVoteResponse{From: 2, Term: 2, Granted: true, PreVote: true})
	require.Empty(t, sent[*messages.CampaignWon](e.drain()))
	e.handle(&messages.RequestVoteResponse{From: 2, Term: 3, Granted: true, PreVote: true})
	require.Equal(t, []*messages.CampaignWon{{Term: 3, PreVote: true}}, sent[*messages.CampaignWon](e.drain()))

	e.handle(&messages.StartCampaign{Term: 4, Config: cfg})
	e.drain()
	e.handle(&messages.RequestVoteResponse{From: 2, Term: 4, Granted: false})
	e.handle(&messages.RequestVoteResponse{From: 3, Term: 4, Granted: false})
	require.Nil(t, e.campaign, "a lost campaign is dropped")
	e.handle(&messages.RequestVoteResponse{From: 3, Term: 4, Granted: true})
	require.Empty(t, sent[*messages.CampaignWon](e.drain()))
}

// A leader ticks every heartbeat interval and asks for a CheckQuorum every election timeout.
func TestLeaderTicks(t *testing.T) {
	clock := &simClock{now: time.Unix(1000, 0)}
	e := newElectionLogic(testSettings(1, clock))
	e.handle(&messages.RoleChanged{Term: 2, Role: "leader", Voter: true})
	checks := 0
	for i := 0; i < 20; i++ {
		ts := timers(e.drain())
		require.Len(t, ts, 1)
		require.Equal(t, e.s.heartbeatInterval, ts[0].after)
		clock.now = clock.now.Add(ts[0].after)
		e.handle(ts[0].msg)
		for _, tick := range sent[*messages.LeaderTick](e.out) {
			if tick.CheckQuorum {
				checks++
			}
		}
	}
	// 20 heartbeats of 20 ms = 400 ms: a check every 100 ms.
	require.Equal(t, 4, checks)
}
