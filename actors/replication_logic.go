package actors

import (
	"time"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// maxCachedEntries bounds the leader's cache of recent entries; a follower further behind
// than the cache reaches gets its entries fetched from RaftNode.
const maxCachedEntries = 65536

// inflight is one AppendEntries sent and not yet answered.
type inflight struct {
	lastIndex uint64
}

// replicator is the leader's view of one follower.
type replicator struct {
	member *messages.Member
	next   uint64 // next index to send
	match  uint64 // highest index known to be durable on the follower

	// probing: the follower's log position is unknown; one AppendEntries at a time.
	// Otherwise (replicating) up to maxInflight are pipelined, the second and later ones
	// only as full batches (see maybeSend).
	probing   bool
	probeSent bool
	inflight  []inflight
	fetching  bool // waiting for FetchedEntries from RaftNode

	lastSend     time.Time
	lastProgress time.Time // last answer that moved match, or when sending began after idling
	active       bool      // answered since the last CheckQuorum
}

// replicationLogic runs the leader's replicators: it turns new entries and answers from
// followers into AppendEntries, pipelined and batched, and reports each follower's match
// index to Config. It keeps a cache of recent entries so the steady state needs no round
// trip to RaftNode.
type replicationLogic struct {
	outbox
	s settings

	term   uint64 // 0 when not leading
	config *messages.Configuration
	commit uint64

	cache         []*messages.Entry // entries cacheStart..lastIndex
	cacheStart    uint64
	cachePrevTerm uint64 // term of cacheStart-1
	lastIndex     uint64

	peers map[uint64]*replicator
	order []*replicator // peers by id: the order sends are made in
}

func newReplicationLogic(s settings) *replicationLogic {
	return &replicationLogic{s: s, peers: map[uint64]*replicator{}}
}

func (r *replicationLogic) handle(msg proto.Message) {
	switch m := msg.(type) {
	case *messages.StartReplication:
		r.onStart(m)
	case *messages.StopReplication:
		if m.Term >= r.term {
			r.stop()
		}
	case *messages.NewEntries:
		r.onNewEntries(m)
	case *messages.AppendEntriesResponse:
		r.onResponse(m)
	case *messages.FetchedEntries:
		r.onFetched(m)
	case *messages.LeaderTick:
		r.onTick(m)
	case *messages.ConfigurationChanged:
		if m.Term == r.term {
			r.config = m.Config
			r.syncPeers()
		}
	}
}

func (r *replicationLogic) stop() {
	r.term = 0
	r.cache = nil
	r.peers = map[uint64]*replicator{}
	r.order = nil
}

func (r *replicationLogic) onStart(m *messages.StartReplication) {
	r.stop()
	r.term = m.Term
	r.config = m.Config
	r.commit = m.CommitIndex
	r.cache = append([]*messages.Entry(nil), m.Cached...)
	r.cacheStart = m.PrevIndex + 1
	r.cachePrevTerm = m.PrevTerm
	r.lastIndex = m.PrevIndex + uint64(len(m.Cached))
	r.syncPeers()
}

// syncPeers creates a replicator for every member but this node and drops the others.
func (r *replicationLogic) syncPeers() {
	want := map[uint64]*messages.Member{}
	for _, m := range allMembers(r.config) {
		if m.Id != r.s.id {
			want[m.Id] = m
		}
	}
	for id := range r.peers {
		if want[id] == nil {
			delete(r.peers, id)
		}
	}
	now := r.s.clock.Now()
	var fresh []*replicator
	for _, id := range sortedKeys(want) {
		m := want[id]
		if p, ok := r.peers[id]; ok {
			p.member = m
			continue
		}
		// Start optimistic at the cache start (the new leader's no-op), probing.
		p := &replicator{member: m, next: r.cacheStart, probing: true, lastProgress: now}
		r.peers[id] = p
		fresh = append(fresh, p)
	}
	r.order = r.order[:0]
	for _, id := range sortedKeys(r.peers) {
		r.order = append(r.order, r.peers[id])
	}
	for _, p := range fresh {
		r.maybeSend(p)
	}
}

func (r *replicationLogic) onNewEntries(m *messages.NewEntries) {
	if m.Term != r.term || r.term == 0 {
		return
	}
	commitMoved := m.CommitIndex > r.commit
	if commitMoved {
		r.commit = m.CommitIndex
	}
	if len(m.Entries) > 0 {
		if m.Entries[0].Index != r.lastIndex+1 {
			return // cannot happen: the leader's log only grows within a term
		}
		r.cache = append(r.cache, m.Entries...)
		r.lastIndex = m.Entries[len(m.Entries)-1].Index
		r.trimCache()
	}
	for _, p := range r.order {
		before := len(p.inflight)
		r.maybeSend(p)
		// An idle, caught-up follower still learns the new commit index promptly.
		if commitMoved && before == 0 && len(p.inflight) == 0 && !p.probing && p.match == r.lastIndex {
			r.heartbeat(p)
		}
	}
}

// trimCache drops entries every follower already holds, and past maxCachedEntries the
// oldest ones regardless (lagging followers are then served by fetches).
func (r *replicationLogic) trimCache() {
	low := r.lastIndex
	for _, p := range r.order {
		low = min(low, p.match)
	}
	drop := uint64(0)
	if low >= r.cacheStart {
		drop = low - r.cacheStart // keep the entry at low itself: it is a prev for the next send
	}
	if over := uint64(len(r.cache)); over > maxCachedEntries {
		drop = max(drop, over-maxCachedEntries)
	}
	if drop == 0 || drop > uint64(len(r.cache)) {
		return
	}
	r.cachePrevTerm = r.cache[drop-1].Term
	r.cache = append([]*messages.Entry(nil), r.cache[drop:]...)
	r.cacheStart += drop
}

// cachedTerm returns the term of index if the cache knows it (ok false otherwise).
func (r *replicationLogic) cachedTerm(index uint64) (uint64, bool) {
	switch {
	case index+1 == r.cacheStart:
		return r.cachePrevTerm, true
	case index >= r.cacheStart && index <= r.lastIndex:
		return r.cache[index-r.cacheStart].Term, true
	}
	return 0, false
}

// heartbeat sends an empty AppendEntries at the follower's next index (it carries the
// commit index and keeps the leader's authority); outside the cache it probes instead.
func (r *replicationLogic) heartbeat(p *replicator) {
	prevTerm, ok := r.cachedTerm(p.next - 1)
	if !ok {
		p.probing, p.probeSent = true, false
		p.inflight = nil
		r.maybeSend(p)
		return
	}
	r.sendAppend(p, p.next, nil, prevTerm)
}

// maybeSend sends what the follower's mode allows: one probe, or pipelined batches up to
// the in-flight window. With one AppendEntries already in flight, another goes out only as a
// full batch: a follower that keeps up then gets one batch per round trip holding
// everything appended meanwhile, instead of a small batch for every append, each of which
// costs it a synced write and both sides a message (measured: 12% less CPU per command and
// 7-10% more throughput at 64 and 256 clients than with a window of small batches). A
// follower catching up on a backlog still gets full batches pipelined.
func (r *replicationLogic) maybeSend(p *replicator) {
	if p.fetching {
		return
	}
	if p.probing {
		if !p.probeSent {
			r.sendFrom(p, p.next)
		}
		return
	}
	for len(p.inflight) < r.s.maxInflight && p.next <= r.lastIndex && !p.fetching {
		if len(p.inflight) > 0 && !r.fullBatchFrom(p.next) {
			return
		}
		if !r.sendFrom(p, p.next) {
			return
		}
	}
}

// sendFrom sends an AppendEntries starting at index from, out of the cache, or asks RaftNode
// for the entries when the cache does not reach back that far. It reports whether it sent.
func (r *replicationLogic) sendFrom(p *replicator, from uint64) bool {
	prevTerm, ok := r.cachedTerm(from - 1)
	if !ok {
		p.fetching = true
		r.send(toNode, &messages.FetchEntries{Term: r.term, Peer: p.member.Id, From: from,
			MaxCount: uint64(r.s.maxAppendEntries), MaxBytes: uint64(r.s.maxAppendBytes)})
		return false
	}
	var entries []*messages.Entry
	if from <= r.lastIndex {
		entries = r.batch(r.cache[from-r.cacheStart:])
	}
	r.sendAppend(p, from, entries, prevTerm)
	return true
}

// fullBatchFrom reports whether the entries from index from on fill a batch, by count or by
// bytes (entries older than the cache count as a full batch: the follower is catching up).
func (r *replicationLogic) fullBatchFrom(from uint64) bool {
	if r.lastIndex-from+1 >= uint64(r.s.maxAppendEntries) || from < r.cacheStart {
		return true
	}
	size := 0
	for _, e := range r.cache[from-r.cacheStart:] {
		if size += len(e.Data) + 32; size > r.s.maxAppendBytes {
			return true
		}
	}
	return false
}

// batch cuts entries to the count and byte limits (at least one entry).
func (r *replicationLogic) batch(entries []*messages.Entry) []*messages.Entry {
	if len(entries) > r.s.maxAppendEntries {
		entries = entries[:r.s.maxAppendEntries]
	}
	size := 0
	for i, e := range entries {
		size += len(e.Data) + 32
		if size > r.s.maxAppendBytes && i > 0 {
			entries = entries[:i]
			break
		}
	}
	return entries[:len(entries):len(entries)]
}

func (r *replicationLogic) sendAppend(p *replicator, from uint64, entries []*messages.Entry, prevTerm uint64) {
	now := r.s.clock.Now()
	last := from - 1 + uint64(len(entries))
	if p.probing {
		p.probeSent = true
	} else if len(entries) > 0 {
		if len(p.inflight) == 0 {
			p.lastProgress = now
		}
		p.inflight = append(p.inflight, inflight{lastIndex: last})
		p.next = last + 1
	}
	p.lastSend = now
	r.sendPeer(p.member, &messages.AppendEntries{ClusterId: r.s.clusterID, From: r.s.id, To: p.member.Id, Term: r.term,
		PrevLogIndex: from - 1, PrevLogTerm: prevTerm, Entries: entries, LeaderCommit: r.commit, LeaderAddress: r.s.address})
}

func (r *replicationLogic) onFetched(m *messages.FetchedEntries) {
	p := r.peers[m.Peer]
	if m.Term != r.term || p == nil || !p.fetching {
		return
	}
	p.fetching = false
	if m.PrevIndex+1 != p.next {
		r.maybeSend(p)
		return
	}
	if m.CommitIndex > r.commit {
		r.commit = m.CommitIndex
	}
	r.sendAppend(p, p.next, r.batch(m.Entries), m.PrevTerm)
	r.maybeSend(p)
}

func (r *replicationLogic) onResponse(m *messages.AppendEntriesResponse) {
	p := r.peers[m.From]
	if p == nil || m.Term != r.term {
		return
	}
	now := r.s.clock.Now()
	p.active = true
	if m.Success {
		if m.MatchIndex > p.match {
			p.match = m.MatchIndex
			p.lastProgress = now
			r.send(toConfig, &messages.ProgressUpdate{Term: r.term, Peer: p.member.Id, MatchIndex: p.match})
		}
		i := 0
		for i < len(p.inflight) && p.inflight[i].lastIndex <= p.match {
			i++
		}
		p.inflight = p.inflight[i:]
		if p.probing {
			p.probing, p.probeSent = false, false
			p.inflight = nil
			p.next = p.match + 1
		}
		p.next = max(p.next, p.match+1)
		r.maybeSend(p)
		return
	}
	// Rejected: ignore answers to older sends, then skip back using the follower's hint.
	if p.probing {
		if m.RejectedIndex != p.next-1 {
			return
		}
	} else if m.RejectedIndex <= p.match {
		return
	}
	hint := m.ConflictIndex
	if hint == 0 || hint > m.RejectedIndex {
		hint = m.RejectedIndex
	}
	p.next = max(p.match+1, hint)
	p.probing, p.probeSent = true, false
	p.inflight = nil
	r.maybeSend(p)
}

func (r *replicationLogic) onTick(m *messages.LeaderTick) {
	if m.Term != r.term || r.term == 0 {
		return
	}
	now := r.s.clock.Now()
	for _, p := range r.order {
		switch {
		case p.probing && now.Sub(p.lastSend) >= r.s.heartbeatInterval:
			// The probe or its answer may be lost: send it again.
			p.probeSent = false
			p.fetching = false
			r.maybeSend(p)
		case !p.probing && len(p.inflight) > 0 && now.Sub(p.lastProgress) >= 4*r.s.heartbeatInterval:
			// Pipelined sends went unanswered: fall back to probing from the match index.
			p.probing, p.probeSent = true, false
			p.inflight = nil
			p.fetching = false
			p.next = p.match + 1
			r.maybeSend(p)
		case !p.probing && len(p.inflight) == 0 && now.Sub(p.lastSend) >= r.s.heartbeatInterval:
			r.heartbeat(p)
		}
	}
	if m.CheckQuorum {
		active := make([]uint64, 0, len(r.peers))
		for _, p := range r.order {
			if p.active {
				active = append(active, p.member.Id)
			}
			p.active = false
		}
		r.send(toConfig, &messages.PeerActivity{Term: r.term, Active: active})
	}
}
