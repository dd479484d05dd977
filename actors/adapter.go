package actors

import (
	"reflect"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"google.golang.org/protobuf/proto"
)

// Names of RaftNode's children; a child's PID id is "<node id>/<name>".
const (
	persistenceName = "persistence"
	electionName    = "election"
	replicationName = "replication"
	configName      = "config"
	applierName     = "applier"
)

// messagesPackage is the Go package of this project's messages; anything else reaching an
// actor (protoactor's own system messages) is not for the logic.
var messagesPackage = reflect.TypeOf(messages.Entry{}).PkgPath()

// isRaftMessage says whether msg is one of this project's protobuf messages. (Comparing the
// Go package is several times cheaper than asking the protobuf descriptor, and this runs for
// every message every actor receives.)
func isRaftMessage(msg interface{}) (proto.Message, bool) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, false
	}
	t := reflect.TypeOf(m)
	if t.Kind() != reflect.Pointer || t.Elem().PkgPath() != messagesPackage {
		return nil, false
	}
	return m, true
}

// routes tells the adapters of one node where each target lives.
type routes struct {
	system      *actor.ActorSystem
	node        *actor.PID
	persistence *actor.PID
	election    *actor.PID
	replication *actor.PID
	config      *actor.PID
	applier     *actor.PID
	transport   remote.Transport
}

// newRoutes names the PIDs of a node's actors from the node's own PID.
func newRoutes(system *actor.ActorSystem, node *actor.PID, transport remote.Transport) *routes {
	child := func(name string) *actor.PID { return actor.NewPID(node.Address, node.Id+"/"+name) }
	return &routes{system: system, node: node, transport: transport,
		persistence: child(persistenceName), election: child(electionName), replication: child(replicationName),
		config: child(configName), applier: child(applierName)}
}

func (r *routes) pid(o outgoing) *actor.PID {
	switch o.to {
	case toNode:
		return r.node
	case toPersistence:
		return r.persistence
	case toElection:
		return r.election
	case toReplication:
		return r.replication
	case toConfig:
		return r.config
	case toApplier:
		return r.applier
	case toRef:
		return actor.NewPID(o.ref.Address, o.ref.Id)
	}
	return nil
}

// dispatch sends what a logic call recorded: local messages through mailboxes, peer
// messages through the transport, delayed ones through a timer.
func (r *routes) dispatch(ctx actor.Context, outs []outgoing) {
	for _, o := range outs {
		if o.to == toPeer {
			r.transport.Send(o.peer, o.msg)
			continue
		}
		pid := r.pid(o)
		if pid == nil {
			continue
		}
		if o.after > 0 {
			msg, system := o.msg, r.system
			time.AfterFunc(o.after, func() {
				if !system.IsStopped() {
					system.Root.Send(pid, msg)
				}
			})
			continue
		}
		ctx.Send(pid, o.msg)
	}
}

// refOf names a PID inside messages.
func refOf(pid *actor.PID) *messages.ActorRef {
	if pid == nil {
		return nil
	}
	return &messages.ActorRef{Address: pid.Address, Id: pid.Id}
}

// logicActor is the thin protoactor adapter around a child's logic: hand it each project
// message, then send what it recorded.
type logicActor struct {
	logic  logic
	routes *routes
	// onSystem, when set, sees protoactor's own messages (used by the Applier to learn
	// that a subscriber died).
	onSystem func(ctx actor.Context, msg interface{})
}

// Receive implements actor.Actor.
func (a *logicActor) Receive(ctx actor.Context) {
	m, ok := isRaftMessage(ctx.Message())
	if !ok {
		if a.onSystem != nil {
			a.onSystem(ctx, ctx.Message())
			a.routes.dispatch(ctx, a.logic.drain())
		}
		return
	}
	a.logic.handle(m)
	a.routes.dispatch(ctx, a.logic.drain())
}

// applierActor builds the Applier's adapter: it watches subscribers so that one that stops
// is unsubscribed instead of holding back apply forever.
func applierActor(l *applierLogic, r *routes) *logicActor {
	a := &logicActor{logic: l, routes: r}
	a.onSystem = func(ctx actor.Context, msg interface{}) {
		if t, ok := msg.(*actor.Terminated); ok && t.Who != nil {
			l.handle(&messages.Unsubscribe{Subscriber: refOf(t.Who)})
		}
	}
	return a
}

// watchingApplier intercepts Subscribe to watch the subscriber before the logic sees it.
type watchingApplier struct{ *logicActor }

// Receive implements actor.Actor.
func (w watchingApplier) Receive(ctx actor.Context) {
	if s, ok := ctx.Message().(*messages.Subscribe); ok && s.Subscriber != nil {
		ctx.Watch(actor.NewPID(s.Subscriber.Address, s.Subscriber.Id))
	}
	w.logicActor.Receive(ctx)
}
