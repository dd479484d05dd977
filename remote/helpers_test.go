package remote

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

// TestMain runs the tests, or a peer process when started as one (see peer_process_test.go).
func TestMain(m *testing.M) {
	if mode := os.Getenv(peerModeEnv); mode != "" {
		os.Exit(runPeer(mode))
	}
	os.Exit(m.Run())
}

// waitTimeout bounds every wait for something that must happen.
const waitTimeout = 5 * time.Second

var (
	sharedOnce     sync.Once
	sharedEndpoint *Endpoint
	sharedErr      error
)

// parentEndpoint returns the one endpoint of the test process, started on first use and
// never stopped: a second endpoint start in this process would race on gRPC's logger.
func parentEndpoint(t *testing.T) *Endpoint {
	t.Helper()
	sharedOnce.Do(func() {
		sharedEndpoint, sharedErr = StartEndpoint("127.0.0.1:0", EndpointOptions{})
	})
	require.NoError(t, sharedErr)
	return sharedEndpoint
}

// newLocalSystem returns an actor system without remoting (no gRPC at all) and a channel
// fed by a RaftNode actor spawned on it. Its address is the local "nonhost", which the
// system resolves to its own actors, so a Transport can send to it.
func newLocalSystem(t *testing.T) (*actor.ActorSystem, <-chan *messages.AppendEntries) {
	t.Helper()
	system := actor.NewActorSystem(actor.WithLoggerFactory(loggerFactory(nil)))
	t.Cleanup(func() {
		if !system.IsStopped() {
			system.Shutdown()
		}
	})
	return system, spawnReceiver(t, system)
}

// spawnReceiver spawns, under NodeActorName on system, an actor forwarding every
// AppendEntries it receives to the returned channel.
func spawnReceiver(t *testing.T, system *actor.ActorSystem) <-chan *messages.AppendEntries {
	t.Helper()
	received := make(chan *messages.AppendEntries, 1024)
	props := actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*messages.AppendEntries); ok {
			select {
			case received <- m:
			default: // never block the actor once the test stopped reading
			}
		}
	})
	pid, err := system.Root.SpawnNamed(props, NodeActorName)
	require.NoError(t, err)
	t.Cleanup(func() { system.Root.Stop(pid) })
	return received
}

// heartbeat is a small AppendEntries from -> to; term tells messages apart.
func heartbeat(from, to, term uint64) *messages.AppendEntries {
	return &messages.AppendEntries{ClusterId: "test", From: from, To: to, Term: term}
}

// receive waits for the next message on ch, failing the test after waitTimeout.
func receive(t *testing.T, ch <-chan *messages.AppendEntries) *messages.AppendEntries {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %v", waitTimeout)
		return nil
	}
}

// requireNothingQueued fails if ch holds a message. Use it after a marker sent behind the
// messages that must not arrive, on the same ordered path, has been received.
func requireNothingQueued(t *testing.T, ch <-chan *messages.AppendEntries) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected message %v", m)
	default:
	}
}
