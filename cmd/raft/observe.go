package main

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/messages/raftv1"
	"github.com/raftsidecar/raft/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Status polling: the poller asks the node every pollInterval (and the metrics handler on
// every scrape) for its status, through the same actor request as the API's Status.
const (
	pollInterval      = time.Second
	pollTimeout       = time.Second
	scrapePollTimeout = 500 * time.Millisecond
)

// observer polls the node's status into the metrics and logs what changed between two
// polls: the role, the leader, the configuration in force.
type observer struct {
	m      *metrics
	logger *slog.Logger
	status func(context.Context) (*messages.Status, error)

	mu     sync.Mutex       // one poll at a time, applied in order
	prev   *messages.Status // last status seen
	leader uint64           // last known leader and its term
	term   uint64
}

func newObserver(m *metrics, logger *slog.Logger, status func(context.Context) (*messages.Status, error)) *observer {
	return &observer{m: m, logger: logger, status: status}
}

// run polls until stop is closed, then closes the returned channel.
func (o *observer) run(stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(pollInterval)
		defer tick.Stop()
		for {
			o.poll(pollTimeout)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

// poll asks the node for its status once and records the answer.
func (o *observer) poll(timeout time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := o.status(ctx)
	if err != nil {
		o.m.pollFailed()
		o.logger.Debug("status poll failed", "error", err)
		return
	}
	o.apply(st)
}

// apply records st, counts a leader change and logs the changes since the last status;
// o.mu is held.
func (o *observer) apply(st *messages.Status) {
	prev := o.prev
	o.prev = st
	leaderChanged := st.LeaderId != 0 && (st.LeaderId != o.leader || st.Term != o.term)
	previousLeader := o.leader
	if leaderChanged {
		o.leader, o.term = st.LeaderId, st.Term
	}
	o.m.setStatus(st, leaderChanged)

	if prev == nil || prev.Role != st.Role {
		o.logger.Info("role changed", "from", prev.GetRole(), "to", st.Role, "term", st.Term)
	}
	switch {
	case leaderChanged:
		o.logger.Info("leader changed", "leader", st.LeaderId, "leader_address", st.LeaderAddress,
			"term", st.Term, "previous_leader", previousLeader)
	case prev != nil && prev.LeaderId != 0 && st.LeaderId == 0:
		o.logger.Info("leader unknown", "term", st.Term, "previous_leader", prev.LeaderId)
	}
	if prev == nil || configChanged(prev, st) {
		cfg := st.GetConfig()
		attrs := []any{"index", st.ConfigIndex, "voters", membersText(cfg.GetVoters())}
		if len(cfg.GetOldVoters()) > 0 {
			attrs = append(attrs, "joint_old_voters", membersText(cfg.GetOldVoters()))
		}
		if len(cfg.GetLearners()) > 0 {
			attrs = append(attrs, "learners", membersText(cfg.GetLearners()))
		}
		o.logger.Info("configuration in force", attrs...)
	}
}

// configChanged says whether the configuration in force differs between two statuses.
func configChanged(a, b *messages.Status) bool {
	ca, cb := a.GetConfig(), b.GetConfig()
	return a.ConfigIndex != b.ConfigIndex ||
		membersText(ca.GetVoters()) != membersText(cb.GetVoters()) ||
		membersText(ca.GetOldVoters()) != membersText(cb.GetOldVoters()) ||
		membersText(ca.GetLearners()) != membersText(cb.GetLearners())
}

// metricsUnary records every unary RPC of the client API: count and latency by method and
// code, and the latency of each successful Submit.
func metricsUnary(m *metrics) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		res, err := handler(ctx, req)
		took := time.Since(start)
		code := status.Code(err)
		m.observeRPC(info.FullMethod, code.String(), took)
		if info.FullMethod == raftv1.PeerService_Submit_FullMethodName && code == codes.OK {
			m.observeSubmit(took)
		}
		return res, err
	}
}

// metricsStream records every streaming RPC (Watch, reflection) when it ends.
func metricsStream(m *metrics) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		m.observeRPC(info.FullMethod, status.Code(err).String(), time.Since(start))
		return err
	}
}

// handshakeLogEvery is the least time between two log lines about failed TLS handshakes
// with the same host in the same direction; the failures in between are counted in the
// next line (and all of them in the metrics). gRPC retries a refused connection every second
// or two, and a node should not log a line for each.
const handshakeLogEvery = 10 * time.Second

// handshakeLog logs failed TLS handshakes, rate-limited, and counts them in the metrics.
type handshakeLog struct {
	logger *slog.Logger
	m      *metrics

	mu         sync.Mutex
	last       map[string]time.Time // by listener, direction and host: when last logged
	suppressed map[string]int       // failures not logged since
}

func newHandshakeLog(logger *slog.Logger, m *metrics) *handshakeLog {
	return &handshakeLog{logger: logger, m: m, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// reporter returns the handshake error callback of one listener ("api" or "peer").
func (h *handshakeLog) reporter(listener string) func(remote.HandshakeError) {
	return func(e remote.HandshakeError) {
		direction := "outgoing"
		if e.Incoming {
			direction = "incoming"
		}
		h.m.handshakeFailed(listener, direction)
		host, _, err := net.SplitHostPort(e.Address)
		if err != nil {
			host = e.Address
		}
		key := listener + " " + direction + " " + host
		now := time.Now()
		h.mu.Lock()
		if t, ok := h.last[key]; ok && now.Sub(t) < handshakeLogEvery {
			h.suppressed[key]++
			h.mu.Unlock()
			return
		}
		if len(h.last) >= 1024 { // forget quiet hosts, so the map stays small
			for k, t := range h.last {
				if now.Sub(t) >= handshakeLogEvery {
					delete(h.last, k)
					delete(h.suppressed, k)
				}
			}
		}
		h.last[key] = now
		unlogged := h.suppressed[key]
		delete(h.suppressed, key)
		h.mu.Unlock()
		h.logger.Info("TLS handshake failed", "listener", listener, "direction", direction,
			"remote", e.Address, "error", e.Err.Error(), "unlogged_before", unlogged)
	}
}
