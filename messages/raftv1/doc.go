// Package raftv1 is the sidecar's client API: the gRPC service raft.v1.PeerService served by
// cmd/raft, and its messages. raft.pb.go and raft_grpc.pb.go are generated from raft.proto by
// `make proto`; do not edit them by hand. raft.proto is the public wire contract: names and
// field numbers never change.
package raftv1
