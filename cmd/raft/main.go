// Command raft runs one Raft node as a sidecar: the node's peers reach it through protoactor
// remoting on -addr, and applications in any language drive it through the gRPC service
// raft.v1.PeerService (with server reflection) on -api. Its state lives in a LevelDB
// directory, -data.
//
//	raft -id N [-addr HOST:PORT] [-api HOST:PORT] [-data DIR] [-bootstrap] [-log-level LEVEL]
//
// Every flag but -id defaults from the id: -addr 127.0.0.1:(7000+id), -api
// 127.0.0.1:(9000+id), -data ./raft-data-<id>. Start the first node of a new cluster with
// -bootstrap; start every other node without it and add it with ChangeConfiguration (see
// raftctl). SIGTERM and SIGINT shut the node down cleanly. Logs go to stderr, one line per
// event, warnings and errors only unless -log-level says otherwise.
//
// -metrics HOST:PORT serves Prometheus metrics at /metrics and pprof at /debug/pprof/;
// -api-cert/-api-key (and -api-client-ca) put the client API behind TLS (mutual TLS);
// -peer-cert/-peer-key/-peer-ca turn on mutual TLS between peers.
//
// Exit status: 0 after a clean shutdown, 1 when the node cannot start or fails, 2 for a bad
// command line.
package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/raftsidecar/raft/actors"
	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/messages/raftv1"
	"github.com/raftsidecar/raft/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/reflection"
)

// shutdownGrace bounds how long a shutdown waits for RPCs in flight before cutting them off.
const shutdownGrace = 5 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run runs the daemon until a signal or a node failure and returns the exit status.
func run(args []string, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: opts.logLevel})).With("node", opts.id)

	// Signals are caught from the start, so that a SIGTERM during start-up also ends cleanly.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)

	apiTLS, err := apiTLSConfig(opts)
	if err != nil {
		logger.Error("cannot load the client API's TLS files", "error", err)
		return 1
	}
	peerTLS, peerClientTLS, err := peerTLSConfigs(opts, logger)
	if err != nil {
		logger.Error("cannot load the peer TLS files", "error", err)
		return 1
	}
	m := newMetrics(opts.id, opts.clusterID)
	handshakes := newHandshakeLog(logger, m)

	// Claim the API port before the node starts: a node that cannot be reached by its
	// clients should not join in elections.
	listener, err := net.Listen("tcp", opts.api)
	if err != nil {
		logger.Error("cannot listen for the client API", "api", opts.api, "error", err)
		return 1
	}
	var metricsListener net.Listener
	if opts.metrics != "" {
		if metricsListener, err = net.Listen("tcp", opts.metrics); err != nil {
			listener.Close()
			logger.Error("cannot listen for metrics", "metrics", opts.metrics, "error", err)
			return 1
		}
	}
	cfg := actors.Config{
		ID:              opts.id,
		ClusterID:       opts.clusterID,
		Address:         opts.addr,
		DataDir:         opts.data,
		MaxCommandBytes: opts.maxCommand,
		CatchUpTimeout:  opts.catchUpTimeout,
		Logger:          logger,
	}
	if opts.bootstrap {
		// Used by the store only on its very first start; ignored once state exists.
		cfg.Bootstrap = []*messages.Member{{Id: opts.id, Address: opts.addr}}
	}
	node, err := startNode(cfg, remote.EndpointOptions{
		TLS:              peerTLS,
		ClientTLS:        peerClientTLS,
		OnHandshakeError: handshakes.reporter("peer"),
	})
	if err != nil {
		listener.Close()
		if metricsListener != nil {
			metricsListener.Close()
		}
		logger.Error("cannot start the node", "data", opts.data, "addr", opts.addr, "error", err)
		return 1
	}
	nodeGone := watchNode(node.System(), node.PID())
	stopping := make(chan struct{})
	submits := actors.NewSubmitter(node.System(), node.PID(), defaultRequestTimeout)
	svc := &service{
		system:     node.System(),
		node:       node.PID(),
		submits:    submits,
		maxCommand: opts.maxCommand,
		stopping:   stopping,
		logger:     logger,
	}
	serverOptions := []grpc.ServerOption{
		// Room for a command at the limit with its framing; a command between the limit and
		// this size is refused by the service with INVALID_ARGUMENT, a larger message by gRPC
		// itself with RESOURCE_EXHAUSTED.
		grpc.MaxRecvMsgSize(maxRequestBytes(opts.maxCommand)),
		grpc.ChainUnaryInterceptor(logUnary(logger), metricsUnary(m)),
		grpc.ChainStreamInterceptor(logStream(logger), metricsStream(m)),
	}
	if apiTLS != nil {
		creds := remote.ReportHandshakeErrors(credentials.NewTLS(apiTLS), handshakes.reporter("api"))
		serverOptions = append(serverOptions, grpc.Creds(creds))
	}
	server := grpc.NewServer(serverOptions...)
	raftv1.RegisterPeerServiceServer(server, svc)
	reflection.Register(server)
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	obs := newObserver(m, logger, svc.status)
	polling := obs.run(stopping)
	var metricsSrv *metricsServer
	if metricsListener != nil {
		metricsSrv = serveMetrics(metricsListener, m, obs)
	}
	logger.Info("node running", "addr", opts.addr, "api", opts.api, "data", opts.data,
		"cluster", opts.clusterID, "bootstrap", opts.bootstrap, "metrics", opts.metrics,
		"api_tls", apiTLS != nil, "api_client_certs", apiTLS != nil && apiTLS.ClientCAs != nil,
		"peer_mtls", peerTLS != nil)

	status := 0
	select {
	case sig := <-signals:
		logger.Info("shutting down", "signal", sig.String())
	case <-nodeGone:
		logger.Error("the node stopped by itself; shutting down")
		status = 1
	case err := <-served:
		logger.Error("the client API stopped serving; shutting down", "error", err)
		status = 1
	}
	signal.Stop(signals) // a second signal kills the process at once
	close(stopping)      // ends Watch streams, requests still waiting on the node, the poller
	submits.Close()      // and Submits still waiting
	if metricsSrv != nil {
		metricsSrv.stop(time.Second)
	}
	stopGRPC(server, shutdownGrace)
	<-polling
	if err := node.Close(); err != nil {
		logger.Error("closing the node", "error", err)
		status = 1
	}
	logger.Info("stopped")
	return status
}

// maxRequestBytes is the largest request message the API server reads: the command limit
// with room to spare, so that commands just over the limit get a clear INVALID_ARGUMENT.
func maxRequestBytes(maxCommand int) int {
	return max(4<<20, 2*maxCommand+64<<10)
}

// stopGRPC stops the server gracefully, cutting RPCs still running after grace.
func stopGRPC(server *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		server.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		server.Stop()
		<-done
	}
}
