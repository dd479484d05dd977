package remote

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"

	protoremote "github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The options an endpoint hands protoactor fix the flow-control windows, so a peer link does
// not answer each message with a WINDOW_UPDATE and a PING (gRPC's bandwidth estimator).
// Two hundred calls over a connection built with exactly those options, one at a time as
// Raft's heartbeats go: the server must send no PING and at most one WINDOW_UPDATE (with
// gRPC's defaults it sends about one of each per call).
func TestPeerLinksSendNoPerMessageFlowControlFrames(t *testing.T) {
	config := protoremote.Configure("127.0.0.1", 0, grpcOptions(EndpointOptions{})...)

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	server := grpc.NewServer(config.ServerOptions...)
	healthpb.RegisterHealthServer(server, health.NewServer())
	go func() { _ = server.Serve(listener) }()
	defer server.Stop()

	fromServer := &frameCounter{}
	dial := func(ctx context.Context, address string) (net.Conn, error) {
		conn, err := patientDial(ctx, address)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: conn, frames: fromServer}, nil
	}
	// The last dialer option wins: this one only adds counting to the endpoint's own.
	options := append(append([]grpc.DialOption(nil), config.DialOptions...), grpc.WithContextDialer(dial))
	conn, err := grpc.Dial(listener.Addr().String(), options...)
	require.NoError(t, err)
	defer conn.Close()

	client := healthpb.NewHealthClient(conn)
	const calls = 200
	for i := 0; i < calls; i++ {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
	}
	pings, windowUpdates := fromServer.counts()
	assert.Zero(t, pings, "PING frames from the server over %d calls", calls)
	assert.LessOrEqual(t, windowUpdates, 1, "WINDOW_UPDATE frames from the server over %d calls", calls)
}

// HTTP/2 frame types counted by frameCounter.
const (
	http2FramePing         = 0x6
	http2FrameWindowUpdate = 0x8
	http2FrameHeaderBytes  = 9
)

// frameCounter parses the HTTP/2 frames a server sends (no preface in that direction) and
// counts PINGs and WINDOW_UPDATEs.
type frameCounter struct {
	mu            sync.Mutex
	pending       []byte
	pings         int
	windowUpdates int
}

// feed takes the next bytes read from the connection.
func (f *frameCounter) feed(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, b...)
	for len(f.pending) >= http2FrameHeaderBytes {
		length := int(binary.BigEndian.Uint32(append([]byte{0}, f.pending[:3]...)))
		if len(f.pending) < http2FrameHeaderBytes+length {
			return
		}
		switch f.pending[3] {
		case http2FramePing:
			f.pings++
		case http2FrameWindowUpdate:
			f.windowUpdates++
		}
		f.pending = f.pending[http2FrameHeaderBytes+length:]
	}
}

func (f *frameCounter) counts() (pings, windowUpdates int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pings, f.windowUpdates
}

// countingConn feeds every byte it reads to a frameCounter.
type countingConn struct {
	net.Conn
	frames *frameCounter
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.frames.feed(b[:n])
	return n, err
}
