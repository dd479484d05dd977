package main

import (
	"bytes"
	"cmp"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
)

// latencyBuckets are the upper bounds, in seconds, of the latency histograms.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// roles are the values of Status.role, each a series of raft_role.
var roles = []string{"leader", "follower", "candidate", "learner"}

// histogram counts observations into latencyBuckets (or bounds, when set).
type histogram struct {
	bounds []float64 // upper bounds; nil means latencyBuckets
	counts []uint64  // per bucket (not cumulative), one more for +Inf
	sum    float64
	count  uint64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(latencyBuckets, v) // first bound >= v; len: +Inf
	h.counts[i]++
	h.sum += v
	h.count++
}

// rpcKey labels one series of the gRPC metrics.
type rpcKey struct{ method, code string }

// handshakeKey labels one series of raft_tls_handshake_failures_total.
type handshakeKey struct{ listener, direction string }

// metrics is the daemon's registry: the node's last status as polled, what the poller
// derived from the statuses it saw, and what the daemon measured itself. It renders the
// Prometheus text exposition format. Safe for concurrent use.
type metrics struct {
	id      uint64
	cluster string

	mu            sync.Mutex
	status        *messages.Status // last status polled successfully; nil before the first
	statusUp      bool             // whether the last poll succeeded
	pollFailures  uint64
	leaderChanges uint64
	rpcs          map[rpcKey]*histogram
	submit        *histogram
	handshakes    map[handshakeKey]uint64
}

func newMetrics(id uint64, cluster string) *metrics {
	return &metrics{
		id: id, cluster: cluster,
		rpcs:       map[rpcKey]*histogram{},
		submit:     newHistogram(),
		handshakes: map[handshakeKey]uint64{},
	}
}

// setStatus records a polled status; leaderChanged counts one leader change.
func (m *metrics) setStatus(st *messages.Status, leaderChanged bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status = st
	m.statusUp = true
	if leaderChanged {
		m.leaderChanges++
	}
}

// pollFailed records a status poll the node did not answer.
func (m *metrics) pollFailed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statusUp = false
	m.pollFailures++
}

// observeRPC records one finished RPC of the client API.
func (m *metrics) observeRPC(method, code string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := rpcKey{method, code}
	h := m.rpcs[k]
	if h == nil {
		h = newHistogram()
		m.rpcs[k] = h
	}
	h.observe(d.Seconds())
}

// observeSubmit records the latency of one committed Submit.
func (m *metrics) observeSubmit(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.submit.observe(d.Seconds())
}

// handshakeFailed counts one failed TLS handshake.
func (m *metrics) handshakeFailed(listener, direction string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handshakes[handshakeKey{listener, direction}]++
}

// write renders every metric in the Prometheus text format (version 0.0.4).
func (m *metrics) write(out io.Writer) error {
	var w exposition
	m.mu.Lock()
	m.render(&w)
	m.mu.Unlock()
	_, err := out.Write(w.Bytes())
	return err
}

// render writes the metrics to w; m.mu is held.
func (m *metrics) render(w *exposition) {
	id := strconv.FormatUint(m.id, 10)
	w.family("raft_node_info", "gauge", "Always 1; labels: this node's id and cluster id.")
	w.sample("raft_node_info", "1", "id", id, "cluster_id", m.cluster)
	w.family("raft_status_up", "gauge", "1 when the node answered the daemon's last status poll (every second and on each scrape), else 0; the raft_ gauges below show the last status it did answer.")
	w.sample("raft_status_up", boolValue(m.statusUp))
	w.family("raft_status_poll_failures_total", "counter", "Status polls the node did not answer in time.")
	w.sample("raft_status_poll_failures_total", u64(m.pollFailures))
	w.family("raft_leader_changes_total", "counter", "Leader changes seen by the daemon's status poller: each time a known leader's (id, term) differs from the last one seen. Changes between two polls (1 s apart) are seen as one.")
	w.sample("raft_leader_changes_total", u64(m.leaderChanges))

	if st := m.status; st != nil {
		w.family("raft_term", "gauge", "Current term.")
		w.sample("raft_term", u64(st.Term))
		w.family("raft_role", "gauge", "1 for the node's current role, 0 for the others.")
		for _, r := range roles {
			w.sample("raft_role", boolValue(st.Role == r), "role", r)
		}
		w.family("raft_leader_id", "gauge", "Id of the leader this node knows, 0 when none.")
		w.sample("raft_leader_id", u64(st.LeaderId))
		w.family("raft_commit_index", "gauge", "Highest log index known to be committed.")
		w.sample("raft_commit_index", u64(st.CommitIndex))
		w.family("raft_applied_index", "gauge", "Highest log index delivered to the node's subscribers.")
		w.sample("raft_applied_index", u64(st.AppliedIndex))
		w.family("raft_last_log_index", "gauge", "Index of the last entry in the node's log.")
		w.sample("raft_last_log_index", u64(st.LastLogIndex))
		w.family("raft_durable_index", "gauge", "Highest log index synced to disk.")
		w.sample("raft_durable_index", u64(st.DurableIndex))
		w.family("raft_config_index", "gauge", "Index of the configuration entry in force, 0 for a bootstrap configuration.")
		w.sample("raft_config_index", u64(st.ConfigIndex))
		w.family("raft_config_voters", "gauge", "Voters in the configuration in force (the incoming set during joint consensus).")
		w.sample("raft_config_voters", strconv.Itoa(len(st.GetConfig().GetVoters())))
		w.family("raft_dropped_messages_total", "counter", "Messages the node dropped: from a peer of another cluster id (foreign_cluster), or unknown or malformed (invalid).")
		w.sample("raft_dropped_messages_total", u64(st.DroppedForeignCluster), "reason", "foreign_cluster")
		w.sample("raft_dropped_messages_total", u64(st.DroppedInvalid), "reason", "invalid")
		w.family("raft_persist_batches_total", "counter", "Synced write batches (one fsync each) since the node started.")
		w.sample("raft_persist_batches_total", u64(st.PersistBatches))
		w.family("raft_persist_entries_total", "counter", "Log entries written in those batches.")
		w.sample("raft_persist_entries_total", u64(st.PersistEntries))
		w.family("raft_persist_batch_size_average", "gauge", "Entries per synced batch since the node started (persist_entries / persist_batches); rate(raft_persist_entries_total) / rate(raft_persist_batches_total) gives it over a window.")
		avg := 0.0
		if st.PersistBatches > 0 {
			avg = float64(st.PersistEntries) / float64(st.PersistBatches)
		}
		w.sample("raft_persist_batch_size_average", float(avg))
		if counts := st.PersistLatencyCounts; len(counts) == len(actors.PersistLatencyBuckets)+1 {
			w.family("raft_fsync_duration_seconds", "histogram", "How long each synced LevelDB batch write (write + fsync) took in the node's Persistence actor.")
			h := &histogram{bounds: actors.PersistLatencyBuckets, counts: counts, sum: st.PersistLatencySumSeconds}
			for _, n := range counts {
				h.count += n
			}
			w.histogram("raft_fsync_duration_seconds", h)
		}
		if st.Role == "leader" {
			w.family("raft_replication_lag_entries", "gauge", "On the leader only: entries of its log each member is not known to hold (last_log_index - the member's match index).")
			members := slices.Clone(st.Members)
			slices.SortFunc(members, func(a, b *messages.MemberStatus) int { return cmp.Compare(a.Id, b.Id) })
			for _, ms := range members {
				if ms.Id == st.Id {
					continue
				}
				lag := uint64(0)
				if st.LastLogIndex > ms.MatchIndex {
					lag = st.LastLogIndex - ms.MatchIndex
				}
				w.sample("raft_replication_lag_entries", u64(lag), "peer", strconv.FormatUint(ms.Id, 10))
			}
		}
	}

	keys := make([]rpcKey, 0, len(m.rpcs))
	for k := range m.rpcs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rpcKey) int {
		return cmp.Or(strings.Compare(a.method, b.method), strings.Compare(a.code, b.code))
	})
	w.family("raft_grpc_requests_total", "counter", "Client API requests finished, by full method name and gRPC status code.")
	for _, k := range keys {
		w.sample("raft_grpc_requests_total", u64(m.rpcs[k].count), "method", k.method, "code", k.code)
	}
	w.family("raft_grpc_request_duration_seconds", "histogram", "Time the client API took to answer a request, by method and code (for the Watch stream: how long the stream lasted).")
	for _, k := range keys {
		w.histogram("raft_grpc_request_duration_seconds", m.rpcs[k], "method", k.method, "code", k.code)
	}
	w.family("raft_submit_duration_seconds", "histogram", "Latency of each successful Submit as measured by the daemon's API: validation, forwarding to the leader if needed, appending, fsync on a quorum and commit. Fsync time alone is raft_fsync_duration_seconds.")
	w.histogram("raft_submit_duration_seconds", m.submit)

	hks := make([]handshakeKey, 0, len(m.handshakes))
	for k := range m.handshakes {
		hks = append(hks, k)
	}
	slices.SortFunc(hks, func(a, b handshakeKey) int {
		return cmp.Or(strings.Compare(a.listener, b.listener), strings.Compare(a.direction, b.direction))
	})
	w.family("raft_tls_handshake_failures_total", "counter", "Failed TLS handshakes on the client API (listener=api) and between peers (listener=peer), incoming or outgoing.")
	for _, k := range hks {
		w.sample("raft_tls_handshake_failures_total", u64(m.handshakes[k]), "listener", k.listener, "direction", k.direction)
	}
}

// exposition accumulates the Prometheus text format.
type exposition struct{ bytes.Buffer }

// family writes the HELP and TYPE lines of a metric.
func (w *exposition) family(name, typ, help string) {
	w.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n")
	w.WriteString("# TYPE " + name + " " + typ + "\n")
}

// sample writes one sample; labels are name, value pairs.
func (w *exposition) sample(name, value string, labels ...string) {
	w.WriteString(name)
	if len(labels) > 0 {
		w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(labels[i] + `="` + escapeLabel(labels[i+1]) + `"`)
		}
		w.WriteByte('}')
	}
	w.WriteString(" " + value + "\n")
}

// histogram writes the _bucket (cumulative, le label last), _sum and _count samples of h.
func (w *exposition) histogram(name string, h *histogram, labels ...string) {
	bounds := h.bounds
	if bounds == nil {
		bounds = latencyBuckets
	}
	var cumulative uint64
	for i, n := range h.counts {
		cumulative += n
		le := "+Inf"
		if i < len(bounds) {
			le = float(bounds[i])
		}
		w.sample(name+"_bucket", u64(cumulative), append(slices.Clone(labels), "le", le)...)
	}
	w.sample(name+"_sum", float(h.sum), labels...)
	w.sample(name+"_count", u64(h.count), labels...)
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

func float(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
