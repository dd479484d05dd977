package remote

import (
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func TestTransportDeliversOverRemoting(t *testing.T) {
	a := parentEndpoint(t)
	b := startReceiver(t, "127.0.0.1:0")

	sent := &messages.AppendEntries{
		ClusterId:    "c1",
		From:         1,
		To:           2,
		Term:         7,
		PrevLogIndex: 41,
		PrevLogTerm:  6,
		LeaderCommit: 40,
		Entries: []*messages.Entry{
			{Index: 42, Term: 7, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: []byte("set x 1")},
			{Index: 43, Term: 7, Type: messages.EntryType_ENTRY_TYPE_CONFIG, Config: &messages.Configuration{
				Voters: []*messages.Member{{Id: 1, Address: a.Address()}, {Id: 2, Address: b.Address}},
			}},
		},
	}
	NewTransport(a.System, 1, nil).Send(&messages.Member{Id: 2, Address: b.Address}, sent)

	got := b.receive()
	assert.True(t, proto.Equal(sent, got), "got %v", got)
}

// Nodes 1 and 3 both send from the parent endpoint: their messages share one connection
// and arrive in order, so node 3's marker arriving proves node 1's earlier message was
// dropped.
func TestBlockedLinkDropsAndHealRestores(t *testing.T) {
	a := parentEndpoint(t)
	b := startReceiver(t, "127.0.0.1:0")
	faults := NewFaultNetwork(1)
	t1 := NewTransport(a.System, 1, faults)
	t3 := NewTransport(a.System, 3, faults)
	to := &messages.Member{Id: 2, Address: b.Address}

	faults.SetLink(1, 2, LinkFaults{Blocked: true})
	t1.Send(to, heartbeat(1, 2, 1))
	t3.Send(to, heartbeat(3, 2, 2))
	got := b.receive()
	assert.Equal(t, uint64(3), got.From, "the blocked message arrived")
	assert.Equal(t, uint64(2), got.Term)
	requireNothingQueued(t, b.received)
	assert.Equal(t, FaultStats{Delivered: 1, Dropped: 1}, faults.Stats())

	faults.Heal()
	t1.Send(to, heartbeat(1, 2, 3))
	got = b.receive()
	assert.Equal(t, uint64(1), got.From)
	assert.Equal(t, uint64(3), got.Term)
}

func TestDuplicatedMessageArrivesExactlyTwice(t *testing.T) {
	a := parentEndpoint(t)
	b := startReceiver(t, "127.0.0.1:0")
	faults := NewFaultNetwork(1)
	faults.SetLink(1, 2, LinkFaults{DupRate: 1})
	to := &messages.Member{Id: 2, Address: b.Address}

	NewTransport(a.System, 1, faults).Send(to, heartbeat(1, 2, 1))
	NewTransport(a.System, 3, faults).Send(to, heartbeat(3, 2, 2)) // marker, same connection

	assert.Equal(t, uint64(1), b.receive().From)
	assert.Equal(t, uint64(1), b.receive().From)
	assert.Equal(t, uint64(3), b.receive().From, "a third copy arrived")
	assert.Equal(t, FaultStats{Delivered: 3, Duplicated: 1}, faults.Stats())
}

func TestSendAfterPeerStoppedDoesNotPanic(t *testing.T) {
	a := parentEndpoint(t)
	b := startReceiver(t, "127.0.0.1:0")
	tr := NewTransport(a.System, 1, nil)
	to := &messages.Member{Id: 2, Address: b.Address}
	tr.Send(to, heartbeat(1, 2, 1))
	b.receive()

	b.stop()
	assert.NotPanics(t, func() {
		for term := uint64(2); term < 50; term++ {
			tr.Send(to, heartbeat(1, 2, term))
		}
	})
	b.close()
	assert.NotPanics(t, func() { tr.Send(to, heartbeat(1, 2, 50)) })
}

// The peer process stops its endpoint while a delayed delivery is pending, sends again
// after the stop, and waits until the delayed deliveries ran: a panic kills it.
func TestDelayedDeliveryAfterSenderStoppedDoesNotPanic(t *testing.T) {
	a := parentEndpoint(t)
	p := startPeer(t, modeDelayedSendAfterStop, peerTargetEnv+"="+a.Address())
	p.expect("done")
}

func TestSendWithBadArgumentsIsDropped(t *testing.T) {
	system, _ := newLocalSystem(t)
	tr := NewTransport(system, 1, nil)
	assert.NotPanics(t, func() {
		tr.Send(nil, heartbeat(1, 2, 1))
		tr.Send(&messages.Member{Id: 2}, heartbeat(1, 2, 1))
		tr.Send(&messages.Member{Id: 2, Address: "127.0.0.1:1"}, nil)
	})
}

// A local system (no remoting) resolves its own address to its own actors, and messages
// from one goroutine reach an actor in order: a marker sent directly proves that what
// the transport sent before it was dropped.
func TestTransportOfStoppedSystemSendsNothing(t *testing.T) {
	system, received := newLocalSystem(t)
	to := &messages.Member{Id: 2, Address: system.Address()}
	tr := NewTransport(system, 1, nil)
	tr.Send(to, heartbeat(1, 2, 1))
	assert.Equal(t, uint64(1), receive(t, received).Term)

	system.Shutdown()
	tr.Send(to, heartbeat(1, 2, 2))
	system.Root.Send(PeerPID(to.Address), heartbeat(1, 2, 3))
	assert.Equal(t, uint64(3), receive(t, received).Term)
	requireNothingQueued(t, received)
}

func TestDelayedDeliveryOfStoppedSystemIsDropped(t *testing.T) {
	system, received := newLocalSystem(t)
	to := &messages.Member{Id: 2, Address: system.Address()}
	faults := NewFaultNetwork(1)
	faults.SetLink(1, 2, LinkFaults{Delay: 10 * time.Millisecond})

	NewTransport(system, 1, faults).Send(to, heartbeat(1, 2, 1))
	system.Shutdown()
	require.Eventually(t, func() bool { return faults.Stats().Delivered == 1 },
		waitTimeout, time.Millisecond)
	system.Root.Send(PeerPID(to.Address), heartbeat(1, 2, 2))
	assert.Equal(t, uint64(2), receive(t, received).Term)
	requireNothingQueued(t, received)
}

func TestTransportAppliesFaultsPerLink(t *testing.T) {
	system, received := newLocalSystem(t)
	to := &messages.Member{Id: 2, Address: system.Address()}
	faults := NewFaultNetwork(1)
	faults.SetLink(1, 2, LinkFaults{DupRate: 1})
	faults.SetLink(3, 2, LinkFaults{Blocked: true})

	NewTransport(system, 1, faults).Send(to, heartbeat(1, 2, 1))
	NewTransport(system, 3, faults).Send(to, heartbeat(3, 2, 2))
	NewTransport(system, 4, faults).Send(to, heartbeat(4, 2, 3))
	assert.Equal(t, uint64(1), receive(t, received).Term)
	assert.Equal(t, uint64(1), receive(t, received).Term)
	assert.Equal(t, uint64(3), receive(t, received).Term)
	requireNothingQueued(t, received)
}
