package test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
)

// BenchmarkCommitLatencyIdle measures one client submitting to the leader of an otherwise
// idle three-node cluster with synced writes: ns/op is the commit latency.
func BenchmarkCommitLatencyIdle(b *testing.B) {
	c := newCluster(b, 3)
	leader := c.waitLeader(10 * time.Second)
	cmd := make([]byte, 128)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := c.submit(leader, cmd, 5*time.Second); r.Code != messages.ErrorCode_ERROR_CODE_NONE {
			b.Fatalf("submit: %s", r.Error)
		}
	}
}

// BenchmarkCommitThroughput64 measures 64 concurrent clients submitting 128-byte commands
// to the leader of a three-node cluster with synced writes: ops/s is the throughput.
func BenchmarkCommitThroughput64(b *testing.B) {
	c := newCluster(b, 3)
	leader := c.waitLeader(10 * time.Second)
	cmd := make([]byte, 128)
	var failed atomic.Int64
	b.SetParallelism(32) // 2 cores x 32 = 64 clients
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := c.submit(leader, cmd, 10*time.Second); r.Code != messages.ErrorCode_ERROR_CODE_NONE {
				failed.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d submits failed", n)
	}
}
