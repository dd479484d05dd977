// Package docker runs a three-node raft sidecar cluster in Docker containers and puts it
// through network and process faults while a client keeps writing.
//
// The test runs only when RAFT_DOCKER_TEST=1 and Docker with compose (docker compose or
// docker-compose) is usable; test/docker/run.sh checks that and runs it:
//
//	bash test/docker/run.sh
//	RAFT_DOCKER_TEST=1 go test -v -count=1 -timeout 15m ./test/docker/
//
// It builds static binaries of cmd/raft and cmd/raftctl, an image FROM scratch holding
// them (Dockerfile), and starts compose.yaml under a project name of its own. Optional
// settings: RAFT_DOCKER_COMPOSE (the compose command, e.g. "docker compose"),
// RAFT_SUBNET_PREFIX (the network's /24, default 172.30.77), RAFT_DOCKER_KEEP_IMAGE=1
// (leave the image behind).
package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"github.com/raftsidecar/raft/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	// electionBound is the stated bound on how long the surviving nodes take to agree on a
	// new leader after the leader's container is killed or paused (the election timeout
	// is drawn from [400 ms, 800 ms)).
	electionBound = 5 * time.Second
	// faultHold is how long a node stays disconnected or paused while the writer goes on.
	faultHold = 5 * time.Second
	// writeInterval paces the writer: at most one Submit started per interval.
	writeInterval = 10 * time.Millisecond
	// submitTimeout is the deadline of one Submit; statusTimeout that of one Status.
	submitTimeout = 3 * time.Second
	statusTimeout = time.Second
	// pollInterval is how often a condition is checked again.
	pollInterval = 25 * time.Millisecond
	// peerPort is the peer port inside each container (compose.yaml).
	peerPort = 7000
)

// node is one cluster member: its container and the client of its published API.
type node struct {
	id        uint64
	service   string // compose service name, raftN
	ip        string // fixed address on the cluster network
	peer      string // peer address, service:7000, as in configurations
	api       string // published API on the host's loopback
	container string // container id
	conn      *grpc.ClientConn
	client    raftv1.PeerServiceClient
}

// cluster is the compose project under test.
type cluster struct {
	t       *testing.T
	compose []string // the compose command: docker-compose, or docker compose
	file    string   // compose.yaml
	project string
	env     []string // environment of every docker and compose command
	network string   // the project's network, as Docker names it
	nodes   []*node
}

func TestDockerCluster(t *testing.T) {
	started := time.Now()
	compose := requireDocker(t)
	c := newCluster(t, compose)
	figures := map[string]string{}
	defer func() {
		if !t.Failed() {
			return
		}
		t.Logf("figures so far: %v", figures)
	}()

	c.up()
	c.form()
	figures["cluster formed after"] = time.Since(started).Round(time.Millisecond).String()

	w := startWriter(t, c.nodes)
	defer w.stop() // after a failure; the normal path stops it before the final checks
	c.waitAcked(w, 20, 30*time.Second, "the writer gets going")

	// (1) A follower is cut off from the network and comes back; it catches up.
	{
		leader := c.leader(10 * time.Second)
		f := c.follower(leader)
		before := c.status(f)
		c.docker("network", "disconnect", c.network, f.container)
		disconnectedAt := time.Now()
		ackedBefore := w.ackedCount()
		c.hold(w, faultHold, fmt.Sprintf("node %d disconnected", f.id))
		// The other two are a quorum: writes must go on without it.
		c.waitAcked(w, ackedBefore+1, 15*time.Second, fmt.Sprintf("a write is acknowledged while node %d is disconnected", f.id))
		during := w.ackedCount() - ackedBefore
		target := c.maxCommit(f) // what the others committed while it was away
		c.docker("network", "connect", "--ip", f.ip, "--alias", f.service, c.network, f.container)
		reconnectedAt := time.Now()
		took := c.waitCaughtUp(f, target, 30*time.Second)
		t.Logf("(1) node %d disconnected for %v at commit %d: %d writes acknowledged meanwhile; after reconnecting it reached the others' commit index %d in %v",
			f.id, reconnectedAt.Sub(disconnectedAt).Round(time.Millisecond), before.CommitIndex, during, target, took.Round(time.Millisecond))
		figures["catch-up after reconnect"] = took.Round(time.Millisecond).String()
	}

	// (2) The leader's container is killed (SIGKILL); the others elect a new leader within
	// electionBound; the old leader is started again and catches up.
	{
		leader := c.leader(10 * time.Second)
		c.docker("kill", leader.container)
		killedAt := time.Now()
		newLeader, took := c.waitNewLeader(leader, electionBound+10*time.Second)
		if took > electionBound {
			t.Fatalf("node %d was elected %v after the leader's container was killed: over the bound of %v", newLeader, took, electionBound)
		}
		figures["re-election after kill"] = took.Round(time.Millisecond).String()
		c.waitAcked(w, w.ackedCount()+5, 15*time.Second, "writes resume under the new leader")
		down := time.Since(killedAt)
		c.docker("start", leader.container)
		c.waitServing(leader, 30*time.Second)
		target := c.maxCommit(leader)
		caughtUp := c.waitCaughtUp(leader, target, 30*time.Second)
		t.Logf("(2) killed the leader, node %d: node %d was leader for the others %v later (bound %v); started again after %v down, node %d reached the others' commit index %d %v after its API answered",
			leader.id, newLeader, took.Round(time.Millisecond), electionBound, down.Round(time.Millisecond), leader.id, target, caughtUp.Round(time.Millisecond))
		figures["catch-up after kill and start"] = caughtUp.Round(time.Millisecond).String()
	}

	// (3) A node (the leader, the harder case) is frozen with docker pause, then thawed.
	{
		leader := c.leader(10 * time.Second)
		c.docker("pause", leader.container)
		pausedAt := time.Now()
		unpaused := false
		t.Cleanup(func() {
			if !unpaused {
				c.dockerQuiet("unpause", leader.container)
			}
		})
		newLeader, took := c.waitNewLeader(leader, electionBound+10*time.Second)
		if took > electionBound {
			t.Fatalf("node %d was elected %v after the leader's container was paused: over the bound of %v", newLeader, took, electionBound)
		}
		ackedBefore := w.ackedCount()
		c.hold(w, faultHold-time.Since(pausedAt), fmt.Sprintf("node %d paused", leader.id))
		c.waitAcked(w, ackedBefore+1, 15*time.Second, fmt.Sprintf("a write is acknowledged under the new leader while node %d is paused", leader.id))
		during := w.ackedCount() - ackedBefore
		target := c.maxCommit(leader) // what the others committed while it was frozen
		c.docker("unpause", leader.container)
		unpaused = true
		pausedFor := time.Since(pausedAt)
		caughtUp := c.waitCaughtUp(leader, target, 30*time.Second)
		t.Logf("(3) paused the leader, node %d, for %v: node %d was leader for the others %v later, %d writes acknowledged after that; after unpausing, node %d reached the others' commit index %d in %v",
			leader.id, pausedFor.Round(time.Millisecond), newLeader, took.Round(time.Millisecond), during, leader.id, target, caughtUp.Round(time.Millisecond))
		figures["re-election after pause"] = took.Round(time.Millisecond).String()
		figures["catch-up after unpause"] = caughtUp.Round(time.Millisecond).String()
	}

	// (4) Every container is restarted (SIGTERM, then started again from its volume).
	{
		startedBefore := c.startTimes()
		restartAt := time.Now()
		c.composeRun("restart", "-t", "10")
		restarted := time.Since(restartAt)
		ackedAfterRestart := w.ackedCount()
		for i, started := range c.startTimes() {
			if started == startedBefore[i] {
				t.Fatalf("%s was not restarted: it still runs since %s", c.nodes[i].service, started)
			}
		}
		c.waitAcked(w, ackedAfterRestart+1, 60*time.Second, "a write is acknowledged after the restart")
		resumed := time.Since(restartAt)
		leader, term := c.waitAgreedLeader(30 * time.Second)
		t.Logf("(4) restarted all containers (SIGTERM, then start): the restart command took %v; the first write after it was acknowledged %v after it began; all three follow node %d in term %d",
			restarted.Round(time.Millisecond), resumed.Round(time.Millisecond), leader, term)
		figures["writes resumed after restart-all"] = resumed.Round(time.Millisecond).String()
	}
	c.waitAcked(w, w.ackedCount()+20, 30*time.Second, "the writer carries on")

	// The end: stop writing, let every node reach the same commit index, and read every
	// node's log through Watch.
	w.stop()
	res := w.result()
	if res.violation != nil {
		t.Fatalf("writer: %v", res.violation)
	}
	if len(res.unexpected) > 0 {
		t.Fatalf("writer: Submit failed with codes that say nothing about an unknown outcome: %v", res.unexpected)
	}
	commit, took := c.waitConverged(res.lastIndex(), 60*time.Second)
	t.Logf("all three nodes at commit index %d, %v after the writer stopped", commit, took.Round(time.Millisecond))
	c.checkLogs(commit, res)
	c.waitHealthy(30 * time.Second)

	figures["writes acknowledged"] = strconv.Itoa(len(res.acked))
	figures["writes failed or unknown"] = fmt.Sprintf("%d %v", len(res.unknown), res.codes)
	figures["final commit index"] = strconv.FormatUint(commit, 10)
	figures["total test time"] = time.Since(started).Round(time.Millisecond).String()
	keys := make([]string, 0, len(figures))
	for k := range figures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-34s %s", k+":", figures[k])
	}
	t.Logf("figures (election bound %v, faults held %v):%s", electionBound, faultHold, b.String())
}

// requireDocker skips the test unless RAFT_DOCKER_TEST=1 and Docker with compose is
// usable, and returns the compose command.
func requireDocker(t *testing.T) []string {
	if os.Getenv("RAFT_DOCKER_TEST") != "1" {
		t.Skip("set RAFT_DOCKER_TEST=1 to run the Docker cluster test (or run test/docker/run.sh)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker command on PATH")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("docker info failed, Docker is not usable: %v\n%s", err, lastLines(string(out), 5))
	}
	if s := strings.TrimSpace(os.Getenv("RAFT_DOCKER_COMPOSE")); s != "" {
		return strings.Fields(s)
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	t.Skip("neither docker compose nor docker-compose is available")
	return nil
}

// newCluster builds the binaries and the image and describes the compose project; up
// starts it. Everything it creates is removed when the test ends, whatever the outcome.
func newCluster(t *testing.T, compose []string) *cluster {
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(here, "..", "..")
	project := fmt.Sprintf("rafttest%d%d", os.Getpid(), time.Now().UnixNano()%1e6)
	image := "raftsidecar-test:" + project
	prefix := os.Getenv("RAFT_SUBNET_PREFIX")
	if prefix == "" {
		prefix = "172.30.77"
	}
	c := &cluster{
		t: t, compose: compose, project: project,
		file: filepath.Join(here, "compose.yaml"),
		env:  append(os.Environ(), "RAFT_IMAGE="+image, "RAFT_SUBNET_PREFIX="+prefix),
	}
	for i := 1; i <= 3; i++ {
		n := &node{
			id:      uint64(i),
			service: fmt.Sprintf("raft%d", i),
			ip:      fmt.Sprintf("%s.%d", prefix, 10+i),
			api:     freeLoopbackAddress(t),
		}
		n.peer = net.JoinHostPort(n.service, strconv.Itoa(peerPort)) // peers name each other by service
		_, port, _ := net.SplitHostPort(n.api)
		c.env = append(c.env, fmt.Sprintf("RAFT_API_PORT_%d=%s", i, port))
		c.nodes = append(c.nodes, n)
	}

	// Static binaries, then an image holding nothing else.
	buildStart := time.Now()
	ctxDir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", ctxDir+string(filepath.Separator),
		"github.com/raftsidecar/raft/cmd/raft", "github.com/raftsidecar/raft/cmd/raftctl")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dockerfile, err := os.ReadFile(filepath.Join(here, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), dockerfile, 0o644); err != nil {
		t.Fatal(err)
	}
	binDone := time.Since(buildStart)
	t.Cleanup(func() {
		if os.Getenv("RAFT_DOCKER_KEEP_IMAGE") != "1" {
			c.dockerQuiet("rmi", "-f", image)
		}
	})
	c.docker("build", "-q", "-t", image, ctxDir)
	t.Logf("built the binaries in %v and the image %s in %v more; compose command: %s; project %s; network %s.0/24",
		binDone.Round(time.Millisecond), image, (time.Since(buildStart) - binDone).Round(time.Millisecond),
		strings.Join(compose, " "), project, prefix)
	return c
}

// up starts the three containers and connects a client to each published API.
func (c *cluster) up() {
	t := c.t
	t.Cleanup(c.down)
	c.composeRun("up", "-d")
	for _, n := range c.nodes {
		n.container = strings.TrimSpace(c.composeRun("ps", "-q", n.service))
		if n.container == "" {
			t.Fatalf("compose has no container for %s", n.service)
		}
	}
	nets := strings.Fields(c.docker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", c.nodes[0].container))
	if len(nets) != 1 {
		t.Fatalf("container %s is on networks %v, want exactly one", c.nodes[0].service, nets)
	}
	c.network = nets[0]
	for _, n := range c.nodes {
		conn, err := grpc.Dial(n.api,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			// Reconnect soon after a container comes back, not after gRPC's default
			// backoff of up to two minutes.
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
				MinConnectTimeout: 2 * time.Second,
			}))
		if err != nil {
			t.Fatal(err)
		}
		n.conn = conn
		n.client = raftv1.NewPeerServiceClient(conn)
		t.Cleanup(func() { conn.Close() })
	}
	for _, n := range c.nodes {
		c.waitServing(n, 30*time.Second)
	}
}

// down removes the project: containers, network and volumes. It runs even after a
// failure, first showing the containers' logs.
func (c *cluster) down() {
	if c.t.Failed() {
		for _, n := range c.nodes {
			if n.container == "" {
				continue
			}
			out, _ := exec.Command("docker", "logs", "--tail", "60", n.container).CombinedOutput()
			c.t.Logf("last logs of %s (node %d):\n%s", n.service, n.id, out)
		}
	}
	for _, n := range c.nodes {
		if n.container != "" {
			c.dockerQuiet("unpause", n.container)
		}
	}
	args := append(slices.Clone(c.compose[1:]), "-f", c.file, "-p", c.project, "down", "-v", "--remove-orphans", "-t", "5")
	cmd := exec.Command(c.compose[0], args...)
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Logf("compose down: %v\n%s", err, out)
	}
	if c.network != "" {
		c.dockerQuiet("network", "rm", c.network)
	}
}

// form adds nodes 2 and 3 to node 1's one-member cluster with one ChangeConfiguration.
func (c *cluster) form() {
	t := c.t
	first := c.nodes[0]
	eventually(t, 20*time.Second, "node 1 leads its bootstrap cluster", func() error {
		st, err := c.tryStatus(first)
		if err != nil {
			return err
		}
		if st.Role != "leader" {
			return fmt.Errorf("role %q", st.Role)
		}
		return nil
	})
	want := &raftv1.Configuration{}
	for _, n := range c.nodes {
		want.Peers = append(want.Peers, &raftv1.Peer{Id: n.id, Address: n.peer})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := first.client.ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: want})
	if err != nil {
		t.Fatalf("ChangeConfiguration through node 1: %v", err)
	}
	if !sameConfig(res.Config, want) {
		t.Fatalf("ChangeConfiguration answered %v, want %v", res.Config, want)
	}
	for _, n := range c.nodes {
		eventually(t, 20*time.Second, fmt.Sprintf("node %d has the configuration", n.id), func() error {
			ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
			defer cancel()
			got, err := n.client.GetConfiguration(ctx, &raftv1.GetConfigurationRequest{})
			if err != nil {
				return err
			}
			if !sameConfig(got.Config, want) {
				return fmt.Errorf("configuration %v", got.Config)
			}
			return nil
		})
	}
	t.Logf("cluster formed: configuration %s committed at index %d", configString(want), res.Index)
}

// docker runs a docker command and returns its standard output; it fails the test when
// the command fails.
func (c *cluster) docker(args ...string) string {
	c.t.Helper()
	return c.run("docker", args...)
}

// dockerQuiet runs a docker command for cleaning up and ignores the outcome.
func (c *cluster) dockerQuiet(args ...string) {
	cmd := exec.Command("docker", args...)
	cmd.Env = c.env
	_ = cmd.Run()
}

// composeRun runs a compose command on the project.
func (c *cluster) composeRun(args ...string) string {
	c.t.Helper()
	full := append(slices.Clone(c.compose[1:]), "-f", c.file, "-p", c.project)
	return c.run(c.compose[0], append(full, args...)...)
}

func (c *cluster) run(name string, args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// tryStatus asks n for its status once.
func (c *cluster) tryStatus(n *node) (*raftv1.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	return n.client.Status(ctx, &raftv1.StatusRequest{})
}

// status returns n's status, waiting a little for it to answer.
func (c *cluster) status(n *node) *raftv1.StatusResponse {
	c.t.Helper()
	var st *raftv1.StatusResponse
	eventually(c.t, 10*time.Second, fmt.Sprintf("node %d answers Status", n.id), func() error {
		var err error
		st, err = c.tryStatus(n)
		return err
	})
	return st
}

// waitServing waits until n's API answers.
func (c *cluster) waitServing(n *node, timeout time.Duration) {
	c.t.Helper()
	eventually(c.t, timeout, fmt.Sprintf("node %d serves its API at %s", n.id, n.api), func() error {
		_, err := c.tryStatus(n)
		return err
	})
}

// leader waits until a node reports itself leader with the highest term any node reports,
// and returns it.
func (c *cluster) leader(timeout time.Duration) *node {
	c.t.Helper()
	var leader *node
	eventually(c.t, timeout, "a leader is known", func() error {
		var best *raftv1.StatusResponse
		leader = nil
		for _, n := range c.nodes {
			st, err := c.tryStatus(n)
			if err != nil {
				continue
			}
			if st.Role == "leader" && (best == nil || st.Term > best.Term) {
				best, leader = st, n
			}
		}
		if leader == nil {
			return errors.New("no node reports itself leader")
		}
		return nil
	})
	return leader
}

// follower returns a node other than leader.
func (c *cluster) follower(leader *node) *node {
	for _, n := range c.nodes {
		if n != leader {
			return n
		}
	}
	panic("no follower")
}

// waitNewLeader waits until every node but old names one and the same leader other than
// old, and returns it with the time that took.
func (c *cluster) waitNewLeader(old *node, timeout time.Duration) (uint64, time.Duration) {
	c.t.Helper()
	start := time.Now()
	var leader uint64
	eventually(c.t, timeout, fmt.Sprintf("the others agree on a leader other than node %d", old.id), func() error {
		leader = 0
		for _, n := range c.nodes {
			if n == old {
				continue
			}
			st, err := c.tryStatus(n)
			if err != nil {
				return fmt.Errorf("node %d: %v", n.id, err)
			}
			if st.LeaderId == 0 || st.LeaderId == old.id {
				return fmt.Errorf("node %d sees leader %d in term %d", n.id, st.LeaderId, st.Term)
			}
			if leader != 0 && st.LeaderId != leader {
				return fmt.Errorf("nodes disagree: leader %d and %d", leader, st.LeaderId)
			}
			leader = st.LeaderId
		}
		return nil
	})
	return leader, time.Since(start)
}

// maxCommit returns the highest commit index any reachable node but except reports.
func (c *cluster) maxCommit(except *node) uint64 {
	var best uint64
	for _, n := range c.nodes {
		if n == except {
			continue
		}
		if st, err := c.tryStatus(n); err == nil {
			best = max(best, st.CommitIndex)
		}
	}
	return best
}

// waitAgreedLeader waits until all nodes name the same leader in the same term, and that
// node reports itself leader.
func (c *cluster) waitAgreedLeader(timeout time.Duration) (uint64, uint64) {
	c.t.Helper()
	var leader, term uint64
	eventually(c.t, timeout, "all nodes follow one leader", func() error {
		leader, term = 0, 0
		roles := map[uint64]string{}
		for _, n := range c.nodes {
			st, err := c.tryStatus(n)
			if err != nil {
				return fmt.Errorf("node %d: %v", n.id, err)
			}
			roles[n.id] = st.Role
			if st.LeaderId == 0 || (leader != 0 && (st.LeaderId != leader || st.Term != term)) {
				return fmt.Errorf("node %d sees leader %d in term %d", n.id, st.LeaderId, st.Term)
			}
			leader, term = st.LeaderId, st.Term
		}
		if roles[leader] != "leader" {
			return fmt.Errorf("node %d is named leader but is %s", leader, roles[leader])
		}
		return nil
	})
	return leader, term
}

// startTimes returns when each node's container was last started, as Docker says.
func (c *cluster) startTimes() []string {
	c.t.Helper()
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = strings.TrimSpace(c.docker("inspect", "-f", "{{.State.StartedAt}}", n.container))
	}
	return out
}

// waitCaughtUp waits until n has committed and applied index target, and returns how long
// that took.
func (c *cluster) waitCaughtUp(n *node, target uint64, timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	eventually(c.t, timeout, fmt.Sprintf("node %d reaches commit index %d", n.id, target), func() error {
		st, err := c.tryStatus(n)
		if err != nil {
			return err
		}
		if st.CommitIndex < target || st.AppliedIndex < target {
			return fmt.Errorf("commit %d, applied %d", st.CommitIndex, st.AppliedIndex)
		}
		return nil
	})
	return time.Since(start)
}

// waitConverged waits until all nodes report the same commit index, at least atLeast, with
// everything applied, and returns it.
func (c *cluster) waitConverged(atLeast uint64, timeout time.Duration) (uint64, time.Duration) {
	c.t.Helper()
	start := time.Now()
	var commit uint64
	eventually(c.t, timeout, "every node reaches the same commit index", func() error {
		var seen []string
		commit = 0
		for i, n := range c.nodes {
			st, err := c.tryStatus(n)
			if err != nil {
				return fmt.Errorf("node %d: %v", n.id, err)
			}
			seen = append(seen, fmt.Sprintf("node %d: %s term %d commit %d applied %d", n.id, st.Role, st.Term, st.CommitIndex, st.AppliedIndex))
			if i == 0 {
				commit = st.CommitIndex
			}
			if st.CommitIndex != commit || st.AppliedIndex != st.CommitIndex || st.CommitIndex < atLeast {
				commit = 0
			}
		}
		if commit == 0 {
			return fmt.Errorf("not in step (want at least %d): %s", atLeast, strings.Join(seen, "; "))
		}
		return nil
	})
	return commit, time.Since(start)
}

// waitAcked waits until the writer has count acknowledged writes.
func (c *cluster) waitAcked(w *writer, count int, timeout time.Duration, what string) {
	c.t.Helper()
	eventually(c.t, timeout, what, func() error {
		if err := w.failed(); err != nil {
			return stop{err}
		}
		if n := w.ackedCount(); n < count {
			return fmt.Errorf("%d writes acknowledged, waiting for %d", n, count)
		}
		return nil
	})
}

// hold lets d pass while the writer goes on, giving up early if the writer fails.
func (c *cluster) hold(w *writer, d time.Duration, what string) {
	c.t.Helper()
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-w.done:
		c.t.Fatalf("the writer stopped while %s: %v", what, w.failed())
	}
}

// waitHealthy waits until Docker reports every container healthy: the image's health
// check (raftctl inside a container with no shell) works.
func (c *cluster) waitHealthy(timeout time.Duration) {
	c.t.Helper()
	eventually(c.t, timeout, "Docker reports every container healthy", func() error {
		for _, n := range c.nodes {
			cmd := exec.Command("docker", "inspect", "-f", "{{.State.Health.Status}}", n.container)
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("docker inspect %s: %v", n.service, err)
			}
			if s := strings.TrimSpace(string(out)); s != "healthy" {
				return fmt.Errorf("%s is %s", n.service, s)
			}
		}
		return nil
	})
}

// checkLogs reads every node's committed log through Watch from index 1 up to commit and
// checks that the logs are one and the same sequence, that every acknowledged write is in
// it at its index with its term, and that no command is there twice or was never sent.
func (c *cluster) checkLogs(commit uint64, res writerResult) {
	t := c.t
	var first []*raftv1.Entry
	for _, n := range c.nodes {
		entries := c.watch(n, commit)
		if first == nil {
			first = entries
			continue
		}
		for i := range first {
			if !proto.Equal(first[i], entries[i]) {
				t.Fatalf("node %d: entry %d is %v, but node %d has %v", n.id, i+1, entries[i], c.nodes[0].id, first[i])
			}
		}
	}
	for _, a := range res.acked {
		e := first[a.index-1]
		if e.Type != raftv1.EntryType_ENTRY_TYPE_COMMAND || string(e.Command) != a.command || e.Term != a.term {
			t.Fatalf("%q was acknowledged at index %d in term %d, but the log has %v there", a.command, a.index, a.term, e)
		}
	}
	seen := map[string]uint64{}
	kinds := map[raftv1.EntryType]int{}
	unknownCommitted := 0
	for _, e := range first {
		kinds[e.Type]++
		if e.Type != raftv1.EntryType_ENTRY_TYPE_COMMAND {
			continue
		}
		cmd := string(e.Command)
		if prev, dup := seen[cmd]; dup {
			t.Fatalf("command %q is in the log twice, at %d and %d; the writer sent it once", cmd, prev, e.Index)
		}
		seen[cmd] = e.Index
		if _, ok := res.unknown[cmd]; ok {
			unknownCommitted++
		} else if !res.ackedCommands[cmd] {
			t.Fatalf("command %q at index %d was never sent", cmd, e.Index)
		}
	}
	t.Logf("every node's Watch from 1 to %d is the same sequence (%d commands, %d configurations, %d no-ops); all %d acknowledged writes are in it at their index and term; %d of the %d writes with an unknown outcome were committed",
		commit, kinds[raftv1.EntryType_ENTRY_TYPE_COMMAND], kinds[raftv1.EntryType_ENTRY_TYPE_CONFIG], kinds[raftv1.EntryType_ENTRY_TYPE_NOOP],
		len(res.acked), unknownCommitted, len(res.unknown))
}

// watch reads n's Watch stream from index 1 until it has delivered index until.
func (c *cluster) watch(n *node, until uint64) []*raftv1.Entry {
	t := c.t
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream, err := n.client.Watch(ctx, &raftv1.WatchRequest{FromIndex: 1})
	if err != nil {
		t.Fatalf("Watch node %d: %v", n.id, err)
	}
	entries := make([]*raftv1.Entry, 0, until)
	for uint64(len(entries)) < until {
		e, err := stream.Recv()
		if err != nil {
			t.Fatalf("Watch node %d: after %d entries (want %d): %v", n.id, len(entries), until, err)
		}
		if want := uint64(len(entries)) + 1; e.Index != want {
			t.Fatalf("Watch node %d: entry %d where %d was due", n.id, e.Index, want)
		}
		entries = append(entries, e)
	}
	return entries
}

// ack is one acknowledged write.
type ack struct {
	index, term uint64
	command     string
}

// writer submits commands one after another through whichever node answers, moving on
// to the next node after an error, and records every outcome.
type writer struct {
	t      *testing.T
	nodes  []*node
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	acked     []ack
	unknown   map[string]codes.Code // commands whose outcome is unknown, with the code
	codes     map[codes.Code]int
	violation error // a broken guarantee seen by the writer itself
}

// writerResult is what the writer saw, once it has stopped.
type writerResult struct {
	acked         []ack
	ackedCommands map[string]bool
	unknown       map[string]codes.Code
	codes         map[codes.Code]int
	unexpected    map[codes.Code]int
	violation     error
}

func (r writerResult) lastIndex() uint64 {
	if len(r.acked) == 0 {
		return 0
	}
	return r.acked[len(r.acked)-1].index
}

func startWriter(t *testing.T, nodes []*node) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{t: t, nodes: nodes, cancel: cancel, done: make(chan struct{}),
		unknown: map[string]codes.Code{}, codes: map[codes.Code]int{}}
	go w.run(ctx)
	return w
}

func (w *writer) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(writeInterval)
	defer tick.Stop()
	cur := 0
	var last uint64
	for seq := 1; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cmd := fmt.Sprintf("w%06d", seq)
		n := w.nodes[cur]
		rctx, cancel := context.WithTimeout(ctx, submitTimeout)
		res, err := n.client.Submit(rctx, &raftv1.SubmitRequest{Command: []byte(cmd)})
		cancel()
		w.mu.Lock()
		switch {
		case err != nil:
			code := status.Code(err)
			w.unknown[cmd] = code
			w.codes[code]++
			cur = (cur + 1) % len(w.nodes)
		case res.Index <= last:
			w.violation = fmt.Errorf("%q acknowledged at index %d through node %d, not above the index %d of the write acknowledged before it was sent", cmd, res.Index, n.id, last)
		default:
			last = res.Index
			w.acked = append(w.acked, ack{index: res.Index, term: res.Term, command: cmd})
		}
		stopNow := w.violation != nil
		w.mu.Unlock()
		if stopNow {
			return
		}
	}
}

// stop ends the writer and waits for it; calling it again does nothing.
func (w *writer) stop() {
	w.cancel()
	<-w.done
}

func (w *writer) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// failed returns the writer's violation, if any.
func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.violation
}

// result returns what the stopped writer saw.
func (w *writer) result() writerResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := writerResult{acked: w.acked, ackedCommands: map[string]bool{}, unknown: w.unknown, codes: w.codes,
		unexpected: map[codes.Code]int{}, violation: w.violation}
	for _, a := range w.acked {
		r.ackedCommands[a.command] = true
	}
	for code, count := range w.codes {
		switch code {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		default:
			r.unexpected[code] = count
		}
	}
	return r
}

// stop wraps an error that makes eventually give up at once.
type stop struct{ error }

// eventually calls try until it returns nil and fails the test with the last error if
// that does not happen within timeout, or at once when try returns a stop error.
func eventually(t *testing.T, timeout time.Duration, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := try()
		if err == nil {
			return
		}
		var s stop
		if errors.As(err, &s) {
			t.Fatalf("%s: %v", what, s.error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		<-tick.C
	}
}

// freeLoopbackAddress returns a loopback address free a moment ago and never handed out
// before in this process (see remote.FreeLoopbackAddress).
func freeLoopbackAddress(t *testing.T) string {
	addr, err := remote.FreeLoopbackAddress()
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	return addr
}

// sameConfig compares configurations as sets of peers.
func sameConfig(a, b *raftv1.Configuration) bool {
	return configString(a) == configString(b)
}

// configString is "id=address,..." in id order.
func configString(c *raftv1.Configuration) string {
	peers := slices.Clone(c.GetPeers())
	slices.SortFunc(peers, func(x, y *raftv1.Peer) int { return int(x.Id) - int(y.Id) })
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = fmt.Sprintf("%d=%s", p.Id, p.Address)
	}
	return strings.Join(parts, ",")
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
