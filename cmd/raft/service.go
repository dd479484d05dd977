package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// defaultRequestTimeout bounds a request whose client set no deadline. It outlasts a
// configuration change whose new members take the whole default catch-up timeout.
const defaultRequestTimeout = 60 * time.Second

// service implements raft.v1.PeerService over the actor API of one RaftNode: every RPC is
// checked, sent to the node as an actor message, and its reply turned into the client API's
// response or gRPC status.
type service struct {
	raftv1.UnimplementedPeerServiceServer

	system     *actor.ActorSystem
	node       *actor.PID
	submits    *actors.Submitter // Submit's path to the node: no future per command
	maxCommand int
	// stopping is closed when the daemon shuts down or the node has stopped: requests
	// waiting on the node and Watch streams end with UNAVAILABLE.
	stopping <-chan struct{}
	logger   *slog.Logger
}

// ask sends msg to the node and waits for its reply. The client's deadline is the actor
// request's timeout; a request without one gets defaultRequestTimeout.
func (s *service) ask(ctx context.Context, msg any) (any, error) {
	if ctx.Err() != nil {
		return nil, contextStatus(ctx)
	}
	timeout := defaultRequestTimeout
	deadline, clientDeadline := ctx.Deadline()
	if clientDeadline {
		timeout = time.Until(deadline)
		if timeout <= 0 {
			return nil, contextStatus(ctx)
		}
	}
	f := s.system.Root.RequestFuture(s.node, msg, timeout)
	type result struct {
		reply any
		err   error
	}
	done := make(chan result, 1)
	go func() {
		reply, err := f.Result() // ends by the future's own timeout at the latest
		done <- result{reply, err}
	}()
	select {
	case r := <-done:
		switch {
		case r.err == nil:
			return r.reply, nil
		case errors.Is(r.err, actor.ErrTimeout) && clientDeadline:
			return nil, status.Error(codes.DeadlineExceeded, "the deadline passed before the node answered: outcome unknown")
		case errors.Is(r.err, actor.ErrTimeout):
			return nil, status.Errorf(codes.Unavailable, "the node did not answer within %v: outcome unknown", timeout)
		}
		return nil, status.Errorf(codes.Unavailable, "the node did not answer: %v", r.err)
	case <-ctx.Done():
		return nil, contextStatus(ctx)
	case <-s.stopping:
		return nil, status.Error(codes.Unavailable, "the node is shutting down: outcome unknown")
	}
}

// reply asserts the type of a node's reply.
func reply[T any](res any) (T, error) {
	r, ok := res.(T)
	if !ok {
		var zero T
		return zero, status.Errorf(codes.Internal, "unexpected reply %T from the node, want %T", res, zero)
	}
	return r, nil
}

// Submit implements raft.v1.PeerService: it replicates one command and returns once the
// entry is committed. A follower forwards it to the leader once, never twice.
func (s *service) Submit(ctx context.Context, req *raftv1.SubmitRequest) (*raftv1.SubmitResponse, error) {
	if err := validateCommand(req.GetCommand(), s.maxCommand); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	r, err := s.submits.Submit(ctx, req.GetCommand())
	switch {
	case errors.Is(err, actors.ErrNoReply):
		return nil, status.Errorf(codes.Unavailable, "the node did not answer within %v: outcome unknown", defaultRequestTimeout)
	case errors.Is(err, actors.ErrClosed):
		return nil, status.Error(codes.Unavailable, "the node is shutting down: outcome unknown")
	case err != nil:
		return nil, contextStatus(ctx)
	}
	if err := statusOf(ctx, r.Code, r.Error); err != nil {
		return nil, err
	}
	return &raftv1.SubmitResponse{Index: r.Index, Term: r.Term}, nil
}

// ChangeConfiguration implements raft.v1.PeerService: it moves the cluster to new_config by
// joint consensus and returns once new_config is committed.
func (s *service) ChangeConfiguration(ctx context.Context, req *raftv1.ChangeConfigurationRequest) (*raftv1.ChangeConfigurationResponse, error) {
	if err := validateConfiguration(req.GetNewConfig()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	res, err := s.ask(ctx, &messages.ChangeConfiguration{Members: toMembers(req.GetNewConfig().GetPeers())})
	if err != nil {
		return nil, err
	}
	r, err := reply[*messages.ChangeConfigurationResult](res)
	if err != nil {
		return nil, err
	}
	if err := statusOf(ctx, r.Code, r.Error); err != nil {
		return nil, err
	}
	s.logger.Info("configuration changed", "index", r.Index, "voters", membersText(r.Config.GetVoters()))
	return &raftv1.ChangeConfigurationResponse{Index: r.Index, Config: toConfiguration(r.Config)}, nil
}

// status asks the node for its status.
func (s *service) status(ctx context.Context) (*messages.Status, error) {
	res, err := s.ask(ctx, &messages.GetStatus{})
	if err != nil {
		return nil, err
	}
	return reply[*messages.Status](res)
}

// GetConfiguration implements raft.v1.PeerService: the configuration in force on this node
// (its voters) and the index of its entry (0 for a bootstrap configuration).
func (s *service) GetConfiguration(ctx context.Context, _ *raftv1.GetConfigurationRequest) (*raftv1.GetConfigurationResponse, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	return &raftv1.GetConfigurationResponse{Index: st.ConfigIndex, Config: toConfiguration(st.Config)}, nil
}

// Status implements raft.v1.PeerService: the node as it sees itself.
func (s *service) Status(ctx context.Context, _ *raftv1.StatusRequest) (*raftv1.StatusResponse, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	return toStatusResponse(st), nil
}

// ReadIndex implements raft.v1.PeerService: a linearizable read barrier.
func (s *service) ReadIndex(ctx context.Context, _ *raftv1.ReadIndexRequest) (*raftv1.ReadIndexResponse, error) {
	res, err := s.ask(ctx, &messages.ReadIndex{})
	if err != nil {
		return nil, err
	}
	r, err := reply[*messages.ReadIndexResult](res)
	if err != nil {
		return nil, err
	}
	if err := statusOf(ctx, r.Code, r.Error); err != nil {
		return nil, err
	}
	return &raftv1.ReadIndexResponse{Index: r.Index}, nil
}

// TransferLeadership implements raft.v1.PeerService: it hands leadership to target_id (0:
// the most up-to-date voter) and returns the new leader and its term.
func (s *service) TransferLeadership(ctx context.Context, req *raftv1.TransferLeadershipRequest) (*raftv1.TransferLeadershipResponse, error) {
	res, err := s.ask(ctx, &messages.TransferLeadership{TargetId: req.GetTargetId()})
	if err != nil {
		return nil, err
	}
	r, err := reply[*messages.TransferLeadershipResult](res)
	if err != nil {
		return nil, err
	}
	if err := statusOf(ctx, r.Code, r.Error); err != nil {
		return nil, err
	}
	s.logger.Info("leadership transferred", "leader", r.LeaderId, "term", r.Term)
	return &raftv1.TransferLeadershipResponse{LeaderId: r.LeaderId, Term: r.Term}, nil
}
