package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/stretchr/testify/require"
)

// Crashing and restarting every node, one at a time and then all at once, loses no
// committed entry.
func TestCrashRestartEveryNodeLosesNothing(t *testing.T) {
	c := newCluster(t, 3)
	acked := map[uint64]string{}
	var last uint64
	submit := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			cmd := fmt.Sprintf("%s-%d", prefix, i)
			r := c.mustSubmit([]byte(cmd))
			acked[r.Index] = cmd
			last = max(last, r.Index)
		}
	}
	submit("initial", 30)
	for _, id := range []uint64{1, 2, 3} {
		c.crash(id)
		submit(fmt.Sprintf("without-%d", id), 10)
		c.start(id)
		c.waitConverged(last, 15*time.Second)
	}
	for _, id := range []uint64{1, 2, 3} {
		c.crash(id)
	}
	for _, id := range []uint64{1, 2, 3} {
		c.start(id)
	}
	c.waitLeader(10 * time.Second)
	submit("after-full-restart", 5)
	applied := c.waitConverged(last, 15*time.Second)
	for idx, cmd := range acked {
		require.Equal(t, cmd, string(applied[idx-1].Data), "acknowledged entry at %d lost across crashes", idx)
	}
}

// Crashing nodes while clients write concurrently never loses an acknowledged write,
// whether the stores keep its data in LevelDB or, for every fourth (72 KiB), in a value file.
func TestCrashDuringWritesLosesNoAcknowledgedWrite(t *testing.T) {
	c := newCluster(t, 3, func(cfg *actors.Config) { cfg.MaxCommandBytes = 128 << 10 })
	c.waitLeader(5 * time.Second)
	type ack struct {
		index uint64
		cmd   string
	}
	acks := make(chan ack, 10000)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cmd := fmt.Sprintf("load-%d", i)
			if i%4 == 0 { // large enough that the stores keep it in a value file, even alone in a batch
				cmd = largeCommand(cmd)
			}
			leader := c.leaderAmong(c.live())
			if leader == 0 {
				continue
			}
			if r := c.submit(leader, []byte(cmd), time.Second); r.Code == messages.ErrorCode_ERROR_CODE_NONE {
				acks <- ack{r.Index, cmd}
			}
		}
	}()
	for round := 0; round < 3; round++ {
		leader := c.waitLeader(10 * time.Second)
		// Crash only once this leader has acknowledged writes: each round must test something.
		before := len(acks)
		require.Eventually(t, func() bool { return len(acks) > before }, 10*time.Second, 5*time.Millisecond, "no write acknowledged in round %d", round)
		c.crash(leader)
		c.waitLeader(10 * time.Second)
		c.start(leader)
	}
	close(stop)
	<-done
	close(acks)
	var last uint64
	got := map[uint64]string{}
	for a := range acks {
		got[a.index] = a.cmd
		last = max(last, a.index)
	}
	require.NotEmpty(t, got)
	large := 0
	for _, cmd := range got {
		if len(cmd) > 1024 {
			large++
		}
	}
	require.NotZero(t, large, "no large command acknowledged: the value files went untested")
	for id, n := range c.nodes {
		files, err := filepath.Glob(filepath.Join(n.dir, "values-*.dat"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "node %d wrote no value file", id)
	}
	applied := c.waitConverged(last, 20*time.Second)
	for idx, cmd := range got {
		require.Equal(t, cmd, string(applied[idx-1].Data), "acknowledged write at %d lost", idx)
	}
}

// largeCommand pads cmd to 72 KiB: a store keeps the data of such a command in a value
// file, even when it is alone in its batch (storage/value_files.go).
func largeCommand(cmd string) string {
	return strings.Repeat(cmd+";", 72<<10/(len(cmd)+1))
}

// awaitVoteAnswer returns the first answer in replies to a vote request of term at least
// term. Older answers are skipped: the node the recorder replaced campaigned before its
// crash, and a peer's answer to that can reach the recorder much later (a peer whose link
// to the crashed node is reconnecting holds it until the recorder listens).
func awaitVoteAnswer(t *testing.T, replies <-chan *messages.RequestVoteResponse, term uint64) *messages.RequestVoteResponse {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-replies:
			if r.Term >= term {
				return r
			}
			t.Logf("skipped an answer to an earlier vote request: %v", r)
		case <-deadline:
			t.Fatalf("no answer to the vote request of term %d", term)
		}
	}
}

// A vote once given survives a restart: once the voter has answered a candidate, a crash
// and restart neither forget the vote nor let it vote for another in that term.
func TestVoteSurvivesRestart(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	var voter, candidate uint64
	for _, id := range c.live() {
		if id == leader {
			continue
		}
		if voter == 0 {
			voter = id
		} else {
			candidate = id
		}
	}
	// The candidate is played by the test: a recorder in place of its RaftNode.
	c.crash(candidate)
	replies := make(chan *messages.RequestVoteResponse, 16)
	fake, err := remote.StartEndpoint(c.nodes[candidate].address, remote.EndpointOptions{})
	require.NoError(t, err)
	defer fake.Stop()
	_, err = fake.System.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		// Only answers to real votes: the node this recorder replaces may have asked for
		// pre-votes before its crash, and answers to those can arrive late, here.
		if r, ok := ctx.Message().(*messages.RequestVoteResponse); ok && !r.PreVote {
			replies <- r
		}
	}), remote.NodeActorName)
	require.NoError(t, err)

	// Cut the voter off from the leader so that its lease expires.
	c.faults.Partition([]uint64{leader}, []uint64{voter, candidate})
	require.Eventually(t, func() bool { return c.mustStatus(voter).LeaderId == 0 }, 5*time.Second, 10*time.Millisecond)
	st := c.mustStatus(voter)
	term := st.Term + 5
	ask := func(from uint64) {
		n := c.nodes[voter]
		n.endpoint.System.Root.Send(n.pid, &messages.RequestVote{ClusterId: clusterID, From: from, To: voter, Term: term,
			LastLogIndex: st.LastLogIndex + 100, LastLogTerm: st.Term + 1})
	}
	ask(candidate)
	r := awaitVoteAnswer(t, replies, term)
	require.True(t, r.Granted, "vote refused")
	require.Equal(t, term, r.Term)

	c.crash(voter)
	c.start(voter)
	s := c.mustStatus(voter)
	require.Equal(t, term, s.Term, "term lost across restart")
	require.Equal(t, candidate, s.Vote, "vote lost across restart")

	// Asked in the same term by the candidate again it grants (the same vote); asked by
	// another node it must refuse.
	ask(leader)
	ask(candidate)
	r = awaitVoteAnswer(t, replies, term)
	require.True(t, r.Granted, "the same vote refused after the restart")
	require.Equal(t, candidate, c.mustStatus(voter).Vote, "a second vote was given in one term")
	c.faults.Heal()
}
