package actors

import (
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

// newTestReplication starts node 1 leading term 2 with entries 1..3 known to the cache from
// index 3 (its no-op), limits of 3 entries per batch and 2 in flight.
func newTestReplication(t *testing.T) (*replicationLogic, *simClock) {
	clock := &simClock{now: time.Unix(1000, 0)}
	s := testSettings(1, clock)
	s.maxAppendEntries, s.maxInflight = 3, 2
	r := newReplicationLogic(s)
	r.handle(&messages.StartReplication{Term: 2, Config: &messages.Configuration{Voters: threeMembers}, PrevIndex: 2, PrevTerm: 1,
		Cached: []*messages.Entry{{Index: 3, Term: 2, Type: messages.EntryType_ENTRY_TYPE_NOOP}}})
	return r, clock
}

func appendsTo(outs []outgoing, peer uint64) []*messages.AppendEntries {
	var found []*messages.AppendEntries
	for _, ae := range sent[*messages.AppendEntries](outs) {
		if ae.To == peer {
			found = append(found, ae)
		}
	}
	return found
}

func success(from, match uint64) *messages.AppendEntriesResponse {
	return &messages.AppendEntriesResponse{ClusterId: "c", From: from, To: 1, Term: 2, Success: true, MatchIndex: match}
}

// A new leader probes each follower once, then pipelines batches up to the window.
func TestReplicationProbeThenPipeline(t *testing.T) {
	r, _ := newTestReplication(t)
	outs := r.drain()
	probes := appendsTo(outs, 2)
	require.Len(t, probes, 1)
	require.Equal(t, uint64(2), probes[0].PrevLogIndex)
	require.Len(t, probes[0].Entries, 1)

	r.handle(&messages.NewEntries{Term: 2, Entries: cmdEntries(4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)})
	require.Empty(t, appendsTo(r.drain(), 2), "sent more than one probe before an answer")

	r.handle(success(2, 3))
	outs = r.drain()
	batches := appendsTo(outs, 2)
	require.Len(t, batches, 2, "the in-flight window is 2")
	require.Equal(t, uint64(3), batches[0].PrevLogIndex)
	require.Len(t, batches[0].Entries, 3)
	require.Equal(t, uint64(6), batches[1].PrevLogIndex)
	progress := sent[*messages.ProgressUpdate](outs)
	require.Equal(t, []*messages.ProgressUpdate{{Term: 2, Peer: 2, MatchIndex: 3}}, progress)

	r.handle(success(2, 6))
	batches = appendsTo(r.drain(), 2)
	require.Len(t, batches, 1, "one slot freed, one batch sent")
	require.Equal(t, uint64(9), batches[0].PrevLogIndex)
}

// With one AppendEntries in flight, what is appended meanwhile waits and goes out as one
// batch when the answer comes, unless it fills a batch by itself.
func TestReplicationSecondInFlightOnlyWhenFull(t *testing.T) {
	r, _ := newTestReplication(t) // batches of 3, window of 2
	r.drain()
	r.handle(success(2, 3))
	r.drain()

	r.handle(&messages.NewEntries{Term: 2, Entries: cmdEntries(4, 2)})
	first := appendsTo(r.drain(), 2)
	require.Len(t, first, 1, "nothing in flight: sent at once")
	require.Len(t, first[0].Entries, 1)

	r.handle(&messages.NewEntries{Term: 2, Entries: cmdEntries(5, 2)})
	r.handle(&messages.NewEntries{Term: 2, Entries: cmdEntries(6, 2)})
	require.Empty(t, appendsTo(r.drain(), 2), "a partial batch waits for the one in flight")

	r.handle(success(2, 4))
	batches := appendsTo(r.drain(), 2)
	require.Len(t, batches, 1)
	require.Equal(t, uint64(4), batches[0].PrevLogIndex)
	require.Len(t, batches[0].Entries, 2, "everything appended meanwhile, in one batch")

	r.handle(&messages.NewEntries{Term: 2, Entries: cmdEntries(7, 2, 2, 2)})
	batches = appendsTo(r.drain(), 2)
	require.Len(t, batches, 1, "a full batch is pipelined behind the one in flight")
	require.Equal(t, uint64(6), batches[0].PrevLogIndex)
	require.Len(t, batches[0].Entries, 3)
}

// A rejection with a conflict hint moves next back to the hint in one step.
func TestReplicationConflictBacktracking(t *testing.T) {
	r, _ := newTestReplication(t)
	r.drain()
	r.handle(&messages.AppendEntriesResponse{ClusterId: "c", From: 2, To: 1, Term: 2, RejectedIndex: 2, ConflictIndex: 1, ConflictTerm: 1})
	outs := r.drain()
	// Index 1 is below the cache: the entries are fetched from RaftNode.
	fetch := sent[*messages.FetchEntries](outs)
	require.Len(t, fetch, 1)
	require.Equal(t, uint64(1), fetch[0].From)
	r.handle(&messages.FetchedEntries{Term: 2, Peer: 2, PrevIndex: 0, PrevTerm: 0, Entries: append(cmdEntries(1, 1, 1),
		&messages.Entry{Index: 3, Term: 2, Type: messages.EntryType_ENTRY_TYPE_NOOP})})
	aes := appendsTo(r.drain(), 2)
	require.Len(t, aes, 1)
	require.Equal(t, uint64(0), aes[0].PrevLogIndex)
	require.Len(t, aes[0].Entries, 3)

	// A stale rejection (for an index no longer probed) is ignored.
	r.handle(&messages.AppendEntriesResponse{ClusterId: "c", From: 2, To: 1, Term: 2, RejectedIndex: 2, ConflictIndex: 2})
	require.Empty(t, appendsTo(r.drain(), 2))
}

// Pipelined sends that go unanswered fall back to probing from the match index.
func TestReplicationRecoversFromLostAppends(t *testing.T) {
	r, clock := newTestReplication(t)
	r.drain()
	r.handle(success(2, 3))
	r.handle(&messages.NewEntries{Term: 2, Entries: cmdEntries(4, 2, 2)})
	require.NotEmpty(t, appendsTo(r.drain(), 2))
	clock.now = clock.now.Add(5 * r.s.heartbeatInterval)
	r.handle(&messages.LeaderTick{Term: 2})
	aes := appendsTo(r.drain(), 2)
	require.Len(t, aes, 1)
	require.Equal(t, uint64(3), aes[0].PrevLogIndex, "the probe restarts after the match index")
}

// CheckQuorum: the tick reports which followers answered since the last check.
func TestReplicationReportsActivity(t *testing.T) {
	r, _ := newTestReplication(t)
	r.drain()
	r.handle(success(3, 3))
	r.drain()
	r.handle(&messages.LeaderTick{Term: 2, CheckQuorum: true})
	act := sent[*messages.PeerActivity](r.drain())
	require.Len(t, act, 1)
	require.Equal(t, []uint64{3}, act[0].Active)
	r.handle(&messages.LeaderTick{Term: 2, CheckQuorum: true})
	act = sent[*messages.PeerActivity](r.drain())
	require.Len(t, act, 1)
	require.Empty(t, act[0].Active, "activity is reset at each check")
}
