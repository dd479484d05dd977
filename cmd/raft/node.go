package main

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/remote"
)

// nodeHost is one RaftNode in an actor system with remoting on its peer address: what
// actors.NewServer sets up, done here because actors.Config has no TLS settings for the
// endpoint.
type nodeHost struct {
	endpoint *remote.Endpoint
	node     *actor.PID
}

// startNode starts the remoting endpoint on cfg.Address with endpoint's options, then
// opens the store and spawns the node. The endpoint comes first: if its address is taken,
// the store has not been touched. protoactor's own logs are discarded unless
// endpoint.Logger is set; cfg.Logger receives the node's events.
func startNode(cfg actors.Config, endpoint remote.EndpointOptions) (*nodeHost, error) {
	ep, err := remote.StartEndpoint(cfg.Address, endpoint)
	if err != nil {
		return nil, err
	}
	props, err := actors.NewNodeProps(cfg)
	if err != nil {
		ep.Stop()
		return nil, err
	}
	pid, err := ep.System.Root.SpawnNamed(props, remote.NodeActorName)
	if err != nil {
		ep.Stop()
		return nil, fmt.Errorf("spawn node: %w", err)
	}
	return &nodeHost{endpoint: ep, node: pid}, nil
}

// System is the node's actor system.
func (h *nodeHost) System() *actor.ActorSystem { return h.endpoint.System }

// PID is the RaftNode actor.
func (h *nodeHost) PID() *actor.PID { return h.node }

// Close stops the node (its store is closed) and then the endpoint.
func (h *nodeHost) Close() error {
	err := h.endpoint.System.Root.StopFuture(h.node).Wait()
	h.endpoint.Stop()
	return err
}
