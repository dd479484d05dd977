// Command cluster shows the library working: three Raft nodes on loopback remoting elect a
// leader, replicate commands, lose their leader, elect a new one, and bring the killed node
// back from its data directory to catch up. It narrates each step and ends by itself.
//
//	go run ./examples/cluster
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
)

const clusterID = "example"

// member is one node of the example with the commands it has applied so far.
type member struct {
	id      uint64
	address string
	dir     string
	server  *actors.Server
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	applied []string
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

	var members []*member
	var bootstrap []*messages.Member
	for id := uint64(1); id <= 3; id++ {
		addr, err := freeAddress()
		if err != nil {
			return err
		}
		m := &member{id: id, address: addr, dir: filepath.Join(base, fmt.Sprintf("node-%d", id))}
		members = append(members, m)
		bootstrap = append(bootstrap, &messages.Member{Id: id, Address: addr})
	}

	say("Starting three nodes on loopback, each with its own LevelDB directory under %s.", base)
	for _, m := range members {
		if err := m.start(bootstrap); err != nil {
			return err
		}
		say("  node %d listens for peers on %s", m.id, m.address)
	}
	defer func() {
		for _, m := range members {
			m.stop()
		}
	}()

	started := time.Now()
	leader, term, err := waitForLeader(members, 10*time.Second)
	if err != nil {
		return err
	}
	say("Node %d won the election for term %d after %v.", leader.id, term, since(started))

	say("Submitting five commands to the leader; each returns once a majority has it on disk.")
	for i := 1; i <= 5; i++ {
		cmd := fmt.Sprintf("set x=%d", i)
		idx, t, err := submit(leader, cmd)
		if err != nil {
			return err
		}
		say("  %q committed at index %d in term %d", cmd, idx, t)
	}
	if err := waitApplied(members, 5, 10*time.Second); err != nil {
		return err
	}
	say("Every node applied the same five commands in the same order: %v", members[0].snapshot())

	say("Killing the leader, node %d (no clean shutdown of its log).", leader.id)
	killed := leader
	killedAt := time.Now()
	killed.stop()
	var alive []*member
	for _, m := range members {
		if m != killed {
			alive = append(alive, m)
		}
	}
	leader, term, err = waitForLeader(alive, 10*time.Second)
	if err != nil {
		return err
	}
	say("Node %d took over as leader for term %d, %v after the kill.", leader.id, term, since(killedAt))

	say("Writing three more commands while node %d is down.", killed.id)
	for i := 6; i <= 8; i++ {
		cmd := fmt.Sprintf("set x=%d", i)
		idx, t, err := submit(leader, cmd)
		if err != nil {
			return err
		}
		say("  %q committed at index %d in term %d", cmd, idx, t)
	}

	say("Restarting node %d from its data directory; it must catch up on what it missed.", killed.id)
	restarted := time.Now()
	if err := killed.start(bootstrap); err != nil {
		return err
	}
	if err := waitApplied(members, 8, 15*time.Second); err != nil {
		return err
	}
	say("Node %d is back and has applied all eight commands (%v after restart): %v", killed.id, since(restarted), killed.snapshot())
	for _, m := range members {
		st, err := m.server.Status(context.Background())
		if err != nil {
			return err
		}
		say("  node %d: %-8s term %d, commit index %d, leader %d", m.id, st.Role, st.Term, st.CommitIndex, st.LeaderId)
	}
	say("Done: one leader per term, every command on every node, nothing lost across the crash.")
	return nil
}

func (m *member) start(bootstrap []*messages.Member) error {
	srv, err := actors.NewServer(actors.Config{
		ID: m.id, ClusterID: clusterID, Address: m.address, DataDir: m.dir, Bootstrap: bootstrap,
	})
	if err != nil {
		return fmt.Errorf("start node %d: %w", m.id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	commits := make(chan actors.Commit, 64)
	m.mu.Lock()
	m.server, m.cancel, m.done, m.applied = srv, cancel, make(chan struct{}), nil
	done := m.done
	m.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Run(ctx, commits)
	}()
	go func() {
		for c := range commits {
			m.mu.Lock()
			m.applied = append(m.applied, string(c.Command))
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

func (m *member) snapshot() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.applied...)
}

func (m *member) running() *actors.Server {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.server
}

// waitForLeader polls the members until they agree on one leader.
func waitForLeader(members []*member, timeout time.Duration) (*member, uint64, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var leader *member
		var term uint64
		agreed := true
		for _, m := range members {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := m.running().Status(ctx)
			cancel()
			if err != nil || st.LeaderId == 0 || (term != 0 && st.Term != term) {
				agreed = false
				break
			}
			term = st.Term
			for _, c := range members {
				if c.id == st.LeaderId {
					leader = c
				}
			}
		}
		if agreed && leader != nil {
			return leader, term, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, 0, errors.New("no leader elected in time")
}

func submit(m *member, cmd string) (uint64, uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.running().Submit(ctx, []byte(cmd))
}

// waitApplied waits until every running member applied n commands.
func waitApplied(members []*member, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok := true
		for _, m := range members {
			if len(m.snapshot()) < n {
				ok = false
			}
		}
		if ok {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not every node applied %d commands in time", n)
}

func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func say(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}
