package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
)

// defaultRequestTimeout bounds a facade call whose context has no deadline.
const defaultRequestTimeout = 30 * time.Second

// SubmitError is a failed request: Code says whether it was malformed (nothing changed),
// refused, or its outcome is unknown.
type SubmitError struct {
	Code    messages.ErrorCode
	Message string
}

// Error implements error.
func (e *SubmitError) Error() string { return e.Message }

// ErrClosed is returned by calls on a closed Server.
var ErrClosed = errors.New("raft server closed")

// Commit is one committed command delivered by Server.Run.
type Commit struct {
	Index   uint64
	Term    uint64
	Command []byte
}

// Server runs one node for applications that do not use actors: it starts an actor system
// with remoting on cfg.Address, spawns the RaftNode, and offers Submit, Status and a channel
// of committed commands.
type Server struct {
	endpoint *remote.Endpoint
	node     *actor.PID
	submits  *Submitter

	// The node's subscriber, registered through Config.Subscribers before the node starts,
	// hands each batch to Run through batches; unread is what Run has not passed on yet.
	subscriber *messages.ActorRef
	batches    chan *messages.CommittedEntries
	unread     []*messages.Entry
	subWorker  *mailboxWorkers // runs the subscriber's mailbox

	mu      sync.Mutex
	closed  bool
	running bool
}

// NewServer starts a node. The returned server is live: it campaigns (if bootstrapped) and
// serves peers at once.
func NewServer(cfg Config) (*Server, error) {
	if _, err := cfg.settings(); err != nil {
		return nil, err
	}
	// The endpoint first: if its address is taken, the store has not been touched yet.
	// protoactor's own logging stays quiet (it reports every failed reconnect); cfg.Logger
	// receives the node's events.
	ep, err := remote.StartEndpoint(cfg.Address, remote.EndpointOptions{})
	if err != nil {
		return nil, err
	}
	// The subscriber exists before the node, so Run sees every entry from index 1 however
	// late it is called. The Applier sends a batch only once the previous one is
	// acknowledged, so the channel never holds more than one and the send never blocks.
	// It runs on a long-lived goroutine of its own, like the node's actors (dispatcher.go).
	batches := make(chan *messages.CommittedEntries, 1)
	subWorker := newMailboxWorkers(1, mailboxThroughput)
	sub := ep.System.Root.SpawnPrefix(actor.PropsFromFunc(func(c actor.Context) {
		if b, ok := c.Message().(*messages.CommittedEntries); ok {
			batches <- b
		}
	}, actor.WithDispatcher(subWorker)), "commit-subscriber")
	ref := refOf(sub)
	cfg.Subscribers = append(slices.Clip(cfg.Subscribers), ref)
	props, err := NewNodeProps(cfg)
	if err != nil {
		ep.Stop()
		subWorker.stop()
		return nil, err
	}
	pid, err := ep.System.Root.SpawnNamed(props, remote.NodeActorName)
	if err != nil {
		ep.Stop()
		subWorker.stop()
		return nil, fmt.Errorf("spawn node: %w", err)
	}
	return &Server{endpoint: ep, node: pid, submits: NewSubmitter(ep.System, pid, defaultRequestTimeout),
		subscriber: ref, batches: batches, subWorker: subWorker}, nil
}

// PID is the RaftNode actor, for applications that want to talk to it directly.
func (s *Server) PID() *actor.PID { return s.node }

// System is the server's actor system.
func (s *Server) System() *actor.ActorSystem { return s.endpoint.System }

func requestTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return defaultRequestTimeout
}

// request sends msg to the node and waits for the reply or ctx.
func (s *Server) request(ctx context.Context, msg interface{}) (interface{}, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	f := s.endpoint.System.Root.RequestFuture(s.node, msg, requestTimeout(ctx))
	done := make(chan struct{})
	var res interface{}
	var err error
	go func() {
		res, err = f.Result()
		close(done)
	}()
	select {
	case <-done:
		if errors.Is(err, actor.ErrTimeout) {
			return nil, &SubmitError{Code: messages.ErrorCode_ERROR_CODE_TIMEOUT, Message: "timed out: outcome unknown"}
		}
		return res, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Submit replicates one command and returns the index and term it was committed at. On a
// follower the command is forwarded to the leader once. An error of type *SubmitError with
// code INVALID_ARGUMENT means nothing was appended; other errors (other codes, ctx.Err()
// when ctx ends first, ErrClosed) leave the outcome unknown.
func (s *Server) Submit(ctx context.Context, command []byte) (index, term uint64, err error) {
	r, err := s.submits.Submit(ctx, command)
	switch {
	case errors.Is(err, ErrNoReply):
		return 0, 0, &SubmitError{Code: messages.ErrorCode_ERROR_CODE_TIMEOUT, Message: "timed out: outcome unknown"}
	case err != nil:
		return 0, 0, err
	}
	if r.Code != messages.ErrorCode_ERROR_CODE_NONE {
		return 0, 0, &SubmitError{Code: r.Code, Message: r.Error}
	}
	return r.Index, r.Term, nil
}

// ChangeConfiguration moves the cluster to the voter set members through joint consensus
// and returns once the new configuration is committed, with its index. New members must be
// running (started without Bootstrap); they catch up before they count. Errors are
// *SubmitError: INVALID_ARGUMENT (nothing changed), FAILED_PRECONDITION (another change is in
// progress), TIMEOUT (new members did not catch up: nothing changed) or UNAVAILABLE.
func (s *Server) ChangeConfiguration(ctx context.Context, members []*messages.Member) (uint64, *messages.Configuration, error) {
	res, err := s.request(ctx, &messages.ChangeConfiguration{Members: members})
	if err != nil {
		return 0, nil, err
	}
	r, ok := res.(*messages.ChangeConfigurationResult)
	if !ok {
		return 0, nil, fmt.Errorf("unexpected reply %T", res)
	}
	if r.Code != messages.ErrorCode_ERROR_CODE_NONE {
		return 0, nil, &SubmitError{Code: r.Code, Message: r.Error}
	}
	return r.Index, r.Config, nil
}

// TransferLeadership hands leadership to target (0: the most caught-up voter) and returns the
// new leader and its term. Writes are refused while the transfer runs.
func (s *Server) TransferLeadership(ctx context.Context, target uint64) (leader, term uint64, err error) {
	res, err := s.request(ctx, &messages.TransferLeadership{TargetId: target})
	if err != nil {
		return 0, 0, err
	}
	r, ok := res.(*messages.TransferLeadershipResult)
	if !ok {
		return 0, 0, fmt.Errorf("unexpected reply %T", res)
	}
	if r.Code != messages.ErrorCode_ERROR_CODE_NONE {
		return 0, 0, &SubmitError{Code: r.Code, Message: r.Error}
	}
	return r.LeaderId, r.Term, nil
}

// Status returns the node's view of itself.
func (s *Server) Status(ctx context.Context) (*messages.Status, error) {
	res, err := s.request(ctx, &messages.GetStatus{})
	if err != nil {
		return nil, err
	}
	st, ok := res.(*messages.Status)
	if !ok {
		return nil, fmt.Errorf("unexpected reply %T", res)
	}
	return st, nil
}

// Run delivers every committed command, in log order, to commits until ctx is done or the
// server closes; then it returns. Delivery starts at index 1 (after a restart too, so a
// state machine rebuilds from the log), whenever Run is first called, and a later Run goes
// on exactly where the previous one stopped. It applies back-pressure: while commits is full
// or no Run is active, the node holds further entries (apply waits, consensus does not).
// Only one Run may be active at a time.
func (s *Server) Run(ctx context.Context, commits chan<- Commit) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.running {
		s.mu.Unlock()
		return errors.New("Run is already active")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	root := s.endpoint.System.Root
	for {
		for len(s.unread) > 0 {
			e := s.unread[0]
			if e.Type == messages.EntryType_ENTRY_TYPE_COMMAND {
				select {
				case commits <- Commit{Index: e.Index, Term: e.Term, Command: e.Data}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			s.unread = s.unread[1:]
			if len(s.unread) == 0 {
				root.Send(s.node, &messages.CommittedAck{Subscriber: s.subscriber, Index: e.Index})
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b := <-s.batches:
			s.unread = b.Entries
		}
	}
}

// Close stops the node (its store is closed) and the actor system. Writes not yet
// acknowledged may be lost, as in a crash; acknowledged ones are durable.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.endpoint.System.Root.StopFuture(s.node).Wait()
	s.submits.Close()
	s.endpoint.Stop()
	s.subWorker.stop()
	return err
}
