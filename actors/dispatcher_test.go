package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMailboxWorkersRunEverythingScheduled(t *testing.T) {
	w := newMailboxWorkers(2, 300)
	require.Equal(t, 300, w.Throughput())

	// More long-running work than workers: the rest gets goroutines of its own, so all of
	// it runs at once and nothing waits for a worker.
	release := make(chan struct{})
	var running, done sync.WaitGroup
	const jobs = 5
	running.Add(jobs)
	done.Add(jobs)
	for range jobs {
		w.Schedule(func() {
			running.Done()
			<-release
			done.Done()
		})
	}
	waitGroupWithin(t, &running, 5*time.Second, "every scheduled job started")
	close(release)
	waitGroupWithin(t, &done, 5*time.Second, "every scheduled job finished")

	// After stop, work still runs (on goroutines of its own).
	w.stop()
	w.stop()
	ran := make(chan struct{})
	w.Schedule(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("work scheduled after stop never ran")
	}
}

func waitGroupWithin(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("not within %v: %s", d, what)
	}
}
