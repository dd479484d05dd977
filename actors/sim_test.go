package actors

import (
	"container/heap"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"google.golang.org/protobuf/proto"
)

// The simulator runs a whole cluster's logic (every actor of every node) on virtual time in
// one goroutine, delivering messages in an order drawn from a seed. The network between
// nodes can drop, duplicate, delay, reorder and partition; nodes can crash (losing every
// message in flight to them and every write not yet made) and restart from their store.
// Mailboxes inside a node stay FIFO per sender and receiver, as protoactor's are.

// simClock is the virtual clock all logic of a simulation reads.
type simClock struct{ now time.Time }

func (c *simClock) Now() time.Time { return c.now }

// simEvent is one message due at a virtual time.
type simEvent struct {
	at   time.Time
	seq  uint64
	node uint64
	inc  uint64 // the incarnation of node it was sent to; stale after a crash
	to   target
	ref  string // for toRef: the receiver's name
	msg  proto.Message
}

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int)   { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)     { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any       { old := *q; e := old[len(old)-1]; *q = old[:len(old)-1]; return e }
func (q eventQueue) peek() *simEvent { return q[0] }

// simNode is one node's actors as plain logic, plus its durable store.
type simNode struct {
	id    uint64
	store *storage.Memory
	alive bool
	inc   uint64

	node        *nodeLogic
	persistence *persistenceLogic
	election    *electionLogic
	replication *replicationLogic
	config      *configLogic
	applier     *applierLogic

	applied []*messages.Entry // what this incarnation's subscriber received, in order
}

func (n *simNode) logicFor(t target) logic {
	switch t {
	case toNode:
		return n.node
	case toPersistence:
		return n.persistence
	case toElection:
		return n.election
	case toReplication:
		return n.replication
	case toConfig:
		return n.config
	case toApplier:
		return n.applier
	}
	return nil
}

// simLink is the fault state of one directed link.
type simLink struct {
	blocked  bool
	dropRate float64
	dupRate  float64
}

// simSubmit is one client request and what became of it.
type simSubmit struct {
	command []byte
	node    uint64
	result  *messages.SubmitResult
}

// simChange is one configuration change request and what became of it.
type simChange struct {
	members []*messages.Member
	node    uint64
	result  *messages.ChangeConfigurationResult
}

// sim is a simulated cluster.
type sim struct {
	rng      *rand.Rand
	clock    *simClock
	queue    eventQueue
	seq      uint64
	nodes    map[uint64]*simNode
	members  []*messages.Member
	links    map[[2]uint64]*simLink
	channels map[string]time.Time // last delivery time per local channel, for FIFO
	baseLink simLink
	maxDelay time.Duration

	submits []*simSubmit
	refs    map[string]*simSubmit
	changes map[string]*simChange

	// Observations the invariants are checked against.
	leaders   map[uint64]uint64   // term -> the leader seen in it
	committed map[uint64]commitOf // index -> the entry known committed there
	delivered uint64              // events delivered, for reports
	failure   error
}

type commitOf struct {
	term   uint64
	hash   uint64
	inTerm uint64 // the term of the node that saw it committed
}

const simCluster = "sim"

// newSim starts a cluster of n bootstrapped nodes.
func newSim(seed int64, n int) *sim { return newSimPool(seed, n, n) }

// newSimPool starts pool nodes of which the first n are bootstrapped as the cluster; the
// others start empty and wait to be added by a configuration change.
func newSimPool(seed int64, n, pool int) *sim {
	s := &sim{
		rng:       rand.New(rand.NewSource(seed)),
		clock:     &simClock{now: time.Unix(1_000_000, 0)},
		nodes:     map[uint64]*simNode{},
		links:     map[[2]uint64]*simLink{},
		channels:  map[string]time.Time{},
		refs:      map[string]*simSubmit{},
		changes:   map[string]*simChange{},
		leaders:   map[uint64]uint64{},
		committed: map[uint64]commitOf{},
		maxDelay:  5 * time.Millisecond,
	}
	for i := 1; i <= pool; i++ {
		s.members = append(s.members, &messages.Member{Id: uint64(i), Address: fmt.Sprintf("127.0.0.1:%d", 7000+i)})
	}
	for _, m := range s.members {
		store := storage.NewMemory()
		cfg := Config{ID: m.Id, ClusterID: simCluster, Address: m.Address, Storage: store}
		if m.Id <= uint64(n) {
			cfg.Bootstrap = s.members[:n]
		}
		if err := initialiseStore(store, cfg); err != nil {
			panic(err)
		}
		s.nodes[m.Id] = &simNode{id: m.Id, store: store}
		s.start(m.Id)
	}
	return s
}

func (s *sim) settingsFor(id uint64) settings {
	return settings{
		id: id, clusterID: simCluster, address: s.members[id-1].Address,
		electionTimeout: 100 * time.Millisecond, heartbeatInterval: 20 * time.Millisecond,
		maxCommandBytes: 1024, maxAppendEntries: 16, maxAppendBytes: 4096, maxInflight: 3,
		applyWindow: 64, forwardTimeout: 500 * time.Millisecond, logCacheEntries: 8, logCacheBytes: 256,
		catchUpTimeout: 2 * time.Second, catchUpMargin: 8, transferTimeout: 500 * time.Millisecond,
		clock: s.clock, rand: rand.New(rand.NewSource(s.rng.Int63())), logger: slog.New(slog.DiscardHandler),
	}
}

// start (re)builds a node's actors from its store, as the real RaftNode does on Started.
func (s *sim) start(id uint64) {
	n := s.nodes[id]
	st, err := n.store.Load()
	if err != nil {
		panic(err)
	}
	set := s.settingsFor(id)
	tail, err := loadTail(set, n.store, st)
	if err != nil {
		panic(err)
	}
	n.alive = true
	n.inc++
	n.applied = nil
	n.node = newNodeLogic(set, st, n.store, tail)
	n.persistence = newPersistenceLogic(n.store, s.clock)
	n.election = newElectionLogic(set)
	n.replication = newReplicationLogic(set)
	n.config = newConfigLogic(id)
	n.applier = newApplierLogic()
	n.applier.handle(&messages.Subscribe{Subscriber: &messages.ActorRef{Id: fmt.Sprintf("sub-%d", id)}})
	s.route(id, target(-1), n.applier.drain())
	n.node.start()
	s.route(id, toNode, n.node.drain())
}

// crash stops a node at once: messages in flight to it are lost, unwritten writes too.
func (s *sim) crash(id uint64) {
	n := s.nodes[id]
	n.alive = false
	n.inc++
}

func (s *sim) link(from, to uint64) simLink {
	if l, ok := s.links[[2]uint64{from, to}]; ok {
		return *l
	}
	return s.baseLink
}

func (s *sim) push(e *simEvent) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.queue, e)
}

// route schedules what node id's actor `from` recorded.
func (s *sim) route(id uint64, from target, outs []outgoing) {
	n := s.nodes[id]
	for _, o := range outs {
		switch {
		case o.to == toPeer:
			l := s.link(id, o.peer.Id)
			if l.blocked || s.rng.Float64() < l.dropRate {
				continue
			}
			copies := 1
			if s.rng.Float64() < l.dupRate {
				copies = 2
			}
			for c := 0; c < copies; c++ {
				delay := time.Duration(1+s.rng.Int63n(int64(s.maxDelay))) * 1
				s.push(&simEvent{at: s.clock.now.Add(delay), node: o.peer.Id, inc: s.nodes[o.peer.Id].inc, to: toNode, msg: o.msg})
			}
		case o.to == toRef:
			s.push(&simEvent{at: s.clock.now.Add(time.Microsecond), node: id, inc: n.inc, to: toRef, ref: o.ref.Id, msg: o.msg})
		case o.after > 0:
			s.push(&simEvent{at: s.clock.now.Add(o.after), node: id, inc: n.inc, to: o.to, msg: o.msg})
		default:
			// Local mailbox: a small random latency, but FIFO per sender and receiver.
			at := s.clock.now.Add(time.Duration(s.rng.Int63n(int64(200 * time.Microsecond))))
			if _, ok := o.msg.(*messages.FlushPersistence); ok {
				// The write and its fsync: nothing in the batch is durable before this.
				at = at.Add(time.Duration(s.rng.Int63n(int64(2 * time.Millisecond))))
			}
			key := fmt.Sprintf("%d/%d/%d/%d", id, n.inc, from, o.to)
			if last, ok := s.channels[key]; ok && at.Before(last) {
				at = last
			}
			s.channels[key] = at
			s.push(&simEvent{at: at, node: id, inc: n.inc, to: o.to, msg: o.msg})
		}
	}
}

// runFor delivers every event due in the next d of virtual time, checking invariants.
func (s *sim) runFor(d time.Duration) error {
	end := s.clock.now.Add(d)
	for s.failure == nil && s.queue.Len() > 0 && !s.queue.peek().at.After(end) {
		e := heap.Pop(&s.queue).(*simEvent)
		s.clock.now = e.at
		s.deliver(e)
	}
	if s.failure == nil {
		s.clock.now = end
		s.checkInvariants()
	}
	return s.failure
}

func (s *sim) deliver(e *simEvent) {
	n := s.nodes[e.node]
	if !n.alive || e.inc != n.inc {
		return
	}
	s.delivered++
	if e.to == toRef {
		s.deliverToRef(n, e)
		return
	}
	l := n.logicFor(e.to)
	l.handle(e.msg)
	s.route(e.node, e.to, l.drain())
	if e.to == toNode {
		s.observeNode(n)
	}
}

func (s *sim) deliverToRef(n *simNode, e *simEvent) {
	switch m := e.msg.(type) {
	case *messages.CommittedEntries:
		for _, entry := range m.Entries {
			if want := uint64(len(n.applied)) + 1; entry.Index != want {
				s.fail("node %d applied index %d, expected %d", n.id, entry.Index, want)
				return
			}
			n.applied = append(n.applied, entry)
			s.noteCommitted(entry, n.node.term, fmt.Sprintf("applied by node %d", n.id))
		}
		if len(m.Entries) > 0 {
			ack := &messages.CommittedAck{Subscriber: &messages.ActorRef{Id: e.ref}, Index: m.Entries[len(m.Entries)-1].Index}
			s.push(&simEvent{at: s.clock.now.Add(time.Microsecond), node: n.id, inc: n.inc, to: toApplier, msg: ack})
		}
	case *messages.ChangeConfigurationResult:
		if c := s.changes[e.ref]; c != nil && c.result == nil {
			c.result = m
		}
	case *messages.SubmitResult:
		if sub := s.refs[e.ref]; sub != nil && sub.result == nil {
			sub.result = m
			if m.Code == messages.ErrorCode_ERROR_CODE_NONE {
				s.checkAcknowledged(sub)
			}
		}
	}
}

func (s *sim) fail(format string, args ...any) {
	if s.failure == nil {
		s.failure = fmt.Errorf("t=%v: %s", s.clock.now.Sub(time.Unix(1_000_000, 0)), fmt.Sprintf(format, args...))
	}
}

func entryHash(e *messages.Entry) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/", e.Index, e.Term, e.Type)
	h.Write(e.Data)
	return h.Sum64()
}

// observeNode records what a node's state shows after each message it handled: its
// leadership (election safety) and its commit index (what is committed, and that it never
// changes).
func (s *sim) observeNode(n *simNode) {
	l := n.node
	if l.role == roleLeader {
		if other, ok := s.leaders[l.term]; ok && other != n.id {
			s.fail("election safety: nodes %d and %d both lead term %d", other, n.id, l.term)
			return
		}
		s.leaders[l.term] = n.id
	}
	for i := l.commitIndex; i >= 1; i-- {
		if c, ok := s.committed[i]; ok && c.term == l.log.term(i) {
			break // everything below was recorded when this index was
		}
		s.noteCommitted(l.log.entry(i), l.term, fmt.Sprintf("commit index of node %d", n.id))
	}
}

func (s *sim) noteCommitted(e *messages.Entry, inTerm uint64, who string) {
	h := entryHash(e)
	if c, ok := s.committed[e.Index]; ok {
		if c.hash != h {
			s.fail("state machine safety: index %d committed as term %d and as term %d (%s)", e.Index, c.term, e.Term, who)
		}
		return
	}
	s.committed[e.Index] = commitOf{term: e.Term, hash: h, inTerm: inTerm}
}

func (s *sim) checkAcknowledged(sub *simSubmit) {
	r := sub.result
	// The entry acknowledged must be the command submitted; once committed it never changes.
	for _, n := range s.ordered() {
		if n.node.log.lastIndex() >= r.Index && n.node.log.term(r.Index) == r.Term {
			e := n.node.log.entry(r.Index)
			if string(e.Data) != string(sub.command) {
				s.fail("acknowledged index %d term %d holds %q, not the submitted %q", r.Index, r.Term, e.Data, sub.command)
			}
			return
		}
	}
}

// checkInvariants checks the log-wide properties on every node's current state.
func (s *sim) checkInvariants() {
	// Log matching: an (index, term) pair identifies the whole prefix.
	type key struct{ index, term uint64 }
	chains := map[key]uint64{}
	for _, n := range s.ordered() {
		var chain uint64
		for i := uint64(1); i <= n.node.log.lastIndex(); i++ {
			e := n.node.log.entry(i)
			chain = chain*1099511628211 ^ entryHash(e)
			k := key{i, e.Term}
			if c, ok := chains[k]; ok && c != chain {
				s.fail("log matching: node %d's entry %d (term %d) has a different prefix than another node's", n.id, i, e.Term)
				return
			}
			chains[k] = chain
		}
	}
	// Leader completeness: a leader holds every entry committed in an earlier term.
	for _, n := range s.ordered() {
		if !n.alive || n.node.role != roleLeader {
			continue
		}
		for i, c := range s.committed {
			if c.inTerm < n.node.term && (i > n.node.log.lastIndex() || entryHash(n.node.log.entry(i)) != c.hash) {
				s.fail("leader completeness: leader %d of term %d lacks entry %d committed in term %d", n.id, n.node.term, i, c.inTerm)
				return
			}
		}
	}
	// Every acknowledged write is committed at its index, with its command.
	for _, sub := range s.submits {
		if r := sub.result; r != nil && r.Code == messages.ErrorCode_ERROR_CODE_NONE {
			if c, ok := s.committed[r.Index]; ok && c.term != r.Term {
				s.fail("acknowledged write at index %d term %d, but term %d is committed there", r.Index, r.Term, c.term)
				return
			}
		}
	}
}

// submit sends a client command to a node.
func (s *sim) submit(id uint64, command []byte) *simSubmit {
	sub := &simSubmit{command: command, node: id}
	name := fmt.Sprintf("client-%d", len(s.submits))
	s.submits = append(s.submits, sub)
	s.refs[name] = sub
	n := s.nodes[id]
	if !n.alive {
		return sub
	}
	s.push(&simEvent{at: s.clock.now, node: id, inc: n.inc, to: toNode,
		msg: &messages.Submit{Command: command, ReplyTo: &messages.ActorRef{Id: name}}})
	return sub
}

// changeConfig asks a node to move the cluster to members.
func (s *sim) changeConfig(id uint64, members []*messages.Member) *simChange {
	c := &simChange{members: members, node: id}
	name := fmt.Sprintf("change-%d", len(s.changes))
	s.changes[name] = c
	if n := s.nodes[id]; n.alive {
		s.push(&simEvent{at: s.clock.now, node: id, inc: n.inc, to: toNode,
			msg: &messages.ChangeConfiguration{Members: members, ReplyTo: &messages.ActorRef{Id: name}}})
	}
	return c
}

// leader returns the live leader with the highest term, or 0.
func (s *sim) leader() uint64 {
	var id, term uint64
	for _, n := range s.ordered() {
		if n.alive && n.node.role == roleLeader && n.node.term >= term {
			id, term = n.id, n.node.term
		}
	}
	return id
}

func (s *sim) healAll() {
	s.links = map[[2]uint64]*simLink{}
	s.baseLink = simLink{}
	for _, n := range s.ordered() {
		if !n.alive {
			s.start(n.id)
		}
	}
}

// partition cuts the cluster into the given side and the rest.
func (s *sim) partition(side map[uint64]bool) {
	s.links = map[[2]uint64]*simLink{}
	for _, a := range sortedKeys(s.nodes) {
		for _, b := range sortedKeys(s.nodes) {
			if a != b && side[a] != side[b] {
				s.links[[2]uint64{a, b}] = &simLink{blocked: true}
			}
		}
	}
}

// ordered returns the nodes by id, so that loops drawing random numbers replay exactly.
func (s *sim) ordered() []*simNode {
	var out []*simNode
	for _, id := range sortedKeys(s.nodes) {
		out = append(out, s.nodes[id])
	}
	return out
}
