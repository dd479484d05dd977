// Package test runs real Raft nodes in one process, each with its own actor system and
// protoactor remoting on 127.0.0.1, with a fault-injecting layer between them (partition,
// drop, delay, duplicate) and crashes that stop a node without a clean shutdown and
// restart it from its LevelDB directory.
package test

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/stretchr/testify/require"
)

// Timing used by the cluster tests: short enough for quick tests, long enough for the race
// detector on a loaded two-core machine.
const (
	testElectionTimeout   = 300 * time.Millisecond
	testHeartbeatInterval = 50 * time.Millisecond
	clusterID             = "test-cluster"
)

// node is one cluster member with what its subscriber received.
type node struct {
	id       uint64
	address  string
	dir      string
	spare    bool // started without Bootstrap: waits to be added by a configuration change
	endpoint *remote.Endpoint
	pid      *actor.PID

	mu      sync.Mutex
	applied []*messages.Entry // what the current incarnation delivered, from index 1
}

// cluster is a set of real nodes sharing one fault network.
type cluster struct {
	t       testing.TB
	faults  *remote.FaultNetwork
	members []*messages.Member
	nodes   map[uint64]*node
	tweak   func(*actors.Config)
	logs    *capturedLog // what the nodes' remoting logged, printed if the test fails
}

// freeAddress returns a loopback address for a node: free a moment ago and never handed out
// before in this process (see remote.FreeLoopbackAddress). Nodes keep it across restarts.
func freeAddress(t testing.TB) string {
	addr, err := remote.FreeLoopbackAddress()
	require.NoError(t, err)
	return addr
}

// newCluster starts n bootstrapped nodes, returns once they all follow one leader, and
// stops them at the end of the test.
func newCluster(t testing.TB, n int, tweak ...func(*actors.Config)) *cluster {
	return newClusterOn(t, "", n, tweak...)
}

// newClusterOn is newCluster with peer addresses naming host (empty: 127.0.0.1) instead of
// the loopback IP, e.g. "localhost", as containers name each other.
func newClusterOn(t testing.TB, host string, n int, tweak ...func(*actors.Config)) *cluster {
	return buildCluster(t, host, n, nil, tweak...)
}

// buildCluster is newClusterOn with prepare, when not nil, called for each node's data
// directory before the node first starts (to fill it with a log, say).
func buildCluster(t testing.TB, host string, n int, prepare func(id uint64, dir string, members []*messages.Member),
	tweak ...func(*actors.Config)) *cluster {
	c := &cluster{t: t, faults: remote.NewFaultNetwork(time.Now().UnixNano()), nodes: map[uint64]*node{},
		logs: &capturedLog{}}
	if len(tweak) > 0 {
		c.tweak = tweak[0]
	}
	for i := 1; i <= n; i++ {
		addr := freeAddress(t)
		if host != "" {
			_, port, _ := net.SplitHostPort(addr)
			addr = net.JoinHostPort(host, port)
		}
		c.members = append(c.members, &messages.Member{Id: uint64(i), Address: addr})
	}
	for _, m := range c.members {
		c.nodes[m.Id] = &node{id: m.Id, address: m.Address, dir: t.TempDir()}
		if prepare != nil {
			prepare(m.Id, c.nodes[m.Id].dir, c.members)
		}
		c.start(m.Id)
	}
	t.Cleanup(c.stopAll)
	c.logs.dumpOnFailure(t) // registered last: runs first, before the nodes stop
	// Return a settled cluster: every node follows one leader. Right after the first
	// election a node may still sit in a higher term (it won a pre-vote from a peer that
	// became leader a moment later) and depose that leader; tests that submit at once
	// would see "leadership lost" (seen once in a -count=20 run).
	c.waitAllFollow(10 * time.Second)
	return c
}

func (c *cluster) config(n *node) actors.Config {
	cfg := actors.Config{
		ID: n.id, ClusterID: clusterID, Address: n.address, DataDir: n.dir, Bootstrap: c.members,
		ElectionTimeout: testElectionTimeout, HeartbeatInterval: testHeartbeatInterval,
		MaxCommandBytes: 64 << 10, Faults: c.faults, Logger: c.logs.nodeLogger(n.id),
	}
	if n.spare {
		cfg.Bootstrap = nil
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

// start brings a node up from its data directory (a first start or a restart).
func (c *cluster) start(id uint64) {
	n := c.nodes[id]
	var ep *remote.Endpoint
	var err error
	// After a crash the port can take a moment to be free again.
	require.Eventually(c.t, func() bool {
		ep, err = remote.StartEndpoint(n.address, remote.EndpointOptions{Logger: c.logs.logger(id)})
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "endpoint for node %d: %v", id, err)
	// A subscriber that records every committed entry and acknowledges it, registered
	// through the config so that it sees every entry from index 1.
	pid := actor.NewPID(ep.System.Address(), remote.NodeActorName)
	sub := ep.System.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		b, ok := ctx.Message().(*messages.CommittedEntries)
		if !ok || len(b.Entries) == 0 {
			return
		}
		n.mu.Lock()
		n.applied = append(n.applied, b.Entries...)
		n.mu.Unlock()
		ctx.Send(pid, &messages.CommittedAck{Subscriber: &messages.ActorRef{Address: ctx.Self().Address, Id: ctx.Self().Id},
			Index: b.Entries[len(b.Entries)-1].Index})
	}))
	cfg := c.config(n)
	cfg.Subscribers = []*messages.ActorRef{{Address: sub.Address, Id: sub.Id}}
	props, err := actors.NewNodeProps(cfg)
	require.NoError(c.t, err)
	n.mu.Lock()
	n.endpoint, n.pid, n.applied = ep, pid, nil
	n.mu.Unlock()
	spawned, err := ep.System.Root.SpawnNamed(props, remote.NodeActorName)
	require.NoError(c.t, err)
	require.Equal(c.t, pid.String(), spawned.String(), "node %d's PID", id)
}

// crash stops a node without a clean shutdown: its actors stop at once (writes still
// buffered in Persistence are lost, as in a crash), its store is closed so it can be
// reopened, and its remoting goes away under its peers.
func (c *cluster) crash(id uint64) {
	n := c.nodes[id]
	n.mu.Lock()
	ep, pid := n.endpoint, n.pid
	n.endpoint = nil
	n.mu.Unlock()
	if ep == nil {
		return
	}
	_ = ep.System.Root.StopFuture(pid).Wait()
	ep.Stop()
}

func (c *cluster) alive(id uint64) bool {
	n := c.nodes[id]
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.endpoint != nil
}

func (c *cluster) stopAll() {
	for id := range c.nodes {
		c.crash(id)
	}
}

// status asks a live node for its Status.
func (c *cluster) status(id uint64) (*messages.Status, error) {
	n := c.nodes[id]
	n.mu.Lock()
	ep, pid := n.endpoint, n.pid
	n.mu.Unlock()
	if ep == nil {
		return nil, fmt.Errorf("node %d is down", id)
	}
	res, err := ep.System.Root.RequestFuture(pid, &messages.GetStatus{}, 2*time.Second).Result()
	if err != nil {
		return nil, err
	}
	return res.(*messages.Status), nil
}

func (c *cluster) mustStatus(id uint64) *messages.Status {
	st, err := c.status(id)
	require.NoError(c.t, err)
	return st
}

// leaderAmong returns the leader that a majority of the given nodes follow in its term (a
// node cut off may not know it yet), or 0. It fails the test if two nodes claim leadership
// of the same term.
func (c *cluster) leaderAmong(ids []uint64) uint64 {
	leaders := map[uint64]uint64{}
	var statuses []*messages.Status
	var best, bestTerm uint64
	for _, id := range ids {
		st, err := c.status(id)
		if err != nil {
			continue
		}
		statuses = append(statuses, st)
		if st.Role == "leader" {
			if other, ok := leaders[st.Term]; ok && other != id {
				c.t.Fatalf("election safety: nodes %d and %d both lead term %d", other, id, st.Term)
			}
			leaders[st.Term] = id
			if st.Term >= bestTerm {
				best, bestTerm = id, st.Term
			}
		}
	}
	if best == 0 {
		return 0
	}
	agree := 0
	for _, st := range statuses {
		if st.Term == bestTerm && st.LeaderId == best {
			agree++
		}
	}
	if agree <= len(ids)/2 {
		return 0
	}
	return best
}

// live returns the running nodes that are voters (or, not knowing any configuration yet,
// bootstrapped ones): the nodes a leader must be agreed on by.
func (c *cluster) live() []uint64 {
	var ids []uint64
	for id := uint64(1); id <= uint64(len(c.nodes)); id++ {
		if !c.alive(id) {
			continue
		}
		if st, err := c.status(id); err == nil && st.Role == "learner" {
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// addSpares starts n more nodes with empty stores and no bootstrap configuration: they
// wait to be added by a configuration change. It returns their ids.
func (c *cluster) addSpares(n int) []uint64 {
	var ids []uint64
	for i := 0; i < n; i++ {
		id := uint64(len(c.nodes) + 1)
		c.nodes[id] = &node{id: id, address: freeAddress(c.t), dir: c.t.TempDir(), spare: true}
		c.start(id)
		ids = append(ids, id)
	}
	return ids
}

// memberList names the given nodes as configuration members.
func (c *cluster) memberList(ids ...uint64) []*messages.Member {
	var out []*messages.Member
	for _, id := range ids {
		out = append(out, &messages.Member{Id: id, Address: c.nodes[id].address})
	}
	return out
}

// changeConfig asks node id to move the cluster to members and waits for the answer.
func (c *cluster) changeConfig(id uint64, members []*messages.Member, timeout time.Duration) *messages.ChangeConfigurationResult {
	n := c.nodes[id]
	n.mu.Lock()
	ep, pid := n.endpoint, n.pid
	n.mu.Unlock()
	if ep == nil {
		return &messages.ChangeConfigurationResult{Code: messages.ErrorCode_ERROR_CODE_UNAVAILABLE, Error: "node down"}
	}
	res, err := ep.System.Root.RequestFuture(pid, &messages.ChangeConfiguration{Members: members}, timeout).Result()
	if err != nil {
		return &messages.ChangeConfigurationResult{Code: messages.ErrorCode_ERROR_CODE_TIMEOUT, Error: err.Error()}
	}
	return res.(*messages.ChangeConfigurationResult)
}

// voterIDs lists the ids of a member list.
func voterIDs(ms []*messages.Member) []uint64 {
	var ids []uint64
	for _, m := range ms {
		ids = append(ids, m.Id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// waitConfig waits until every given node holds exactly the voters want, out of joint consensus.
func (c *cluster) waitConfig(ids []uint64, want []uint64, timeout time.Duration) {
	c.t.Helper()
	reached := func() bool {
		for _, id := range ids {
			st, err := c.status(id)
			if err != nil || len(st.Config.GetOldVoters()) > 0 || !slices.Equal(voterIDs(st.Config.GetVoters()), want) {
				return false
			}
		}
		return true
	}
	if !waitFor(timeout, 20*time.Millisecond, reached) {
		// Described now, at the deadline: what the nodes hold when the wait gives up.
		require.FailNowf(c.t, "configuration not reached", "nodes %v did not reach configuration %v within %v: %s",
			ids, want, timeout, c.describe())
	}
}

// waitFor polls cond every tick until it holds (true) or timeout passes (false).
func waitFor(timeout, tick time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(tick) // a polling interval, not synchronisation: cond decides
	}
}

// describe summarises every live node's status for failure messages.
func (c *cluster) describe() string {
	out := ""
	for id := uint64(1); id <= uint64(len(c.nodes)); id++ {
		st, err := c.status(id)
		if err != nil {
			out += fmt.Sprintf("\n  node %d: %v", id, err)
			continue
		}
		out += fmt.Sprintf("\n  node %d: %s term %d leader %d last %d commit %d config@%d voters %v old %v learners %v",
			id, st.Role, st.Term, st.LeaderId, st.LastLogIndex, st.CommitIndex, st.ConfigIndex,
			voterIDs(st.Config.GetVoters()), voterIDs(st.Config.GetOldVoters()), voterIDs(st.Config.GetLearners()))
	}
	return out
}

// describeApplied tells, per live node, how many entries its test subscriber received and
// the node's own view of commit, apply and durability, and per member what the leader
// believes it holds.
func (c *cluster) describeApplied() string {
	out := ""
	for _, id := range c.live() {
		got := c.appliedOf(id)
		out += fmt.Sprintf("\n  node %d: subscriber got %d entries", id, len(got))
		st, err := c.status(id)
		if err != nil {
			out += fmt.Sprintf("; status: %v", err)
			continue
		}
		out += fmt.Sprintf("; %s term %d leader %d last %d durable %d commit %d applied %d",
			st.Role, st.Term, st.LeaderId, st.LastLogIndex, st.DurableIndex, st.CommitIndex, st.AppliedIndex)
		for _, m := range st.Members {
			if m.MatchIndex > 0 {
				out += fmt.Sprintf(" match[%d]=%d", m.Id, m.MatchIndex)
			}
		}
	}
	return out
}

// waitLeader waits until a majority of the given nodes (all live ones by default) follow one leader.
func (c *cluster) waitLeader(timeout time.Duration, ids ...uint64) uint64 {
	c.t.Helper()
	if len(ids) == 0 {
		ids = c.live()
	}
	var leader uint64
	require.Eventually(c.t, func() bool {
		leader = c.leaderAmong(ids)
		return leader != 0
	}, timeout, 20*time.Millisecond, "no leader followed by a majority of %v", ids)
	return leader
}

// waitAllFollow waits until every live voter follows one leader, and returns it.
func (c *cluster) waitAllFollow(timeout time.Duration) uint64 {
	c.t.Helper()
	var leader uint64
	require.Eventually(c.t, func() bool {
		ids := c.live()
		leader = c.leaderAmong(ids)
		if leader == 0 {
			return false
		}
		for _, id := range ids {
			if st, err := c.status(id); err != nil || st.LeaderId != leader {
				return false
			}
		}
		return true
	}, timeout, 10*time.Millisecond, "not every node follows one leader")
	return leader
}

// submit sends a command to a node and waits for its result.
func (c *cluster) submit(id uint64, cmd []byte, timeout time.Duration) *messages.SubmitResult {
	n := c.nodes[id]
	n.mu.Lock()
	ep, pid := n.endpoint, n.pid
	n.mu.Unlock()
	if ep == nil {
		return &messages.SubmitResult{Code: messages.ErrorCode_ERROR_CODE_UNAVAILABLE, Error: "node down"}
	}
	res, err := ep.System.Root.RequestFuture(pid, &messages.Submit{Command: cmd}, timeout).Result()
	if err != nil {
		return &messages.SubmitResult{Code: messages.ErrorCode_ERROR_CODE_TIMEOUT, Error: err.Error()}
	}
	return res.(*messages.SubmitResult)
}

// mustSubmit submits through the current leader and requires it to commit.
func (c *cluster) mustSubmit(cmd []byte) *messages.SubmitResult {
	c.t.Helper()
	leader := c.waitLeader(5 * time.Second)
	r := c.submit(leader, cmd, 5*time.Second)
	require.Equal(c.t, messages.ErrorCode_ERROR_CODE_NONE, r.Code, "submit %q to leader %d: %s", cmd, leader, r.Error)
	return r
}

// appliedOf returns a copy of what node id applied in its current incarnation.
func (c *cluster) appliedOf(id uint64) []*messages.Entry {
	n := c.nodes[id]
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*messages.Entry(nil), n.applied...)
}

// commands returns the command entries among entries.
func commands(entries []*messages.Entry) []string {
	var out []string
	for _, e := range entries {
		if e.Type == messages.EntryType_ENTRY_TYPE_COMMAND {
			out = append(out, string(e.Data))
		}
	}
	return out
}

// waitConverged waits until every live node applied the same entries, at least minIndex of
// them, and returns that sequence. If they never do, the failure says what each node had
// handed its subscriber and what its status was.
func (c *cluster) waitConverged(minIndex uint64, timeout time.Duration) []*messages.Entry {
	c.t.Helper()
	var ref []*messages.Entry
	converged := func() bool {
		ids := c.live()
		ref = c.appliedOf(ids[0])
		if uint64(len(ref)) < minIndex {
			return false
		}
		for _, id := range ids[1:] {
			if len(c.appliedOf(id)) != len(ref) {
				return false
			}
		}
		return true
	}
	if !waitFor(timeout, 20*time.Millisecond, converged) {
		require.FailNowf(c.t, "not converged", "nodes did not converge to %d applied entries within %v:%s",
			minIndex, timeout, c.describeApplied())
	}
	// Same length everywhere: now the same entries.
	for _, id := range c.live() {
		other := c.appliedOf(id)
		for i := range ref {
			require.Equal(c.t, ref[i].Term, other[i].Term, "node %d index %d term", id, i+1)
			require.Equal(c.t, ref[i].Data, other[i].Data, "node %d index %d data", id, i+1)
		}
	}
	return ref
}

// observeFor runs check every 50 ms for d: for properties that must hold over a period
// (a stable term), not for waiting on an event.
func observeFor(d time.Duration, check func()) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for {
		check()
		select {
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}
