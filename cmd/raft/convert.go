package main

import (
	"fmt"
	"strings"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/messages/raftv1"
)

// toPeers turns actor-API members into the client API's peers, in the same order.
func toPeers(members []*messages.Member) []*raftv1.Peer {
	peers := make([]*raftv1.Peer, 0, len(members))
	for _, m := range members {
		peers = append(peers, &raftv1.Peer{Id: m.GetId(), Address: m.GetAddress()})
	}
	return peers
}

// toMembers turns the client API's peers into actor-API members, in the same order.
func toMembers(peers []*raftv1.Peer) []*messages.Member {
	members := make([]*messages.Member, 0, len(peers))
	for _, p := range peers {
		members = append(members, &messages.Member{Id: p.GetId(), Address: p.GetAddress()})
	}
	return members
}

// toConfiguration gives the client API's view of a configuration: its voters. During joint
// consensus that is the incoming voter set, the configuration the cluster moves to.
func toConfiguration(cfg *messages.Configuration) *raftv1.Configuration {
	return &raftv1.Configuration{Peers: toPeers(cfg.GetVoters())}
}

// toEntry turns a committed log entry into the client API's Entry: a command carries its
// bytes, a configuration entry the configuration it moves to (for a joint entry, its new
// voter set), a no-op nothing more.
func toEntry(e *messages.Entry) *raftv1.Entry {
	out := &raftv1.Entry{Index: e.GetIndex(), Term: e.GetTerm()}
	switch e.GetType() {
	case messages.EntryType_ENTRY_TYPE_COMMAND:
		out.Type = raftv1.EntryType_ENTRY_TYPE_COMMAND
		out.Command = e.GetData()
	case messages.EntryType_ENTRY_TYPE_CONFIG:
		out.Type = raftv1.EntryType_ENTRY_TYPE_CONFIG
		out.Config = toConfiguration(e.GetConfig())
	case messages.EntryType_ENTRY_TYPE_NOOP:
		out.Type = raftv1.EntryType_ENTRY_TYPE_NOOP
	}
	return out
}

// toStatusResponse gives the client API's view of a node's status.
func toStatusResponse(st *messages.Status) *raftv1.StatusResponse {
	return &raftv1.StatusResponse{
		Id:            st.GetId(),
		Role:          st.GetRole(),
		Term:          st.GetTerm(),
		LeaderId:      st.GetLeaderId(),
		CommitIndex:   st.GetCommitIndex(),
		AppliedIndex:  st.GetAppliedIndex(),
		LastLogIndex:  st.GetLastLogIndex(),
		Config:        toConfiguration(st.GetConfig()),
		LeaderAddress: st.GetLeaderAddress(),
	}
}

// membersText lists members as "id=address,..." for logs.
func membersText(members []*messages.Member) string {
	var b strings.Builder
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d=%s", m.GetId(), m.GetAddress())
	}
	return b.String()
}
