package remote

import "github.com/asynkron/protoactor-go/actor"

// NodeActorName is the PID id under which every node's RaftNode actor is spawned.
const NodeActorName = "raft"

// PeerPID returns the PID of the RaftNode actor at a peer address ("host:port").
func PeerPID(address string) *actor.PID {
	return actor.NewPID(address, NodeActorName)
}
