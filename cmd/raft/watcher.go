package main

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
)

// commitWatcher is the small actor one Watch stream owns in the node's actor system. The
// node sends it CommitNotice (at most one until the watcher reads again, so notices never
// pile up) and the ReadCommittedResult pages it asks for; it hands both to the stream's
// goroutine through channels of one slot, so it holds at most one page and one notice.
type commitWatcher struct {
	system  *actor.ActorSystem
	node    *actor.PID
	pid     *actor.PID
	ref     *messages.ActorRef
	notices chan struct{}
	pages   chan *messages.ReadCommittedResult
}

// startCommitWatcher spawns a watcher and registers it with the node for commit notices.
func startCommitWatcher(system *actor.ActorSystem, node *actor.PID) *commitWatcher {
	w := &commitWatcher{
		system:  system,
		node:    node,
		notices: make(chan struct{}, 1),
		pages:   make(chan *messages.ReadCommittedResult, 1),
	}
	w.pid = system.Root.SpawnPrefix(actor.PropsFromFunc(w.receive), "watch")
	w.ref = &messages.ActorRef{Address: w.pid.Address, Id: w.pid.Id}
	w.register()
	return w
}

// receive runs on the watcher actor: it passes notices and pages on without blocking.
func (w *commitWatcher) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.CommitNotice:
		select {
		case w.notices <- struct{}{}:
		default: // one pending notice says it all
		}
	case *messages.ReadCommittedResult:
		for {
			select {
			case w.pages <- m:
				return
			default:
			}
			select {
			case <-w.pages: // an unread page is stale: the newest answer wins
			default:
			}
		}
	}
}

// register (re-)registers the watcher with the node. Registering again is harmless; it
// recovers notices should the node have restarted and forgotten its watchers.
func (w *commitWatcher) register() {
	w.system.Root.Send(w.node, &messages.WatchCommits{Watcher: w.ref})
}

// requestPage asks the node for committed entries from index from on. The answer arrives
// on w.pages, and the request re-arms the watcher's next commit notice.
func (w *commitWatcher) requestPage(from uint64) {
	w.system.Root.Send(w.node, &messages.ReadCommitted{From: from, MaxCount: watchPageEntries, MaxBytes: watchPageBytes, ReplyTo: w.ref})
}

// stop unregisters the watcher and stops its actor.
func (w *commitWatcher) stop() {
	w.system.Root.Send(w.node, &messages.UnwatchCommits{Watcher: w.ref})
	w.system.Root.Stop(w.pid)
}
