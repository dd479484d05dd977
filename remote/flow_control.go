package remote

import "google.golang.org/grpc"

// HTTP/2 flow control on peer links. By default gRPC sizes its receive windows with a
// bandwidth-delay-product estimator: the receiver answers every data frame with a
// WINDOW_UPDATE and a PING, and the sender must acknowledge the PING. For Raft's traffic,
// one small AppendEntries or response at a time, that is two extra socket writes (and two
// reads and wake-ups on the other side) for every message. Fixed windows turn the estimator
// off; the receiver then returns credit only after a quarter of the window is used.
//
// The windows bound how much a peer may send before the receiver has read it, not memory
// set aside: protoactor's endpoint reader reads every message as it arrives. They are
// larger than the biggest AppendEntries a leader sends (actors.DefaultMaxAppendBytes), so a
// full batch never waits for credit.
const (
	streamWindowBytes     = 8 << 20
	connectionWindowBytes = 16 << 20
)

// flowControlServerOptions fixes the receive windows of connections peers open to us.
func flowControlServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(streamWindowBytes),
		grpc.InitialConnWindowSize(connectionWindowBytes),
	}
}

// flowControlDialOptions fixes the receive windows of connections we open to peers.
func flowControlDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(streamWindowBytes),
		grpc.WithInitialConnWindowSize(connectionWindowBytes),
	}
}
