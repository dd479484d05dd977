package actors

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
)

// ErrNoReply is returned by Submitter.Submit when the node did not answer within the
// submitter's timeout (for a context without a deadline): the outcome is unknown.
var ErrNoReply = errors.New("the node did not answer in time: outcome unknown")

// Submitter sends Submits to one RaftNode and waits for their replies through a single
// protoactor process, registered once, instead of a future per command (a protoactor future
// registers a process, arms a timer and needs a goroutine to wait on it, for every call).
// Each Submit carries a request id that the node echoes in its SubmitResult; the reply is
// handed, on the node's own goroutine, to the call waiting for that id. It is safe for
// concurrent use.
//
// This is bookkeeping of waiting callers, not Raft state: the mutex guards only the table
// of waiting calls.
type Submitter struct {
	system  *actor.ActorSystem
	node    *actor.PID
	pid     *actor.PID    // where the node's replies arrive
	timeout time.Duration // for contexts without a deadline
	nextID  atomic.Uint64
	closed  chan struct{}
	close   sync.Once

	mu      sync.Mutex
	waiting map[uint64]chan *messages.SubmitResult
}

// NewSubmitter returns a submitter for node in system. A call whose context has no
// deadline gives up after timeout with ErrNoReply.
func NewSubmitter(system *actor.ActorSystem, node *actor.PID, timeout time.Duration) *Submitter {
	s := &Submitter{
		system:  system,
		node:    node,
		timeout: timeout,
		closed:  make(chan struct{}),
		waiting: map[uint64]chan *messages.SubmitResult{},
	}
	s.pid, _ = system.ProcessRegistry.Add(submitterProcess{s}, "submitter"+system.ProcessRegistry.NextId())
	return s
}

// Submit sends command to the node and returns its SubmitResult (which may carry an error
// code). It returns ctx.Err() if ctx ends first, ErrNoReply after the submitter's timeout
// for a context without a deadline, and ErrClosed once the submitter is closed; in those
// cases the outcome is unknown.
func (s *Submitter) Submit(ctx context.Context, command []byte) (*messages.SubmitResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // nothing sent
	}
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	id, reply := s.expect()
	s.system.Root.RequestWithCustomSender(s.node, &messages.Submit{Command: command, RequestId: id}, s.pid)
	var expired <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		timer := time.NewTimer(s.timeout)
		defer timer.Stop()
		expired = timer.C
	}
	var err error
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = ErrNoReply
	case <-s.closed:
		err = ErrClosed
	}
	s.forget(id)
	return nil, err
}

// Close makes waiting and later calls return ErrClosed and unregisters the submitter's
// process. It may be called more than once.
func (s *Submitter) Close() {
	s.close.Do(func() {
		close(s.closed)
		s.system.ProcessRegistry.Remove(s.pid)
	})
}

// expect returns a fresh request id and the channel its reply will arrive on (buffered, so
// the node never blocks on it).
func (s *Submitter) expect() (uint64, <-chan *messages.SubmitResult) {
	id := s.nextID.Add(1)
	ch := make(chan *messages.SubmitResult, 1)
	s.mu.Lock()
	s.waiting[id] = ch
	s.mu.Unlock()
	return id, ch
}

// forget drops a request nobody waits for any more; a reply arriving later is discarded.
func (s *Submitter) forget(id uint64) {
	s.mu.Lock()
	delete(s.waiting, id)
	s.mu.Unlock()
}

// deliver hands res to the call waiting for its request id, if any.
func (s *Submitter) deliver(res *messages.SubmitResult) {
	s.mu.Lock()
	ch, ok := s.waiting[res.RequestId]
	delete(s.waiting, res.RequestId)
	s.mu.Unlock()
	if ok {
		ch <- res
	}
}

// submitterProcess is the protoactor process replies are sent to. It runs on the sender's
// goroutine, so it only hands the reply over.
type submitterProcess struct{ s *Submitter }

// SendUserMessage implements actor.Process: a SubmitResult goes to its waiting call;
// anything else is discarded.
func (p submitterProcess) SendUserMessage(_ *actor.PID, message interface{}) {
	if res, ok := actor.UnwrapEnvelopeMessage(message).(*messages.SubmitResult); ok {
		p.s.deliver(res)
	}
}

// SendSystemMessage implements actor.Process; the process has no lifecycle of its own.
func (p submitterProcess) SendSystemMessage(*actor.PID, interface{}) {}

// Stop implements actor.Process; Submitter.Close unregisters the process.
func (p submitterProcess) Stop(*actor.PID) {}
