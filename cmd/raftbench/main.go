// Command raftbench measures commit throughput, latency and CPU cost of this library: it
// starts an N-node cluster inside one process (each node an actors.Server with its own actor
// system and protoactor remoting on 127.0.0.1, LevelDB in a fresh temporary directory),
// waits for a leader, and runs C client goroutines that each submit a B-byte command to the
// leader and wait for its commit, in a loop. After a 1 s warm-up that is not counted, it
// measures for -duration; only operations that start and finish inside that window count.
//
//	go run ./cmd/raftbench                          # 3 nodes, 64 clients, 128 B, 10 s, fsync
//	go run ./cmd/raftbench -clients 1 -duration 5s  # commit latency of a lone client
//	go run ./cmd/raftbench -durable=false           # LevelDB without fsync
//	go run ./cmd/raftbench -cpuprofile /tmp/raft.prof
//
// Flags: -nodes (3), -clients (64), -size (128), -duration (10s), -durable (true),
// -cpuprofile (file; the profile covers the counted window only).
//
// Diagnostics go to stderr. The last line on stdout is one JSON object:
//
//	{"system":"raftsidecar","nodes":3,"clients":64,"size":128,"durable":true,"duration_s":10,
//	 "ops":...,"ops_per_sec":...,"p50_ms":...,"p90_ms":...,"p99_ms":...,"max_ms":...,
//	 "cpu_ms_per_kop":...,"peak_rss_mb":...,"errors":0}
//
// cpu_ms_per_kop is the user+system CPU time of the whole process (all nodes and clients)
// during the window per thousand committed operations; peak_rss_mb is the process's maximum
// resident set size. errors counts failed submits that started in the window (details on
// stderr). Every node also runs Server.Run with a consumer that counts applied bytes, as an
// application's state machine would.
//
// test/compare/compare.sh runs this command alternately with the same workload against
// hashicorp/raft (test/compare/hashicorp); the workload package is shared.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/raftsidecar/raft/cmd/raftbench/workload"
	"github.com/raftsidecar/raft/remote"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
)

const clusterID = "raftbench"

func main() {
	o := workload.ParseOptions()
	r, err := run(o)
	if err != nil {
		workload.Fail(err)
	}
	workload.PrintReport(r)
}

// node is one cluster member and the consumer of its committed commands.
type node struct {
	id      uint64
	address string
	server  *actors.Server
	cancel  context.CancelFunc
	done    sync.WaitGroup
	applied atomic.Int64 // bytes of committed commands delivered by Run
}

func run(o workload.Options) (workload.Report, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	base, err := os.MkdirTemp("", "raftbench-")
	if err != nil {
		return workload.Report{}, err
	}
	defer os.RemoveAll(base)

	// Errors go to stderr while the cluster runs; at shutdown the level is raised, since
	// every node then reports its peers' connections closing.
	var level slog.LevelVar
	level.Set(slog.LevelError)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: &level}))
	nodes := make([]*node, o.Nodes)
	var bootstrap []*messages.Member
	for i := range nodes {
		addr, err := remote.FreeLoopbackAddress()
		if err != nil {
			return workload.Report{}, err
		}
		nodes[i] = &node{id: uint64(i + 1), address: addr}
		bootstrap = append(bootstrap, &messages.Member{Id: nodes[i].id, Address: addr})
	}
	defer func() {
		level.Set(slog.LevelError + 100)
		for _, n := range nodes {
			n.close()
		}
	}()
	for _, n := range nodes {
		srv, err := actors.NewServer(actors.Config{
			ID:        n.id,
			ClusterID: clusterID,
			Address:   n.address,
			DataDir:   filepath.Join(base, fmt.Sprintf("node-%d", n.id)),
			NoSync:    !o.Durable,
			Bootstrap: bootstrap,
			Logger:    logger,
		})
		if err != nil {
			return workload.Report{}, fmt.Errorf("start node %d: %w", n.id, err)
		}
		n.start(srv)
	}
	workload.Logf("started %d nodes under %s (durable=%v)", o.Nodes, base, o.Durable)

	leader, err := waitForLeader(ctx, nodes, 15*time.Second)
	if err != nil {
		return workload.Report{}, err
	}
	workload.Logf("node %d (%s) is the leader; %d clients, %d-byte commands, %v warm-up + %v", leader.id, leader.address, o.Clients, o.Size, workload.Warmup, o.Duration)

	r, err := workload.Run(ctx, "raftsidecar", o, func(ctx context.Context, cmd []byte) error {
		_, _, err := leader.server.Submit(ctx, cmd)
		return err
	})
	if err != nil {
		return workload.Report{}, err
	}
	for _, n := range nodes {
		line := fmt.Sprintf("node %d applied %d bytes", n.id, n.applied.Load())
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if st, err := n.server.Status(sctx); err == nil && st.PersistBatches > 0 {
			line += fmt.Sprintf("; %d synced writes, %.1f entries and %.0f µs each", st.PersistBatches,
				float64(st.PersistEntries)/float64(st.PersistBatches), 1e6*st.PersistLatencySumSeconds/float64(st.PersistBatches))
		}
		cancel()
		workload.Logf("%s", line)
	}
	return r, nil
}

// start runs the node's commit consumer.
func (n *node) start(srv *actors.Server) {
	n.server = srv
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	commits := make(chan actors.Commit, 1024)
	n.done.Add(2)
	go func() {
		defer n.done.Done()
		defer close(commits)
		_ = srv.Run(ctx, commits)
	}()
	go func() {
		defer n.done.Done()
		for c := range commits {
			n.applied.Add(int64(len(c.Command)))
		}
	}()
}

// close stops the consumer and the server; it may be called more than once.
func (n *node) close() {
	if n.server == nil {
		return
	}
	n.cancel()
	n.done.Wait()
	if err := n.server.Close(); err != nil {
		workload.Logf("close node %d: %v", n.id, err)
	}
	n.server = nil
}

// waitForLeader polls every node's status until all report the same leader and term.
func waitForLeader(ctx context.Context, nodes []*node, timeout time.Duration) (*node, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var leaderID, term uint64
		agreed := true
		for _, n := range nodes {
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			st, err := n.server.Status(sctx)
			cancel()
			if err != nil || st.LeaderId == 0 || (leaderID != 0 && (st.LeaderId != leaderID || st.Term != term)) {
				agreed = false
				break
			}
			leaderID, term = st.LeaderId, st.Term
		}
		if agreed {
			for _, n := range nodes {
				if n.id == leaderID {
					return n, nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, errors.New("no leader agreed on by every node in time")
}
