package actors

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
)

// simSeeds returns the seeds to run: SIM_SEED=n replays one, SIM_SEEDS=n runs n.
func simSeeds(t *testing.T, def int) []int64 {
	if v := os.Getenv("SIM_SEED"); v != "" {
		seed, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("SIM_SEED: %v", err)
		}
		return []int64{seed}
	}
	n := def
	if v := os.Getenv("SIM_SEEDS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if testing.Short() {
		n = max(1, n/5)
	}
	seeds := make([]int64, n)
	for i := range seeds {
		seeds[i] = int64(i + 1)
	}
	return seeds
}

// TestSimulatedFaults runs a few hundred randomized steps per seed (partitions, drops,
// duplicates, delays, crashes and restarts, client submits to any node) and after every
// step checks election safety, log matching, leader completeness, state machine safety and
// that acknowledged writes are committed as acknowledged. It ends each seed by healing the
// cluster and requiring that it elects a leader, commits new writes and converges.
// A failure names its seed; replay it with SIM_SEED=<seed> go test ./actors -run TestSimulatedFaults -v.
func TestSimulatedFaults(t *testing.T) {
	for _, seed := range simSeeds(t, 40) {
		nodes := 3 + int(seed%3) // 3, 4 and 5 nodes, with two more that configuration changes may add
		s, err := runFaultSeed(seed, nodes, 300)
		if err != nil {
			t.Fatalf("seed %d (%d nodes): %v\nreplay: SIM_SEED=%d go test ./actors -run TestSimulatedFaults -v", seed, nodes, err, seed)
		}
		acked, terms, changed := 0, len(s.leaders), 0
		for _, sub := range s.submits {
			if sub.result != nil && sub.result.Code == messages.ErrorCode_ERROR_CODE_NONE {
				acked++
			}
		}
		for _, c := range s.changes {
			if c.result != nil && c.result.Code == messages.ErrorCode_ERROR_CODE_NONE {
				changed++
			}
		}
		t.Logf("seed %d: %d nodes, %d events, %d submits, %d acknowledged, %d committed, %d terms with a leader, %d/%d configuration changes done",
			seed, nodes, s.delivered, len(s.submits), acked, len(s.committed), terms, changed, len(s.changes))
		if acked == 0 {
			t.Fatalf("seed %d: no write acknowledged: the fault mix leaves nothing to check", seed)
		}
	}
}

func runFaultSeed(seed int64, size, steps int) (*sim, error) {
	pool := size + 2
	s := newSimPool(seed, size, pool)
	cmd := 0
	for step := 0; step < steps; step++ {
		var crash uint64
		switch r := s.rng.Intn(100); {
		case r < 8: // partition into a random side and the rest
			side := map[uint64]bool{}
			for _, id := range sortedKeys(s.nodes) {
				if s.rng.Intn(2) == 0 {
					side[id] = true
				}
			}
			s.partition(side)
		case r < 14: // heal the network
			s.links = map[[2]uint64]*simLink{}
			s.baseLink = simLink{}
		case r < 20: // lossy, duplicating network
			s.baseLink = simLink{dropRate: s.rng.Float64() * 0.3, dupRate: s.rng.Float64() * 0.3}
		case r < 25: // slow network: long delays reorder messages
			s.maxDelay = time.Duration(1+s.rng.Intn(40)) * time.Millisecond
		case r < 31: // crash a node at a random instant of this step
			crash = uint64(1 + s.rng.Intn(pool))
		case r < 34: // change the configuration to a random set of 1 to pool members
			var members []*messages.Member
			for _, i := range s.rng.Perm(pool)[:1+s.rng.Intn(pool)] {
				members = append(members, s.members[i])
			}
			s.changeConfig(uint64(1+s.rng.Intn(pool)), members)
		case r < 40: // restart crashed nodes
			for _, n := range s.ordered() {
				if !n.alive {
					s.start(n.id)
				}
			}
		}
		for i := s.rng.Intn(4); i > 0; i-- {
			cmd++
			s.submit(uint64(1+s.rng.Intn(pool)), []byte(fmt.Sprintf("s%d-c%d", seed, cmd)))
		}
		d := time.Duration(10+s.rng.Intn(90)) * time.Millisecond
		if crash != 0 {
			before := time.Duration(s.rng.Int63n(int64(d)))
			if err := s.runFor(before); err != nil {
				return s, fmt.Errorf("step %d: %w", step, err)
			}
			s.crash(crash)
			d -= before
		}
		if err := s.runFor(d); err != nil {
			return s, fmt.Errorf("step %d: %w", step, err)
		}
	}
	return s, s.settle(cmd)
}

// settle heals everything and requires liveness: a leader, a fresh write committed, and
// every node's log and applied entries converged to the same sequence.
func (s *sim) settle(cmd int) error {
	s.healAll()
	s.maxDelay = 5 * time.Millisecond
	var final *simSubmit
	sentAt := 0
	for round := 0; round < 100; round++ {
		if err := s.runFor(100 * time.Millisecond); err != nil {
			return fmt.Errorf("settling: %w", err)
		}
		// A write unanswered for a second counts as lost to the client, as a timeout would.
		lost := final != nil && final.result == nil && round-sentAt > 10
		if final == nil || lost || (final.result != nil && final.result.Code != messages.ErrorCode_ERROR_CODE_NONE) {
			sentAt = round
			if l := s.leader(); l != 0 {
				final = s.submit(l, []byte(fmt.Sprintf("final-%d-%d", cmd, round)))
			}
			continue
		}
		if final.result == nil || !s.converged() {
			continue
		}
		return s.failure
	}
	return fmt.Errorf("no convergence after healing: leader %d, final write %v, %s", s.leader(), final, s.describe())
}

// converged says whether every member of the leader's configuration holds and applied the
// same log, fully committed, and no change is left half done.
func (s *sim) converged() bool {
	l := s.leader()
	if l == 0 {
		return false
	}
	ref := s.nodes[l]
	cfg := ref.node.config
	if len(cfg.OldVoters) > 0 || ref.node.configIndex > ref.node.commitIndex || ref.node.change != nil {
		return false
	}
	last := ref.node.log.lastIndex()
	for _, n := range s.ordered() {
		if !isVoter(cfg, n.id) {
			continue
		}
		l := n.node
		if l.log.lastIndex() != last || l.commitIndex != last || uint64(len(n.applied)) != last {
			return false
		}
		if l.log.term(last) != ref.node.log.term(last) {
			return false
		}
	}
	return true
}

func (s *sim) describe() string {
	out := ""
	for id := uint64(1); id <= uint64(len(s.nodes)); id++ {
		n := s.nodes[id]
		out += fmt.Sprintf("[node %d alive=%v %s term=%d vote=%d last=%d/%d commit=%d applied=%d config@%d=%v old=%v] ", id, n.alive, n.node.role,
			n.node.term, n.node.vote, n.node.log.lastIndex(), n.node.log.lastTerm(), n.node.commitIndex, len(n.applied), n.node.configIndex,
			memberIDs(n.node.config.GetVoters()), memberIDs(n.node.config.GetOldVoters()))
	}
	return out
}

// TestSimulatedAcknowledgedWritesSurvive checks the end-to-end promise under faults: every
// Submit that was acknowledged is, after healing, applied on every node at its index.
func TestSimulatedAcknowledgedWritesSurvive(t *testing.T) {
	for _, seed := range simSeeds(t, 10) {
		s := newSim(1000+seed, 3)
		cmd := 0
		for step := 0; step < 200; step++ {
			switch s.rng.Intn(10) {
			case 0:
				s.crash(uint64(1 + s.rng.Intn(3)))
			case 1, 2:
				s.healAll()
			case 3:
				s.partition(map[uint64]bool{uint64(1 + s.rng.Intn(3)): true})
			}
			for i := 0; i < 3; i++ {
				cmd++
				s.submit(uint64(1+s.rng.Intn(3)), []byte(fmt.Sprintf("w%d", cmd)))
			}
			if err := s.runFor(50 * time.Millisecond); err != nil {
				t.Fatalf("seed %d step %d: %v", 1000+seed, step, err)
			}
		}
		if err := s.settle(cmd); err != nil {
			t.Fatalf("seed %d: %v", 1000+seed, err)
		}
		acked := 0
		for _, sub := range s.submits {
			if r := sub.result; r != nil && r.Code == messages.ErrorCode_ERROR_CODE_NONE {
				acked++
				for _, n := range s.ordered() {
					if r.Index > uint64(len(n.applied)) || string(n.applied[r.Index-1].Data) != string(sub.command) {
						t.Fatalf("seed %d: acknowledged %q at %d missing on node %d", 1000+seed, sub.command, r.Index, n.id)
					}
				}
			}
		}
		if acked == 0 {
			t.Fatalf("seed %d: no write was acknowledged in 200 steps", 1000+seed)
		}
	}
}

func memberIDs(ms []*messages.Member) []uint64 {
	var ids []uint64
	for _, m := range ms {
		ids = append(ids, m.Id)
	}
	return ids
}
