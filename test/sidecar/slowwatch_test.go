package sidecar

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// testSlowWatcher opens a Watch stream and does not read it while thousands of commands
// commit: the writes must not be held up by the stalled stream, and once the client reads,
// the stream delivers every entry in order.
func testSlowWatcher(t *testing.T, bin binaries) {
	n := newDaemon(t, bin.raft, 1, true)
	n.start()
	waitLeader(t, n)

	// A connection of its own with small, fixed flow-control windows (no window growth), so
	// that the daemon's Send blocks after some 64 KiB rather than the client buffering all.
	conn, err := grpc.Dial(n.api, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream, err := raftv1.NewPeerServiceClient(conn).Watch(ctx, &raftv1.WatchRequest{FromIndex: 1})
	if err != nil {
		t.Fatal(err)
	}
	rssBefore := rssKiB(n)

	const workers, perWorker, size = 8, 250, 2048
	payload := strings.Repeat("x", size)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := n.client().Submit(sctx, &raftv1.SubmitRequest{Command: []byte(fmt.Sprintf("%d-%d-%s", w, i, payload))})
				scancel()
				if err != nil {
					errs <- fmt.Errorf("submit %d-%d: %v", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d commands of %d bytes committed in %v while a Watch stream was not read; daemon RSS %d KiB -> %d KiB",
		workers*perWorker, size, time.Since(start).Round(time.Millisecond), rssBefore, rssKiB(n))

	last := nodeStatus(t, n).CommitIndex
	commands := 0
	for want := uint64(1); want <= last; want++ {
		e, err := stream.Recv()
		if err != nil {
			t.Fatalf("Watch after %d entries: %v", want-1, err)
		}
		if e.Index != want {
			t.Fatalf("Watch gave entry %d where %d was due", e.Index, want)
		}
		if e.Type == raftv1.EntryType_ENTRY_TYPE_COMMAND {
			commands++
		}
	}
	if commands != workers*perWorker {
		t.Fatalf("Watch delivered %d commands, want %d", commands, workers*perWorker)
	}
}

// rssKiB reads the daemon's resident set size from /proc (0 where there is none).
func rssKiB(d *daemon) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kib)
			return kib
		}
	}
	return 0
}
