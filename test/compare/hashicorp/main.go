// Command hashicorp runs raftbench's workload against hashicorp/raft, for comparison: the
// same flags, the same client loop and measurement (the cmd/raftbench/workload package) and
// the same JSON line, with "system":"hashicorp-raft".
//
//	go run ./hashicorp -clients 64 -duration 10s   # from test/compare
//
// The cluster: N hashicorp/raft v1.8.0 nodes in this process, each with its own TCP
// transport on 127.0.0.1, a raft-boltdb/v2 store (log and stable store) behind a
// raft.LogCache, and a file snapshot store, all in a fresh temporary directory; every node
// is bootstrapped with the full configuration. It is configured as a performance-minded
// user would: BatchApplyCh, MaxAppendEntries 1024 (the largest hashicorp/raft accepts), a
// 1024-entry log cache, loopback-sized timeouts, and logging at Error level only.
// -durable=false opens bolt with NoSync: the same code path without fsync. The FSM counts
// applied bytes. Clients call Raft.Apply on the leader and wait on the future's Error().
// Snapshots keep hashicorp/raft's defaults (first check after 120-240 s), so runs of normal
// length take none, like raftsidecar, which has no snapshots yet.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/raftsidecar/raft/cmd/raftbench/workload"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

const (
	maxAppendEntries = 1024
	logCacheSize     = 1024
)

func main() {
	o := workload.ParseOptions()
	r, err := run(o)
	if err != nil {
		workload.Fail(err)
	}
	workload.PrintReport(r)
}

// node is one cluster member.
type node struct {
	id        raft.ServerID
	raft      *raft.Raft
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	fsm       *countingFSM
}

func run(o workload.Options) (workload.Report, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	base, err := os.MkdirTemp("", "raftbench-hashicorp-")
	if err != nil {
		return workload.Report{}, err
	}
	defer os.RemoveAll(base)

	// Errors go to stderr while the cluster runs; at shutdown the level is raised, as
	// nodes then workload.Report failed connections to peers that are already gone.
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Error, Output: os.Stderr})

	nodes := make([]*node, o.Nodes)
	defer func() {
		logger.SetLevel(hclog.Off)
		for _, n := range nodes {
			if n != nil {
				n.close()
			}
		}
	}()
	var servers []raft.Server
	for i := range nodes {
		n := &node{id: raft.ServerID(fmt.Sprint(i + 1)), fsm: &countingFSM{}}
		nodes[i] = n
		// Port 0: the transport listens on a free port and advertises the real address.
		n.transport, err = raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 10*time.Second, logger)
		if err != nil {
			return workload.Report{}, fmt.Errorf("node %s: transport: %w", n.id, err)
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: n.id, Address: n.transport.LocalAddr()})
	}
	for _, n := range nodes {
		if err := n.start(filepath.Join(base, "node-"+string(n.id)), o.Durable, logger, servers); err != nil {
			return workload.Report{}, fmt.Errorf("node %s: %w", n.id, err)
		}
	}
	workload.Logf("started %d nodes under %s (durable=%v)", o.Nodes, base, o.Durable)

	leader, err := waitForLeader(ctx, nodes, 15*time.Second)
	if err != nil {
		return workload.Report{}, err
	}
	workload.Logf("node %s (%s) is the leader; %d clients, %d-byte commands, %v warm-up + %v", leader.id, leader.transport.LocalAddr(), o.Clients, o.Size, workload.Warmup, o.Duration)

	r, err := workload.Run(ctx, "hashicorp-raft", o, func(ctx context.Context, cmd []byte) error {
		timeout := workload.OpTimeout
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		return leader.raft.Apply(cmd, timeout).Error()
	})
	if err != nil {
		return workload.Report{}, err
	}
	for _, n := range nodes {
		workload.Logf("node %s applied %d bytes", n.id, n.fsm.applied.Load())
	}
	return r, nil
}

// start opens the node's stores, bootstraps it and starts Raft.
func (n *node) start(dir string, durable bool, logger hclog.Logger, servers []raft.Server) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var err error
	n.store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), NoSync: !durable})
	if err != nil {
		return fmt.Errorf("bolt store: %w", err)
	}
	logs, err := raft.NewLogCache(logCacheSize, n.store)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 1, logger)
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}

	conf := raft.DefaultConfig()
	conf.LocalID = n.id
	conf.Logger = logger
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond
	conf.CommitTimeout = 20 * time.Millisecond
	conf.MaxAppendEntries = maxAppendEntries
	conf.BatchApplyCh = true

	if err := raft.BootstrapCluster(conf, logs, n.store, snaps, n.transport, raft.Configuration{Servers: servers}); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	n.raft, err = raft.NewRaft(conf, n.fsm, logs, n.store, snaps, n.transport)
	if err != nil {
		return fmt.Errorf("new raft: %w", err)
	}
	return nil
}

func (n *node) close() {
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			workload.Logf("shutdown node %s: %v", n.id, err)
		}
	}
	if n.transport != nil {
		_ = n.transport.Close()
	}
	if n.store != nil {
		_ = n.store.Close()
	}
}

// waitForLeader polls every node until all name the same leader and that node leads.
func waitForLeader(ctx context.Context, nodes []*node, timeout time.Duration) (*node, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var leaderID raft.ServerID
		agreed := true
		for _, n := range nodes {
			_, id := n.raft.LeaderWithID()
			if id == "" || (leaderID != "" && id != leaderID) {
				agreed = false
				break
			}
			leaderID = id
		}
		if agreed {
			for _, n := range nodes {
				if n.id == leaderID && n.raft.State() == raft.Leader {
					return n, nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, errors.New("no leader agreed on by every node in time")
}

// countingFSM is a trivial state machine: the number of command bytes applied.
type countingFSM struct {
	applied atomic.Int64
}

func (f *countingFSM) Apply(l *raft.Log) interface{} {
	f.applied.Add(int64(len(l.Data)))
	return nil
}

func (f *countingFSM) Snapshot() (raft.FSMSnapshot, error) {
	return countSnapshot(f.applied.Load()), nil
}

func (f *countingFSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	f.applied.Store(int64(binary.BigEndian.Uint64(b[:])))
	return nil
}

type countSnapshot int64

func (s countSnapshot) Persist(sink raft.SnapshotSink) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(s))
	if _, err := sink.Write(b[:]); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (countSnapshot) Release() {}
