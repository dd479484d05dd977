package actors

import (
	"fmt"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// requestKind names the three client requests that followers forward to the leader.
type requestKind int

const (
	kindSubmit requestKind = iota
	kindChange
	kindTransfer
	kindRead
)

// requester is whoever waits for a request's answer: a local actor, or a follower that
// forwarded the request (answered through a ForwardResult).
type requester struct {
	ref         *messages.ActorRef
	tag         uint64 // the local client's own request id, echoed in a SubmitResult
	forwardedBy uint64
	requestID   uint64
}

// pendingEntry is an entry appended by this node as leader whose requester waits for it to
// commit: a command (answered with a SubmitResult) or a read barrier (a ReadIndexResult).
type pendingEntry struct {
	term uint64
	from requester
	read bool
}

// forwarded is a request this node forwarded to the leader and still waits on.
type forwarded struct {
	ref  *messages.ActorRef
	tag  uint64
	kind requestKind
}

// failure builds the error reply of a request kind.
func failure(kind requestKind, code messages.ErrorCode, text string) proto.Message {
	switch kind {
	case kindChange:
		return &messages.ChangeConfigurationResult{Code: code, Error: text}
	case kindTransfer:
		return &messages.TransferLeadershipResult{Code: code, Error: text}
	case kindRead:
		return &messages.ReadIndexResult{Code: code, Error: text}
	}
	return &messages.SubmitResult{Code: code, Error: text}
}

// answer sends a request's reply to whoever waits for it.
func (n *nodeLogic) answer(r requester, result proto.Message) {
	if r.ref != nil {
		n.reply(r.ref, r.tag, result)
		return
	}
	peer := n.peer(r.forwardedBy)
	if peer == nil {
		return
	}
	fr := &messages.ForwardResult{ClusterId: n.s.clusterID, From: n.s.id, To: r.forwardedBy, RequestId: r.requestID}
	switch res := result.(type) {
	case *messages.SubmitResult:
		fr.Submit = res
	case *messages.ChangeConfigurationResult:
		fr.Change = res
	case *messages.TransferLeadershipResult:
		fr.Transfer = res
	case *messages.ReadIndexResult:
		fr.ReadIndex = res
	}
	n.sendPeer(peer, fr)
}

// reply sends a result to a local client, tagging a SubmitResult with the client's id.
func (n *nodeLogic) reply(ref *messages.ActorRef, tag uint64, result proto.Message) {
	if r, ok := result.(*messages.SubmitResult); ok && tag != 0 {
		r.RequestId = tag
	}
	n.sendRef(ref, result)
}

// peer returns the address book entry of a node: a member of the configuration in force
// (with learners and leaving members on the leader), or the leader as its messages named it.
func (n *nodeLogic) peer(id uint64) *messages.Member {
	if m := memberOf(n.effectiveConfig(), id); m != nil {
		return m
	}
	if id != 0 && id == n.leaderID && n.leaderAddr != "" {
		return &messages.Member{Id: id, Address: n.leaderAddr}
	}
	return nil
}

func (n *nodeLogic) validateCommand(cmd []byte) *messages.SubmitResult {
	if len(cmd) == 0 {
		return &messages.SubmitResult{Code: messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, Error: "command: empty"}
	}
	if len(cmd) > n.s.maxCommandBytes {
		return &messages.SubmitResult{Code: messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT,
			Error: fmt.Sprintf("command: %d bytes, over the limit of %d", len(cmd), n.s.maxCommandBytes)}
	}
	return nil
}

// onSubmit appends a command as leader, or forwards it once to the leader.
func (n *nodeLogic) onSubmit(cmd []byte, from requester) {
	if bad := n.validateCommand(cmd); bad != nil {
		n.answer(from, bad)
		return
	}
	if n.role != roleLeader {
		n.forward(kindSubmit, from, &messages.ForwardRequest{Command: cmd})
		return
	}
	if n.transfer != nil {
		n.answer(from, failure(kindSubmit, messages.ErrorCode_ERROR_CODE_UNAVAILABLE, "leadership transfer in progress: not accepting writes"))
		return
	}
	n.appendCommand(cmd, from)
}

// forward sends a request to the leader once and never retries it: a lost answer makes the
// outcome unknown, but a command can never be appended twice for one request.
func (n *nodeLogic) forward(kind requestKind, from requester, req *messages.ForwardRequest) {
	if from.ref == nil {
		// Forwarded to us, but we are not the leader: no second hop, so no loops.
		n.answer(from, failure(kind, messages.ErrorCode_ERROR_CODE_UNAVAILABLE, fmt.Sprintf("node %d is not the leader", n.s.id)))
		return
	}
	leader := n.peer(n.leaderID)
	if leader == nil || n.leaderID == n.s.id {
		n.answer(from, failure(kind, messages.ErrorCode_ERROR_CODE_UNAVAILABLE, "no leader known"))
		return
	}
	n.nextRequestID++
	id := n.nextRequestID
	n.forwarded[id] = forwarded{ref: from.ref, tag: from.tag, kind: kind}
	req.ClusterId, req.From, req.To, req.RequestId = n.s.clusterID, n.s.id, leader.Id, id
	n.sendPeer(leader, req)
	timeout := n.s.forwardTimeout
	if kind == kindChange {
		timeout += n.s.catchUpTimeout
	}
	n.sendAfter(toNode, timeout, &messages.ForwardTimeout{RequestId: id})
}

func (n *nodeLogic) onForwardRequest(m *messages.ForwardRequest) {
	from := requester{forwardedBy: m.From, requestID: m.RequestId}
	if n.peer(m.From) == nil {
		n.droppedInvalid++ // cannot answer a node we have no address for
		return
	}
	switch {
	case m.Change != nil:
		n.onChangeConfiguration(m.Change.Members, from)
	case m.Transfer != nil:
		n.onTransferLeadership(m.Transfer.TargetId, from)
	case m.ReadIndex:
		n.onReadIndex(from)
	default:
		n.onSubmit(m.Command, from)
	}
}

func (n *nodeLogic) onForwardResult(m *messages.ForwardResult) {
	f, ok := n.forwarded[m.RequestId]
	if !ok {
		return // timed out already, or a duplicate
	}
	delete(n.forwarded, m.RequestId)
	switch {
	case m.Submit != nil:
		n.reply(f.ref, f.tag, m.Submit)
	case m.Change != nil:
		n.sendRef(f.ref, m.Change)
	case m.Transfer != nil:
		n.sendRef(f.ref, m.Transfer)
	case m.ReadIndex != nil:
		n.sendRef(f.ref, m.ReadIndex)
	}
}

func (n *nodeLogic) onForwardTimeout(m *messages.ForwardTimeout) {
	f, ok := n.forwarded[m.RequestId]
	if !ok {
		return
	}
	delete(n.forwarded, m.RequestId)
	n.reply(f.ref, f.tag, failure(f.kind, messages.ErrorCode_ERROR_CODE_TIMEOUT, "the leader did not answer in time: outcome unknown"))
}

// appendCommand appends one command as leader, writes it locally and hands it to
// Replication at once: the local write runs in parallel with replication.
func (n *nodeLogic) appendCommand(cmd []byte, from requester) {
	e := n.appendEntry(&messages.Entry{Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: cmd})
	n.pending[e.Index] = pendingEntry{term: n.term, from: from}
}

// appendEntry appends an entry of the current term as leader. Appends are batched the way
// Persistence batches writes: the first one after idle schedules a FlushAppends to this
// actor, and every request already queued in the mailbox joins the same write and the same
// push to Replication.
func (n *nodeLogic) appendEntry(e *messages.Entry) *messages.Entry {
	e.Index, e.Term = n.log.lastIndex()+1, n.term
	n.log.append(e)
	if n.unflushed == 0 {
		n.unflushed = e.Index
		n.send(toNode, &messages.FlushAppends{Term: n.term})
	}
	return e
}

// flushAppends writes and replicates the entries appended since the last flush.
func (n *nodeLogic) flushAppends() {
	if n.unflushed == 0 {
		return
	}
	entries := n.log.slice(n.unflushed, n.log.lastIndex(), 0, 0)
	n.unflushed = 0
	if len(entries) == 0 {
		return
	}
	n.persist(&messages.PersistRequest{Entries: entries})
	n.send(toReplication, &messages.NewEntries{Term: entries[0].Term, Entries: entries, CommitIndex: n.commitIndex})
}

// resolvePending answers the commands committed up to index: committed in the term they
// were appended in, or replaced by another leader's entry.
func (n *nodeLogic) resolvePending(from, to uint64) {
	if len(n.pending) == 0 {
		return
	}
	for i := from; i <= to; i++ {
		p, ok := n.pending[i]
		if !ok {
			continue
		}
		delete(n.pending, i)
		switch {
		case p.read && n.log.term(i) == p.term:
			n.answer(p.from, &messages.ReadIndexResult{Index: i})
		case p.read:
			n.answer(p.from, failure(kindRead, messages.ErrorCode_ERROR_CODE_UNAVAILABLE, "leadership lost before the read barrier committed"))
		case n.log.term(i) == p.term:
			n.answer(p.from, &messages.SubmitResult{Index: i, Term: p.term})
		default:
			n.answer(p.from, &messages.SubmitResult{Code: messages.ErrorCode_ERROR_CODE_LOST,
				Error: fmt.Sprintf("entry %d was replaced by another leader's entry: not committed", i)})
		}
	}
}

// onReadIndex appends a no-op as leader and answers with its index once it commits: every
// write acknowledged before the request is then committed at or below that index.
func (n *nodeLogic) onReadIndex(from requester) {
	if n.role != roleLeader {
		n.forward(kindRead, from, &messages.ForwardRequest{ReadIndex: true})
		return
	}
	e := n.appendEntry(&messages.Entry{Type: messages.EntryType_ENTRY_TYPE_NOOP})
	n.pending[e.Index] = pendingEntry{term: n.term, from: from, read: true}
}

// onReadCommitted answers with committed entries from m.From on, and re-arms the sender's
// commit notices when it is a watcher.
func (n *nodeLogic) onReadCommitted(m *messages.ReadCommitted) {
	if w, ok := n.watchers[refKey(m.ReplyTo)]; ok {
		w.notified = false
	}
	res := &messages.ReadCommittedResult{CommitIndex: n.commitIndex}
	switch {
	case m.From == 0:
		res.Code, res.Error = messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "from: entries start at index 1"
	case m.From <= n.commitIndex:
		count, bytes := int(m.MaxCount), int(m.MaxBytes)
		if count == 0 {
			count = n.s.maxAppendEntries
		}
		if bytes == 0 {
			bytes = n.s.maxAppendBytes
		}
		res.Entries = n.log.slice(m.From, n.commitIndex, count, bytes)
	}
	n.sendRef(m.ReplyTo, res)
}

// watcher is an actor told when the commit index moves.
type watcher struct {
	ref      *messages.ActorRef
	notified bool // a notice is outstanding: no more until the watcher reads again
}

// notifyWatchers sends each watcher without an outstanding notice a CommitNotice.
func (n *nodeLogic) notifyWatchers() {
	if len(n.watchers) == 0 {
		return
	}
	for _, key := range sortedKeys(n.watchers) {
		w := n.watchers[key]
		if !w.notified {
			w.notified = true
			n.sendRef(w.ref, &messages.CommitNotice{CommitIndex: n.commitIndex})
		}
	}
}
