package sidecar

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// rpcTimeout is the deadline of one test RPC; changeTimeout that of a configuration change.
const (
	rpcTimeout    = 5 * time.Second
	changeTimeout = 30 * time.Second
)

// rpcContext returns a context with the deadline of one test RPC.
func rpcContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), timeout)
}

// nodeStatus returns a node's status or fails the test.
func nodeStatus(t *testing.T, d *daemon) *raftv1.StatusResponse {
	t.Helper()
	ctx, cancel := rpcContext(rpcTimeout)
	defer cancel()
	st, err := d.client().Status(ctx, &raftv1.StatusRequest{})
	if err != nil {
		t.Fatalf("Status of node %d: %v", d.id, err)
	}
	return st
}

// waitLeader waits until d reports itself leader.
func waitLeader(t *testing.T, d *daemon) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("node %d leads", d.id), func() error {
		ctx, cancel := rpcContext(rpcTimeout)
		defer cancel()
		st, err := d.client().Status(ctx, &raftv1.StatusRequest{})
		if err != nil {
			return err
		}
		if st.Role != "leader" {
			return fmt.Errorf("role %q", st.Role)
		}
		return nil
	})
}

// findLeader waits until one of nodes reports itself leader and returns it.
func findLeader(t *testing.T, nodes ...*daemon) *daemon {
	t.Helper()
	var leader *daemon
	eventually(t, 15*time.Second, "a leader is elected", func() error {
		for _, d := range nodes {
			if !d.running() {
				continue
			}
			ctx, cancel := rpcContext(time.Second)
			st, err := d.client().Status(ctx, &raftv1.StatusRequest{})
			cancel()
			if err == nil && st.Role == "leader" {
				leader = d
				return nil
			}
		}
		return fmt.Errorf("no node reports itself leader")
	})
	return leader
}

// configOf is the configuration naming nodes at their peer addresses.
func configOf(nodes ...*daemon) *raftv1.Configuration {
	cfg := &raftv1.Configuration{}
	for _, d := range nodes {
		cfg.Peers = append(cfg.Peers, &raftv1.Peer{Id: d.id, Address: d.addr})
	}
	return cfg
}

// changeConfiguration calls ChangeConfiguration on via and checks the answer.
func changeConfiguration(t *testing.T, via *daemon, nodes ...*daemon) *raftv1.ChangeConfigurationResponse {
	t.Helper()
	ctx, cancel := rpcContext(changeTimeout)
	defer cancel()
	want := configOf(nodes...)
	res, err := via.client().ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: want})
	if err != nil {
		t.Fatalf("ChangeConfiguration to %v through node %d: %v", ids(nodes), via.id, err)
	}
	if !sameConfig(res.Config, want) {
		t.Fatalf("ChangeConfiguration answered %v, want %v", res.Config, want)
	}
	return res
}

// sameConfig compares configurations as sets of peers.
func sameConfig(a, b *raftv1.Configuration) bool {
	sorted := func(c *raftv1.Configuration) []*raftv1.Peer {
		ps := slices.Clone(c.GetPeers())
		slices.SortFunc(ps, func(x, y *raftv1.Peer) int { return int(x.Id) - int(y.Id) })
		return ps
	}
	return proto.Equal(&raftv1.Configuration{Peers: sorted(a)}, &raftv1.Configuration{Peers: sorted(b)})
}

func ids(nodes []*daemon) []uint64 {
	out := make([]uint64, len(nodes))
	for i, d := range nodes {
		out[i] = d.id
	}
	return out
}

// waitConfiguration waits until GetConfiguration on d returns the configuration of nodes.
func waitConfiguration(t *testing.T, d *daemon, nodes ...*daemon) {
	t.Helper()
	want := configOf(nodes...)
	eventually(t, 15*time.Second, fmt.Sprintf("node %d has configuration %v", d.id, ids(nodes)), func() error {
		ctx, cancel := rpcContext(rpcTimeout)
		defer cancel()
		res, err := d.client().GetConfiguration(ctx, &raftv1.GetConfigurationRequest{})
		if err != nil {
			return err
		}
		if !sameConfig(res.Config, want) {
			return fmt.Errorf("configuration %v at index %d", res.Config, res.Index)
		}
		return nil
	})
}

// startCluster starts ids 1..n, node 1 with -bootstrap, and forms the cluster of all of
// them with one ChangeConfiguration call.
func startCluster(t *testing.T, bin binaries, n int, extra ...string) []*daemon {
	t.Helper()
	nodes := make([]*daemon, n)
	for i := range nodes {
		nodes[i] = newDaemon(t, bin.raft, uint64(i+1), i == 0, extra...)
		nodes[i].start()
	}
	waitLeader(t, nodes[0])
	changeConfiguration(t, nodes[0], nodes...)
	for _, d := range nodes {
		waitConfiguration(t, d, nodes...)
	}
	return nodes
}

// submit replicates one command through d and returns the response.
func submit(t *testing.T, d *daemon, command string) *raftv1.SubmitResponse {
	t.Helper()
	ctx, cancel := rpcContext(rpcTimeout)
	defer cancel()
	res, err := d.client().Submit(ctx, &raftv1.SubmitRequest{Command: []byte(command)})
	if err != nil {
		t.Fatalf("Submit %q through node %d: %v", command, d.id, err)
	}
	return res
}

// watchUntil reads d's Watch stream from index from until it has delivered index until.
func watchUntil(t *testing.T, d *daemon, from, until uint64, timeout time.Duration) []*raftv1.Entry {
	t.Helper()
	ctx, cancel := rpcContext(timeout)
	defer cancel()
	stream, err := d.client().Watch(ctx, &raftv1.WatchRequest{FromIndex: from})
	if err != nil {
		t.Fatalf("Watch node %d: %v", d.id, err)
	}
	first := max(from, 1) // from_index 0 means 1
	var entries []*raftv1.Entry
	for {
		e, err := stream.Recv()
		if err != nil {
			t.Fatalf("Watch node %d from %d: after %d entries (want up to index %d): %v", d.id, from, len(entries), until, err)
		}
		if want := first + uint64(len(entries)); e.Index != want {
			t.Fatalf("Watch node %d: entry %d where %d was due", d.id, e.Index, want)
		}
		entries = append(entries, e)
		if e.Index >= until {
			return entries
		}
	}
}

// requireCode checks that err is a gRPC status with code and a message containing field.
func requireCode(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st, ok := status.FromError(err)
	if err == nil || !ok {
		t.Fatalf("want %v naming %q, got %v", code, field, err)
	}
	if st.Code() != code {
		t.Fatalf("want %v naming %q, got %v: %s", code, field, st.Code(), st.Message())
	}
	if field != "" && !containsField(st.Message(), field) {
		t.Fatalf("%v message %q does not name %q", code, st.Message(), field)
	}
}

// containsField says whether msg starts by naming field (as "field: ...").
func containsField(msg, field string) bool {
	return len(msg) > len(field) && msg[:len(field)] == field && msg[len(field)] == ':'
}
