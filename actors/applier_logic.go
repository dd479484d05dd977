package actors

import (
	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// maxDeliveryBatch caps the entries in one CommittedEntries message.
const maxDeliveryBatch = 512

// subscriber is one actor receiving committed entries.
type subscriber struct {
	ref   *messages.ActorRef
	sent  uint64 // last index sent
	acked uint64 // last index acknowledged
}

// applierLogic delivers committed entries, strictly in order and in batches, to every
// subscriber. Each subscriber has at most one batch unacknowledged; entries are kept until
// every subscriber has acknowledged them, and RaftNode sends no more than its apply window
// beyond what was acknowledged, so a slow subscriber bounds memory and slows only apply,
// never consensus.
type applierLogic struct {
	outbox
	buffer      []*messages.Entry // entries bufferStart..received
	bufferStart uint64
	received    uint64
	reported    uint64
	subs        map[string]*subscriber
}

func newApplierLogic() *applierLogic {
	return &applierLogic{subs: map[string]*subscriber{}, bufferStart: 1}
}

func refKey(r *messages.ActorRef) string { return r.GetAddress() + "/" + r.GetId() }

func (a *applierLogic) handle(msg proto.Message) {
	switch m := msg.(type) {
	case *messages.ApplyEntries:
		a.onApply(m)
	case *messages.Subscribe:
		if m.Subscriber == nil {
			return
		}
		if _, ok := a.subs[refKey(m.Subscriber)]; !ok {
			// A new subscriber starts with the oldest entry still buffered.
			s := &subscriber{ref: m.Subscriber, sent: a.bufferStart - 1, acked: a.bufferStart - 1}
			a.subs[refKey(m.Subscriber)] = s
			a.deliver(s)
		}
	case *messages.Unsubscribe:
		delete(a.subs, refKey(m.Subscriber))
		a.progress()
	case *messages.CommittedAck:
		if s, ok := a.subs[refKey(m.Subscriber)]; ok && m.Index > s.acked && m.Index <= s.sent {
			s.acked = m.Index
			a.deliver(s)
			a.progress()
		}
	}
}

func (a *applierLogic) onApply(m *messages.ApplyEntries) {
	for _, e := range m.Entries {
		if e.Index != a.received+1 {
			continue // a duplicate after a restart of the feed; order is kept by index
		}
		a.buffer = append(a.buffer, e)
		a.received = e.Index
	}
	for _, key := range sortedKeys(a.subs) {
		a.deliver(a.subs[key])
	}
	a.progress()
}

// deliver sends the subscriber its next batch when it has none outstanding.
func (a *applierLogic) deliver(s *subscriber) {
	if s.sent != s.acked || s.sent >= a.received {
		return
	}
	from := s.sent + 1
	to := min(a.received, from+maxDeliveryBatch-1)
	batch := a.buffer[from-a.bufferStart : to-a.bufferStart+1]
	s.sent = to
	a.sendRef(s.ref, &messages.CommittedEntries{Entries: batch[:len(batch):len(batch)]})
}

// progress trims what every subscriber acknowledged and reports it to RaftNode.
func (a *applierLogic) progress() {
	applied := a.received
	for _, s := range a.subs {
		applied = min(applied, s.acked)
	}
	if applied >= a.bufferStart {
		drop := applied - a.bufferStart + 1
		a.buffer = append([]*messages.Entry(nil), a.buffer[drop:]...)
		a.bufferStart = applied + 1
	}
	if applied > a.reported {
		a.reported = applied
		a.send(toNode, &messages.AppliedUpTo{Index: applied})
	}
}
