package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
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
	tlsCA       string // TLS to the API: CA of the servers' certificates
	tlsCert     string // client certificate and key, for a server that requires one
	tlsKey      string

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
	fs.StringVar(&g.tlsCA, "tls-ca", g.tlsCA, "connect with TLS, verifying the node's certificate against this PEM CA `file` (with -tls-cert alone: the system's CAs)")
	fs.StringVar(&g.tlsCert, "tls-cert", g.tlsCert, "connect with TLS, presenting this PEM client certificate `file` (for a node run with -api-client-ca)")
	fs.StringVar(&g.tlsKey, "tls-key", g.tlsKey, "PEM private key `file` of -tls-cert")
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
	creds, err := g.credentials()
	if err != nil {
		return err
	}
	apiCredentials = creds
	apiTLS, apiClientCert = g.tlsCA != "" || g.tlsCert != "", g.tlsCert != ""
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

// apiCredentials are the transport credentials of every connection to a node's API:
// plaintext unless the -tls-* flags ask for TLS. check sets them before anything is dialled.
var apiCredentials = insecure.NewCredentials()

// apiTLS and apiClientCert say whether those credentials are TLS and present a client
// certificate, for explaining a refused connection.
var apiTLS, apiClientCert bool

// credentials are the transport credentials the -tls-* flags ask for: TLS when any is
// given, verifying the server against -tls-ca (or the system's CAs) and the host of the
// address dialled, presenting -tls-cert when given; plaintext otherwise.
func (g *globals) credentials() (credentials.TransportCredentials, error) {
	if g.tlsCA == "" && g.tlsCert == "" && g.tlsKey == "" {
		return insecure.NewCredentials(), nil
	}
	if (g.tlsCert == "") != (g.tlsKey == "") {
		return nil, fmt.Errorf("-tls-cert and -tls-key go together")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.tlsCA != "" {
		pem, err := os.ReadFile(g.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", g.tlsCA)
		}
	}
	if g.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(g.tlsCert, g.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// dial prepares a connection to addr; it connects on first use.
func dialAPI(addr string) (*grpc.ClientConn, error) {
	return grpc.Dial(addr, grpc.WithTransportCredentials(apiCredentials))
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
		if err := refusedConnection(msg, addr); err != nil {
			return err
		}
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

// refusedConnection explains an UNAVAILABLE message that says the connection was refused or
// cut during or right after the TLS handshake, nil for any other message. How a refusal
// shows depends on timing (with TLS 1.3 the client may finish its side of the handshake
// before the server refuses it), hence the several forms.
func refusedConnection(msg, addr string) error {
	switch {
	case strings.Contains(msg, "authentication handshake failed"):
		return fmt.Errorf("TLS handshake with the node at %s failed: check -tls-ca, -tls-cert and -tls-key (%s)", addr, msg)
	case !strings.Contains(msg, "server preface") && !strings.Contains(msg, "broken pipe") &&
		!strings.Contains(msg, "connection reset") && !strings.Contains(msg, "remote error: tls:"):
		return nil
	case !apiTLS:
		return fmt.Errorf("the node at %s closed the connection: if it serves TLS (-api-cert), give -tls-ca (%s)", addr, msg)
	case !apiClientCert:
		return fmt.Errorf("the node at %s refused the connection: if it requires client certificates (-api-client-ca), give -tls-cert and -tls-key (%s)", addr, msg)
	case strings.Contains(msg, "remote error: tls:"):
		return fmt.Errorf("TLS handshake with the node at %s failed: check -tls-ca, -tls-cert and -tls-key (%s)", addr, msg)
	}
	return nil
}

// notConnected says whether an UNAVAILABLE message is gRPC's own for a connection that could
// not be made (so the request never reached the node).
func notConnected(msg string) bool {
	return strings.Contains(msg, "connection error") || strings.Contains(msg, "Error while dialing")
}
