// Package sidecar tests the sidecar as its users run it: it builds cmd/raft and cmd/raftctl
// with `go build`, starts daemons as real processes on free 127.0.0.1 ports, and drives them
// through the gRPC client API (raft.v1.PeerService) and the CLI: the README's walkthrough,
// every row of the contract's error table, clean shutdown on SIGTERM, and SIGKILL with
// restart from the data directory. The package holds tests only.
package sidecar
