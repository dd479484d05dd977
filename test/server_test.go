package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/stretchr/testify/require"
)

// singleNodeServer starts a one-node cluster on dir (a first start or a restart).
func singleNodeServer(t *testing.T, address, dir string) *actors.Server {
	t.Helper()
	srv, err := actors.NewServer(actors.Config{ID: 1, ClusterID: clusterID, Address: address, DataDir: dir,
		Bootstrap:       []*messages.Member{{Id: 1, Address: address}},
		ElectionTimeout: testElectionTimeout, HeartbeatInterval: testHeartbeatInterval})
	require.NoError(t, err)
	return srv
}

// waitCommitted waits until the server's node has committed at least index.
func waitCommitted(t *testing.T, srv *actors.Server, index uint64) {
	t.Helper()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := srv.Status(ctx)
		return err == nil && st.CommitIndex >= index
	}, 10*time.Second, 10*time.Millisecond, "commit index %d not reached", index)
}

// receive reads n commits from Run's channel.
func receive(t *testing.T, commits <-chan actors.Commit, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case c := <-commits:
			got = append(got, string(c.Command))
		case <-time.After(10 * time.Second):
			require.FailNowf(t, "commits missing", "got %d of %d commands: %q", len(got), n, got)
		}
	}
	return got
}

// After a restart, Server.Run delivers the whole log from index 1 even when the node
// committed (and would have applied) everything before Run was called, and a second Run
// goes on exactly where the first one stopped: no command is skipped or repeated.
func TestServerRunDeliversWholeLogHoweverLateItStarts(t *testing.T) {
	address, err := remote.FreeLoopbackAddress()
	require.NoError(t, err)
	dir := t.TempDir()
	var want []string
	var last uint64

	srv := singleNodeServer(t, address, dir)
	waitCommitted(t, srv, 1) // elected: its no-op is committed
	for i := 0; i < 6; i++ {
		cmd := fmt.Sprintf("cmd-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		index, _, err := srv.Submit(ctx, []byte(cmd))
		cancel()
		require.NoError(t, err)
		want = append(want, cmd)
		last = index
	}
	require.NoError(t, srv.Close())

	srv = singleNodeServer(t, address, dir)
	defer srv.Close()
	// Everything is committed again (and handed to the Applier) before anyone reads.
	waitCommitted(t, srv, last)

	commits := make(chan actors.Commit)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, commits) }()
	got := receive(t, commits, 2)
	stop()
	require.ErrorIs(t, <-done, context.Canceled)

	ctx, stop = context.WithCancel(context.Background())
	defer stop()
	go func() { done <- srv.Run(ctx, commits) }()
	got = append(got, receive(t, commits, len(want)-2)...)
	require.Equal(t, want, got)
	select {
	case c := <-commits:
		require.FailNowf(t, "command delivered twice or invented", "extra commit %d %q", c.Index, c.Command)
	case <-time.After(200 * time.Millisecond): // a bounded look for extras, not synchronisation
	}
}
