// Package actors owns one Raft group member as a family of protoactor actors.
//
// RaftNode is the single authority for the role, the current term, the vote, the log and
// the commit index. Its children each own one concern and only propose:
//
//   - Persistence: the only writer of the node's LevelDB store, with group commit.
//   - Election: randomized election timers, PreVote and vote campaigns, leader ticks
//     that drive heartbeats and CheckQuorum.
//   - Replication: one replicator per follower while leading (pipelined, batched,
//     fast conflict backtracking).
//   - Config: the membership and the quorum math (commit index, CheckQuorum).
//   - Applier: committed entries, in order and in batches, to subscribers with
//     back-pressure.
//
// Each actor's logic is a plain Go type (nodeLogic, electionLogic, ...) whose handlers take a
// protobuf message and record the messages to send on an outbox; the protoactor Receive
// functions are thin adapters around them. That keeps the logic deterministic and lets the
// simulator in sim_test.go run a whole cluster in a seeded, single-threaded order.
//
// Applications spawn a node with NewNodeProps (actor API) or start one with NewServer (a
// plain Go facade with Submit and a commit channel).
package actors
