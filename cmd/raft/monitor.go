package main

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// watchNode spawns an actor that watches the RaftNode and returns a channel closed when the
// node stops: the node stops itself when it cannot go on safely (a failed storage write), and
// then the daemon must not keep serving as if it were alive.
func watchNode(system *actor.ActorSystem, node *actor.PID) <-chan struct{} {
	gone := make(chan struct{})
	var once sync.Once
	system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Watch(node)
		case *actor.Terminated:
			if m.Who.Equal(node) {
				once.Do(func() { close(gone) })
			}
		}
	}))
	return gone
}
