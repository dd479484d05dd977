// Package messages holds the protobuf messages that cross a mailbox: peer RPCs between
// nodes, the public actor API of a RaftNode, and the internal messages between a node's
// actors. raft.pb.go is generated from raft.proto by `make proto`; do not edit it by hand.
package messages
