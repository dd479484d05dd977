package remote

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPeerPIDNamesTheNodeActor(t *testing.T) {
	pid := PeerPID("127.0.0.1:7001")
	assert.Equal(t, "127.0.0.1:7001", pid.Address)
	assert.Equal(t, NodeActorName, pid.Id)
	assert.Equal(t, "raft", NodeActorName)
}

func TestStartEndpointOnPortZeroReportsTheRealPort(t *testing.T) {
	e := parentEndpoint(t)
	host, port, err := net.SplitHostPort(e.Address())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port)
	assert.Equal(t, e.System.Address(), e.Address())

	// The peer process reports its real address the same way.
	p := startReceiver(t, "127.0.0.1:0")
	_, port, err = net.SplitHostPort(p.Address)
	require.NoError(t, err)
	assert.NotEqual(t, "0", port)
}

func TestStartEndpointRejectsMalformedAddresses(t *testing.T) {
	for _, address := range []string{"no-port", "127.0.0.1:http", "127.0.0.1:70000", ""} {
		_, err := StartEndpoint(address, EndpointOptions{})
		assert.Error(t, err, address)
	}
}

// protoactor panics when it cannot listen; StartEndpoint returns an error instead.
func TestStartEndpointOnBusyAddressFails(t *testing.T) {
	p := startPeer(t, modeAddressInUse)
	line := p.expect("done ")
	assert.Contains(t, line, "address already in use")
}

// The receiver peer calls Stop twice; then the address is free at once for a new endpoint.
func TestStopIsIdempotentAndFreesTheAddress(t *testing.T) {
	p := startReceiver(t, "127.0.0.1:0")
	p.stop()
	again := startReceiver(t, p.Address)
	assert.Equal(t, p.Address, again.Address)
}
