package actors

import (
	"fmt"
	"sort"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// Membership changes follow joint consensus (Ongaro's dissertation, chapter 4):
//
//  1. New members catch up as learners: the leader replicates to them but does not count
//     them. They live in the leader's memory only; a change that loses its leader in this
//     phase has appended nothing and leaves the configuration untouched.
//  2. Once every learner is within catchUpMargin entries of the leader's log, the leader
//     appends C_old,new (voters = new set, old_voters = old set). Configuration entries take
//     effect when appended; from then on elections and commits need majorities of both sets.
//  3. When C_old,new commits, the leader (whichever leader that is by then) appends C_new.
//  4. When C_new commits the change is done; a leader that is not in C_new hands leadership
//     to the most caught-up voter of C_new and steps down.

// configChange is a membership change the leader is carrying out for a requester.
type configChange struct {
	id         uint64
	target     []*messages.Member // the requested voter set
	from       requester
	learners   []*messages.Member // new members still catching up (phase 1)
	finalIndex uint64             // index of C_new once appended
}

// leadershipTransfer is a handover the leader is carrying out.
type leadershipTransfer struct {
	id     uint64
	target uint64
	from   requester
	sent   bool // TimeoutNow sent
	term   uint64
}

// effectiveConfig is the configuration in force plus, on the leader, the learners it feeds
// and the members it is removing (they keep receiving the log until C_new commits, so they
// learn they were removed).
func (n *nodeLogic) effectiveConfig() *messages.Configuration {
	if n.role != roleLeader || ((n.change == nil || len(n.change.learners) == 0) && len(n.leaving) == 0) {
		return n.config
	}
	cfg := proto.Clone(n.config).(*messages.Configuration)
	if cfg == nil {
		cfg = &messages.Configuration{}
	}
	if n.change != nil {
		cfg.Learners = append(cfg.Learners, n.change.learners...)
	}
	for _, m := range n.leaving {
		if memberOf(cfg, m.Id) == nil {
			cfg.Learners = append(cfg.Learners, m)
		}
	}
	return cfg
}

// sameMembers says whether two member lists hold the same ids at the same addresses.
func sameMembers(a, b []*messages.Member) bool {
	if len(a) != len(b) {
		return false
	}
	for _, m := range a {
		o := findMember(b, m.Id)
		if o == nil || o.Address != m.Address {
			return false
		}
	}
	return true
}

// sortedMembers returns a copy of members ordered by id.
func sortedMembers(members []*messages.Member) []*messages.Member {
	out := make([]*messages.Member, len(members))
	for i, m := range members {
		out[i] = &messages.Member{Id: m.Id, Address: m.Address}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out
}

// changeInProgress says whether a membership change has not finished: one being carried
// out here, a joint configuration, or a configuration entry not yet committed.
func (n *nodeLogic) changeInProgress() bool {
	return n.change != nil || len(n.config.GetOldVoters()) > 0 || n.configIndex > n.commitIndex
}

func (n *nodeLogic) onChangeConfiguration(members []*messages.Member, from requester) {
	fail := func(code messages.ErrorCode, text string) { n.answer(from, failure(kindChange, code, text)) }
	if err := validateMembers("members", members); err != nil {
		fail(messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, err.Error())
		return
	}
	for i, m := range members {
		if cur := memberOf(n.config, m.Id); cur != nil && cur.Address != m.Address {
			fail(messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, fmt.Sprintf(
				"members[%d].address: node %d is a member at %q; remove it before adding it at %q", i, m.Id, cur.Address, m.Address))
			return
		}
	}
	if n.role != roleLeader {
		n.forward(kindChange, from, &messages.ForwardRequest{Change: &messages.ChangeConfiguration{Members: members}})
		return
	}
	if n.transfer != nil {
		fail(messages.ErrorCode_ERROR_CODE_UNAVAILABLE, "leadership transfer in progress")
		return
	}
	if n.changeInProgress() {
		fail(messages.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "change in progress: another configuration change has not finished")
		return
	}
	if n.config != nil && len(n.config.OldVoters) == 0 && sameMembers(n.config.Voters, members) {
		n.answer(from, &messages.ChangeConfigurationResult{Index: n.configIndex, Config: n.config})
		return
	}
	n.nextOpID++
	c := &configChange{id: n.nextOpID, target: sortedMembers(members), from: from}
	for _, m := range c.target {
		if !isVoter(n.config, m.Id) {
			c.learners = append(c.learners, m)
		}
	}
	n.change = c
	if len(c.learners) == 0 {
		n.enterJoint()
		return
	}
	n.s.logger.Info("configuration change: new members catch up as learners", "learners", len(c.learners))
	n.announceConfig()
	n.sendAfter(toNode, n.s.catchUpTimeout, &messages.ChangeTimeout{ChangeId: c.id})
}

// progressChanged moves changes and transfers that wait on followers' progress.
func (n *nodeLogic) progressChanged() {
	if n.role != roleLeader {
		return
	}
	if c := n.change; c != nil && len(c.learners) > 0 {
		last := n.log.lastIndex()
		for _, m := range c.learners {
			if match := n.matchIndex[m.Id]; match == 0 || match+uint64(n.s.catchUpMargin) < last {
				return
			}
		}
		n.enterJoint()
	}
	n.maybeSendTimeoutNow()
}

// enterJoint appends C_old,new.
func (n *nodeLogic) enterJoint() {
	c := n.change
	c.learners = nil
	joint := &messages.Configuration{Voters: c.target, OldVoters: sortedMembers(n.config.GetVoters())}
	n.s.logger.Info("configuration change: entering joint consensus", "term", n.term)
	n.appendEntry(&messages.Entry{Type: messages.EntryType_ENTRY_TYPE_CONFIG, Config: joint})
	n.refreshConfig()
}

// configCommitted runs on the leader whenever the commit index moves: it leaves a committed
// joint configuration, finishes a change whose C_new committed, and steps down when this
// node is no longer a voter.
func (n *nodeLogic) configCommitted() {
	if n.configIndex > n.commitIndex {
		return
	}
	if old := n.config.GetOldVoters(); len(old) > 0 {
		// C_old,new is committed: append C_new (once: the configuration is no longer joint after).
		var leaving []*messages.Member
		for _, m := range old {
			if findMember(n.config.Voters, m.Id) == nil {
				leaving = append(leaving, m)
			}
		}
		final := &messages.Configuration{Voters: sortedMembers(n.config.Voters)}
		e := n.appendEntry(&messages.Entry{Type: messages.EntryType_ENTRY_TYPE_CONFIG, Config: final})
		n.leaving = leaving
		if n.change != nil {
			n.change.finalIndex = e.Index
		}
		n.s.logger.Info("configuration change: joint configuration committed, appending the new one", "index", e.Index)
		n.refreshConfig()
		return
	}
	if len(n.leaving) > 0 && !n.leavingTimer {
		// Keep feeding the removed members for an election timeout: the heartbeats carry
		// the commit of C_new, so they learn they were removed and stop campaigning.
		n.leavingTimer = true
		n.sendAfter(toNode, n.s.electionTimeout, &messages.LeavingExpired{Term: n.term, ConfigIndex: n.configIndex})
	}
	if c := n.change; c != nil && c.finalIndex != 0 && c.finalIndex <= n.commitIndex {
		n.change = nil
		n.answer(c.from, &messages.ChangeConfigurationResult{Index: c.finalIndex, Config: n.config})
	}
	if !n.isVoter() {
		// Led the change out of the configuration: hand over and step down.
		n.s.logger.Info("not a voter of the committed configuration: stepping down", "term", n.term)
		if target := n.mostCaughtUpVoter(); target != nil {
			n.sendPeer(target, &messages.TimeoutNow{ClusterId: n.s.clusterID, From: n.s.id, To: target.Id, Term: n.term})
		}
		n.becomeFollower(n.term, 0)
	}
}

// mostCaughtUpVoter returns the voter (not this node) with the highest match index.
func (n *nodeLogic) mostCaughtUpVoter() *messages.Member {
	var best *messages.Member
	var bestMatch uint64
	for _, m := range n.config.GetVoters() {
		if m.Id == n.s.id {
			continue
		}
		if match := n.matchIndex[m.Id]; best == nil || match > bestMatch {
			best, bestMatch = m, match
		}
	}
	return best
}

func (n *nodeLogic) onChangeTimeout(m *messages.ChangeTimeout) {
	c := n.change
	if c == nil || c.id != m.ChangeId || len(c.learners) == 0 {
		return
	}
	n.change = nil
	n.announceConfig()
	var behind []uint64
	for _, l := range c.learners {
		behind = append(behind, l.Id)
	}
	n.answer(c.from, failure(kindChange, messages.ErrorCode_ERROR_CODE_TIMEOUT, fmt.Sprintf(
		"new members %v did not catch up within %v; configuration unchanged", behind, n.s.catchUpTimeout)))
}

func (n *nodeLogic) onLeavingExpired(m *messages.LeavingExpired) {
	if m.Term != n.term || n.role != roleLeader {
		return
	}
	n.leavingTimer = false
	if m.ConfigIndex != n.configIndex && len(n.leaving) > 0 {
		// A newer change is under way: give its removed members their own grace period.
		n.leavingTimer = true
		n.sendAfter(toNode, n.s.electionTimeout, &messages.LeavingExpired{Term: n.term, ConfigIndex: n.configIndex})
		return
	}
	if len(n.leaving) > 0 {
		n.leaving = nil
		n.announceConfig()
	}
}

// leadershipLost ends what only a leader carries out. Clients waiting on entries this node
// appended are told at once that the outcome is unknown (UNAVAILABLE): the entries may still
// commit under the next leader, but this node may never hear of it, and a client should not
// wait for its deadline to learn that.
func (n *nodeLogic) leadershipLost() {
	for _, i := range sortedKeys(n.pending) {
		p := n.pending[i]
		delete(n.pending, i)
		kind := kindSubmit
		if p.read {
			kind = kindRead
		}
		n.answer(p.from, failure(kind, messages.ErrorCode_ERROR_CODE_UNAVAILABLE, "leadership lost before the entry committed: outcome unknown"))
	}
	if c := n.change; c != nil {
		n.change = nil
		if len(c.learners) > 0 {
			n.answer(c.from, failure(kindChange, messages.ErrorCode_ERROR_CODE_UNAVAILABLE,
				"leadership lost while new members caught up; configuration unchanged"))
		} else {
			n.answer(c.from, failure(kindChange, messages.ErrorCode_ERROR_CODE_UNAVAILABLE,
				"leadership lost during the change: outcome unknown (a new leader completes a committed joint configuration)"))
		}
	}
	n.leaving = nil
	n.leavingTimer = false
}

// ------------------------------------------------------------------ leadership transfer

func (n *nodeLogic) onTransferLeadership(target uint64, from requester) {
	fail := func(code messages.ErrorCode, text string) { n.answer(from, failure(kindTransfer, code, text)) }
	if n.role != roleLeader {
		n.forward(kindTransfer, from, &messages.ForwardRequest{Transfer: &messages.TransferLeadership{TargetId: target}})
		return
	}
	if n.transfer != nil {
		fail(messages.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "a leadership transfer is already in progress")
		return
	}
	if target == 0 {
		m := n.mostCaughtUpVoter()
		if m == nil {
			fail(messages.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "target_id: no other voter to transfer to")
			return
		}
		target = m.Id
	}
	if target == n.s.id {
		n.answer(from, &messages.TransferLeadershipResult{LeaderId: n.s.id, Term: n.term})
		return
	}
	if !isVoter(n.config, target) {
		fail(messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, fmt.Sprintf("target_id: node %d is not a voter", target))
		return
	}
	n.nextOpID++
	n.transfer = &leadershipTransfer{id: n.nextOpID, target: target, from: from, term: n.term}
	n.sendAfter(toNode, n.s.transferTimeout, &messages.TransferTimeout{TransferId: n.nextOpID})
	n.maybeSendTimeoutNow()
}

// maybeSendTimeoutNow tells the transfer target to campaign once its log matches ours.
func (n *nodeLogic) maybeSendTimeoutNow() {
	t := n.transfer
	if t == nil || t.sent || n.role != roleLeader {
		return
	}
	if n.matchIndex[t.target] < n.log.lastIndex() {
		return // Replication is catching it up
	}
	if target := memberOf(n.config, t.target); target != nil {
		t.sent = true
		n.sendPeer(target, &messages.TimeoutNow{ClusterId: n.s.clusterID, From: n.s.id, To: t.target, Term: n.term})
	}
}

// transferObservedLeader completes a transfer once this node follows a new leader.
func (n *nodeLogic) transferObservedLeader() {
	t := n.transfer
	if t == nil || n.role == roleLeader || n.leaderID == 0 {
		return
	}
	n.transfer = nil
	n.answer(t.from, &messages.TransferLeadershipResult{LeaderId: n.leaderID, Term: n.term})
}

func (n *nodeLogic) onTransferTimeout(m *messages.TransferTimeout) {
	t := n.transfer
	if t == nil || t.id != m.TransferId {
		return
	}
	n.transfer = nil
	if n.role == roleLeader {
		n.answer(t.from, failure(kindTransfer, messages.ErrorCode_ERROR_CODE_TIMEOUT,
			fmt.Sprintf("node %d did not take over in time; this node keeps leading", t.target)))
		return
	}
	n.answer(t.from, failure(kindTransfer, messages.ErrorCode_ERROR_CODE_UNAVAILABLE, "leadership moved, but no new leader is known yet"))
}
