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
		c.evaluate()
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
	c.evaluate()
}

// evaluate reports the quorum index when it moved forward.
func (c *configLogic) evaluate() {
	if c.term == 0 {
		return
	}
	q := quorumIndex(c.config, c.match)
	if q <= c.lastQuorum {
		return
	}
	c.lastQuorum = q
	snapshot := make(map[uint64]uint64, len(c.match))
	for k, v := range c.match {
		snapshot[k] = v
	}
	c.send(toNode, &messages.QuorumCommitted{Term: c.term, Index: q, MatchIndex: snapshot})
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
