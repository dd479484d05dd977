package actors

import (
	"time"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// campaign is one (pre-)vote round in progress.
type campaign struct {
	term    uint64
	preVote bool
	config  *messages.Configuration
	votes   map[uint64]bool
}

// electionLogic owns the node's timers and its vote campaigns. It never changes the term or
// the role: it tells RaftNode that an election timeout passed, that a campaign was won, or
// (as leader) that it is time for heartbeats and a CheckQuorum.
type electionLogic struct {
	outbox
	s settings

	term   uint64
	role   string
	voter  bool
	leader bool

	lastContact time.Time     // last time a leader (or a vote we granted) reset the timer
	timeout     time.Duration // current randomized timeout, in [T, 2T)
	epoch       uint64        // the armed timer's epoch; older timers are ignored
	lastCheck   time.Time     // leader: last CheckQuorum

	campaign *campaign
}

func newElectionLogic(s settings) *electionLogic {
	return &electionLogic{s: s}
}

func (e *electionLogic) handle(msg proto.Message) {
	switch m := msg.(type) {
	case *messages.RoleChanged:
		e.onRoleChanged(m)
	case *messages.LeaderContact:
		if m.Term >= e.term {
			e.lastContact = e.s.clock.Now()
		}
	case *messages.ElectionTimerFired:
		e.onTimer(m)
	case *messages.StartCampaign:
		e.onStartCampaign(m)
	case *messages.RequestVoteResponse:
		e.onVote(m)
	}
}

func (e *electionLogic) randomTimeout() time.Duration {
	t := e.s.electionTimeout
	return t + time.Duration(e.s.rand.Int63n(int64(t)))
}

// arm starts a new timer generation firing after d; earlier timers become stale.
func (e *electionLogic) arm(d time.Duration) {
	e.epoch++
	e.sendAfter(toElection, d, &messages.ElectionTimerFired{Epoch: e.epoch})
}

func (e *electionLogic) onRoleChanged(m *messages.RoleChanged) {
	wasLeader := e.leader
	e.term, e.role, e.voter = m.Term, m.Role, m.Voter
	e.leader = m.Role == "leader"
	if e.campaign != nil && (e.leader || m.Role == "follower" || m.Term > e.campaign.term) {
		e.campaign = nil
	}
	now := e.s.clock.Now()
	switch {
	case e.leader && !wasLeader:
		e.lastCheck = now
		e.arm(e.s.heartbeatInterval)
	case !e.leader && (wasLeader || e.epoch == 0):
		e.lastContact = now
		e.timeout = e.randomTimeout()
		e.arm(e.timeout)
	}
}

func (e *electionLogic) onTimer(m *messages.ElectionTimerFired) {
	if m.Epoch != e.epoch {
		return
	}
	now := e.s.clock.Now()
	if e.leader {
		check := now.Sub(e.lastCheck) >= e.s.electionTimeout
		if check {
			e.lastCheck = now
		}
		e.send(toReplication, &messages.LeaderTick{Term: e.term, CheckQuorum: check})
		e.arm(e.s.heartbeatInterval)
		return
	}
	elapsed := now.Sub(e.lastContact)
	if elapsed < e.timeout {
		e.arm(e.timeout - elapsed)
		return
	}
	e.lastContact = now
	e.timeout = e.randomTimeout()
	e.arm(e.timeout)
	if e.voter {
		e.send(toNode, &messages.ElectionTimeout{Term: e.term})
	}
}

func (e *electionLogic) onStartCampaign(m *messages.StartCampaign) {
	c := &campaign{term: m.Term, preVote: m.PreVote, config: m.Config, votes: map[uint64]bool{}}
	e.campaign = c
	if isVoter(m.Config, e.s.id) {
		c.votes[e.s.id] = true
	}
	for _, peer := range allMembers(m.Config) {
		if peer.Id == e.s.id || !isVoter(m.Config, peer.Id) {
			continue
		}
		e.sendPeer(peer, &messages.RequestVote{ClusterId: e.s.clusterID, From: e.s.id, To: peer.Id, Term: m.Term,
			LastLogIndex: m.LastLogIndex, LastLogTerm: m.LastLogTerm, PreVote: m.PreVote, LeadershipTransfer: m.LeadershipTransfer,
			CandidateAddress: e.s.address})
	}
	e.decide()
}

func (e *electionLogic) onVote(m *messages.RequestVoteResponse) {
	c := e.campaign
	if c == nil || m.PreVote != c.preVote {
		return
	}
	if m.Granted && m.Term != c.term {
		return // a grant for another campaign
	}
	if !m.Granted && m.Term > c.term {
		return // RaftNode handles a higher term
	}
	c.votes[m.From] = m.Granted
	e.decide()
}

func (e *electionLogic) decide() {
	c := e.campaign
	switch countVotes(c.config, c.votes) {
	case voteWon:
		e.campaign = nil
		e.send(toNode, &messages.CampaignWon{Term: c.term, PreVote: c.preVote})
	case voteLost:
		e.s.logger.Debug("campaign lost; waiting for the next timeout", "term", c.term, "pre_vote", c.preVote, "votes", c.votes)
		e.campaign = nil // wait for the next timeout
	}
}
