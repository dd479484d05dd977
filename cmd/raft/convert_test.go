package main

import (
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/protobuf/proto"
)

// A joint configuration entry is shown as the voter set it moves to.
func TestToEntry(t *testing.T) {
	m := func(id uint64, addr string) *messages.Member { return &messages.Member{Id: id, Address: addr} }
	p := func(id uint64, addr string) *raftv1.Peer { return &raftv1.Peer{Id: id, Address: addr} }
	cases := []struct {
		in   *messages.Entry
		want *raftv1.Entry
	}{
		{&messages.Entry{Index: 1, Term: 1, Type: messages.EntryType_ENTRY_TYPE_NOOP},
			&raftv1.Entry{Index: 1, Term: 1, Type: raftv1.EntryType_ENTRY_TYPE_NOOP}},
		{&messages.Entry{Index: 2, Term: 1, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte("hello")},
			&raftv1.Entry{Index: 2, Term: 1, Type: raftv1.EntryType_ENTRY_TYPE_COMMAND, Command: []byte("hello")}},
		{&messages.Entry{Index: 3, Term: 2, Type: messages.EntryType_ENTRY_TYPE_CONFIG, Config: &messages.Configuration{
			Voters: []*messages.Member{m(1, "a:1"), m(2, "b:2")}, OldVoters: []*messages.Member{m(1, "a:1")}}},
			&raftv1.Entry{Index: 3, Term: 2, Type: raftv1.EntryType_ENTRY_TYPE_CONFIG,
				Config: &raftv1.Configuration{Peers: []*raftv1.Peer{p(1, "a:1"), p(2, "b:2")}}}},
	}
	for _, c := range cases {
		if got := toEntry(c.in); !proto.Equal(got, c.want) {
			t.Errorf("toEntry(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestToStatusResponse(t *testing.T) {
	st := &messages.Status{Id: 2, Role: "follower", Term: 3, LeaderId: 1, CommitIndex: 9, AppliedIndex: 8, LastLogIndex: 10,
		LeaderAddress: "a:1", Config: &messages.Configuration{Voters: []*messages.Member{{Id: 1, Address: "a:1"}, {Id: 2, Address: "b:2"}},
			Learners: []*messages.Member{{Id: 3, Address: "c:3"}}}}
	want := &raftv1.StatusResponse{Id: 2, Role: "follower", Term: 3, LeaderId: 1, CommitIndex: 9, AppliedIndex: 8, LastLogIndex: 10,
		LeaderAddress: "a:1", Config: &raftv1.Configuration{Peers: []*raftv1.Peer{{Id: 1, Address: "a:1"}, {Id: 2, Address: "b:2"}}}}
	if got := toStatusResponse(st); !proto.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
