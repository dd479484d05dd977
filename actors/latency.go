package actors

import (
	"slices"
	"time"
)

// PersistLatencyBuckets are the upper bounds, in seconds, of Status.persist_latency_counts:
// how long Persistence's synced LevelDB writes took.
var PersistLatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// latencyHistogram counts durations into PersistLatencyBuckets (plus one +Inf bucket).
type latencyHistogram struct {
	counts []uint64
	sum    time.Duration
}

func (h *latencyHistogram) observe(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]uint64, len(PersistLatencyBuckets)+1)
	}
	i, _ := slices.BinarySearch(PersistLatencyBuckets, d.Seconds()) // first bound >= d; len: +Inf
	h.counts[i]++
	h.sum += d
}
