package sidecar

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// snapshot is what a bad request must not change on a node.
type snapshot struct {
	lastLogIndex uint64
	configIndex  uint64
	config       *raftv1.Configuration
}

func takeSnapshot(t *testing.T, d *daemon) snapshot {
	t.Helper()
	st := nodeStatus(t, d)
	ctx, cancel := rpcContext(rpcTimeout)
	defer cancel()
	cfg, err := d.client().GetConfiguration(ctx, &raftv1.GetConfigurationRequest{})
	if err != nil {
		t.Fatalf("GetConfiguration of node %d: %v", d.id, err)
	}
	return snapshot{lastLogIndex: st.LastLogIndex, configIndex: cfg.Index, config: cfg.Config}
}

// requireUnchanged checks that no node's log or configuration moved since before.
func requireUnchanged(t *testing.T, what string, nodes []*daemon, before []snapshot) {
	t.Helper()
	for i, d := range nodes {
		now := takeSnapshot(t, d)
		if now.lastLogIndex != before[i].lastLogIndex || now.configIndex != before[i].configIndex || !proto.Equal(now.config, before[i].config) {
			t.Fatalf("%s changed node %d: last log index %d -> %d, configuration %v@%d -> %v@%d", what, d.id,
				before[i].lastLogIndex, now.lastLogIndex, before[i].config, before[i].configIndex, now.config, now.configIndex)
		}
	}
}

// testErrorTable checks every row of the contract's error table through the real gRPC
// server, on the leader and on a follower: the stated code, a message that names the field,
// and nothing changed.
func testErrorTable(t *testing.T, bin binaries) {
	// A short catch-up timeout lets the change-in-progress row end quickly.
	nodes := startCluster(t, bin, 3, "-catch-up-timeout", "2s")
	leader := findLeader(t, nodes...)
	var follower *daemon
	for _, d := range nodes {
		if d != leader {
			follower = d
			break
		}
	}
	submit(t, leader, "before the bad requests")
	eventually(t, 10*time.Second, "every node has the same last log index", func() error {
		want := nodeStatus(t, leader).CommitIndex
		for _, d := range nodes {
			if st := nodeStatus(t, d); st.LastLogIndex != want || st.CommitIndex != want {
				return fmt.Errorf("node %d: last %d commit %d, leader commit %d", d.id, st.LastLogIndex, st.CommitIndex, want)
			}
		}
		return nil
	})
	before := make([]snapshot, len(nodes))
	for i, d := range nodes {
		before[i] = takeSnapshot(t, d)
	}

	peer := func(id uint64, addr string) *raftv1.Peer { return &raftv1.Peer{Id: id, Address: addr} }
	a1, a2 := nodes[0].addr, nodes[1].addr
	malformed := []struct {
		name  string
		call  func(ctx context.Context, c raftv1.PeerServiceClient) error
		field string
	}{
		{"empty command", submitCall(nil), "command"},
		{"command over the size limit", submitCall(make([]byte, 1<<20+1)), "command"},
		{"no new_config", changeCall(nil), "new_config"},
		{"configuration with no peers", changeCall(&raftv1.Configuration{}), "new_config.peers"},
		{"duplicate id", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, a1), peer(1, a2)}}), "new_config.peers[1].id"},
		{"id 0", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(0, a1)}}), "new_config.peers[0].id"},
		{"id 0 after a good peer", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, a1), peer(0, a2)}}), "new_config.peers[1].id"},
		{"address without port", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, a1), peer(2, "127.0.0.1")}}), "new_config.peers[1].address"},
		{"address without host", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, ":7001")}}), "new_config.peers[0].address"},
		{"address with port 0", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, "127.0.0.1:0")}}), "new_config.peers[0].address"},
		{"address with port out of range", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, "127.0.0.1:70000")}}), "new_config.peers[0].address"},
		{"empty address", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, "")}}), "new_config.peers[0].address"},
		{"duplicate address", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, a1), peer(2, a1)}}), "new_config.peers[1].address"},
		{"member moved to another address", changeCall(&raftv1.Configuration{Peers: []*raftv1.Peer{peer(1, a1), peer(2, freeAddress(t))}}), "new_config.peers[1].address"},
		{"transfer to a non-member", func(ctx context.Context, c raftv1.PeerServiceClient) error {
			_, err := c.TransferLeadership(ctx, &raftv1.TransferLeadershipRequest{TargetId: 99})
			return err
		}, "target_id"},
	}
	for _, tc := range malformed {
		for _, d := range []*daemon{leader, follower} {
			ctx, cancel := rpcContext(rpcTimeout)
			err := tc.call(ctx, d.client())
			cancel()
			requireCode(t, err, codes.InvalidArgument, tc.field)
			requireUnchanged(t, fmt.Sprintf("%s through node %d", tc.name, d.id), nodes, before)
		}
	}

	// The client's deadline passes: DEADLINE_EXCEEDED. Adding a node that does not run
	// keeps the change in its catch-up phase (2 s here), which appends nothing.
	ghost := &raftv1.Configuration{Peers: append(proto.Clone(before[0].config).(*raftv1.Configuration).Peers, peer(9, freeAddress(t)))}
	ctx, cancel := rpcContext(300 * time.Millisecond)
	_, err := follower.client().ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: ghost})
	cancel()
	requireCode(t, err, codes.DeadlineExceeded, "")

	// Another configuration change is still in progress: FAILED_PRECONDITION, on the leader
	// and through a follower.
	for _, d := range []*daemon{leader, follower} {
		ctx, cancel := rpcContext(rpcTimeout)
		_, err := d.client().ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: before[0].config})
		cancel()
		requireCode(t, err, codes.FailedPrecondition, "")
		if !strings.Contains(err.Error(), "change in progress") {
			t.Fatalf("FAILED_PRECONDITION does not say a change is in progress: %v", err)
		}
	}
	requireUnchanged(t, "a change whose new member never caught up", nodes, before)
	// Once the catch-up timeout has ended the change, the configuration in force is the
	// answer to a change to itself, and nothing moved.
	eventually(t, 10*time.Second, "the stalled change ends", func() error {
		ctx, cancel := rpcContext(rpcTimeout)
		defer cancel()
		_, err := leader.client().ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: before[0].config})
		return err
	})
	requireUnchanged(t, "the ended change", nodes, before)

	// No leader known: UNAVAILABLE. A node that was never added knows no leader.
	orphan := newDaemon(t, bin.raft, 7, false)
	orphan.start()
	unavailable := []struct {
		name string
		call func(ctx context.Context, c raftv1.PeerServiceClient) error
	}{
		{"Submit", submitCall([]byte("nobody leads"))},
		{"ChangeConfiguration", changeCall(configOf(orphan))},
		{"ReadIndex", func(ctx context.Context, c raftv1.PeerServiceClient) error {
			_, err := c.ReadIndex(ctx, &raftv1.ReadIndexRequest{})
			return err
		}},
		{"TransferLeadership", func(ctx context.Context, c raftv1.PeerServiceClient) error {
			_, err := c.TransferLeadership(ctx, &raftv1.TransferLeadershipRequest{})
			return err
		}},
	}
	for _, tc := range unavailable {
		ctx, cancel := rpcContext(rpcTimeout)
		err := tc.call(ctx, orphan.client())
		cancel()
		requireCode(t, err, codes.Unavailable, "")
	}
	if st := nodeStatus(t, orphan); st.LastLogIndex != 0 || st.Role != "learner" || st.LeaderId != 0 {
		t.Fatalf("the orphan node changed: %v", st)
	}
	requireUnchanged(t, "requests to a node outside the cluster", nodes, before)

	// Watch from_index 0 means 1.
	entries := watchUntil(t, follower, 0, 2, 5*time.Second)
	if entries[0].Index != 1 {
		t.Fatalf("Watch from 0 started at %d, want 1", entries[0].Index)
	}

	// No quorum: with both other members killed, the leader steps down once it has not heard
	// from a quorum for an election timeout (CheckQuorum); from then on requests get
	// UNAVAILABLE at once.
	for _, d := range nodes {
		if d != leader {
			d.kill()
		}
	}
	eventually(t, 10*time.Second, fmt.Sprintf("node %d steps down without a quorum", leader.id), func() error {
		if st := nodeStatus(t, leader); st.Role == "leader" {
			return fmt.Errorf("still leader of term %d", st.Term)
		}
		return nil
	})
	for _, tc := range unavailable {
		ctx, cancel := rpcContext(rpcTimeout)
		err := tc.call(ctx, leader.client())
		cancel()
		requireCode(t, err, codes.Unavailable, "")
	}

	// OUT_OF_RANGE (from_index below what the log holds) needs a compacted log, which this
	// version never has; cmd/raft's unit tests check the mapping.
}

func submitCall(cmd []byte) func(context.Context, raftv1.PeerServiceClient) error {
	return func(ctx context.Context, c raftv1.PeerServiceClient) error {
		_, err := c.Submit(ctx, &raftv1.SubmitRequest{Command: cmd})
		return err
	}
}

func changeCall(cfg *raftv1.Configuration) func(context.Context, raftv1.PeerServiceClient) error {
	return func(ctx context.Context, c raftv1.PeerServiceClient) error {
		_, err := c.ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: cfg})
		return err
	}
}
