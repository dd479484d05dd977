package sidecar

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
)

// A live three-node cluster with -metrics: each node's /metrics has the key series with
// sane values, a leader change is counted and logged, and pprof answers.
func testMetrics(t *testing.T, bin binaries) {
	nodes := make([]*daemon, 3)
	metrics := map[uint64]string{}
	for i := range nodes {
		id := uint64(i + 1)
		metrics[id] = freeAddress(t)
		nodes[i] = newDaemon(t, bin.raft, id, i == 0, "-metrics", metrics[id])
		nodes[i].start()
	}
	waitLeader(t, nodes[0])
	changeConfiguration(t, nodes[0], nodes...)
	for _, d := range nodes {
		waitConfiguration(t, d, nodes...)
	}
	var res *raftv1.SubmitResponse
	for i := range 5 {
		res = submit(t, nodes[i%3], fmt.Sprintf("metric %d", i))
	}
	for _, d := range nodes {
		watchUntil(t, d, res.Index, res.Index, 10*time.Second)
	}

	want := func(s map[string]float64, key string, ok func(float64) bool, what string) {
		t.Helper()
		v, found := series(s, key)
		if !found {
			t.Fatalf("no series %s", key)
		}
		if !ok(v) {
			t.Fatalf("%s = %v, want %s", key, v, what)
		}
	}
	is := func(x float64) func(float64) bool { return func(v float64) bool { return v == x } }
	atLeastV := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	commit := float64(res.Index)

	// The leader.
	s := mustScrape(t, metrics[1])
	want(s, `raft_role{role="leader"}`, is(1), "1")
	want(s, `raft_role{role="follower"}`, is(0), "0")
	want(s, `raft_node_info{id="1",cluster_id="raft"}`, is(1), "1")
	want(s, `raft_status_up`, is(1), "1")
	want(s, `raft_leader_id`, is(1), "1")
	want(s, `raft_term`, atLeastV(1), ">= 1")
	want(s, `raft_commit_index`, atLeastV(commit), fmt.Sprintf(">= %v", commit))
	want(s, `raft_applied_index`, atLeastV(commit), fmt.Sprintf(">= %v", commit))
	want(s, `raft_last_log_index`, atLeastV(commit), fmt.Sprintf(">= %v", commit))
	want(s, `raft_config_voters`, is(3), "3")
	want(s, `raft_leader_changes_total`, atLeastV(1), ">= 1")
	want(s, `raft_persist_batches_total`, atLeastV(1), ">= 1")
	want(s, `raft_persist_entries_total`, atLeastV(commit), fmt.Sprintf(">= %v", commit))
	want(s, `raft_persist_batch_size_average`, func(v float64) bool { return v > 0 }, "> 0")
	want(s, `raft_dropped_messages_total{reason="foreign_cluster"}`, is(0), "0")
	for _, peer := range []string{"2", "3"} {
		// Every follower holds every committed entry: its lag is at most what is not yet committed.
		want(s, `raft_replication_lag_entries{peer="`+peer+`"}`, func(v float64) bool { return v >= 0 && v <= s[`raft_last_log_index`]-commit }, "small")
	}
	if _, found := series(s, `raft_replication_lag_entries{peer="1"}`); found {
		t.Fatal("the leader reports a lag for itself")
	}
	want(s, `raft_grpc_requests_total{method="/raft.v1.PeerService/Submit",code="OK"}`, atLeastV(1), ">= 1")
	want(s, `raft_grpc_request_duration_seconds_count{method="/raft.v1.PeerService/ChangeConfiguration",code="OK"}`, is(1), "1")
	want(s, `raft_grpc_request_duration_seconds_bucket{method="/raft.v1.PeerService/ChangeConfiguration",code="OK",le="+Inf"}`, is(1), "1")
	want(s, `raft_submit_duration_seconds_count`, atLeastV(1), ">= 1")
	want(s, `raft_submit_duration_seconds_sum`, func(v float64) bool { return v > 0 && v < 30 }, "in (0, 30)")
	want(s, `raft_fsync_duration_seconds_count`, func(v float64) bool { return v == s[`raft_persist_batches_total`] }, "one per synced batch")
	want(s, `raft_fsync_duration_seconds_bucket{le="+Inf"}`, func(v float64) bool { return v == s[`raft_fsync_duration_seconds_count`] }, "= count")
	want(s, `raft_fsync_duration_seconds_sum`, func(v float64) bool { return v > 0 && v < 30 }, "in (0, 30)")

	// A follower: no lag series; the Submits forwarded through it are counted there too.
	s = mustScrape(t, metrics[2])
	want(s, `raft_role{role="follower"}`, is(1), "1")
	want(s, `raft_role{role="leader"}`, is(0), "0")
	want(s, `raft_leader_id`, is(1), "1")
	want(s, `raft_commit_index`, atLeastV(commit), fmt.Sprintf(">= %v", commit))
	want(s, `raft_grpc_requests_total{method="/raft.v1.PeerService/Submit",code="OK"}`, atLeastV(1), ">= 1")
	for key := range s {
		if strings.HasPrefix(key, "raft_replication_lag_entries") {
			t.Fatalf("a follower reports %s", key)
		}
	}

	// A leader change is counted and logged by the nodes that see it.
	changesBefore := mustScrape(t, metrics[3])[`raft_leader_changes_total`]
	ctx, cancel := rpcContext(changeTimeout)
	_, err := nodes[0].client().TransferLeadership(ctx, &raftv1.TransferLeadershipRequest{TargetId: 2})
	cancel()
	if err != nil {
		t.Fatalf("TransferLeadership to 2: %v", err)
	}
	eventually(t, 5*time.Second, "node 3 counts the leader change", func() error {
		return atLeast(metrics[3], `raft_leader_changes_total`, changesBefore+1)
	})
	eventually(t, 5*time.Second, "node 2 reports itself leader with lag series", func() error {
		s, err := scrape(metrics[2])
		if err != nil {
			return err
		}
		if s[`raft_role{role="leader"}`] != 1 {
			return fmt.Errorf("not leader yet")
		}
		if _, ok := s[`raft_replication_lag_entries{peer="1"}`]; !ok {
			return fmt.Errorf("no lag series for peer 1")
		}
		return nil
	})
	checkLog(t, nodes[2], `msg="leader changed" node=3 leader=2`)
	checkLog(t, nodes[1], `msg="role changed" node=2 from=follower to=leader`)
	checkLog(t, nodes[0], `msg="role changed" node=1 from=leader to=follower`)
	checkLog(t, nodes[0], `msg="configuration in force" node=1`)

	// pprof is served beside the metrics.
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		code, body, err := httpGet("http://" + metrics[1] + path)
		if err != nil || code != 200 || body == "" {
			t.Fatalf("GET %s: %d %v", path, code, err)
		}
	}
	if code, _, err := httpGet("http://" + metrics[1] + "/nothing"); err != nil || code != 404 {
		t.Fatalf("GET /nothing: %d %v, want 404", code, err)
	}
}

// checkLog waits until d has logged a line containing text.
func checkLog(t *testing.T, d *daemon, text string) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("node %d logs %s", d.id, text), func() error {
		if !strings.Contains(d.logs(), text) {
			return fmt.Errorf("not logged")
		}
		return nil
	})
}
