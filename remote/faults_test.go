package remote

import (
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delivered routes one message from -> to and reports whether it was delivered at once.
func delivered(f *FaultNetwork, from, to uint64) bool {
	var n atomic.Int32
	f.Route(from, to, func() { n.Add(1) })
	return n.Load() > 0
}

func TestRouteWithoutRulesDeliversAtOnce(t *testing.T) {
	f := NewFaultNetwork(1)
	assert.True(t, delivered(f, 1, 2))
	assert.Equal(t, FaultStats{Delivered: 1}, f.Stats())
}

func TestBlockedLinkIsDirected(t *testing.T) {
	f := NewFaultNetwork(1)
	f.SetLink(1, 2, LinkFaults{Blocked: true})
	assert.False(t, delivered(f, 1, 2))
	assert.True(t, delivered(f, 2, 1))
	f.SetLink(1, 2, LinkFaults{})
	assert.True(t, delivered(f, 1, 2))
}

func TestPartitionBlocksLinksBetweenGroupsOnly(t *testing.T) {
	f := NewFaultNetwork(1)
	f.SetLink(1, 2, LinkFaults{DupRate: 1}) // inside a group: must stay as it was
	f.Partition([]uint64{1, 2}, []uint64{3, 4}, []uint64{5})

	cut := map[[2]uint64]bool{}
	for _, a := range []uint64{1, 2} {
		for _, b := range []uint64{3, 4, 5} {
			cut[[2]uint64{a, b}], cut[[2]uint64{b, a}] = true, true
		}
	}
	for _, b := range []uint64{3, 4} {
		cut[[2]uint64{b, 5}], cut[[2]uint64{5, b}] = true, true
	}
	for from := uint64(1); from <= 6; from++ {
		for to := uint64(1); to <= 6; to++ {
			if from == to || (from == 1 && to == 2) {
				continue
			}
			assert.Equal(t, !cut[[2]uint64{from, to}], delivered(f, from, to), "%d -> %d", from, to)
		}
	}
	// The duplicating link inside group {1, 2} kept its rule.
	var n atomic.Int32
	f.Route(1, 2, func() { n.Add(1) })
	assert.Equal(t, int32(2), n.Load())

	f.Heal()
	for from := uint64(1); from <= 6; from++ {
		for to := uint64(1); to <= 6; to++ {
			assert.True(t, delivered(f, from, to), "%d -> %d after Heal", from, to)
		}
	}
}

func TestPartitionKeepsOtherFaultsOfBlockedLinks(t *testing.T) {
	f := NewFaultNetwork(1)
	f.SetLink(1, 2, LinkFaults{DupRate: 1})
	f.Partition([]uint64{1}, []uint64{2})
	assert.False(t, delivered(f, 1, 2))
	assert.False(t, delivered(f, 2, 1))
}

func TestIsolateCutsEveryLinkOfOneNode(t *testing.T) {
	f := NewFaultNetwork(1)
	f.Isolate(2)
	for _, other := range []uint64{1, 3, 99} {
		assert.False(t, delivered(f, 2, other), "2 -> %d", other)
		assert.False(t, delivered(f, other, 2), "%d -> 2", other)
	}
	assert.True(t, delivered(f, 1, 3))
	assert.True(t, delivered(f, 3, 1))
	f.SetLink(1, 2, LinkFaults{}) // a link rule does not lift the isolation
	assert.False(t, delivered(f, 1, 2))

	f.Heal()
	assert.True(t, delivered(f, 1, 2))
	assert.True(t, delivered(f, 2, 1))
}

func TestDefaultAppliesToLinksWithoutRule(t *testing.T) {
	f := NewFaultNetwork(1)
	f.SetDefault(LinkFaults{Blocked: true})
	f.SetLink(1, 2, LinkFaults{})
	assert.True(t, delivered(f, 1, 2))
	assert.False(t, delivered(f, 2, 1))
	f.Heal()
	assert.True(t, delivered(f, 2, 1))
}

func TestDupRateOneDeliversExactlyTwice(t *testing.T) {
	f := NewFaultNetwork(1)
	f.SetLink(1, 2, LinkFaults{DupRate: 1})
	for range 10 {
		var n atomic.Int32
		f.Route(1, 2, func() { n.Add(1) })
		assert.Equal(t, int32(2), n.Load())
	}
	assert.Equal(t, FaultStats{Delivered: 20, Duplicated: 10}, f.Stats())
}

func TestDropRateOneDropsAll(t *testing.T) {
	f := NewFaultNetwork(1)
	f.SetLink(1, 2, LinkFaults{DropRate: 1})
	var n atomic.Int32
	for range 100 {
		f.Route(1, 2, func() { n.Add(1) })
	}
	assert.Zero(t, n.Load())
	assert.Equal(t, FaultStats{Dropped: 100}, f.Stats())
}

func TestDropDecisionsReplayWithTheSameSeed(t *testing.T) {
	pattern := func(seed int64) []bool {
		f := NewFaultNetwork(seed)
		f.SetDefault(LinkFaults{DropRate: 0.5, DupRate: 0.3})
		out := make([]bool, 0, 200)
		for i := range 200 {
			var n atomic.Int32
			f.Route(uint64(i%3), uint64(i%5), func() { n.Add(1) })
			out = append(out, n.Load() == 2, n.Load() == 0)
		}
		return out
	}
	assert.Equal(t, pattern(42), pattern(42))
	assert.NotEqual(t, pattern(42), pattern(43))
}

func TestDelayDelaysDelivery(t *testing.T) {
	const delay = 30 * time.Millisecond
	f := NewFaultNetwork(1)
	f.SetLink(1, 2, LinkFaults{Delay: delay})
	done := make(chan time.Duration, 1)
	start := time.Now()
	f.Route(1, 2, func() { done <- time.Since(start) })
	select {
	case elapsed := <-done:
		assert.GreaterOrEqual(t, elapsed, delay)
	case <-time.After(waitTimeout):
		t.Fatal("delayed message never delivered")
	}
	assert.Equal(t, FaultStats{Delivered: 1, Delayed: 1}, f.Stats())
}

func TestJitterReorders(t *testing.T) {
	const n = 50
	f := NewFaultNetwork(7)
	f.SetLink(1, 2, LinkFaults{Jitter: 20 * time.Millisecond})
	var mu sync.Mutex
	var order []int
	for i := range n {
		f.Route(1, 2, func() {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == n
	}, waitTimeout, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.False(t, sort.IntsAreSorted(order), "jitter left %v in order", order)
	assert.Equal(t, uint64(n), f.Stats().Delivered)
}
