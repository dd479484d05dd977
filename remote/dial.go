package remote

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"
)

// Connecting to a peer that is down. protoactor's endpoint writer makes a few connection
// attempts to a peer, sleeping two seconds after each failure, while the messages for that
// peer wait in its mailbox. Towards a node that is restarting, a failure at the wrong
// moment would leave the link dead for two seconds after the node is back: longer than an
// election timeout. patientDial keeps each attempt open instead, re-dialling a refused
// address every dialRetryInterval for up to dialPatience, so the link comes up within
// dialRetryInterval of the peer listening again.
const (
	dialRetryInterval = 10 * time.Millisecond
	dialPatience      = 10 * time.Second
)

// patientDial is the dialer of every outgoing peer connection (see above). It gives up
// early when gRPC cancels the attempt (the connection is being closed).
func patientDial(ctx context.Context, address string) (net.Conn, error) {
	deadline := time.Now().Add(dialPatience)
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", address)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil || time.Now().Add(dialRetryInterval).After(deadline) {
			return nil, err
		}
		wait := time.NewTimer(dialRetryInterval)
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil, ctx.Err()
		case <-wait.C:
		}
	}
}

// patientDialOption installs patientDial on a gRPC client connection.
func patientDialOption() grpc.DialOption { return grpc.WithContextDialer(patientDial) }
