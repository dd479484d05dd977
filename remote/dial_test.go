package remote

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// patientDial keeps re-dialling a refused address and connects once something listens.
func TestPatientDialWaitsForTheListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	address := l.Addr().String()
	require.NoError(t, l.Close()) // refused from now on

	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := patientDial(context.Background(), address)
		done <- result{conn, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("dial returned while nothing listened: %v", r.err)
	case <-time.After(5 * dialRetryInterval): // several refused attempts
	}
	l, err = net.Listen("tcp", address)
	require.NoError(t, err)
	defer l.Close()
	r := <-done
	require.NoError(t, r.err)
	r.conn.Close()
}

// A cancelled attempt stops re-dialling at once.
func TestPatientDialStopsWhenCancelled(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	address := l.Addr().String()
	require.NoError(t, l.Close())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := patientDial(ctx, address)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(dialPatience / 2):
		t.Fatal("a cancelled dial kept trying")
	}
}
