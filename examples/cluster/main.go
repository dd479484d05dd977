// Command cluster shows the library working, narrating each step: a one-node cluster grows
// to three nodes while a writer keeps submitting, the three elect and replicate, lose their
// leader (killed without a clean shutdown), elect a new one, and bring the killed node back
// from its data directory to catch up; then the cluster grows to five and shrinks back to
// three, still under writes. At the end every acknowledged write is checked on every member.
// It ends by itself.
//
//	go run ./examples/cluster
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
)

const clusterID = "example"

// member is one node of the example with the commands it has applied so far.
type member struct {
	id        uint64
	address   string
	dir       string
	bootstrap []*messages.Member

	mu      sync.Mutex
	server  *actors.Server
	cancel  context.CancelFunc
	done    chan struct{}
	applied []actors.Commit
}

// example holds the five nodes and the writer's results.
type example struct {
	nodes map[uint64]*member

	mu     sync.Mutex
	acked  map[uint64]string // index -> command, for every acknowledged write
	failed int               // writes whose outcome is unknown (the leader died under them)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example failed:", err)
		os.Exit(1)
	}
}

func run() error {
	base, err := os.MkdirTemp("", "raft-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)

	ex := &example{nodes: map[uint64]*member{}, acked: map[uint64]string{}}
	for id := uint64(1); id <= 5; id++ {
		addr, err := remote.FreeLoopbackAddress()
		if err != nil {
			return err
		}
		ex.nodes[id] = &member{id: id, address: addr, dir: filepath.Join(base, fmt.Sprintf("node-%d", id))}
	}
	defer func() {
		for _, m := range ex.nodes {
			m.stop()
		}
	}()
	// Node 1 alone is the initial cluster; the others start empty and wait to be added.
	ex.nodes[1].bootstrap = ex.members(1)

	say("Starting node 1 as a one-node cluster (data under %s).", base)
	started := time.Now()
	if err := ex.nodes[1].start(); err != nil {
		return err
	}
	leader, term, err := ex.waitForLeader([]uint64{1}, 10*time.Second)
	if err != nil {
		return err
	}
	say("Node %d leads term %d after %v. A writer now submits a command every 20 ms, throughout.", leader.id, term, since(started))
	stopWriter := ex.startWriter()

	say("Growing to three nodes: starting nodes 2 and 3 empty and adding both in one change.")
	for _, id := range []uint64{2, 3} {
		if err := ex.nodes[id].start(); err != nil {
			return err
		}
	}
	if err := ex.change(1, 2, 3); err != nil {
		return err
	}
	if err := ex.waitApplied([]uint64{1, 2, 3}, 10*time.Second); err != nil {
		return err
	}
	say("Nodes 2 and 3 caught up and applied the same %d commands as node 1.", len(ex.nodes[1].snapshot()))

	leader, term, err = ex.waitForLeader([]uint64{1, 2, 3}, 10*time.Second)
	if err != nil {
		return err
	}
	say("Killing the leader, node %d of term %d (no clean shutdown of its log).", leader.id, term)
	killed := leader
	killedAt := time.Now()
	killed.stop()
	var alive []uint64
	for _, id := range []uint64{1, 2, 3} {
		if id != killed.id {
			alive = append(alive, id)
		}
	}
	leader, term, err = ex.waitForLeader(alive, 10*time.Second)
	if err != nil {
		return err
	}
	say("Node %d took over as leader for term %d, %v after the kill; the writer carries on through it.", leader.id, term, since(killedAt))

	say("Restarting node %d from its data directory; it catches up on what it missed.", killed.id)
	restarted := time.Now()
	if err := killed.start(); err != nil {
		return err
	}
	if err := ex.waitApplied([]uint64{1, 2, 3}, 15*time.Second); err != nil {
		return err
	}
	say("Node %d is back in step after %v.", killed.id, since(restarted))

	say("Growing to five nodes: starting nodes 4 and 5 and adding them (joint consensus, writes continue).")
	for _, id := range []uint64{4, 5} {
		if err := ex.nodes[id].start(); err != nil {
			return err
		}
	}
	if err := ex.change(1, 2, 3, 4, 5); err != nil {
		return err
	}
	if err := ex.waitApplied([]uint64{1, 2, 3, 4, 5}, 15*time.Second); err != nil {
		return err
	}

	say("Shrinking back to three nodes: removing nodes 4 and 5.")
	if err := ex.change(1, 2, 3); err != nil {
		return err
	}
	stopWriter()
	if err := ex.waitApplied([]uint64{1, 2, 3}, 15*time.Second); err != nil {
		return err
	}
	ex.mu.Lock()
	acked, failed := len(ex.acked), ex.failed
	ex.mu.Unlock()
	say("The writer stopped: %d writes acknowledged, %d with an unknown outcome (in flight when the leader died).", acked, failed)
	if err := ex.checkAcknowledged([]uint64{1, 2, 3}); err != nil {
		return err
	}
	for _, id := range []uint64{1, 2, 3} {
		st, err := ex.nodes[id].running().Status(context.Background())
		if err != nil {
			return err
		}
		say("  node %d: %-8s term %d, commit index %d, %d members", id, st.Role, st.Term, st.CommitIndex, len(st.Config.Voters))
	}
	say("Done: every acknowledged write is on every member, at its index, in the same order.")
	return nil
}

func (ex *example) members(ids ...uint64) []*messages.Member {
	var out []*messages.Member
	for _, id := range ids {
		out = append(out, &messages.Member{Id: id, Address: ex.nodes[id].address})
	}
	return out
}

// change moves the cluster to the given voters through the current leader and narrates it.
func (ex *example) change(ids ...uint64) error {
	leader, _, err := ex.waitForLeader(nil, 10*time.Second)
	if err != nil {
		return err
	}
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	index, cfg, err := leader.running().ChangeConfiguration(ctx, ex.members(ids...))
	if err != nil {
		return fmt.Errorf("change to %v: %w", ids, err)
	}
	var got []uint64
	for _, m := range cfg.Voters {
		got = append(got, m.Id)
	}
	say("  configuration %v committed at index %d after %v", got, index, since(started))
	return nil
}

// startWriter submits a command every 20 ms to the current leader until stopped.
func (ex *example) startWriter() (stop func()) {
	var stopped atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; !stopped.Load(); i++ {
			time.Sleep(20 * time.Millisecond)
			leader, _, err := ex.waitForLeader(nil, 5*time.Second)
			if err != nil {
				continue
			}
			cmd := fmt.Sprintf("write %d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			index, _, err := leader.running().Submit(ctx, []byte(cmd))
			cancel()
			ex.mu.Lock()
			if err == nil {
				ex.acked[index] = cmd
			} else {
				ex.failed++
			}
			ex.mu.Unlock()
		}
	}()
	return func() {
		stopped.Store(true)
		<-done
	}
}

// checkAcknowledged verifies every acknowledged write on every given node.
func (ex *example) checkAcknowledged(ids []uint64) error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, id := range ids {
		byIndex := map[uint64]string{}
		for _, c := range ex.nodes[id].snapshot() {
			byIndex[c.Index] = string(c.Command)
		}
		for index, cmd := range ex.acked {
			if byIndex[index] != cmd {
				return fmt.Errorf("node %d: acknowledged %q at index %d is missing", id, cmd, index)
			}
		}
	}
	return nil
}

func (m *member) start() error {
	srv, err := actors.NewServer(actors.Config{
		ID: m.id, ClusterID: clusterID, Address: m.address, DataDir: m.dir, Bootstrap: m.bootstrap,
	})
	if err != nil {
		return fmt.Errorf("start node %d: %w", m.id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	commits := make(chan actors.Commit, 64)
	done := make(chan struct{})
	m.mu.Lock()
	m.server, m.cancel, m.done, m.applied = srv, cancel, done, nil
	m.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Run(ctx, commits)
	}()
	go func() {
		for c := range commits {
			m.mu.Lock()
			m.applied = append(m.applied, c)
			m.mu.Unlock()
		}
	}()
	return nil
}

func (m *member) stop() {
	m.mu.Lock()
	srv, cancel, done := m.server, m.cancel, m.done
	m.server = nil
	m.mu.Unlock()
	if srv == nil {
		return
	}
	cancel()
	<-done
	_ = srv.Close()
}

func (m *member) snapshot() []actors.Commit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]actors.Commit(nil), m.applied...)
}

func (m *member) running() *actors.Server {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.server
}

// waitForLeader polls the given nodes (nil: every running one) until a leader is known to
// all of them that run.
func (ex *example) waitForLeader(ids []uint64, timeout time.Duration) (*member, uint64, error) {
	if ids == nil {
		for id := uint64(1); id <= 5; id++ {
			ids = append(ids, id)
		}
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, id := range ids {
			srv := ex.nodes[id].running()
			if srv == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := srv.Status(ctx)
			cancel()
			if err == nil && st.Role == "leader" {
				return ex.nodes[id], st.Term, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, 0, errors.New("no leader elected in time")
}

// waitApplied waits until the given nodes applied the same number of commands, which is at
// least every write acknowledged so far.
func (ex *example) waitApplied(ids []uint64, timeout time.Duration) error {
	ex.mu.Lock()
	var want uint64
	for index := range ex.acked {
		want = max(want, index)
	}
	ex.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok := true
		var n int
		for i, id := range ids {
			got := ex.nodes[id].snapshot()
			if len(got) == 0 || got[len(got)-1].Index < want || (i > 0 && len(got) != n) {
				ok = false
			}
			n = len(got)
		}
		if ok {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nodes %v did not catch up in time", ids)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func say(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}
