package actors

import "sync"

const (
	// nodeMailboxWorkers is how many long-lived goroutines run a node's mailboxes: one for
	// each of its six actors and two for subscribers.
	nodeMailboxWorkers = 8
	// mailboxThroughput is how many messages a mailbox processes before it yields
	// (protoactor's default).
	mailboxThroughput = 300
)

// mailboxWorkers is the protoactor dispatcher of a node's actors. protoactor's default
// dispatcher starts a new goroutine every time an idle mailbox receives a message; each such
// goroutine begins with a small stack and grows it (copying it) as the actor's handlers go
// deep, which under load showed up as over a tenth of the process's CPU. These workers are
// long-lived, so their stacks stay grown: a mailbox is handed to an idle worker when there
// is one, and only otherwise gets a goroutine of its own, as before.
type mailboxWorkers struct {
	work       chan func() // unbuffered: a send succeeds only when a worker is idle
	done       chan struct{}
	stopOnce   sync.Once
	throughput int
}

// newMailboxWorkers starts n workers; a mailbox processes up to throughput messages before
// it yields.
func newMailboxWorkers(n, throughput int) *mailboxWorkers {
	w := &mailboxWorkers{work: make(chan func()), done: make(chan struct{}), throughput: throughput}
	for range n {
		go w.run()
	}
	return w
}

func (w *mailboxWorkers) run() {
	for {
		select {
		case fn := <-w.work:
			fn()
		case <-w.done:
			return
		}
	}
}

// Schedule implements actor.Dispatcher: fn runs on an idle worker, or on a new goroutine
// when every worker is busy (or the workers have stopped). It never blocks.
func (w *mailboxWorkers) Schedule(fn func()) {
	select {
	case w.work <- fn:
	default:
		go fn()
	}
}

// Throughput implements actor.Dispatcher.
func (w *mailboxWorkers) Throughput() int { return w.throughput }

// stop ends the workers once they finish what they run; later mailboxes get goroutines of
// their own. It may be called more than once.
func (w *mailboxWorkers) stop() { w.stopOnce.Do(func() { close(w.done) }) }
