package actors

import (
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"google.golang.org/protobuf/proto"
)

// persistenceLogic is the only writer of a node's store. It group-commits: the first
// request after idle is buffered and a FlushPersistence is sent to itself; since the mailbox
// is FIFO, every request already queued behind it joins the same synced batch.
type persistenceLogic struct {
	outbox
	store storage.Storage
	clock Clock

	buffer    []*messages.PersistRequest
	scheduled bool
	failed    bool

	// batches and entries written, for tests.
	batches uint64
	entries uint64
}

func newPersistenceLogic(store storage.Storage, clock Clock) *persistenceLogic {
	return &persistenceLogic{store: store, clock: clock}
}

func (p *persistenceLogic) handle(msg proto.Message) {
	switch m := msg.(type) {
	case *messages.PersistRequest:
		p.buffer = append(p.buffer, m)
		if !p.scheduled {
			p.scheduled = true
			p.send(toPersistence, &messages.FlushPersistence{})
		}
	case *messages.FlushPersistence:
		p.flush()
	}
}

// flush writes every buffered request as one atomic batch and acknowledges the last seq.
func (p *persistenceLogic) flush() {
	p.scheduled = false
	if len(p.buffer) == 0 || p.failed {
		p.buffer = nil
		return
	}
	last := p.buffer[len(p.buffer)-1].Seq
	batch := mergeRequests(p.buffer)
	p.buffer = nil
	started := p.clock.Now()
	err := p.store.Write(batch)
	took := p.clock.Now().Sub(started)
	if err != nil {
		p.failed = true
		p.send(toNode, &messages.PersistFailed{Seq: last, Error: err.Error()})
		return
	}
	p.batches++
	p.entries += uint64(len(batch.Entries))
	p.send(toNode, &messages.Persisted{Seq: last, Entries: uint64(len(batch.Entries)), WriteNanos: uint64(took)})
}

// mergeRequests folds requests, in order, into one batch with the same effect: the newest
// hard state wins, and truncations cut entries written earlier in the batch or, below them,
// become the batch's own truncation.
func mergeRequests(reqs []*messages.PersistRequest) storage.Batch {
	var b storage.Batch
	var entries []*messages.Entry
	for _, r := range reqs {
		if r.HardState != nil {
			b.HardState = r.HardState
		}
		if t := r.TruncateFrom; t > 0 {
			if len(entries) > 0 && t >= entries[0].Index {
				if cut := t - entries[0].Index; cut < uint64(len(entries)) {
					entries = entries[:cut:cut]
				}
			} else {
				entries = nil
				if b.TruncateFrom == 0 || t < b.TruncateFrom {
					b.TruncateFrom = t
				}
			}
		}
		entries = append(entries, r.Entries...)
	}
	b.Entries = entries
	return b
}
