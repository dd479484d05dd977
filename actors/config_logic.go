package actors

import (
	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// configLogic owns the membership and the quorum math: from the match index of every voter
// it computes the index a quorum holds (joint consensus: a majority of both sets), and from
// follower activity whether the leader still hears a quorum (CheckQuorum).
type configLogic struct {
	outbox
	self   uint64
	config *messages.Configuration
	index  uint64

	term       uint64
	match      map[uint64]uint64
	lastQuorum uint64
}

func newConfigLogic(self uint64) *configLogic {
	return &configLogic{self: self, match: map[uint64]uint64{}}
}

func (c *configLogic) handle(msg proto.Message) {
	switch m := msg.(type) {
	case *messages.ConfigurationChanged:
		c.config, c.index = m.Config, m.Index
		// Count afresh in the new configuration: a quorum of the old one proves nothing.
		c.lastQuorum = quorumIndex(c.config, c.match)
		c.report(0)
	case *messages.ProgressUpdate:
		c.onProgress(m)
	case *messages.PeerActivity:
		c.onActivity(m)
	}
}

func (c *configLogic) onProgress(m *messages.ProgressUpdate) {
	if m.Term < c.term {
		return
	}
	if m.Term > c.term {
		// A new leadership: matches of an earlier term say nothing about this one.
		c.term = m.Term
		c.match = map[uint64]uint64{}
		c.lastQuorum = 0
	}
	if m.MatchIndex <= c.match[m.Peer] {
		return
	}
	c.match[m.Peer] = m.MatchIndex
	c.lastQuorum = quorumIndex(c.config, c.match)
	c.report(m.Peer)
}

// report tells RaftNode the quorum index, counted in the configuration of index c.index, and
// the progress of peer (0: none). Every change is reported: RaftNode tracks each member's
// progress (Status, learners catching up, leadership transfer) and commits when the quorum
// index of its current configuration moved.
func (c *configLogic) report(peer uint64) {
	if c.term == 0 {
		return
	}
	c.send(toNode, &messages.QuorumCommitted{Term: c.term, Index: c.lastQuorum, Peer: peer, PeerMatch: c.match[peer], ConfigIndex: c.index})
}

func (c *configLogic) onActivity(m *messages.PeerActivity) {
	active := map[uint64]bool{c.self: true}
	for _, id := range m.Active {
		active[id] = true
	}
	if !quorumActive(c.config, active) {
		c.send(toNode, &messages.QuorumLost{Term: m.Term})
	}
}
