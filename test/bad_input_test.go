package test

import (
	"testing"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// Empty and oversized commands get INVALID_ARGUMENT, through the leader and through a
// follower, and append nothing.
func TestBadCommandsRefused(t *testing.T) {
	c := newCluster(t, 3, func(cfg *actors.Config) { cfg.MaxCommandBytes = 1024 })
	leader := c.waitLeader(5 * time.Second)
	c.mustSubmit([]byte("ok"))
	before := c.mustStatus(leader).LastLogIndex
	for _, id := range c.live() {
		for _, cmd := range [][]byte{nil, make([]byte, 1025)} {
			r := c.submit(id, cmd, 2*time.Second)
			require.Equal(t, messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, r.Code, "node %d, %d bytes", id, len(cmd))
			require.Contains(t, r.Error, "command")
		}
	}
	require.Equal(t, before, c.mustStatus(leader).LastLogIndex, "a refused command was appended")
	r := c.submit(leader, make([]byte, 1024), 2*time.Second)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, "a command at the limit was refused: %s", r.Error)
}

// Messages from another cluster are counted and dropped; unknown message types are counted
// and dropped; neither changes the node.
func TestForeignAndUnknownMessagesDropped(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	var follower uint64
	for _, id := range c.live() {
		if id != leader {
			follower = id
			break
		}
	}
	before := c.mustStatus(follower)
	n := c.nodes[follower]
	root := n.endpoint.System.Root
	root.Send(n.pid, &messages.AppendEntries{ClusterId: "another-cluster", From: leader, To: follower, Term: before.Term + 10,
		PrevLogIndex: before.LastLogIndex, PrevLogTerm: before.Term,
		Entries: []*messages.Entry{{Index: before.LastLogIndex + 1, Term: before.Term + 10, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte("evil")}}})
	root.Send(n.pid, &messages.RequestVote{ClusterId: "another-cluster", From: leader, To: follower, Term: before.Term + 10,
		LastLogIndex: 1000, LastLogTerm: 1000})
	root.Send(n.pid, &messages.Member{Id: 99, Address: "nowhere:1"}) // not a message a node takes
	var after *messages.Status
	require.Eventually(t, func() bool {
		after = c.mustStatus(follower)
		return after.DroppedForeignCluster == before.DroppedForeignCluster+2 && after.DroppedInvalid == before.DroppedInvalid+1
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, before.Term, after.Term)
	require.Equal(t, before.LastLogIndex, after.LastLogIndex)
	require.Equal(t, before.Vote, after.Vote)
	require.True(t, proto.Equal(before.Config, after.Config))
}

// A configuration that cannot work is refused before anything is written.
func TestBadNodeConfigRefused(t *testing.T) {
	dir := t.TempDir()
	good := actors.Config{ID: 1, ClusterID: "c", Address: "127.0.0.1:7001", DataDir: dir,
		Bootstrap: []*messages.Member{{Id: 1, Address: "127.0.0.1:7001"}}}
	cases := map[string]func(*actors.Config){
		"ID":        func(c *actors.Config) { c.ID = 0 },
		"ClusterID": func(c *actors.Config) { c.ClusterID = "" },
		"Address":   func(c *actors.Config) { c.Address = "no-port" },
		"duplicate id": func(c *actors.Config) {
			c.Bootstrap = append(c.Bootstrap, &messages.Member{Id: 1, Address: "127.0.0.1:7002"})
		},
		"id 0": func(c *actors.Config) { c.Bootstrap = []*messages.Member{{Id: 0, Address: "127.0.0.1:7002"}} },
		"duplicate address": func(c *actors.Config) {
			c.Bootstrap = append(c.Bootstrap, &messages.Member{Id: 2, Address: "127.0.0.1:7001"})
		},
		"HeartbeatInterval": func(c *actors.Config) { c.ElectionTimeout = 100 * time.Millisecond; c.HeartbeatInterval = time.Second },
		"Subscribers nil":   func(c *actors.Config) { c.Subscribers = []*messages.ActorRef{nil} },
		"Subscribers no id": func(c *actors.Config) { c.Subscribers = []*messages.ActorRef{{Address: "127.0.0.1:7001"}} },
	}
	for name, mutate := range cases {
		cfg := good
		cfg.Bootstrap = append([]*messages.Member(nil), good.Bootstrap...)
		mutate(&cfg)
		_, err := actors.NewNodeProps(cfg)
		require.Error(t, err, name)
	}
	// A data directory, once bound to node 1 of cluster "c", refuses to serve another node
	// or cluster.
	ep, err := remote.StartEndpoint("127.0.0.1:0", remote.EndpointOptions{})
	require.NoError(t, err)
	defer ep.Stop()
	props, err := actors.NewNodeProps(good)
	require.NoError(t, err)
	pid, err := ep.System.Root.SpawnNamed(props, remote.NodeActorName)
	require.NoError(t, err)
	require.NoError(t, ep.System.Root.StopFuture(pid).Wait())
	for _, mutate := range []func(*actors.Config){
		func(c *actors.Config) { c.ID = 2 },
		func(c *actors.Config) { c.ClusterID = "other" },
	} {
		cfg := good
		mutate(&cfg)
		_, err := actors.NewNodeProps(cfg)
		require.ErrorContains(t, err, dir)
	}
}
