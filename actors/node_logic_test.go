package actors

import (
	"fmt"
	"log/slog"
	"math/rand"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

var threeMembers = []*messages.Member{
	{Id: 1, Address: "127.0.0.1:7001"},
	{Id: 2, Address: "127.0.0.1:7002"},
	{Id: 3, Address: "127.0.0.1:7003"},
}

func testSettings(id uint64, clock Clock) settings {
	return settings{id: id, clusterID: "c", address: fmt.Sprintf("127.0.0.1:%d", 7000+id),
		electionTimeout: 100 * time.Millisecond, heartbeatInterval: 20 * time.Millisecond,
		maxCommandBytes: 64, maxAppendEntries: 100, maxAppendBytes: 1 << 20, maxInflight: 2,
		applyWindow: 100, forwardTimeout: time.Second, catchUpTimeout: time.Second, catchUpMargin: 8,
		logCacheEntries: DefaultLogCacheEntries, logCacheBytes: DefaultLogCacheBytes,
		transferTimeout: 500 * time.Millisecond, clock: clock,
		rand: rand.New(rand.NewSource(1)), logger: slog.New(slog.DiscardHandler)}
}

// newTestNode builds node 1 of a three-node cluster with the given log and hard state.
func newTestNode(t *testing.T, term, vote uint64, terms ...uint64) (*nodeLogic, *simClock) {
	t.Helper()
	clock := &simClock{now: time.Unix(1000, 0)}
	var entries []*messages.Entry
	for i, et := range terms {
		entries = append(entries, &messages.Entry{Index: uint64(i + 1), Term: et, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte{byte(i)}})
	}
	st := storage.State{HardState: &messages.HardState{Term: term, Vote: vote}, Config: &messages.Configuration{Voters: threeMembers},
		FirstIndex: 1, LastIndex: uint64(len(entries))}
	n := newNodeLogic(testSettings(1, clock), st, nil, entries)
	n.start()
	n.drain()
	return n, clock
}

// sent returns the messages of type T recorded, with their outgoing envelope.
func sent[T proto.Message](outs []outgoing) []T {
	var found []T
	for _, o := range outs {
		if m, ok := o.msg.(T); ok {
			found = append(found, m)
		}
	}
	return found
}

// makeLeader walks n through a won pre-vote and vote, with every write made durable.
func makeLeader(t *testing.T, n *nodeLogic) {
	t.Helper()
	n.handle(&messages.ElectionTimeout{Term: n.term})
	n.handle(&messages.CampaignWon{Term: n.term + 1, PreVote: true})
	n.handle(&messages.Persisted{Seq: n.nextSeq})
	n.handle(&messages.CampaignWon{Term: n.term})
	n.handle(&messages.Persisted{Seq: n.nextSeq})
	require.Equal(t, roleLeader, n.role)
	n.drain()
}

// Figure 8 of the Raft paper: a leader must not commit an entry of an earlier term by
// counting replicas, only through an entry of its own term.
func TestCommitRuleNeverCountsEarlierTerms(t *testing.T) {
	// Node 1 holds entries of terms 1 and 2; it becomes leader in term 4 (after term 3).
	n, _ := newTestNode(t, 3, 0, 1, 2)
	makeLeader(t, n)
	require.Equal(t, uint64(4), n.term)
	require.Equal(t, uint64(3), n.log.lastIndex(), "the no-op of term 4 is at index 3")

	// A quorum holds index 2 (term 2): that alone commits nothing.
	n.handle(&messages.QuorumCommitted{Term: 4, Index: 2})
	require.Equal(t, uint64(0), n.commitIndex, "an entry of an earlier term was committed by counting")
	require.Empty(t, sent[*messages.ApplyEntries](n.drain()))

	// Once the term-4 no-op is on a quorum, it and everything before it commit.
	n.handle(&messages.QuorumCommitted{Term: 4, Index: 3})
	require.Equal(t, uint64(3), n.commitIndex)
	applied := sent[*messages.ApplyEntries](n.drain())
	require.Len(t, applied, 1)
	require.Len(t, applied[0].Entries, 3)
}

// A stale quorum report from an earlier leadership is ignored.
func TestQuorumReportOfAnotherTermIgnored(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1)
	makeLeader(t, n)
	n.handle(&messages.QuorumCommitted{Term: n.term - 1, Index: 2})
	require.Equal(t, uint64(0), n.commitIndex)
}

// A vote is sent only after the vote is durable.
func TestVoteRepliedOnlyWhenDurable(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1)
	n.handle(&messages.RequestVote{ClusterId: "c", From: 2, To: 1, Term: 2, LastLogIndex: 1, LastLogTerm: 1})
	outs := n.drain()
	require.Empty(t, sent[*messages.RequestVoteResponse](outs), "vote sent before it was durable")
	reqs := sent[*messages.PersistRequest](outs)
	require.NotEmpty(t, reqs)
	require.Equal(t, &messages.HardState{Term: 2, Vote: 2}, reqs[len(reqs)-1].HardState)

	n.handle(&messages.Persisted{Seq: reqs[len(reqs)-1].Seq})
	votes := sent[*messages.RequestVoteResponse](n.drain())
	require.Len(t, votes, 1)
	require.True(t, votes[0].Granted)
	require.Equal(t, uint64(2), votes[0].Term)
}

// One vote per term: a second candidate in the same term is refused.
func TestOneVotePerTerm(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1)
	n.handle(&messages.RequestVote{ClusterId: "c", From: 2, To: 1, Term: 2, LastLogIndex: 1, LastLogTerm: 1})
	n.handle(&messages.Persisted{Seq: n.nextSeq})
	n.drain()
	n.handle(&messages.RequestVote{ClusterId: "c", From: 3, To: 1, Term: 2, LastLogIndex: 5, LastLogTerm: 1})
	votes := sent[*messages.RequestVoteResponse](n.drain())
	require.Len(t, votes, 1)
	require.False(t, votes[0].Granted)
}

// A candidate whose log is behind is refused.
func TestVoteRefusedToStaleLog(t *testing.T) {
	n, _ := newTestNode(t, 2, 0, 1, 2)
	n.handle(&messages.RequestVote{ClusterId: "c", From: 2, To: 1, Term: 3, LastLogIndex: 5, LastLogTerm: 1})
	n.handle(&messages.Persisted{Seq: n.nextSeq})
	votes := sent[*messages.RequestVoteResponse](n.drain())
	require.Len(t, votes, 1)
	require.False(t, votes[0].Granted)
	require.Equal(t, uint64(3), n.term, "the higher term is still adopted")
}

// Inside the leader lease, neither a pre-vote nor a vote is granted and the term stays.
func TestLeaseRefusesDisruptiveCandidates(t *testing.T) {
	n, clock := newTestNode(t, 1, 0, 1)
	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 1, PrevLogIndex: 1, PrevLogTerm: 1})
	n.drain()
	n.handle(&messages.RequestVote{ClusterId: "c", From: 3, To: 1, Term: 2, LastLogIndex: 9, LastLogTerm: 1, PreVote: true})
	votes := sent[*messages.RequestVoteResponse](n.drain())
	require.Len(t, votes, 1)
	require.False(t, votes[0].Granted, "pre-vote granted inside the lease")
	n.handle(&messages.RequestVote{ClusterId: "c", From: 3, To: 1, Term: 2, LastLogIndex: 9, LastLogTerm: 1})
	require.Empty(t, sent[*messages.RequestVoteResponse](n.drain()))
	require.Equal(t, uint64(1), n.term, "a disruptive candidate raised the term inside the lease")

	// After an election timeout without the leader, the pre-vote is granted (term unchanged).
	clock.now = clock.now.Add(150 * time.Millisecond)
	n.handle(&messages.RequestVote{ClusterId: "c", From: 3, To: 1, Term: 2, LastLogIndex: 9, LastLogTerm: 1, PreVote: true})
	votes = sent[*messages.RequestVoteResponse](n.drain())
	require.Len(t, votes, 1)
	require.True(t, votes[0].Granted)
	require.Equal(t, uint64(1), n.term, "a pre-vote changed the term")
}

// PreVote: an election timeout does not raise the term until a pre-vote quorum agrees.
func TestPreVoteKeepsTerm(t *testing.T) {
	n, _ := newTestNode(t, 5, 0, 1)
	n.handle(&messages.ElectionTimeout{Term: 5})
	outs := n.drain()
	require.Equal(t, uint64(5), n.term)
	camp := sent[*messages.StartCampaign](outs)
	require.Len(t, camp, 1)
	require.True(t, camp[0].PreVote)
	require.Equal(t, uint64(6), camp[0].Term)
	require.Empty(t, sent[*messages.PersistRequest](outs))
}

// AppendEntries: a conflicting uncommitted tail is replaced, and success waits for durability.
func TestAppendReplacesConflictingTail(t *testing.T) {
	n, _ := newTestNode(t, 2, 0, 1, 1, 2, 2)
	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 3, PrevLogIndex: 2, PrevLogTerm: 1,
		Entries: []*messages.Entry{{Index: 3, Term: 3, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte("x")}}, LeaderCommit: 1})
	outs := n.drain()
	require.Empty(t, sent[*messages.AppendEntriesResponse](outs), "success sent before durable")
	reqs := sent[*messages.PersistRequest](outs)
	var truncate uint64
	for _, r := range reqs {
		if r.TruncateFrom > 0 {
			truncate = r.TruncateFrom
		}
	}
	require.Equal(t, uint64(3), truncate)
	require.Equal(t, uint64(3), n.log.lastIndex())
	require.Equal(t, uint64(3), n.log.term(3))
	require.Equal(t, uint64(1), n.commitIndex)

	n.handle(&messages.Persisted{Seq: n.nextSeq})
	resp := sent[*messages.AppendEntriesResponse](n.drain())
	require.Len(t, resp, 1)
	require.True(t, resp[0].Success)
	require.Equal(t, uint64(3), resp[0].MatchIndex)
}

// A rejection carries the hints that let the leader skip a whole term.
func TestAppendRejectionHints(t *testing.T) {
	n, _ := newTestNode(t, 3, 0, 1, 2, 2, 2)
	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 3, PrevLogIndex: 4, PrevLogTerm: 3})
	resp := sent[*messages.AppendEntriesResponse](n.drain())
	require.Len(t, resp, 1)
	require.False(t, resp[0].Success)
	require.Equal(t, uint64(2), resp[0].ConflictTerm)
	require.Equal(t, uint64(2), resp[0].ConflictIndex)

	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 3, PrevLogIndex: 9, PrevLogTerm: 3})
	resp = sent[*messages.AppendEntriesResponse](n.drain())
	require.Len(t, resp, 1)
	require.Equal(t, uint64(0), resp[0].ConflictTerm)
	require.Equal(t, uint64(5), resp[0].ConflictIndex)
}

// A stale leader is told the newer term; a message of another cluster is counted and dropped.
func TestStaleLeaderAndForeignCluster(t *testing.T) {
	n, _ := newTestNode(t, 5, 0, 1)
	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 4, PrevLogIndex: 1, PrevLogTerm: 1})
	resp := sent[*messages.AppendEntriesResponse](n.drain())
	require.Len(t, resp, 1)
	require.False(t, resp[0].Success)
	require.Equal(t, uint64(5), resp[0].Term)

	before := proto.Clone(n.status()).(*messages.Status)
	n.handle(&messages.AppendEntries{ClusterId: "other", From: 2, To: 1, Term: 9, PrevLogIndex: 1, PrevLogTerm: 1,
		Entries: []*messages.Entry{{Index: 2, Term: 9, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte("x")}}})
	n.handle(&messages.RequestVote{ClusterId: "other", From: 2, To: 1, Term: 9, LastLogIndex: 9, LastLogTerm: 9})
	require.Empty(t, n.drain())
	after := n.status()
	require.Equal(t, uint64(2), after.DroppedForeignCluster)
	after.DroppedForeignCluster = before.DroppedForeignCluster
	require.True(t, proto.Equal(before, after), "a foreign message changed the node")
}

// Bad commands are refused with INVALID_ARGUMENT and change nothing.
func TestBadSubmitsChangeNothing(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1)
	makeLeader(t, n)
	last := n.log.lastIndex()
	ref := &messages.ActorRef{Id: "client"}
	for _, cmd := range [][]byte{nil, {}, make([]byte, 65)} {
		n.handle(&messages.Submit{Command: cmd, ReplyTo: ref})
		outs := n.drain()
		res := sent[*messages.SubmitResult](outs)
		require.Len(t, res, 1)
		require.Equal(t, messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, res[0].Code)
		require.Contains(t, res[0].Error, "command")
		require.Empty(t, sent[*messages.PersistRequest](outs))
		require.Equal(t, last, n.log.lastIndex())
	}
	// An unknown message type is counted and dropped.
	n.handle(&messages.Member{Id: 7})
	require.Equal(t, uint64(1), n.status().DroppedInvalid)
}

// A follower forwards a Submit to the leader once; a lost answer times out, never resends.
func TestForwardedSubmitIsNeverResent(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1)
	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 1, PrevLogIndex: 1, PrevLogTerm: 1})
	n.drain()
	ref := &messages.ActorRef{Id: "client"}
	n.handle(&messages.Submit{Command: []byte("x"), ReplyTo: ref})
	outs := n.drain()
	fwd := sent[*messages.ForwardRequest](outs)
	require.Len(t, fwd, 1)
	require.Equal(t, uint64(2), fwd[0].To)
	n.handle(&messages.ForwardTimeout{RequestId: fwd[0].RequestId})
	outs = n.drain()
	res := sent[*messages.SubmitResult](outs)
	require.Len(t, res, 1)
	require.Equal(t, messages.ErrorCode_ERROR_CODE_TIMEOUT, res[0].Code)
	require.Empty(t, sent[*messages.ForwardRequest](outs))
	// A late answer after the timeout is dropped, not delivered twice.
	n.handle(&messages.ForwardResult{ClusterId: "c", From: 2, To: 1, RequestId: fwd[0].RequestId, Submit: &messages.SubmitResult{Index: 2, Term: 1}})
	require.Empty(t, sent[*messages.SubmitResult](n.drain()))
}

// ReadIndex appends a no-op and answers with its index once committed.
func TestReadIndexWaitsForItsNoop(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1)
	makeLeader(t, n)
	ref := &messages.ActorRef{Id: "reader"}
	n.handle(&messages.ReadIndex{ReplyTo: ref})
	outs := n.drain()
	require.Empty(t, sent[*messages.ReadIndexResult](outs))
	barrier := n.log.lastIndex()
	require.Equal(t, messages.EntryType_ENTRY_TYPE_NOOP, n.log.entry(barrier).Type)
	n.handle(&messages.QuorumCommitted{Term: n.term, Index: barrier})
	res := sent[*messages.ReadIndexResult](n.drain())
	require.Equal(t, []*messages.ReadIndexResult{{Index: barrier}}, res)
}

// ReadCommitted serves only committed entries; a watcher gets one notice per read.
func TestReadCommittedAndWatchers(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1, 1, 1)
	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 1, PrevLogIndex: 3, PrevLogTerm: 1, LeaderCommit: 2})
	n.drain()
	w := &messages.ActorRef{Id: "watcher"}
	n.handle(&messages.WatchCommits{Watcher: w})
	notices := sent[*messages.CommitNotice](n.drain())
	require.Len(t, notices, 1)

	n.handle(&messages.ReadCommitted{From: 1, ReplyTo: w})
	res := sent[*messages.ReadCommittedResult](n.drain())
	require.Len(t, res, 1)
	require.Len(t, res[0].Entries, 2, "uncommitted entry 3 served")
	require.Equal(t, uint64(2), res[0].CommitIndex)

	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 1, PrevLogIndex: 3, PrevLogTerm: 1, LeaderCommit: 3})
	require.Len(t, sent[*messages.CommitNotice](n.drain()), 1)
	n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 1, PrevLogIndex: 3, PrevLogTerm: 1,
		Entries: cmdEntries(4, 1), LeaderCommit: 4})
	require.Empty(t, sent[*messages.CommitNotice](n.drain()), "a second notice before the watcher read again")

	n.handle(&messages.ReadCommitted{From: 0, ReplyTo: w})
	res = sent[*messages.ReadCommittedResult](n.drain())
	require.Equal(t, messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, res[0].Code)
}

// Request ids of forwarded requests never repeat across a restart, so a late answer to the
// previous incarnation's request cannot be taken for the answer to a new one.
func TestForwardRequestIDsSurviveRestart(t *testing.T) {
	first, clock := newTestNode(t, 1, 0, 1)
	forwardOne := func(n *nodeLogic) uint64 {
		n.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 1, PrevLogIndex: 1, PrevLogTerm: 1})
		n.drain()
		n.handle(&messages.Submit{Command: []byte("x"), ReplyTo: &messages.ActorRef{Id: "client"}})
		fwd := sent[*messages.ForwardRequest](n.drain())
		require.Len(t, fwd, 1)
		return fwd[0].RequestId
	}
	before := forwardOne(first)
	clock.now = clock.now.Add(time.Second) // the restart happens later
	st := storage.State{HardState: &messages.HardState{Term: 1}, Config: &messages.Configuration{Voters: threeMembers}, FirstIndex: 1, LastIndex: 1}
	restarted := newNodeLogic(testSettings(1, clock), st, nil, []*messages.Entry{{Index: 1, Term: 1, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte{0}}})
	restarted.start()
	restarted.drain()
	require.Greater(t, forwardOne(restarted), before)
}

// A Submit's request id comes back in its result, locally and through a follower.
func TestSubmitRequestIDEchoed(t *testing.T) {
	n, _ := newTestNode(t, 1, 0, 1)
	makeLeader(t, n)
	ref := &messages.ActorRef{Id: "client"}
	n.handle(&messages.Submit{Command: []byte{}, ReplyTo: ref, RequestId: 42})
	res := sent[*messages.SubmitResult](n.drain())
	require.Len(t, res, 1)
	require.Equal(t, uint64(42), res[0].RequestId)

	f, _ := newTestNode(t, 1, 0, 1)
	f.handle(&messages.AppendEntries{ClusterId: "c", From: 2, To: 1, Term: 1, PrevLogIndex: 1, PrevLogTerm: 1})
	f.drain()
	f.handle(&messages.Submit{Command: []byte("x"), ReplyTo: ref, RequestId: 7})
	fwd := sent[*messages.ForwardRequest](f.drain())
	require.Len(t, fwd, 1)
	f.handle(&messages.ForwardResult{ClusterId: "c", From: 2, To: 1, RequestId: fwd[0].RequestId, Submit: &messages.SubmitResult{Index: 2, Term: 1}})
	res = sent[*messages.SubmitResult](f.drain())
	require.Len(t, res, 1)
	require.Equal(t, uint64(7), res[0].RequestId)
}
