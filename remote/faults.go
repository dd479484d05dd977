package remote

import (
	"math/rand/v2"
	"sync"
	"time"
)

// LinkFaults are the faults injected on one directed link. The zero value injects none.
type LinkFaults struct {
	Blocked  bool          // every message dropped (partition)
	DropRate float64       // probability a message is dropped
	DupRate  float64       // probability a message is delivered twice
	Delay    time.Duration // fixed delay added to every message
	Jitter   time.Duration // extra uniform random delay in [0, Jitter): reorders messages
}

// FaultStats counts what a FaultNetwork did to the messages routed through it.
type FaultStats struct {
	Delivered  uint64 // deliveries made (a duplicated message counts twice), delayed ones once they fire
	Dropped    uint64 // messages dropped, by a block, an isolation or DropRate
	Duplicated uint64 // messages delivered a second time
	Delayed    uint64 // deliveries scheduled after a delay (Delay or Jitter) instead of at once
}

// link is a directed link between two node ids.
type link struct{ from, to uint64 }

// FaultNetwork injects faults per directed link (from id -> to id). One is shared by all
// the nodes of a test cluster. Its randomness comes from one seeded generator, so a run
// can be replayed as far as goroutine scheduling allows. Safe for concurrent use.
type FaultNetwork struct {
	mu       sync.Mutex
	rng      *rand.Rand
	links    map[link]LinkFaults
	fallback LinkFaults          // applies to links without a rule of their own
	isolated map[uint64]struct{} // ids cut from every link
	stats    FaultStats
}

// NewFaultNetwork returns a FaultNetwork without rules whose randomness is seeded by seed.
func NewFaultNetwork(seed int64) *FaultNetwork {
	return &FaultNetwork{
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		links:    make(map[link]LinkFaults),
		isolated: make(map[uint64]struct{}),
	}
}

// SetLink sets the faults of the directed link from -> to, replacing its previous rule.
// SetLink(from, to, LinkFaults{}) clears the link (Isolate still applies).
func (f *FaultNetwork) SetLink(from, to uint64, l LinkFaults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[link{from, to}] = l
}

// SetDefault sets the faults of every link that has no rule set by SetLink or Partition,
// for cluster-wide noise such as a small DropRate everywhere.
func (f *FaultNetwork) SetDefault(l LinkFaults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fallback = l
}

// Partition blocks, in both directions, every link between two ids of different groups.
// Links inside a group, and links of ids named in no group, are left as they are. The
// other faults of a blocked link are kept and come back when the block is lifted by
// SetLink or Heal.
func (f *FaultNetwork) Partition(groups ...[]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					f.blockLocked(a, b)
					f.blockLocked(b, a)
				}
			}
		}
	}
}

// blockLocked sets Blocked on the link from -> to. f.mu must be held.
func (f *FaultNetwork) blockLocked(from, to uint64) {
	l := f.ruleLocked(from, to)
	l.Blocked = true
	f.links[link{from, to}] = l
}

// Isolate blocks every link to and from id, including links to ids never named before,
// until Heal.
func (f *FaultNetwork) Isolate(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.isolated[id] = struct{}{}
}

// Heal clears every rule: link rules, the default and isolations. Deliveries already
// scheduled after a delay still happen. The counters are kept.
func (f *FaultNetwork) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links = make(map[link]LinkFaults)
	f.fallback = LinkFaults{}
	f.isolated = make(map[uint64]struct{})
}

// ruleLocked returns the faults of the link from -> to. f.mu must be held.
func (f *FaultNetwork) ruleLocked(from, to uint64) LinkFaults {
	if l, ok := f.links[link{from, to}]; ok {
		return l
	}
	return f.fallback
}

// Route applies the rules of the link from -> to to one message whose delivery is
// deliver: it drops the message, or calls deliver now, or after a delay (on a timer
// goroutine), once or twice. A message is first dropped (Blocked, isolation, DropRate),
// then maybe duplicated (DupRate); each copy waits Delay plus its own random part of
// Jitter, so copies and successive messages can overtake each other.
func (f *FaultNetwork) Route(from, to uint64, deliver func()) {
	f.mu.Lock()
	l := f.ruleLocked(from, to)
	_, fromIsolated := f.isolated[from]
	_, toIsolated := f.isolated[to]
	if l.Blocked || fromIsolated || toIsolated || f.chanceLocked(l.DropRate) {
		f.stats.Dropped++
		f.mu.Unlock()
		return
	}
	copies := 1
	if f.chanceLocked(l.DupRate) {
		copies = 2
		f.stats.Duplicated++
	}
	var delays [2]time.Duration
	for i := range copies {
		delays[i] = l.Delay
		if l.Jitter > 0 {
			delays[i] += time.Duration(f.rng.Int64N(int64(l.Jitter)))
		}
		if delays[i] > 0 {
			f.stats.Delayed++
		}
	}
	f.mu.Unlock()

	counted := func() {
		f.mu.Lock()
		f.stats.Delivered++
		f.mu.Unlock()
		deliver()
	}
	for _, d := range delays[:copies] {
		if d > 0 {
			time.AfterFunc(d, counted)
		} else {
			counted()
		}
	}
}

// chanceLocked reports true with probability p. It draws no random number for p <= 0 or
// p >= 1, so that a run without random faults leaves the generator untouched.
// f.mu must be held.
func (f *FaultNetwork) chanceLocked(p float64) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	default:
		return f.rng.Float64() < p
	}
}

// Stats returns a snapshot of the counters.
func (f *FaultNetwork) Stats() FaultStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}
