package actors

import (
	"fmt"
	"slices"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"google.golang.org/protobuf/proto"
)

// role is a node's part in its current term.
type role int

const (
	roleFollower role = iota
	rolePreCandidate
	roleCandidate
	roleLeader
)

// String gives the role's name as Status reports it. A pre-candidate reports "candidate";
// a node that is not a voter of the configuration reports "learner".
func (r role) String() string {
	switch r {
	case roleLeader:
		return "leader"
	case roleCandidate, rolePreCandidate:
		return "candidate"
	}
	return "follower"
}

// durableMark remembers, for one PersistRequest, the last log index it makes durable.
type durableMark struct {
	seq       uint64
	lastIndex uint64
}

// deferredSend is a message that may leave only once write seq is durable: a vote, or an
// AppendEntries success.
type deferredSend struct {
	seq uint64
	out outgoing
}

// nodeLogic is RaftNode's state machine: the one authority for role, term, vote, log and
// commit index. Other actors propose (an election won, a quorum index, a write made
// durable); nodeLogic decides.
type nodeLogic struct {
	outbox
	s settings

	// Durable state, as this node has asked Persistence to store it.
	term uint64
	vote uint64
	log  memLog

	baseConfig  *messages.Configuration // from bootstrap; used until a config entry exists
	config      *messages.Configuration // in force: the newest in the log, else baseConfig
	configIndex uint64

	role              role
	campaigner        bool // as last told to Election
	leaderID          uint64
	lastLeaderContact time.Time
	commitIndex       uint64
	matchIndex        map[uint64]uint64 // as last reported by Config (leader only)

	// Leader appends not yet written nor replicated (see appendEntry): the first index, or 0.
	unflushed uint64

	// Persistence bookkeeping: writes are numbered; Persisted{seq} says all up to seq are durable.
	nextSeq      uint64
	doneSeq      uint64
	durableIndex uint64
	marks        []durableMark
	deferred     []deferredSend
	failed       error // a write failed: the node refuses all further work

	// Applier credit.
	sentToApplier uint64
	appliedIndex  uint64

	// Clients.
	pending       map[uint64]pendingEntry // commands appended as leader, by log index
	watchers      map[string]*watcher     // told when the commit index moves
	forwarded     map[uint64]forwarded    // requests forwarded to the leader, by request id
	nextRequestID uint64
	leaderAddr    string // the leader's address as its AppendEntries gave it

	// Membership (leader only): a change in progress, members being removed that still get
	// the log until the configuration without them commits, and a leadership transfer.
	change       *configChange
	leaving      []*messages.Member
	leavingTimer bool // a LeavingExpired is scheduled
	transfer     *leadershipTransfer
	nextOpID     uint64

	// Counters for Status.
	persistBatches uint64
	persistEntries uint64
	persistLatency latencyHistogram
	droppedForeign uint64
	droppedInvalid uint64
}

// newNodeLogic rebuilds a node from what its store holds: st as loaded, stored to read
// entries back, and tail, the newest entries of the log (see loadTail). Everything it loads
// was durable, so durableIndex starts at the end of the log.
func newNodeLogic(s settings, st storage.State, stored storedEntries, tail []*messages.Entry) *nodeLogic {
	n := &nodeLogic{
		s:          s,
		term:       st.HardState.GetTerm(),
		vote:       st.HardState.GetVote(),
		baseConfig: st.Config,
		pending:    map[uint64]pendingEntry{},
		watchers:   map[string]*watcher{},
		forwarded:  map[uint64]forwarded{},
	}
	configs := slices.Clone(st.ConfigEntries)
	for _, e := range tail {
		if e.Type == messages.EntryType_ENTRY_TYPE_CONFIG && (len(configs) == 0 || e.Index > configs[len(configs)-1].Index) {
			configs = append(configs, e)
		}
	}
	n.log = newMemLog(stored, tail, configs, n.readFailed)
	n.durableIndex = n.log.lastIndex()
	// Request ids of forwarded requests must never repeat across restarts, or a leader's
	// late answer to a request of the previous incarnation would be taken for the answer to
	// a new one (the simulator found this: seed 614). Starting from the clock makes them
	// increase across restarts.
	n.nextRequestID = uint64(s.clock.Now().UnixNano())
	n.config, n.configIndex = n.configInLog()
	return n
}

// loadTail reads the newest entries of the log in st from store: as many as the log cache
// holds (settings.logCacheEntries), so a restart reads a bounded part of any log.
func loadTail(s settings, store storedEntries, st storage.State) ([]*messages.Entry, error) {
	if st.LastIndex == 0 {
		return nil, nil
	}
	from := max(st.FirstIndex, st.LastIndex+1-min(st.LastIndex, uint64(s.logCacheEntries)))
	return store.Entries(from, st.LastIndex+1)
}

// start tells the other actors the state the node starts in.
func (n *nodeLogic) start() {
	n.announceConfig()
	n.announceRole()
}

func (n *nodeLogic) handle(msg proto.Message) {
	if n.failed != nil {
		n.refuse(msg)
		return
	}
	switch m := msg.(type) {
	case *messages.RequestVote:
		if n.acceptPeer(m.ClusterId, m.To) {
			n.onRequestVote(m)
		}
	case *messages.RequestVoteResponse:
		if n.acceptPeer(m.ClusterId, m.To) {
			n.onRequestVoteResponse(m)
		}
	case *messages.AppendEntries:
		if n.acceptPeer(m.ClusterId, m.To) {
			n.onAppendEntries(m)
		}
	case *messages.AppendEntriesResponse:
		if n.acceptPeer(m.ClusterId, m.To) {
			n.onAppendEntriesResponse(m)
		}
	case *messages.TimeoutNow:
		if n.acceptPeer(m.ClusterId, m.To) {
			n.onTimeoutNow(m)
		}
	case *messages.ForwardRequest:
		if n.acceptPeer(m.ClusterId, m.To) {
			n.onForwardRequest(m)
		}
	case *messages.ForwardResult:
		if n.acceptPeer(m.ClusterId, m.To) {
			n.onForwardResult(m)
		}
	case *messages.Submit:
		n.onSubmit(m.Command, requester{ref: m.ReplyTo, tag: m.RequestId})
	case *messages.ChangeConfiguration:
		n.onChangeConfiguration(m.Members, requester{ref: m.ReplyTo})
	case *messages.TransferLeadership:
		n.onTransferLeadership(m.TargetId, requester{ref: m.ReplyTo})
	case *messages.ReadIndex:
		n.onReadIndex(requester{ref: m.ReplyTo})
	case *messages.ReadCommitted:
		n.onReadCommitted(m)
	case *messages.WatchCommits:
		if m.Watcher != nil {
			n.watchers[refKey(m.Watcher)] = &watcher{ref: m.Watcher}
			n.notifyWatchers()
		}
	case *messages.UnwatchCommits:
		delete(n.watchers, refKey(m.Watcher))
	case *messages.FlushAppends:
		n.flushAppends()
	case *messages.ForwardTimeout:
		n.onForwardTimeout(m)
	case *messages.ChangeTimeout:
		n.onChangeTimeout(m)
	case *messages.TransferTimeout:
		n.onTransferTimeout(m)
	case *messages.LeavingExpired:
		n.onLeavingExpired(m)
	case *messages.Persisted:
		n.onPersisted(m)
	case *messages.PersistFailed:
		n.onPersistFailed(m)
	case *messages.ElectionTimeout:
		n.onElectionTimeout(m)
	case *messages.CampaignWon:
		n.onCampaignWon(m)
	case *messages.QuorumCommitted:
		n.onQuorumCommitted(m)
	case *messages.QuorumLost:
		n.onQuorumLost(m)
	case *messages.FetchEntries:
		n.onFetchEntries(m)
	case *messages.AppliedUpTo:
		n.onAppliedUpTo(m)
	default:
		n.droppedInvalid++
	}
}

// refuse answers client requests once the node has failed; everything else is dropped.
func (n *nodeLogic) refuse(msg proto.Message) {
	text := "node stopped after a storage failure: " + n.failed.Error()
	switch m := msg.(type) {
	case *messages.Submit:
		n.reply(m.ReplyTo, m.RequestId, failure(kindSubmit, messages.ErrorCode_ERROR_CODE_SHUTDOWN, text))
	case *messages.ChangeConfiguration:
		n.sendRef(m.ReplyTo, failure(kindChange, messages.ErrorCode_ERROR_CODE_SHUTDOWN, text))
	case *messages.TransferLeadership:
		n.sendRef(m.ReplyTo, failure(kindTransfer, messages.ErrorCode_ERROR_CODE_SHUTDOWN, text))
	case *messages.ReadIndex:
		n.sendRef(m.ReplyTo, failure(kindRead, messages.ErrorCode_ERROR_CODE_SHUTDOWN, text))
	}
}

// acceptPeer filters peer messages: another cluster's are counted and dropped, and so are
// messages addressed to another node id.
func (n *nodeLogic) acceptPeer(clusterID string, to uint64) bool {
	if clusterID != n.s.clusterID {
		n.droppedForeign++
		return false
	}
	if to != n.s.id {
		n.droppedInvalid++
		return false
	}
	return true
}

// ------------------------------------------------------------------ role changes

func (n *nodeLogic) isVoter() bool { return isVoter(n.config, n.s.id) }

// mayCampaign says whether this node may start elections: it is a voter of the configuration
// in force, or that configuration is not known to be committed and the node was a voter of
// the one before. Without the second case a cluster could be stuck: if the leader appended
// C_new and crashed, the nodes holding C_new but not in it would never campaign, while the
// members of C_new lacking it could not win the votes of those more up-to-date nodes. Such a
// node may lead only to finish the change: once C_new commits it steps down.
func (n *nodeLogic) mayCampaign() bool {
	if n.isVoter() {
		return true
	}
	if n.configIndex == 0 || n.configIndex <= n.commitIndex {
		return false
	}
	prev, _ := n.log.lastConfig(n.configIndex - 1)
	if prev == nil {
		prev = n.baseConfig
	}
	return isVoter(prev, n.s.id)
}

// inLease says whether this node believes a leader is alive: it leads itself, or it heard
// from the leader less than an election timeout ago. Votes are refused inside the lease, so
// a rejoining node cannot depose a healthy leader (with PreVote and CheckQuorum).
func (n *nodeLogic) inLease() bool {
	if n.role == roleLeader {
		return true
	}
	return n.leaderID != 0 && n.s.clock.Now().Sub(n.lastLeaderContact) < n.s.electionTimeout
}

// setHardState records a new term or vote and asks Persistence to store it.
func (n *nodeLogic) setHardState(term, vote uint64) {
	if term == n.term && vote == n.vote {
		return
	}
	n.term, n.vote = term, vote
	n.persist(&messages.PersistRequest{HardState: &messages.HardState{Term: term, Vote: vote}})
}

// becomeFollower moves to follower of term (raising the term if needed) under leader (0 when unknown).
func (n *nodeLogic) becomeFollower(term, leader uint64) {
	n.flushAppends() // entries appended as leader are part of the log: write them first
	wasLeader := n.role == roleLeader
	changed := n.role != roleFollower || n.term != term || n.leaderID != leader
	if term > n.term {
		n.setHardState(term, 0)
	}
	n.role = roleFollower
	n.leaderID = leader
	if leader != 0 {
		n.lastLeaderContact = n.s.clock.Now()
	}
	if wasLeader {
		n.send(toReplication, &messages.StopReplication{Term: n.term})
		n.matchIndex = nil
		n.leadershipLost()
	}
	if changed {
		n.announceRole()
	}
	if leader != 0 {
		n.transferObservedLeader()
	}
}

func (n *nodeLogic) announceRole() {
	n.campaigner = n.mayCampaign()
	n.send(toElection, &messages.RoleChanged{Term: n.term, Role: n.role.String(), LeaderId: n.leaderID, Voter: n.campaigner})
}

// recheckCampaigner tells Election when whether this node may campaign has changed.
func (n *nodeLogic) recheckCampaigner() {
	if n.mayCampaign() != n.campaigner {
		n.announceRole()
	}
}

// announceConfig tells Config (and, when leading, Replication) the configuration in force,
// with the learners and leaving members the leader feeds, and Election whether this node
// may campaign.
func (n *nodeLogic) announceConfig() {
	cfg := n.effectiveConfig()
	n.send(toConfig, &messages.ConfigurationChanged{Term: n.term, Index: n.configIndex, Config: cfg, Self: n.s.id})
	if n.role == roleLeader {
		n.send(toReplication, &messages.ConfigurationChanged{Term: n.term, Index: n.configIndex, Config: cfg, Self: n.s.id})
	}
}

// configInLog returns the configuration in force: the newest configuration entry in the log
// (configuration entries take effect when appended), else the bootstrap configuration.
func (n *nodeLogic) configInLog() (*messages.Configuration, uint64) {
	if cfg, idx := n.log.lastConfig(n.log.lastIndex()); cfg != nil {
		return cfg, idx
	}
	return n.baseConfig, 0
}

// refreshConfig recomputes the configuration after the log changed and tells the actors
// that care when it did.
func (n *nodeLogic) refreshConfig() {
	cfg, idx := n.configInLog()
	if idx == n.configIndex && proto.Equal(cfg, n.config) {
		return
	}
	n.config, n.configIndex = cfg, idx
	n.announceConfig()
	n.recheckCampaigner()
}

func (n *nodeLogic) onElectionTimeout(m *messages.ElectionTimeout) {
	if n.role == roleLeader || !n.mayCampaign() {
		return
	}
	// PreVote: ask whether a campaign could win before raising the term, so a node that was
	// cut off cannot disturb the cluster when it returns.
	n.s.logger.Debug("election timeout: asking for pre-votes", "term", n.term, "last_index", n.log.lastIndex())
	n.role = rolePreCandidate
	n.leaderID = 0
	n.announceRole()
	n.send(toElection, &messages.StartCampaign{Term: n.term + 1, PreVote: true,
		LastLogIndex: n.log.lastIndex(), LastLogTerm: n.log.lastTerm(), Config: n.config})
}

func (n *nodeLogic) onCampaignWon(m *messages.CampaignWon) {
	switch {
	case m.PreVote && n.role == rolePreCandidate && m.Term == n.term+1:
		n.becomeCandidate(false)
	case !m.PreVote && n.role == roleCandidate && m.Term == n.term:
		n.becomeLeader()
	}
}

// becomeCandidate raises the term and votes for itself; the campaign starts only once that
// vote is durable, so a crash cannot make this node vote twice in one term.
func (n *nodeLogic) becomeCandidate(transfer bool) {
	n.setHardState(n.term+1, n.s.id)
	n.s.logger.Info("campaigning", "term", n.term, "leadership_transfer", transfer)
	n.role = roleCandidate
	n.leaderID = 0
	n.announceRole()
	n.sendWhenDurable(outgoing{to: toElection, msg: &messages.StartCampaign{Term: n.term, LastLogIndex: n.log.lastIndex(),
		LastLogTerm: n.log.lastTerm(), Config: n.config, LeadershipTransfer: transfer}})
}

// becomeLeader takes leadership of the current term and appends a no-op, so that entries
// of earlier terms become committed through it (they are never committed by counting).
func (n *nodeLogic) becomeLeader() {
	n.s.logger.Info("elected leader", "term", n.term)
	n.role = roleLeader
	n.leaderID = n.s.id
	n.matchIndex = map[uint64]uint64{}
	prev, prevTerm := n.log.lastIndex(), n.log.lastTerm()
	noop := &messages.Entry{Index: prev + 1, Term: n.term, Type: messages.EntryType_ENTRY_TYPE_NOOP}
	n.log.append(noop)
	n.persist(&messages.PersistRequest{Entries: []*messages.Entry{noop}})
	n.announceRole()
	n.send(toReplication, &messages.StartReplication{Term: n.term, Config: n.effectiveConfig(), PrevIndex: prev, PrevTerm: prevTerm,
		Cached: []*messages.Entry{noop}, CommitIndex: n.commitIndex})
	n.reportSelfProgress()
}

func (n *nodeLogic) onQuorumLost(m *messages.QuorumLost) {
	if n.role == roleLeader && m.Term == n.term {
		n.s.logger.Info("stepping down: no quorum heard within an election timeout", "term", n.term)
		n.becomeFollower(n.term, 0)
	}
}

// ------------------------------------------------------------------ votes

func (n *nodeLogic) logUpToDate(lastIndex, lastTerm uint64) bool {
	ourTerm := n.log.lastTerm()
	return lastTerm > ourTerm || (lastTerm == ourTerm && lastIndex >= n.log.lastIndex())
}

func (n *nodeLogic) onRequestVote(m *messages.RequestVote) {
	reply := &messages.RequestVoteResponse{ClusterId: n.s.clusterID, From: n.s.id, To: m.From, PreVote: m.PreVote}
	candidate := memberOf(n.config, m.From)
	if candidate == nil && m.CandidateAddress != "" {
		// A candidate this node's configuration does not name yet (this node may be a new
		// member that has not received the configuration entry adding it): Raft votes on
		// term and log alone. A removed node cannot use this to disturb the cluster: the
		// lease refuses it while a leader is alive, and PreVote keeps its term from rising.
		candidate = &messages.Member{Id: m.From, Address: m.CandidateAddress}
	}
	if candidate == nil {
		n.droppedInvalid++ // no way to answer
		return
	}
	if m.PreVote {
		grant := m.Term > n.term && (m.LeadershipTransfer || !n.inLease()) && n.logUpToDate(m.LastLogIndex, m.LastLogTerm)
		reply.Granted = grant
		reply.Term = n.term
		if grant {
			reply.Term = m.Term
		}
		n.s.logger.Debug("pre-vote request", "from", m.From, "term", m.Term, "granted", grant, "in_lease", n.inLease(),
			"candidate_last", m.LastLogIndex, "our_last", n.log.lastIndex())
		n.sendPeer(candidate, reply)
		return
	}
	if m.Term > n.term {
		if n.inLease() && !m.LeadershipTransfer {
			return // a healthy leader is known: ignore the disruption, keep the term
		}
		n.becomeFollower(m.Term, 0)
	}
	reply.Term = n.term
	if m.Term < n.term {
		n.sendPeer(candidate, reply)
		return
	}
	canVote := n.vote == m.From || (n.vote == 0 && n.leaderID == 0)
	if canVote && n.logUpToDate(m.LastLogIndex, m.LastLogTerm) {
		n.setHardState(n.term, m.From)
		n.send(toElection, &messages.LeaderContact{Term: n.term}) // granting a vote resets the timer
		reply.Granted = true
		n.sendWhenDurable(outgoing{to: toPeer, peer: candidate, msg: reply})
		return
	}
	n.sendPeer(candidate, reply)
}

func (n *nodeLogic) onRequestVoteResponse(m *messages.RequestVoteResponse) {
	if m.Term > n.term && !(m.PreVote && m.Granted) {
		n.becomeFollower(m.Term, 0)
		return
	}
	if n.role == roleCandidate || n.role == rolePreCandidate {
		n.send(toElection, m)
	}
}

func (n *nodeLogic) onTimeoutNow(m *messages.TimeoutNow) {
	if m.Term < n.term || !n.mayCampaign() || n.role == roleLeader {
		return
	}
	if m.Term > n.term {
		n.becomeFollower(m.Term, m.From)
	}
	n.becomeCandidate(true)
}

// ------------------------------------------------------------------ replication (follower side)

func (n *nodeLogic) onAppendEntries(m *messages.AppendEntries) {
	leader := memberOf(n.config, m.From)
	if leader == nil && m.LeaderAddress != "" {
		// A leader this node's configuration does not name yet (a new member catching up).
		leader = &messages.Member{Id: m.From, Address: m.LeaderAddress}
	}
	if leader == nil {
		n.droppedInvalid++ // no way to answer
		return
	}
	reply := &messages.AppendEntriesResponse{ClusterId: n.s.clusterID, From: n.s.id, To: m.From}
	if m.Term < n.term {
		reply.Term = n.term
		reply.RejectedIndex = m.PrevLogIndex
		n.sendPeer(leader, reply)
		return
	}
	if m.Term > n.term || n.role != roleFollower || n.leaderID != m.From {
		if n.role == roleLeader && m.Term == n.term {
			n.s.logger.Error("two leaders in one term", "term", n.term, "other", m.From)
			return
		}
		n.becomeFollower(m.Term, m.From)
	}
	n.lastLeaderContact = n.s.clock.Now()
	n.leaderAddr = leader.Address
	n.send(toElection, &messages.LeaderContact{Term: n.term})
	reply.Term = n.term
	last := n.log.lastIndex()
	if m.PrevLogIndex > last {
		reply.RejectedIndex = m.PrevLogIndex
		reply.ConflictIndex = last + 1
		reply.LastLogIndex = last
		n.sendPeer(leader, reply)
		return
	}
	if n.log.term(m.PrevLogIndex) != m.PrevLogTerm {
		reply.RejectedIndex = m.PrevLogIndex
		reply.ConflictTerm = n.log.term(m.PrevLogIndex)
		reply.ConflictIndex = n.log.firstIndexOfTerm(m.PrevLogIndex, n.commitIndex)
		reply.LastLogIndex = last
		n.sendPeer(leader, reply)
		return
	}
	// Skip entries already held; truncate at the first conflict; append the rest.
	var truncateFrom uint64
	fresh := m.Entries
	for i, e := range m.Entries {
		if e.Index > n.log.lastIndex() {
			fresh = m.Entries[i:]
			break
		}
		if e.Index <= n.commitIndex && !n.log.cached(e.Index) {
			// Committed and already out of memory: held, and equal to what any leader sends.
			fresh = m.Entries[i+1:]
			continue
		}
		if n.log.term(e.Index) != e.Term {
			if e.Index <= n.commitIndex {
				n.s.logger.Error("leader conflicts with a committed entry; ignoring", "index", e.Index, "term", e.Term)
				return
			}
			truncateFrom = e.Index
			fresh = m.Entries[i:]
			break
		}
		fresh = m.Entries[i+1:]
	}
	// The configuration in force changes only if a configuration entry arrives or the one
	// in force is truncated away: only then is the log searched again.
	configMoved := truncateFrom > 0 && truncateFrom <= n.configIndex
	if truncateFrom > 0 {
		n.log.truncateFrom(truncateFrom)
		n.clampDurable(truncateFrom - 1)
	}
	for _, e := range fresh {
		if e.Type == messages.EntryType_ENTRY_TYPE_CONFIG {
			configMoved = true
		}
	}
	if len(fresh) > 0 {
		n.log.append(fresh...)
		n.persist(&messages.PersistRequest{TruncateFrom: truncateFrom, Entries: fresh})
	} else if truncateFrom > 0 {
		n.persist(&messages.PersistRequest{TruncateFrom: truncateFrom})
	}
	if configMoved {
		n.refreshConfig()
	}
	match := m.PrevLogIndex + uint64(len(m.Entries))
	if c := min(m.LeaderCommit, match); c > n.commitIndex {
		n.advanceCommit(c)
	}
	reply.Success = true
	reply.MatchIndex = match
	reply.LastLogIndex = n.log.lastIndex()
	n.sendWhenDurable(outgoing{to: toPeer, peer: leader, msg: reply})
}

// ------------------------------------------------------------------ replication (leader side)

func (n *nodeLogic) onAppendEntriesResponse(m *messages.AppendEntriesResponse) {
	if m.Term > n.term {
		n.becomeFollower(m.Term, 0)
		return
	}
	if m.Term == n.term && n.role == roleLeader {
		n.send(toReplication, m)
	}
}

func (n *nodeLogic) onFetchEntries(m *messages.FetchEntries) {
	if n.role != roleLeader || m.Term != n.term || m.From == 0 || m.From > n.log.lastIndex()+1 {
		return
	}
	entries := n.log.slice(m.From, n.log.lastIndex(), int(m.MaxCount), int(m.MaxBytes))
	n.send(toReplication, &messages.FetchedEntries{Term: n.term, Peer: m.Peer, PrevIndex: m.From - 1,
		PrevTerm: n.log.term(m.From - 1), Entries: entries, CommitIndex: n.commitIndex})
}

func (n *nodeLogic) onQuorumCommitted(m *messages.QuorumCommitted) {
	if n.role != roleLeader || m.Term != n.term {
		return
	}
	if m.Peer != 0 {
		n.matchIndex[m.Peer] = m.PeerMatch
	}
	if m.ConfigIndex != n.configIndex {
		n.progressChanged()
		return // counted in another configuration than the one in force here
	}
	idx := min(m.Index, n.log.lastIndex())
	// The commit rule: only an entry of the current term is committed by counting replicas;
	// earlier entries are committed with it.
	if idx > n.commitIndex && n.log.term(idx) == n.term {
		n.advanceCommit(idx)
		n.send(toReplication, &messages.NewEntries{Term: n.term, CommitIndex: n.commitIndex})
	}
	n.progressChanged()
}

// reportSelfProgress tells Config how far the leader's own log is durable.
func (n *nodeLogic) reportSelfProgress() {
	if n.role == roleLeader {
		n.send(toConfig, &messages.ProgressUpdate{Term: n.term, Peer: n.s.id, MatchIndex: n.durableIndex})
	}
}

// ------------------------------------------------------------------ commit and apply

func (n *nodeLogic) advanceCommit(index uint64) {
	prev := n.commitIndex
	n.commitIndex = index
	n.releaseLog()
	n.resolvePending(prev+1, index)
	n.feedApplier()
	n.notifyWatchers()
	n.recheckCampaigner()
	if n.role == roleLeader {
		n.configCommitted()
	}
}

// feedApplier sends the Applier the committed entries it may take (within the apply
// window). Entries no longer in memory are read back in chunks, each sent as it is read.
func (n *nodeLogic) feedApplier() {
	limit := min(n.commitIndex, n.appliedIndex+uint64(n.s.applyWindow))
	for n.sentToApplier < limit {
		entries := n.log.slice(n.sentToApplier+1, limit, 0, 0)
		if len(entries) == 0 {
			return // a read failed: the node has stopped
		}
		n.sentToApplier = entries[len(entries)-1].Index
		n.send(toApplier, &messages.ApplyEntries{Entries: entries})
	}
}

// releaseLog lets committed, durable entries leave memory beyond the log cache's bounds.
func (n *nodeLogic) releaseLog() {
	n.log.release(min(n.commitIndex, n.durableIndex), n.s.logCacheEntries, n.s.logCacheBytes)
}

func (n *nodeLogic) onAppliedUpTo(m *messages.AppliedUpTo) {
	if m.Index > n.appliedIndex {
		n.appliedIndex = m.Index
		n.feedApplier()
	}
}

// status describes the node for a GetStatus.
func (n *nodeLogic) status() *messages.Status {
	cfg := n.effectiveConfig()
	st := &messages.Status{
		Id: n.s.id, Role: n.role.String(), Term: n.term, LeaderId: n.leaderID,
		CommitIndex: n.commitIndex, AppliedIndex: n.appliedIndex, LastLogIndex: n.log.lastIndex(),
		Config: cfg, ConfigIndex: n.configIndex, Vote: n.vote, DurableIndex: n.durableIndex,
		DroppedForeignCluster: n.droppedForeign, DroppedInvalid: n.droppedInvalid,
		PersistBatches: n.persistBatches, PersistEntries: n.persistEntries,
		PersistLatencyCounts: slices.Clone(n.persistLatency.counts), PersistLatencySumSeconds: n.persistLatency.sum.Seconds(),
	}
	if !n.isVoter() && n.role != roleLeader {
		st.Role = "learner"
	}
	if l := n.peer(n.leaderID); l != nil {
		st.LeaderAddress = l.Address
	}
	for _, m := range allMembers(cfg) {
		ms := &messages.MemberStatus{Id: m.Id, Address: m.Address, Role: "voter"}
		switch {
		case findMember(cfg.Learners, m.Id) != nil:
			ms.Role = "learner"
		case findMember(cfg.Voters, m.Id) == nil:
			ms.Role = "leaving"
		}
		if n.role == roleLeader {
			ms.MatchIndex = n.matchIndex[m.Id]
			if m.Id == n.s.id {
				ms.MatchIndex = n.durableIndex
			}
		}
		st.Members = append(st.Members, ms)
	}
	return st
}

// ------------------------------------------------------------------ durability

// persist numbers a write and sends it to Persistence.
func (n *nodeLogic) persist(req *messages.PersistRequest) {
	if n.unflushed != 0 {
		n.flushAppends() // keeps writes in log order; durable marks stay exact
	}
	n.nextSeq++
	req.Seq = n.nextSeq
	n.marks = append(n.marks, durableMark{seq: req.Seq, lastIndex: n.log.lastIndex()})
	n.send(toPersistence, req)
}

// clampDurable lowers what pending and completed writes are known to make durable after a
// truncation: entries above index are gone until rewritten.
func (n *nodeLogic) clampDurable(index uint64) {
	n.durableIndex = min(n.durableIndex, index)
	for i := range n.marks {
		n.marks[i].lastIndex = min(n.marks[i].lastIndex, index)
	}
}

// sendWhenDurable sends out once every write issued so far is durable.
func (n *nodeLogic) sendWhenDurable(out outgoing) {
	if n.doneSeq == n.nextSeq {
		n.out = append(n.out, out)
		return
	}
	n.deferred = append(n.deferred, deferredSend{seq: n.nextSeq, out: out})
}

func (n *nodeLogic) onPersisted(m *messages.Persisted) {
	if m.Seq <= n.doneSeq {
		return
	}
	n.doneSeq = m.Seq
	n.persistBatches++
	n.persistEntries += m.Entries
	n.persistLatency.observe(time.Duration(m.WriteNanos))
	i := 0
	for ; i < len(n.marks) && n.marks[i].seq <= m.Seq; i++ {
		n.durableIndex = n.marks[i].lastIndex
	}
	n.marks = n.marks[i:]
	n.releaseLog()
	j := 0
	for ; j < len(n.deferred) && n.deferred[j].seq <= m.Seq; j++ {
		n.out = append(n.out, n.deferred[j].out)
	}
	n.deferred = n.deferred[j:]
	n.reportSelfProgress()
}

func (n *nodeLogic) onPersistFailed(m *messages.PersistFailed) {
	n.stopForStorage(fmt.Errorf("write %d failed: %s", m.Seq, m.Error))
}

// readFailed is called when an entry cannot be read back from storage: the node can no
// longer trust what it serves, and stops taking part as after a failed write.
func (n *nodeLogic) readFailed(err error) {
	if n.failed == nil {
		n.stopForStorage(fmt.Errorf("read failed: %w", err))
	}
}

// stopForStorage makes the node refuse all further work after a storage failure: it stops
// leading and campaigning and fails the requests it holds.
func (n *nodeLogic) stopForStorage(err error) {
	n.failed = err
	n.s.logger.Error("storage failed; node stops taking part", "error", err)
	if n.role == roleLeader {
		n.send(toReplication, &messages.StopReplication{Term: n.term})
	}
	n.role = roleFollower
	n.leaderID = 0
	n.send(toElection, &messages.RoleChanged{Term: n.term, Role: "follower", Voter: false})
	for _, i := range sortedKeys(n.pending) {
		p := n.pending[i]
		delete(n.pending, i)
		n.answer(p.from, failure(kindSubmit, messages.ErrorCode_ERROR_CODE_SHUTDOWN, "storage failure: outcome unknown"))
	}
	n.leadershipLost()
}
