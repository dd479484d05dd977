package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	protoremote "github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/credentials"
)

// selfSigned returns a throwaway self-signed ECDSA certificate for 127.0.0.1 and a pool
// trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "test"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// tcpPair returns the two ends of a loopback TCP connection (net.Pipe has no buffer, and a
// TLS 1.3 server writing its session tickets would block on it).
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	server, err = l.Accept()
	require.NoError(t, err)
	t.Cleanup(func() {
		server.Close()
		client.Close()
	})
	return server, client
}

// recorder collects reported handshake errors.
type recorder struct {
	mu     sync.Mutex
	errors []HandshakeError
}

func (r *recorder) report(e HandshakeError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, e)
}

func (r *recorder) got() []HandshakeError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]HandshakeError(nil), r.errors...)
}

// A server requiring client certificates reports a client that has none; a client reports
// a server it does not trust; successful handshakes report nothing.
func TestReportHandshakeErrors(t *testing.T) {
	cert, pool := selfSigned(t)
	other, _ := selfSigned(t)
	server := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	var rec recorder
	serverCreds := ReportHandshakeErrors(credentials.NewTLS(server), rec.report).Clone()

	handshake := func(client *tls.Config) error {
		a, b := tcpPair(t)
		done := make(chan error, 1)
		go func() {
			_, _, err := serverCreds.ServerHandshake(a)
			done <- err
		}()
		clientCreds := ReportHandshakeErrors(credentials.NewTLS(client), rec.report)
		_, _, clientErr := clientCreds.ClientHandshake(context.Background(), "127.0.0.1:7001", b)
		if clientErr != nil {
			b.Close() // the server may wait for what the client never sends
		}
		serverErr := <-done
		if clientErr != nil {
			return clientErr
		}
		return serverErr
	}

	// Trusted both ways.
	require.NoError(t, handshake(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}))
	assert.Empty(t, rec.got())

	// No client certificate: the server refuses it.
	assert.Error(t, handshake(&tls.Config{RootCAs: pool}))
	got := rec.got()
	require.Len(t, got, 1)
	assert.True(t, got[0].Incoming, "the server reports the refusal: %v", got)
	assert.ErrorContains(t, got[0].Err, "certificate")

	// A server the client does not trust: the client reports it with the address it dialled.
	rec = recorder{}
	_, otherPool := selfSigned(t)
	assert.Error(t, handshake(&tls.Config{RootCAs: otherPool, Certificates: []tls.Certificate{other}}))
	var outgoing *HandshakeError
	for _, e := range rec.got() {
		if !e.Incoming {
			outgoing = &e
		}
	}
	require.NotNil(t, outgoing, "%v", rec.got())
	assert.Equal(t, "127.0.0.1:7001", outgoing.Address)
	assert.ErrorContains(t, outgoing.Err, "certificate")

	// A handshake abandoned because its context ended is not reported.
	rec = recorder{}
	_, b := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := ReportHandshakeErrors(credentials.NewTLS(&tls.Config{RootCAs: pool}), rec.report).ClientHandshake(ctx, "127.0.0.1:7001", b)
	assert.Error(t, err)
	assert.Empty(t, rec.got())
}

// Without TLS settings the remote dials in plaintext, with ClientTLS with TLS only: the dial
// options are replaced as a whole (protoactor's default holds insecure credentials), and
// both use the patient dialer and fixed flow-control windows (two options each way).
func TestGRPCOptionsReplaceTheDefaults(t *testing.T) {
	plain := protoremote.Configure("127.0.0.1", 0, grpcOptions(EndpointOptions{})...)
	cert, pool := selfSigned(t)
	secure := protoremote.Configure("127.0.0.1", 0, grpcOptions(EndpointOptions{
		TLS:       &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		ClientTLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool},
	})...)
	assert.Len(t, plain.ServerOptions, 2)
	assert.Len(t, plain.DialOptions, 4)
	assert.Len(t, secure.ServerOptions, 3)
	assert.Len(t, secure.DialOptions, 4)
}

// probeTLS takes any answer of a TLS server as proof that it serves, and silence as not.
func TestProbeTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	server := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, NextProtos: []string{"h2"}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, server)
				if tc.Handshake() == nil {
					_, _ = tc.Write([]byte{0}) // as gRPC's SETTINGS frame
				}
			}()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	assert.NoError(t, probeTLS(dial(), &tls.Config{Certificates: []tls.Certificate{cert}}, 2*time.Second))
	assert.NoError(t, probeTLS(dial(), nil, 2*time.Second), "a refusal is an answer")

	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts (backlog) but never serves
	require.NoError(t, err)
	defer silent.Close()
	c, err := net.Dial("tcp", silent.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	assert.Error(t, probeTLS(c, nil, 200*time.Millisecond))
}
