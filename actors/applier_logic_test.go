package actors

import (
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

// Each subscriber gets entries in order, one batch in flight; applied is what all acknowledged.
func TestApplierBackPressure(t *testing.T) {
	a := newApplierLogic()
	fast := &messages.ActorRef{Id: "fast"}
	slow := &messages.ActorRef{Id: "slow"}
	a.handle(&messages.Subscribe{Subscriber: fast})
	a.handle(&messages.Subscribe{Subscriber: slow})
	a.handle(&messages.ApplyEntries{Entries: cmdEntries(1, 1, 1, 1, 1)})
	outs := a.drain()
	batches := sent[*messages.CommittedEntries](outs)
	require.Len(t, batches, 2)
	require.Len(t, batches[0].Entries, 4)
	require.Empty(t, sent[*messages.AppliedUpTo](outs))

	a.handle(&messages.ApplyEntries{Entries: cmdEntries(5, 1)})
	require.Empty(t, sent[*messages.CommittedEntries](a.drain()), "a second batch before the first was acknowledged")

	a.handle(&messages.CommittedAck{Subscriber: fast, Index: 4})
	outs = a.drain()
	batches = sent[*messages.CommittedEntries](outs)
	require.Len(t, batches, 1)
	require.Equal(t, uint64(5), batches[0].Entries[0].Index)
	require.Empty(t, sent[*messages.AppliedUpTo](outs), "applied moved past the slow subscriber")

	a.handle(&messages.CommittedAck{Subscriber: slow, Index: 4})
	outs = a.drain()
	require.Equal(t, []*messages.AppliedUpTo{{Index: 4}}, sent[*messages.AppliedUpTo](outs))

	// A subscriber that goes away no longer holds the others back.
	a.handle(&messages.Unsubscribe{Subscriber: slow})
	a.handle(&messages.CommittedAck{Subscriber: fast, Index: 5})
	require.Equal(t, []*messages.AppliedUpTo{{Index: 5}}, sent[*messages.AppliedUpTo](a.drain()))
}
