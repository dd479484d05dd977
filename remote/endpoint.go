package remote

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protoremote "github.com/asynkron/protoactor-go/remote"

	// The proto types must be registered before a peer message is deserialized:
	// protoactor looks them up by name and panics on an unknown one.
	_ "github.com/raftsidecar/raft/messages"
)

// EndpointOptions configures StartEndpoint.
type EndpointOptions struct {
	// Logger receives protoactor's own logs. Nil discards them.
	Logger *slog.Logger

	// TLS, when set, makes the endpoint's gRPC server accept TLS connections only, with this
	// configuration. For mutual TLS give it ClientCAs and ClientAuth
	// tls.RequireAndVerifyClientCert: a peer whose certificate does not verify is refused
	// during the handshake, before any message of it is read.
	TLS *tls.Config
	// ClientTLS, when set, makes the connections the endpoint opens to peers use TLS with
	// this configuration instead of plaintext: RootCAs verifies each peer's certificate
	// against the host of its address, Certificates is what the endpoint presents to peers
	// that ask for a client certificate.
	ClientTLS *tls.Config
	// OnHandshakeError, when set, is called after every failed TLS handshake of the
	// endpoint, incoming or outgoing. It is called on gRPC's goroutines and must not block.
	OnHandshakeError func(HandshakeError)
}

// Endpoint is an actor system with protoactor remoting started on one address.
type Endpoint struct {
	// System is the actor system; spawn the node's actors on it and give it to NewTransport.
	System *actor.ActorSystem

	remote *protoremote.Remote

	mu        sync.Mutex
	stopped   bool
	connected map[string]struct{} // peer addresses this endpoint opened a connection to
}

// StartEndpoint creates an actor system whose protoactor logging is discarded unless
// opts.Logger is set, starts remoting listening on address "host:port" and returns it
// once its gRPC server accepts connections. Port 0 picks a free port; Address then
// reports the real one.
//
// Race detector caveat: protoactor's remote start replaces gRPC's process-wide logger
// (grpclog.SetLoggerV2) without synchronization, and every gRPC goroutine reads it. Under
// -race, starting an endpoint while another endpoint of the same process has run gRPC is
// reported as a data race (harmless otherwise). Race-checked tests should start at most
// one endpoint per process and run the other nodes in child processes.
func StartEndpoint(address string, opts EndpointOptions) (*Endpoint, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("remote: bad address %q: %w", address, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("remote: bad port in address %q", address)
	}

	system := actor.NewActorSystem(actor.WithLoggerFactory(loggerFactory(opts.Logger)))
	options := grpcOptions(opts)
	if port != 0 {
		// protoactor names the system by the address it actually bound (an IP) unless told
		// otherwise; a peer that addressed this node by host name ("raft1:7000") would
		// then not be recognised as local and its messages never delivered. The configured
		// address is the node's name in every configuration, so announce exactly that.
		options = append(options, protoremote.WithAdvertisedHost(address))
	}
	r := protoremote.NewRemote(system, protoremote.Configure(host, port, options...))
	if err := startRemote(r); err != nil {
		system.Shutdown()
		return nil, fmt.Errorf("remote: start on %q: %w", address, err)
	}

	e := &Endpoint{System: system, remote: r, connected: make(map[string]struct{})}
	// Subscribe, not SubscribeWithPredicate: that one sets the predicate after the
	// subscription is visible to Publish, unsynchronised, and peers may already be
	// connecting (a data race the race detector reported).
	system.EventStream.Subscribe(e.onEvent)
	if err := waitServing(e.Address(), opts, serveTimeout); err != nil {
		e.Stop()
		return nil, fmt.Errorf("remote: start on %q: %w", address, err)
	}
	return e, nil
}

// startRemote starts r, turning the panic protoactor raises when it cannot listen into an
// error. Start listens before it starts anything else, so a failed listen leaves nothing
// running.
func startRemote(r *protoremote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Start()
	return nil
}

// serveTimeout bounds how long StartEndpoint waits for the gRPC server to serve.
const serveTimeout = 5 * time.Second

// waitServing returns once the gRPC server listening on address accepts connections.
// protoactor starts grpc.Server.Serve on a goroutine; a Stop that comes before Serve has
// registered the listener leaves the socket to be closed later by that goroutine, so the
// address would not be free yet when Stop returns. The server writes its HTTP/2 SETTINGS
// frame as soon as it accepts a connection: reading one byte proves Serve runs. A TLS
// server says nothing before the client's hello: there its answer to a handshake is the
// proof (see probeTLS).
func waitServing(address string, opts EndpointOptions, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", address, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if opts.TLS != nil {
		return probeTLS(conn, opts.ClientTLS, timeout)
	}
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		return fmt.Errorf("server does not answer: %w", err)
	}
	return nil
}

// Address returns the "host:port" the endpoint listens on, with the real port when it was
// started on port 0.
func (e *Endpoint) Address() string {
	return e.System.Address()
}

// Stop shuts the endpoint down as a crash would: the actor system is marked stopped (so
// Transports sending through it drop everything from now on), the gRPC server is killed
// without a graceful drain (peers see their connections break) and the outgoing
// connections to peers are closed. When Stop returns the address can be listened on
// again. Actors spawned on System are not stopped; stop them yourself if they must not run
// on. Stop is idempotent.
func (e *Endpoint) Stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	peers := make([]string, 0, len(e.connected))
	for address := range e.connected {
		peers = append(peers, address)
	}
	e.connected = nil
	e.mu.Unlock()

	e.System.Shutdown()
	e.remote.Shutdown(false)
	for _, address := range peers {
		e.closePeer(address)
	}
}

// onEvent records each peer address an endpoint writer connected to, so that Stop can
// close the connection. A writer that only connects after Stop is closed at once. Other
// events are ignored.
func (e *Endpoint) onEvent(evt any) {
	connected, ok := evt.(*protoremote.EndpointConnectedEvent)
	if !ok {
		return
	}
	address := connected.Address
	e.mu.Lock()
	stopped := e.stopped
	if !stopped {
		e.connected[address] = struct{}{}
	}
	e.mu.Unlock()
	if stopped {
		// Published from the writer's start-up: close it from outside that call.
		go e.closePeer(address)
	}
}

// closePeer makes protoactor drop its endpoint to address: the writer stops and closes
// its gRPC connection, exactly as when the connection is lost.
func (e *Endpoint) closePeer(address string) {
	e.System.EventStream.Publish(&protoremote.EndpointTerminatedEvent{Address: address})
}
