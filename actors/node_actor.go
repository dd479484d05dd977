package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/raftsidecar/raft/storage"
)

// NewNodeProps checks cfg, opens (and on first start initialises) the node's store and
// returns the props of its RaftNode actor. Spawn it once, named remote.NodeActorName, in an
// actor system whose remoting listens on cfg.Address; the store is closed when the actor
// stops. The RaftNode answers:
//
//   - *messages.Submit with a *messages.SubmitResult once the command is committed (or failed);
//   - *messages.GetStatus with a *messages.Status;
//   - *messages.Subscribe by streaming *messages.CommittedEntries to the subscriber, which
//     must answer each batch with a *messages.CommittedAck.
func NewNodeProps(cfg Config) (*actor.Props, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	store, owned := cfg.Storage, false
	if store == nil {
		db, err := storage.Open(cfg.DataDir, storage.Options{Sync: !cfg.NoSync, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		store, owned = db, true
	}
	if err := initialiseStore(store, cfg); err != nil {
		if owned {
			store.Close()
		}
		return nil, err
	}
	// A failing child escalates: the node restarts as a whole and rebuilds from its store,
	// exactly as after a crash, instead of one child resuming with state out of step.
	escalate := actor.NewOneForOneStrategy(0, 0, func(interface{}) actor.Directive { return actor.EscalateDirective })
	workers := newMailboxWorkers(nodeMailboxWorkers, mailboxThroughput)
	return actor.PropsFromProducer(func() actor.Actor {
		return &nodeActor{s: s, store: store, ownsStore: owned, faults: cfg.Faults, workers: workers}
	}, actor.WithSupervisor(escalate), actor.WithDispatcher(workers)), nil
}

// initialiseStore binds an empty store to this node and cluster, with the bootstrap
// configuration if any, in one batch; a store of another node or cluster is refused.
func initialiseStore(store storage.Storage, cfg Config) error {
	st, err := store.Load()
	if err != nil {
		return err
	}
	want := storage.Identity{ClusterID: cfg.ClusterID, NodeID: cfg.ID}
	if st.Identity != (storage.Identity{}) {
		if st.Identity != want {
			return fmt.Errorf("data directory %q belongs to node %d of cluster %q, not node %d of cluster %q",
				cfg.DataDir, st.Identity.NodeID, st.Identity.ClusterID, cfg.ID, cfg.ClusterID)
		}
		// A node first started without Bootstrap that never took part in anything (no
		// configuration, no log, term 0) may still be bootstrapped: nothing it promised
		// can be contradicted.
		untouched := st.Config == nil && st.LastIndex == 0 && st.HardState.GetTerm() == 0 && st.HardState.GetVote() == 0
		if untouched && len(cfg.Bootstrap) > 0 {
			return store.Write(storage.Batch{Config: &messages.Configuration{Voters: cfg.Bootstrap}})
		}
		return nil
	}
	b := storage.Batch{Identity: &want, HardState: &messages.HardState{}}
	if len(cfg.Bootstrap) > 0 {
		b.Config = &messages.Configuration{Voters: cfg.Bootstrap}
	}
	return store.Write(b)
}

// nodeActor is RaftNode's protoactor adapter: it owns the children and the store handle,
// and feeds every message to nodeLogic.
type nodeActor struct {
	s         settings
	store     storage.Storage
	ownsStore bool
	faults    *remote.FaultNetwork
	workers   *mailboxWorkers // run the node's and its children's mailboxes

	logic  *nodeLogic
	routes *routes
}

// Receive implements actor.Actor.
func (a *nodeActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
		return
	case *actor.Stopped:
		if a.ownsStore {
			a.store.Close()
		}
		a.workers.stop()
		return
	case *messages.GetStatus:
		if a.logic != nil {
			ctx.Respond(a.logic.status())
		}
		return
	case *messages.Submit:
		if m.ReplyTo == nil {
			m = &messages.Submit{Command: m.Command, ReplyTo: refOf(ctx.Sender()), RequestId: m.RequestId}
		}
		a.handle(ctx, m)
		return
	case *messages.ChangeConfiguration:
		if m.ReplyTo == nil {
			m = &messages.ChangeConfiguration{Members: m.Members, ReplyTo: refOf(ctx.Sender())}
		}
		a.handle(ctx, m)
		return
	case *messages.TransferLeadership:
		if m.ReplyTo == nil {
			m = &messages.TransferLeadership{TargetId: m.TargetId, ReplyTo: refOf(ctx.Sender())}
		}
		a.handle(ctx, m)
		return
	case *messages.ReadIndex:
		if m.ReplyTo == nil {
			m = &messages.ReadIndex{ReplyTo: refOf(ctx.Sender())}
		}
		a.handle(ctx, m)
		return
	case *messages.ReadCommitted:
		if m.ReplyTo == nil {
			m = &messages.ReadCommitted{From: m.From, MaxCount: m.MaxCount, MaxBytes: m.MaxBytes, ReplyTo: refOf(ctx.Sender())}
		}
		a.handle(ctx, m)
		return
	case *messages.WatchCommits:
		if m.Watcher == nil {
			m = &messages.WatchCommits{Watcher: refOf(ctx.Sender())}
		}
		if m.Watcher != nil {
			ctx.Watch(actor.NewPID(m.Watcher.Address, m.Watcher.Id))
		}
		a.handle(ctx, m)
		return
	case *actor.Terminated:
		// A commit watcher went away; a subscriber is the Applier's business.
		a.handle(ctx, &messages.UnwatchCommits{Watcher: refOf(m.Who)})
		return
	case *messages.Subscribe:
		if m.Subscriber == nil {
			m = &messages.Subscribe{Subscriber: refOf(ctx.Sender())}
		}
		ctx.Send(a.routes.applier, m)
		return
	case *messages.Unsubscribe, *messages.CommittedAck:
		ctx.Send(a.routes.applier, ctx.Message())
		return
	}
	if m, ok := isRaftMessage(ctx.Message()); ok {
		a.handle(ctx, m)
	}
}

func (a *nodeActor) handle(ctx actor.Context, m interface{}) {
	if a.logic == nil {
		return
	}
	msg, _ := isRaftMessage(m)
	a.logic.handle(msg)
	a.routes.dispatch(ctx, a.logic.drain())
}

// start rebuilds the node from its store (a restarted actor trusts nothing in memory),
// spawns the children and tells them the state it starts in.
func (a *nodeActor) start(ctx actor.Context) {
	st, err := a.store.Load()
	var tail []*messages.Entry
	if err == nil {
		tail, err = loadTail(a.s, a.store, st)
	}
	if err != nil {
		a.s.logger.Error("cannot load state; stopping", "error", err)
		ctx.Stop(ctx.Self())
		return
	}
	transport := remote.NewTransport(ctx.ActorSystem(), a.s.id, a.faults)
	a.routes = newRoutes(ctx.ActorSystem(), ctx.Self(), transport)
	children := []struct {
		name  string
		actor actor.Actor
	}{
		{persistenceName, &logicActor{logic: newPersistenceLogic(a.store, a.s.clock), routes: a.routes}},
		{electionName, &logicActor{logic: newElectionLogic(a.s), routes: a.routes}},
		{replicationName, &logicActor{logic: newReplicationLogic(a.s), routes: a.routes}},
		{configName, &logicActor{logic: newConfigLogic(a.s.id), routes: a.routes}},
		{applierName, watchingApplier{applierActor(newApplierLogic(), a.routes)}},
	}
	for _, c := range children {
		child := c.actor
		props := actor.PropsFromProducer(func() actor.Actor { return child }, actor.WithDispatcher(a.workers))
		if _, err := ctx.SpawnNamed(props, c.name); err != nil {
			a.s.logger.Error("cannot spawn child; stopping", "child", c.name, "error", err)
			ctx.Stop(ctx.Self())
			return
		}
	}
	// Configured subscribers reach the Applier's mailbox before anything RaftNode sends it,
	// so they are delivered every entry from index 1.
	for _, ref := range a.s.subscribers {
		ctx.Send(a.routes.applier, &messages.Subscribe{Subscriber: ref})
	}
	a.logic = newNodeLogic(a.s, st, a.store, tail)
	a.logic.start()
	a.routes.dispatch(ctx, a.logic.drain())
	a.s.logger.Info("node started", "id", a.s.id, "term", a.logic.term, "last_index", a.logic.log.lastIndex())
}
