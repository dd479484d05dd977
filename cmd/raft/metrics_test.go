package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
)

func leaderStatus() *messages.Status {
	return &messages.Status{
		Id: 1, Role: "leader", Term: 4, LeaderId: 1, CommitIndex: 9, AppliedIndex: 8, LastLogIndex: 12,
		DurableIndex: 12, ConfigIndex: 3, PersistBatches: 4, PersistEntries: 10, DroppedForeignCluster: 2,
		Config: &messages.Configuration{Voters: []*messages.Member{{Id: 1, Address: "a:1"}, {Id: 2, Address: "b:2"}, {Id: 3, Address: "c:3"}}},
		Members: []*messages.MemberStatus{
			{Id: 3, Address: "c:3", Role: "voter", MatchIndex: 5},
			{Id: 1, Address: "a:1", Role: "voter", MatchIndex: 12},
			{Id: 2, Address: "b:2", Role: "voter", MatchIndex: 12},
		},
	}
}

func render(t *testing.T, m *metrics) string {
	t.Helper()
	var b bytes.Buffer
	if err := m.write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMetricsFromAStatus(t *testing.T) {
	m := newMetrics(1, `we"ird\`)
	m.setStatus(leaderStatus(), true)
	out := render(t, m)
	for _, line := range []string{
		`raft_node_info{id="1",cluster_id="we\"ird\\"} 1`,
		`raft_status_up 1`,
		`raft_leader_changes_total 1`,
		`raft_term 4`,
		`raft_role{role="leader"} 1`,
		`raft_role{role="follower"} 0`,
		`raft_role{role="candidate"} 0`,
		`raft_role{role="learner"} 0`,
		`raft_leader_id 1`,
		`raft_commit_index 9`,
		`raft_applied_index 8`,
		`raft_last_log_index 12`,
		`raft_config_voters 3`,
		`raft_dropped_messages_total{reason="foreign_cluster"} 2`,
		`raft_dropped_messages_total{reason="invalid"} 0`,
		`raft_persist_batches_total 4`,
		`raft_persist_entries_total 10`,
		`raft_persist_batch_size_average 2.5`,
		"raft_replication_lag_entries{peer=\"2\"} 0\nraft_replication_lag_entries{peer=\"3\"} 7\n",
		"# HELP raft_submit_duration_seconds ",
		"# TYPE raft_submit_duration_seconds histogram\n",
		`raft_submit_duration_seconds_bucket{le="+Inf"} 0`,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("no %q in\n%s", line, out)
		}
	}
	if strings.Contains(out, `peer="1"`) {
		t.Error("the leader reports a lag for itself")
	}

	// A follower has no lag series; a failed poll keeps the last values and says so.
	st := leaderStatus()
	st.Role, st.LeaderId = "follower", 2
	m.setStatus(st, false)
	m.pollFailed()
	out = render(t, m)
	for _, line := range []string{`raft_role{role="follower"} 1`, `raft_status_up 0`, `raft_status_poll_failures_total 1`, `raft_leader_id 2`} {
		if !strings.Contains(out, line) {
			t.Errorf("no %q in\n%s", line, out)
		}
	}
	if strings.Contains(out, "raft_replication_lag_entries{") {
		t.Errorf("a follower reports lag:\n%s", out)
	}
}

func TestHistogramsAreCumulative(t *testing.T) {
	m := newMetrics(1, "c")
	for _, d := range []time.Duration{300 * time.Microsecond, time.Millisecond, 40 * time.Millisecond, time.Minute} {
		m.observeRPC("/raft.v1.PeerService/Submit", "OK", d)
		m.observeSubmit(d)
	}
	m.observeRPC("/raft.v1.PeerService/Status", "Unavailable", time.Second)
	out := render(t, m)
	for _, line := range []string{
		`raft_submit_duration_seconds_bucket{le="0.0005"} 1`,
		`raft_submit_duration_seconds_bucket{le="0.001"} 2`, // a bound holds what equals it
		`raft_submit_duration_seconds_bucket{le="0.025"} 2`,
		`raft_submit_duration_seconds_bucket{le="0.05"} 3`,
		`raft_submit_duration_seconds_bucket{le="30"} 3`,
		`raft_submit_duration_seconds_bucket{le="+Inf"} 4`,
		`raft_submit_duration_seconds_sum 60.0413`,
		`raft_submit_duration_seconds_count 4`,
		`raft_grpc_requests_total{method="/raft.v1.PeerService/Status",code="Unavailable"} 1`,
		`raft_grpc_requests_total{method="/raft.v1.PeerService/Submit",code="OK"} 4`,
		`raft_grpc_request_duration_seconds_bucket{method="/raft.v1.PeerService/Submit",code="OK",le="0.05"} 3`,
		`raft_grpc_request_duration_seconds_count{method="/raft.v1.PeerService/Status",code="Unavailable"} 1`,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("no %q in\n%s", line, out)
		}
	}
	// Every sample line belongs to the family declared just before it.
	family := ""
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			family, _, _ = strings.Cut(rest, " ")
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, family) {
			t.Errorf("sample %q outside its family %s", line, family)
		}
	}
}

// The poller counts a leader change each time a known leader's (id, term) differs from the
// last one seen, and logs role, leader and configuration changes once each.
func TestObserverCountsAndLogsChanges(t *testing.T) {
	var mu sync.Mutex
	var next *messages.Status
	var fail bool
	status := func(context.Context) (*messages.Status, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return nil, errors.New("no answer")
		}
		return next, nil
	}
	set := func(role string, term, leader uint64, voters ...uint64) {
		st := &messages.Status{Id: 1, Role: role, Term: term, LeaderId: leader, Config: &messages.Configuration{}}
		for _, v := range voters {
			st.Config.Voters = append(st.Config.Voters, &messages.Member{Id: v, Address: fmt.Sprintf("h:%d", v)})
		}
		mu.Lock()
		next, fail = st, false
		mu.Unlock()
	}
	var logs bytes.Buffer
	m := newMetrics(1, "c")
	o := newObserver(m, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})), status)

	set("follower", 1, 0, 1)
	o.poll(time.Second)
	set("follower", 1, 2, 1) // leader 2 known: change 1
	o.poll(time.Second)
	o.poll(time.Second) // nothing new
	set("candidate", 2, 0, 1)
	o.poll(time.Second)
	set("leader", 2, 1, 1, 2) // change 2, and a new configuration
	o.poll(time.Second)
	mu.Lock()
	fail = true
	mu.Unlock()
	o.poll(time.Second)
	set("follower", 3, 2, 1, 2) // change 3
	o.poll(time.Second)

	out := render(t, m)
	if !strings.Contains(out, "raft_leader_changes_total 3\n") || !strings.Contains(out, "raft_status_poll_failures_total 1\n") {
		t.Errorf("metrics:\n%s", out)
	}
	text := logs.String()
	for want, n := range map[string]int{
		`msg="role changed"`:                                  4,
		`msg="leader changed"`:                                3,
		`msg="leader unknown"`:                                1,
		`msg="configuration in force"`:                        2,
		`from=candidate to=leader`:                            1,
		`voters="1=h:1,2=h:2"`:                                1,
		`leader=2 leader_address="" term=3 previous_leader=1`: 1,
	} {
		if got := strings.Count(text, want); got != n {
			t.Errorf("%d lines with %s, want %d:\n%s", got, want, n, text)
		}
	}
}

func TestHandshakeFailuresAreCountedAndRateLimited(t *testing.T) {
	var logs bytes.Buffer
	m := newMetrics(1, "c")
	h := newHandshakeLog(slog.New(slog.NewTextHandler(&logs, nil)), m)
	peer, api := h.reporter("peer"), h.reporter("api")
	for port := range 5 {
		peer(remote.HandshakeError{Incoming: true, Address: fmt.Sprintf("10.0.0.1:%d", 4000+port), Err: errors.New("bad certificate")})
	}
	peer(remote.HandshakeError{Incoming: false, Address: "10.0.0.2:7002", Err: errors.New("unknown authority")})
	api(remote.HandshakeError{Incoming: true, Address: "10.0.0.1:5000", Err: errors.New("not TLS")})
	out := render(t, m)
	for _, line := range []string{
		`raft_tls_handshake_failures_total{listener="api",direction="incoming"} 1`,
		`raft_tls_handshake_failures_total{listener="peer",direction="incoming"} 5`,
		`raft_tls_handshake_failures_total{listener="peer",direction="outgoing"} 1`,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("no %q in\n%s", line, out)
		}
	}
	// One line per listener, direction and host within handshakeLogEvery.
	if n := strings.Count(logs.String(), `msg="TLS handshake failed"`); n != 3 {
		t.Errorf("%d lines, want 3:\n%s", n, logs.String())
	}
}
