package actors

import (
	"time"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// target names the receiver of an outgoing message, relative to the sending node.
type target int

const (
	toNode target = iota
	toPersistence
	toElection
	toReplication
	toConfig
	toApplier
	toPeer // another node's RaftNode, through the transport
	toRef  // an actor named by an ActorRef: a client or a subscriber
)

// String names a target for logs and test failures.
func (t target) String() string {
	switch t {
	case toNode:
		return "node"
	case toPersistence:
		return "persistence"
	case toElection:
		return "election"
	case toReplication:
		return "replication"
	case toConfig:
		return "config"
	case toApplier:
		return "applier"
	case toPeer:
		return "peer"
	case toRef:
		return "ref"
	}
	return "unknown"
}

// outgoing is one message an actor's logic wants sent.
type outgoing struct {
	to    target
	peer  *messages.Member   // for toPeer
	ref   *messages.ActorRef // for toRef
	after time.Duration      // > 0: deliver after this delay (a timer)
	msg   proto.Message
}

// outbox collects what one handler call wants sent. The adapter drains it after each call.
type outbox struct {
	out []outgoing
}

func (o *outbox) send(to target, msg proto.Message) {
	o.out = append(o.out, outgoing{to: to, msg: msg})
}

func (o *outbox) sendPeer(peer *messages.Member, msg proto.Message) {
	o.out = append(o.out, outgoing{to: toPeer, peer: peer, msg: msg})
}

func (o *outbox) sendRef(ref *messages.ActorRef, msg proto.Message) {
	if ref == nil {
		return
	}
	o.out = append(o.out, outgoing{to: toRef, ref: ref, msg: msg})
}

func (o *outbox) sendAfter(to target, after time.Duration, msg proto.Message) {
	o.out = append(o.out, outgoing{to: to, after: after, msg: msg})
}

// drain returns the recorded messages and empties the outbox.
func (o *outbox) drain() []outgoing {
	out := o.out
	o.out = nil
	return out
}

// logic is what every actor's plain-Go logic implements.
type logic interface {
	handle(msg proto.Message)
	drain() []outgoing
}
