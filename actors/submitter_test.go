package actors

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

// heldSubmit is a Submit a fake node has not answered yet.
type heldSubmit struct {
	replyTo *actor.PID
	id      uint64
}

// answerHeld tells the fake node to answer what it holds, newest first, then to send its
// first requester something that is not a SubmitResult.
type answerHeld struct{}

// holdingNode stands in for a RaftNode: it keeps Submits until told to answer them.
type holdingNode struct {
	held     []heldSubmit
	received chan uint64 // request ids, as Submits arrive
}

func (n *holdingNode) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.Submit:
		n.held = append(n.held, heldSubmit{ctx.Sender(), m.RequestId})
		n.received <- m.RequestId
	case answerHeld:
		for i := len(n.held) - 1; i >= 0; i-- {
			h := n.held[i]
			ctx.Send(h.replyTo, &messages.SubmitResult{Index: h.id * 10, RequestId: h.id})
		}
		if len(n.held) > 0 {
			ctx.Send(n.held[0].replyTo, &messages.Status{}) // discarded
		}
		n.held = nil
	}
}

func startHoldingNode(t *testing.T) (*actor.ActorSystem, *actor.PID, chan uint64) {
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	received := make(chan uint64, 100)
	node := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &holdingNode{received: received} }))
	return system, node, received
}

// submitAsync runs s.Submit on its own goroutine and returns where its outcome arrives.
func submitAsync(ctx context.Context, s *Submitter) (<-chan *messages.SubmitResult, <-chan error) {
	results, errs := make(chan *messages.SubmitResult, 1), make(chan error, 1)
	go func() {
		r, err := s.Submit(ctx, []byte("x"))
		results <- r
		errs <- err
	}()
	return results, errs
}

func waitReceived(t *testing.T, received <-chan uint64) uint64 {
	select {
	case id := <-received:
		return id
	case <-time.After(5 * time.Second):
		t.Fatal("the node never received the Submit")
		return 0
	}
}

func TestSubmitterHandsEachReplyToItsOwnCaller(t *testing.T) {
	system, node, received := startHoldingNode(t)
	s := NewSubmitter(system, node, time.Minute)
	defer s.Close()

	const calls = 8
	results := make([]<-chan *messages.SubmitResult, calls)
	errs := make([]<-chan error, calls)
	ids := map[uint64]bool{}
	for i := range calls {
		results[i], errs[i] = submitAsync(context.Background(), s)
		id := waitReceived(t, received) // one at a time: call i sent request id
		require.False(t, ids[id], "request id %d used twice", id)
		ids[id] = true
	}
	system.Root.Send(node, answerHeld{})
	seen := map[uint64]bool{}
	for i := range calls {
		r := <-results[i]
		require.NoError(t, <-errs[i])
		require.Equal(t, r.RequestId*10, r.Index, "a reply reached the wrong caller")
		require.False(t, seen[r.RequestId])
		seen[r.RequestId] = true
	}
	require.Equal(t, ids, seen)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Empty(t, s.waiting, "answered calls are no longer tracked")
}

func TestSubmitterGivesUpCleanly(t *testing.T) {
	system, node, received := startHoldingNode(t)
	s := NewSubmitter(system, node, 50*time.Millisecond)

	// A context without a deadline: the submitter's own timeout.
	_, err := s.Submit(context.Background(), []byte("x"))
	require.ErrorIs(t, err, ErrNoReply)
	waitReceived(t, received)

	// The caller's context ends first.
	ctx, cancel := context.WithCancel(context.Background())
	results, errs := submitAsync(ctx, s)
	waitReceived(t, received)
	cancel()
	require.Nil(t, <-results)
	require.ErrorIs(t, <-errs, context.Canceled)

	// Late replies to both are discarded, and nothing stays tracked.
	system.Root.Send(node, answerHeld{})
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.waiting) == 0
	}, 5*time.Second, time.Millisecond)

	// Close ends a waiting call and refuses later ones.
	results, errs = submitAsync(context.Background(), s)
	waitReceived(t, received)
	s.Close()
	require.Nil(t, <-results)
	require.ErrorIs(t, <-errs, ErrClosed)
	_, err = s.Submit(context.Background(), []byte("x"))
	require.ErrorIs(t, err, ErrClosed)
	s.Close() // twice is fine
}
