package sidecar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestSidecarSecurityAndMetrics builds the binaries and runs, in parallel, each on its own
// processes: a cluster with mutual TLS between peers and TLS on the API (and an impostor
// that cannot join it), the metrics and pprof endpoint of a live cluster, and a node of
// another cluster id that cannot disturb a cluster.
func TestSidecarSecurityAndMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs clusters of processes")
	}
	bin := buildBinaries(t, t.TempDir())
	t.Run("MutualTLS", func(t *testing.T) {
		t.Parallel()
		testMutualTLS(t, bin)
	})
	t.Run("Metrics", func(t *testing.T) {
		t.Parallel()
		testMetrics(t, bin)
	})
	t.Run("ForeignCluster", func(t *testing.T) {
		t.Parallel()
		testForeignCluster(t, bin)
	})
}

// tlsNode describes node id with peer mTLS (peer's certificate, trusting peerCA), a TLS API
// requiring client certificates of ca, and metrics; its test connection presents client.
func tlsNode(t *testing.T, bin binaries, id uint64, bootstrap bool, ca, peerCA *testCA, peer, api, client keyPair) (*daemon, string) {
	t.Helper()
	metrics := freeAddress(t)
	d := newDaemon(t, bin.raft, id, bootstrap,
		"-peer-cert", peer.cert, "-peer-key", peer.key, "-peer-ca", peerCA.certPath,
		"-api-cert", api.cert, "-api-key", api.key, "-api-client-ca", ca.certPath,
		"-metrics", metrics, "-catch-up-timeout", "3s")
	d.conn = dialTLS(t, d.api, clientTLS(t, ca, &client)) // start keeps a connection already made
	return d, metrics
}

// Three nodes whose peers talk mutual TLS and whose API serves TLS with client
// certificates form a cluster and commit; a fourth node whose peer certificate another CA
// signed cannot join; clients without TLS, without a certificate or with one of another CA
// are refused by the API.
func testMutualTLS(t *testing.T, bin binaries) {
	ca := newTestCA(t, "cluster CA")
	rogue := newTestCA(t, "rogue CA")
	client := ca.issue(t, "client")

	nodes := make([]*daemon, 3)
	metrics := make([]string, 3)
	for i := range nodes {
		id := uint64(i + 1)
		peer := ca.issue(t, fmt.Sprintf("peer-%d", id))
		api := ca.issue(t, fmt.Sprintf("api-%d", id))
		nodes[i], metrics[i] = tlsNode(t, bin, id, i == 0, ca, ca, peer, api, client)
		nodes[i].start()
	}
	waitLeader(t, nodes[0])
	changeConfiguration(t, nodes[0], nodes...)
	for _, d := range nodes {
		waitConfiguration(t, d, nodes...)
	}
	res := submit(t, nodes[2], "over mutual TLS") // a follower forwards it to the leader
	for _, d := range nodes {
		entries := watchUntil(t, d, res.Index, res.Index, 10*time.Second)
		if e := entries[0]; e.Type != raftv1.EntryType_ENTRY_TYPE_COMMAND || string(e.Command) != "over mutual TLS" {
			t.Fatalf("node %d holds %v at index %d", d.id, e, res.Index)
		}
	}

	// The API refuses a plaintext client, a TLS client without a certificate and one whose
	// certificate another CA signed.
	outsider := rogue.issue(t, "outsider")
	refused := map[string]*grpc.ClientConn{
		"plaintext":                 dialPlain(t, nodes[0].api),
		"no client certificate":     dialTLS(t, nodes[0].api, clientTLS(t, ca, nil)),
		"certificate of another CA": dialTLS(t, nodes[0].api, clientTLS(t, ca, &outsider)),
	}
	for what, conn := range refused {
		ctx, cancel := rpcContext(3 * time.Second)
		_, err := raftv1.NewPeerServiceClient(conn).Status(ctx, &raftv1.StatusRequest{})
		cancel()
		conn.Close()
		if err == nil {
			t.Fatalf("%s client: Status answered, want a refusal", what)
		}
		if c := status.Code(err); c != codes.Unavailable {
			t.Fatalf("%s client: %v, want UNAVAILABLE (connection refused)", what, err)
		}
	}

	// raftctl speaks TLS with its -tls-* flags, and is refused without them.
	out, code := runRaftctl(t, bin, "-api", nodes[0].api, "-tls-ca", ca.certPath, "-tls-cert", client.cert, "-tls-key", client.key,
		"-peers", peersFlag(nodes), "status")
	if code != 0 || !strings.Contains(out, "leader") {
		t.Fatalf("raftctl status over TLS: exit %d\n%s", code, out)
	}
	if out, code := runRaftctl(t, bin, "-api", nodes[0].api, "-timeout", "3s", "status"); code != 1 || !strings.Contains(out, "-tls-ca") {
		t.Fatalf("raftctl status in plaintext against a TLS API: exit %d, want 1 and a hint at -tls-ca\n%s", code, out)
	}
	if out, code := runRaftctl(t, bin, "-api", nodes[0].api, "-timeout", "3s", "-tls-ca", ca.certPath, "status"); code != 1 || !strings.Contains(out, "-tls-cert") {
		t.Fatalf("raftctl status without a client certificate: exit %d, want 1 and a hint at -tls-cert\n%s", code, out)
	}

	// An impostor: its peer certificate is signed by another CA (it trusts the cluster's
	// CA, so only the cluster's refusal keeps it out). The leader cannot open a connection
	// to it, its AppendEntries never arrive, and the change fails, changing nothing.
	impostor, impostorMetrics := tlsNode(t, bin, 4, false, ca, ca, rogue.issue(t, "peer-4"), ca.issue(t, "api-4"), client)
	impostor.start()
	leader := nodes[0]
	ctx, cancel := rpcContext(changeTimeout)
	defer cancel()
	_, err := leader.client().ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: configOf(append(nodes, impostor)...)})
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "did not catch up") {
		t.Fatalf("adding the impostor: %v, want UNAVAILABLE: new members did not catch up", err)
	}
	for _, d := range nodes {
		waitConfiguration(t, d, nodes...)
	}
	st := nodeStatus(t, impostor)
	if st.Term != 0 || st.CommitIndex != 0 || st.LastLogIndex != 0 || st.LeaderId != 0 {
		t.Fatalf("the impostor heard from the cluster: %v", st)
	}
	// Both sides saw the handshake fail, counted it and logged it.
	eventually(t, 5*time.Second, "the leader counts refused handshakes to the impostor", func() error {
		return atLeast(metrics[0], `raft_tls_handshake_failures_total{listener="peer",direction="outgoing"}`, 1)
	})
	eventually(t, 5*time.Second, "the impostor counts refused handshakes", func() error {
		return atLeast(impostorMetrics, `raft_tls_handshake_failures_total{listener="peer",direction="incoming"}`, 1)
	})
	if !strings.Contains(leader.logs(), `msg="TLS handshake failed" node=1 listener=peer direction=outgoing`) {
		t.Fatalf("the leader did not log the failed handshake:\n%s", tail(leader.logs(), 4000))
	}
	if !strings.Contains(leader.logs(), `msg="TLS handshake failed" node=1 listener=api direction=incoming`) {
		t.Fatalf("the leader did not log the refused API clients:\n%s", tail(leader.logs(), 4000))
	}
	// The cluster still commits.
	res = submit(t, leader, "still fine")
	for _, d := range nodes {
		watchUntil(t, d, res.Index, res.Index, 10*time.Second)
	}
}

// dialPlain prepares a plaintext gRPC connection to addr.
func dialPlain(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// peersFlag is raftctl's -peers for nodes.
func peersFlag(nodes []*daemon) string {
	parts := make([]string, len(nodes))
	for i, d := range nodes {
		parts[i] = fmt.Sprintf("%d=%s", d.id, d.api)
	}
	return strings.Join(parts, ",")
}

// runRaftctl runs the CLI and returns its output (stdout and stderr) and exit code.
func runRaftctl(t *testing.T, bin binaries, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin.raftctl, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exitErr):
		return out.String(), exitErr.ExitCode()
	}
	t.Fatalf("raftctl %v: %v", args, err)
	return "", -1
}

// atLeast checks that the series key of the metrics at addr is at least min.
func atLeast(addr, key string, min float64) error {
	s, err := scrape(addr)
	if err != nil {
		return err
	}
	v, ok := series(s, key)
	if !ok {
		return fmt.Errorf("no series %s", key)
	}
	if v < min {
		return fmt.Errorf("%s = %v, want >= %v", key, v, min)
	}
	return nil
}

// A node of another cluster id that sends to a cluster's node changes nothing there: the
// messages are dropped and counted.
func testForeignCluster(t *testing.T, bin binaries) {
	alphaMetrics := freeAddress(t)
	alpha := newDaemon(t, bin.raft, 1, true, "-cluster-id", "alpha", "-metrics", alphaMetrics)
	beta := newDaemon(t, bin.raft, 1, true, "-cluster-id", "beta", "-catch-up-timeout", "2s")
	alpha.start()
	beta.start()
	waitLeader(t, alpha)
	waitLeader(t, beta)
	before := nodeStatus(t, alpha)

	// beta's leader tries to bring alpha's node in as its member 2: its AppendEntries reach
	// alpha's node, which drops them.
	ctx, cancel := rpcContext(changeTimeout)
	defer cancel()
	_, err := beta.client().ChangeConfiguration(ctx, &raftv1.ChangeConfigurationRequest{NewConfig: &raftv1.Configuration{
		Peers: []*raftv1.Peer{{Id: 1, Address: beta.addr}, {Id: 2, Address: alpha.addr}},
	}})
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "did not catch up") {
		t.Fatalf("beta adding alpha's node: %v, want UNAVAILABLE: new members did not catch up", err)
	}
	if err := atLeast(alphaMetrics, `raft_dropped_messages_total{reason="foreign_cluster"}`, 1); err != nil {
		t.Fatal(err)
	}
	after := nodeStatus(t, alpha)
	if after.Role != "leader" || after.Term != before.Term || after.LeaderId != 1 || !sameConfig(after.Config, configOf(alpha)) {
		t.Fatalf("alpha's node changed: before %v, after %v", before, after)
	}
	waitConfiguration(t, beta, beta)
}
