package remote

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreeLoopbackAddressNeverRepeatsAndAvoidsEphemeralPorts(t *testing.T) {
	_, high := portsBelowEphemeral()
	seen := map[string]bool{}
	for i := 0; i < 500; i++ {
		addr, err := FreeLoopbackAddress()
		require.NoError(t, err)
		require.False(t, seen[addr], "address %s handed out twice", addr)
		seen[addr] = true

		host, portText, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)
		port, err := strconv.Atoi(portText)
		require.NoError(t, err)
		require.Less(t, port, high, "port in the ephemeral range")

		l, err := net.Listen("tcp", addr) // free when handed out
		require.NoError(t, err)
		require.NoError(t, l.Close())
	}
}

func TestFreeLoopbackAddressSkipsPortsInUse(t *testing.T) {
	addr, err := FreeLoopbackAddress()
	require.NoError(t, err)
	// Occupy the next candidate: it must be skipped.
	loopbackPorts.Lock()
	next := net.JoinHostPort("127.0.0.1", strconv.Itoa(loopbackPorts.next))
	loopbackPorts.Unlock()
	l, err := net.Listen("tcp", next)
	if err != nil {
		t.Skipf("next candidate %s already taken by someone else: %v", next, err)
	}
	defer l.Close()
	got, err := FreeLoopbackAddress()
	require.NoError(t, err)
	require.NotEqual(t, next, got)
	require.NotEqual(t, addr, got)
}
