package actors

import (
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

func members(ids ...uint64) []*messages.Member {
	var out []*messages.Member
	for _, id := range ids {
		out = append(out, &messages.Member{Id: id, Address: "127.0.0.1:1"})
	}
	return out
}

func TestQuorumIndex(t *testing.T) {
	simple := &messages.Configuration{Voters: members(1, 2, 3)}
	require.Equal(t, uint64(5), quorumIndex(simple, map[uint64]uint64{1: 9, 2: 5, 3: 1}))
	require.Equal(t, uint64(0), quorumIndex(simple, map[uint64]uint64{1: 9}))
	four := &messages.Configuration{Voters: members(1, 2, 3, 4)}
	require.Equal(t, uint64(5), quorumIndex(four, map[uint64]uint64{1: 9, 2: 7, 3: 5, 4: 1}), "4 voters need 3")
	// Joint consensus: a majority of both sets.
	joint := &messages.Configuration{Voters: members(4, 5, 6), OldVoters: members(1, 2, 3)}
	require.Equal(t, uint64(3), quorumIndex(joint, map[uint64]uint64{1: 9, 2: 9, 3: 9, 4: 3, 5: 3, 6: 0}))
	require.Equal(t, uint64(0), quorumIndex(joint, map[uint64]uint64{1: 9, 2: 9, 3: 9}), "old majority alone is not enough")
	// Learners never count.
	withLearner := &messages.Configuration{Voters: members(1, 2, 3), Learners: members(4)}
	require.Equal(t, uint64(2), quorumIndex(withLearner, map[uint64]uint64{1: 2, 2: 2, 4: 9}))
}

func TestCountVotes(t *testing.T) {
	c := &messages.Configuration{Voters: members(1, 2, 3)}
	require.Equal(t, votePending, countVotes(c, map[uint64]bool{1: true}))
	require.Equal(t, voteWon, countVotes(c, map[uint64]bool{1: true, 3: true}))
	require.Equal(t, voteLost, countVotes(c, map[uint64]bool{1: true, 2: false, 3: false}))
	require.Equal(t, votePending, countVotes(c, map[uint64]bool{1: true, 2: false}))
	joint := &messages.Configuration{Voters: members(4, 5, 6), OldVoters: members(1, 2, 3)}
	require.Equal(t, votePending, countVotes(joint, map[uint64]bool{1: true, 2: true, 3: true}))
	require.Equal(t, voteWon, countVotes(joint, map[uint64]bool{1: true, 2: true, 4: true, 5: true}))
	require.Equal(t, voteLost, countVotes(joint, map[uint64]bool{1: true, 2: true, 5: false, 6: false}))
	require.Equal(t, voteLost, countVotes(nil, nil), "no configuration: nobody can win")
}

func TestQuorumActive(t *testing.T) {
	c := &messages.Configuration{Voters: members(1, 2, 3, 4, 5)}
	require.False(t, quorumActive(c, map[uint64]bool{1: true, 2: true}))
	require.True(t, quorumActive(c, map[uint64]bool{1: true, 2: true, 5: true}))
	joint := &messages.Configuration{Voters: members(4, 5, 6), OldVoters: members(1, 2, 3)}
	require.False(t, quorumActive(joint, map[uint64]bool{1: true, 2: true, 3: true, 4: true}))
	require.True(t, quorumActive(joint, map[uint64]bool{1: true, 2: true, 4: true, 5: true}))
}
