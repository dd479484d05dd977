package actors

import (
	"sort"

	"github.com/raftsidecar/raft/messages"
)

// voteResult is the outcome of counting votes so far.
type voteResult int

const (
	votePending voteResult = iota
	voteWon
	voteLost
)

// voterSets returns the voter sets whose majorities a decision needs: the current voters,
// and during joint consensus the outgoing voters too.
func voterSets(c *messages.Configuration) [][]*messages.Member {
	if c == nil {
		return nil
	}
	if len(c.OldVoters) > 0 {
		return [][]*messages.Member{c.Voters, c.OldVoters}
	}
	return [][]*messages.Member{c.Voters}
}

// isVoter says whether id votes in c (in either set during joint consensus).
func isVoter(c *messages.Configuration, id uint64) bool {
	for _, set := range voterSets(c) {
		if findMember(set, id) != nil {
			return true
		}
	}
	return false
}

// findMember returns the member with id, or nil.
func findMember(set []*messages.Member, id uint64) *messages.Member {
	for _, m := range set {
		if m.Id == id {
			return m
		}
	}
	return nil
}

// memberOf returns the member with id anywhere in c (voters, outgoing voters, learners).
func memberOf(c *messages.Configuration, id uint64) *messages.Member {
	if c == nil {
		return nil
	}
	if m := findMember(c.Voters, id); m != nil {
		return m
	}
	if m := findMember(c.OldVoters, id); m != nil {
		return m
	}
	return findMember(c.Learners, id)
}

// allMembers returns every distinct member of c: voters, outgoing voters and learners.
func allMembers(c *messages.Configuration) []*messages.Member {
	if c == nil {
		return nil
	}
	seen := map[uint64]bool{}
	var all []*messages.Member
	for _, set := range [][]*messages.Member{c.Voters, c.OldVoters, c.Learners} {
		for _, m := range set {
			if !seen[m.Id] {
				seen[m.Id] = true
				all = append(all, m)
			}
		}
	}
	return all
}

// countVotes decides an election from the votes received so far (true granted, false
// rejected, absent unknown). Every voter set must grant a majority.
func countVotes(c *messages.Configuration, votes map[uint64]bool) voteResult {
	sets := voterSets(c)
	if len(sets) == 0 {
		return voteLost
	}
	result := voteWon
	for _, set := range sets {
		granted, rejected := 0, 0
		for _, m := range set {
			if v, ok := votes[m.Id]; ok {
				if v {
					granted++
				} else {
					rejected++
				}
			}
		}
		majority := len(set)/2 + 1
		switch {
		case granted >= majority:
		case len(set)-rejected < majority:
			return voteLost
		default:
			result = votePending
		}
	}
	return result
}

// quorumIndex returns the highest index held by a majority of every voter set, given each
// voter's match index (absent means 0).
func quorumIndex(c *messages.Configuration, match map[uint64]uint64) uint64 {
	sets := voterSets(c)
	if len(sets) == 0 {
		return 0
	}
	var result uint64
	for i, set := range sets {
		if len(set) == 0 {
			return 0
		}
		indexes := make([]uint64, len(set))
		for j, m := range set {
			indexes[j] = match[m.Id]
		}
		sort.Slice(indexes, func(a, b int) bool { return indexes[a] > indexes[b] })
		q := indexes[len(set)/2]
		if i == 0 || q < result {
			result = q
		}
	}
	return result
}

// quorumActive says whether the active members form a majority of every voter set.
func quorumActive(c *messages.Configuration, active map[uint64]bool) bool {
	sets := voterSets(c)
	if len(sets) == 0 {
		return false
	}
	for _, set := range sets {
		n := 0
		for _, m := range set {
			if active[m.Id] {
				n++
			}
		}
		if n < len(set)/2+1 {
			return false
		}
	}
	return true
}
