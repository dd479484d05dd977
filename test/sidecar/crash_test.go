package sidecar

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// testCrashAndShutdown SIGKILLs the leader of a three-node cluster while writes go on,
// restarts it from its data directory with the same command line, and checks that every
// acknowledged write is in every node's Watch stream at its index, and that the streams
// agree. Then SIGTERM ends every node with status 0 within a few seconds.
func testCrashAndShutdown(t *testing.T, bin binaries) {
	nodes := startCluster(t, bin, 3)
	acked := map[uint64]string{}
	var last uint64
	// write submits through the running nodes in turn until one acknowledges cmd. An
	// UNAVAILABLE or a deadline leaves the outcome unknown, so a retry sends a new command.
	attempt := 0
	write := func(cmd string) {
		t.Helper()
		eventually(t, 15*time.Second, fmt.Sprintf("write %q", cmd), func() error {
			attempt++
			d := nodes[attempt%len(nodes)]
			if !d.running() {
				return errors.New("node down")
			}
			text := fmt.Sprintf("%s#%d", cmd, attempt)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			res, err := d.client().Submit(ctx, &raftv1.SubmitRequest{Command: []byte(text)})
			if err != nil {
				if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded && c != codes.Aborted {
					return stop{fmt.Errorf("Submit through node %d: %v", d.id, err)}
				}
				return err
			}
			if prev, dup := acked[res.Index]; dup {
				return stop{fmt.Errorf("index %d acknowledged twice: %q and %q", res.Index, prev, text)}
			}
			if res.Index <= last {
				return stop{fmt.Errorf("%q acknowledged at %d, below the earlier acknowledged %d", text, res.Index, last)}
			}
			acked[res.Index] = text
			last = res.Index
			return nil
		})
	}
	for i := range 10 {
		write(fmt.Sprintf("before-%d", i))
	}

	victim := findLeader(t, nodes...)
	victim.kill()
	t.Logf("SIGKILLed the leader, node %d, at index %d", victim.id, last)
	for i := range 10 {
		write(fmt.Sprintf("during-%d", i))
	}
	// The same command line as before, -bootstrap included for node 1: it must be ignored.
	victim.start()
	for i := range 5 {
		write(fmt.Sprintf("after-%d", i))
	}

	var first []*raftv1.Entry
	for _, d := range nodes {
		entries := watchUntil(t, d, 1, last, 20*time.Second)
		for index, cmd := range acked {
			e := entries[index-1]
			if e.Type != raftv1.EntryType_ENTRY_TYPE_COMMAND || string(e.Command) != cmd {
				t.Fatalf("node %d: entry %d is %v, but %q was acknowledged there", d.id, index, e, cmd)
			}
		}
		if first == nil {
			first = entries
		}
		for i := range first {
			if !proto.Equal(first[i], entries[i]) {
				t.Fatalf("node %d: entry %d is %v, node %d has %v", d.id, i+1, entries[i], nodes[0].id, first[i])
			}
		}
	}
	t.Logf("%d acknowledged writes, all in every node's log after the restart of node %d", len(acked), victim.id)
	waitConfiguration(t, victim, nodes...)

	for _, d := range nodes {
		code, took := d.terminate(5 * time.Second)
		if code != 0 {
			t.Fatalf("node %d exited with status %d after SIGTERM\n%s", d.id, code, tail(d.logs(), 4000))
		}
		t.Logf("node %d exited 0 in %v after SIGTERM", d.id, took.Round(time.Millisecond))
	}
}
