package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	protoremote "github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// HandshakeError is a failed TLS handshake on a gRPC connection.
type HandshakeError struct {
	// Incoming is true for a connection a client opened to this server, false for one this
	// side opened.
	Incoming bool
	// Address is the other side: the client's "host:port" for an incoming connection, the
	// address dialled for an outgoing one.
	Address string
	// Err is the handshake's error.
	Err error
}

// grpcOptions turns opts into protoactor remote options: the TLS settings, fixed flow-control
// windows (flow_control.go) and the patient dialer (dial.go) on every outgoing connection.
// protoactor's default dial options hold just insecure credentials; WithDialOptions replaces
// that list as a whole, so with ClientTLS set no connection to a peer is ever opened in
// plaintext.
func grpcOptions(opts EndpointOptions) []protoremote.ConfigOption {
	serverOptions := flowControlServerOptions()
	if opts.TLS != nil {
		creds := ReportHandshakeErrors(credentials.NewTLS(opts.TLS), opts.OnHandshakeError)
		serverOptions = append(serverOptions, grpc.Creds(creds))
	}
	clientCreds := insecure.NewCredentials()
	if opts.ClientTLS != nil {
		clientCreds = ReportHandshakeErrors(credentials.NewTLS(opts.ClientTLS), opts.OnHandshakeError)
	}
	dialOptions := append(flowControlDialOptions(), grpc.WithTransportCredentials(clientCreds), patientDialOption())
	return []protoremote.ConfigOption{
		protoremote.WithServerOptions(serverOptions...),
		protoremote.WithDialOptions(dialOptions...),
	}
}

// ReportHandshakeErrors returns creds that call report after every failed handshake, on
// either side (report nil: creds unchanged). An outgoing handshake abandoned because its
// context ended (the connection was being closed) is not a failure and is not reported.
func ReportHandshakeErrors(creds credentials.TransportCredentials, report func(HandshakeError)) credentials.TransportCredentials {
	if report == nil {
		return creds
	}
	return reportingCredentials{TransportCredentials: creds, report: report}
}

// reportingCredentials wraps transport credentials to report failed handshakes.
type reportingCredentials struct {
	credentials.TransportCredentials
	report func(HandshakeError)
}

// ClientHandshake implements credentials.TransportCredentials.
func (c reportingCredentials) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, conn)
	if err != nil && ctx.Err() == nil {
		c.report(HandshakeError{Incoming: false, Address: authority, Err: err})
	}
	return out, info, err
}

// ServerHandshake implements credentials.TransportCredentials.
func (c reportingCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.report(HandshakeError{Incoming: true, Address: conn.RemoteAddr().String(), Err: err})
	}
	return out, info, err
}

// Clone implements credentials.TransportCredentials.
func (c reportingCredentials) Clone() credentials.TransportCredentials {
	return reportingCredentials{TransportCredentials: c.TransportCredentials.Clone(), report: c.report}
}

// probeTLS is waitServing's proof for a TLS server: it starts a handshake on conn and
// waits for the server's answer. Any answer proves that Serve runs, even a refusal; only
// silence until the deadline does not. The probe talks to this process's own server and
// sends nothing over the connection, so it does not verify the server's certificate; it
// presents the client certificate of clientTLS (if any), so that a server requiring one
// completes the handshake instead of reporting a failure.
func probeTLS(conn net.Conn, clientTLS *tls.Config, timeout time.Duration) error {
	cfg := &tls.Config{}
	if clientTLS != nil {
		cfg = clientTLS.Clone()
	}
	cfg.InsecureSkipVerify = true // our own server: see above
	cfg.NextProtos = []string{"h2"}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	tc := tls.Client(conn, cfg)
	err := tc.Handshake()
	if err == nil {
		// The server's HTTP/2 SETTINGS frame follows its side of the handshake: waiting for
		// it lets the server finish that handshake before the probe hangs up.
		var b [1]byte
		_, err = tc.Read(b[:])
	}
	var netErr net.Error
	if err != nil && errors.As(err, &netErr) && netErr.Timeout() {
		return errors.New("server does not answer a TLS handshake: " + err.Error())
	}
	return nil
}
