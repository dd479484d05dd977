// Package remote owns the traffic between Raft nodes: it starts protoactor remoting on a
// node's peer address (Endpoint), addresses a peer's RaftNode actor by its (id, address)
// pair (PeerPID, Transport) and, for tests, injects faults per directed link between node
// ids (FaultNetwork: partitions, isolation, drops, duplicates, delays and reordering).
//
// Delivery is best effort: a message may be lost (for instance while a peer restarts),
// and Raft's own retries are what make the protocol progress. Nothing here is Raft logic.
package remote
