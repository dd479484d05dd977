package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Defaults of the global flags; the API address and port base match the daemon's defaults.
const (
	defaultAPI         = "127.0.0.1:9001"
	defaultTimeout     = 30 * time.Second
	defaultAPIPortBase = 9000
	// memberStatusTimeout caps the wait for one member's status in the status table, so a
	// hung member does not hold up the whole table.
	memberStatusTimeout = 3 * time.Second
)

// globals are the flags every command takes.
type globals struct {
	api         string
	timeout     time.Duration
	peers       string
	apiPortBase int

	peerAPIs map[uint64]string // parsed -peers
}

func defaultGlobals() *globals {
	return &globals{api: defaultAPI, timeout: defaultTimeout, apiPortBase: defaultAPIPortBase}
}

// register adds the global flags to fs, with their current values as defaults (so flags
// given before the command survive a second registration).
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.api, "api", g.api, "client API `address` (host:port) of the node to ask")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "deadline of each request")
	fs.StringVar(&g.peers, "peers", g.peers, "client API addresses of members for status, as `ID=HOST:PORT,...`")
	fs.IntVar(&g.apiPortBase, "api-port-base", g.apiPortBase, "status reaches a member not in -peers at the host of its peer address, port `N`+id")
}

// check validates the global flags.
func (g *globals) check() error {
	if _, _, err := net.SplitHostPort(g.api); err != nil {
		return fmt.Errorf("-api %q: want host:port", g.api)
	}
	if g.timeout <= 0 {
		return fmt.Errorf("-timeout must be positive")
	}
	if g.apiPortBase < 0 || g.apiPortBase > 65535 {
		return fmt.Errorf("-api-port-base %d: want 0..65535", g.apiPortBase)
	}
	g.peerAPIs = map[uint64]string{}
	if g.peers != "" {
		peers, err := parsePeers("-peers", g.peers)
		if err != nil {
			return err
		}
		for _, p := range peers {
			g.peerAPIs[p.Id] = p.Address
		}
	}
	return nil
}

// client is a connection to the node at -api.
type client struct {
	g    *globals
	out  io.Writer // where results go
	conn *grpc.ClientConn
	api  raftv1.PeerServiceClient
}

// dial prepares a connection to addr; it connects on first use.
func dialAPI(addr string) (*grpc.ClientConn, error) {
	return grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// dial prepares the connection to the node at -api.
func dial(g *globals) (*client, error) {
	conn, err := dialAPI(g.api)
	if err != nil {
		return nil, fmt.Errorf("-api %q: %v", g.api, err)
	}
	return &client{g: g, conn: conn, api: raftv1.NewPeerServiceClient(conn)}, nil
}

func (c *client) close() { c.conn.Close() }

// request returns a context carrying the request deadline.
func (c *client) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.g.timeout)
}

// explainSubmit is explain for a Submit, whose outcome is unknown when the node was reached
// but did not confirm the commit.
func explainSubmit(err error, addr string) error {
	st, ok := status.FromError(err)
	msg := st.Message()
	if ok && st.Code() == codes.Unavailable && !notConnected(msg) {
		return fmt.Errorf("unavailable: %s (the command may or may not have been committed)", msg)
	}
	return explain(err, addr)
}

// explain turns a failed RPC to the node at addr into plain words.
func explain(err error, addr string) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		if notConnected(msg) {
			return fmt.Errorf("cannot reach the node at %s: is its daemon running with -api %s? (%s)", addr, addr, msg)
		}
		return fmt.Errorf("unavailable: %s (safe to retry)", msg)
	case codes.InvalidArgument:
		return fmt.Errorf("bad request, nothing changed: %s", msg)
	case codes.FailedPrecondition:
		return fmt.Errorf("refused, nothing changed: %s", msg)
	case codes.DeadlineExceeded:
		return fmt.Errorf("no answer in time (the outcome is unknown): %s", msg)
	case codes.Aborted:
		return fmt.Errorf("not committed: %s", msg)
	case codes.OutOfRange:
		return fmt.Errorf("out of range: %s", msg)
	case codes.Unimplemented:
		return fmt.Errorf("the server at %s does not speak raft.v1.PeerService: %s", addr, msg)
	case codes.Canceled:
		return fmt.Errorf("cancelled: %s", msg)
	}
	return fmt.Errorf("%s (%s)", msg, strings.ToLower(strings.ReplaceAll(st.Code().String(), "_", " ")))
}

// notConnected says whether an UNAVAILABLE message is gRPC's own for a connection that could
// not be made (so the request never reached the node).
func notConnected(msg string) bool {
	return strings.Contains(msg, "connection error") || strings.Contains(msg, "Error while dialing")
}
