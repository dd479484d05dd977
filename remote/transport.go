package remote

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// Transport sends peer messages from one node. Safe for concurrent use by several actors.
type Transport interface {
	// Send delivers msg to the RaftNode actor of peer `to` at its address, best effort
	// (it may be lost). Send never blocks on the network. msg is serialized later, on
	// protoactor's endpoint writer, so the caller must not modify it after Send.
	Send(to *messages.Member, msg proto.Message)
}

// NewTransport returns the transport of node self sending through system. faults may be
// nil (no faults); otherwise every message goes through faults.Route(self, to.Id, ...).
func NewTransport(system *actor.ActorSystem, self uint64, faults *FaultNetwork) Transport {
	return &transport{system: system, self: self, faults: faults}
}

// transport is the Transport over protoactor remoting.
type transport struct {
	system *actor.ActorSystem
	self   uint64
	faults *FaultNetwork
}

// Send implements Transport.
func (t *transport) Send(to *messages.Member, msg proto.Message) {
	if to == nil || to.Address == "" || msg == nil {
		return
	}
	pid := PeerPID(to.Address)
	if t.faults == nil {
		t.deliver(pid, msg)
		return
	}
	t.faults.Route(t.self, to.Id, func() { t.deliver(pid, msg) })
}

// deliver hands msg to protoactor, unless the sending system was stopped meanwhile (a
// delayed delivery may fire after its endpoint crashed): a stopped node sends nothing.
func (t *transport) deliver(pid *actor.PID, msg proto.Message) {
	if t.system.IsStopped() {
		return
	}
	t.system.Root.Send(pid, msg)
}
