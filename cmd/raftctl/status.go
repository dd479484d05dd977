package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
)

var statusCommand = &command{
	name: "status",
	help: `Asks the node at -api for its status and configuration, then asks every member for its own
status, and prints a table, one row a member:

  ID       node id
  ROLE     leader, follower, candidate or learner; "unreachable" when it did not answer
  TERM     the member's current term
  COMMIT   its commit index
  APPLIED  its applied index
  LAST     its last log index
  LAG      how many entries its applied index trails the leader's commit index
  API      the client API address it was asked at
  PEER     its peer address, as in the configuration

A member's API address is taken from -peers, or else is the host of its peer address with
port -api-port-base+ID (the daemon's default). The exit status is 1 only when the node at
-api cannot be reached; unreachable members are marked in the table.`,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, _ []string) error {
			rctx, cancel := c.request(ctx)
			self, err := c.api.Status(rctx, &raftv1.StatusRequest{})
			cancel()
			if err != nil {
				return explain(err, c.g.api)
			}
			rows := memberRows(ctx, c, self)
			printStatus(c.out, self, rows)
			return nil
		}
	},
}

// memberRow is one line of the status table.
type memberRow struct {
	id     uint64
	peer   string // peer address from the configuration ("" for a node outside it)
	api    string
	status *raftv1.StatusResponse
	err    error
}

// memberRows asks every member of self's configuration, and self, for its status.
func memberRows(ctx context.Context, c *client, self *raftv1.StatusResponse) []*memberRow {
	rows := []*memberRow{}
	byID := map[uint64]*memberRow{}
	for _, p := range self.GetConfig().GetPeers() {
		r := &memberRow{id: p.GetId(), peer: p.GetAddress()}
		rows = append(rows, r)
		byID[r.id] = r
	}
	if byID[self.GetId()] == nil {
		r := &memberRow{id: self.GetId()}
		rows = append(rows, r)
		byID[r.id] = r
	}
	slices.SortFunc(rows, func(a, b *memberRow) int { return compareIDs(a.id, b.id) })
	var wg sync.WaitGroup
	for _, r := range rows {
		if r.id == self.GetId() {
			r.api, r.status = c.g.api, self
			continue
		}
		r.api = c.g.memberAPI(r.id, r.peer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.status, r.err = memberStatus(ctx, r.api, min(c.g.timeout, memberStatusTimeout))
		}()
	}
	wg.Wait()
	return rows
}

func compareIDs(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// memberAPI is the client API address of member id, whose peer address is peer.
func (g *globals) memberAPI(id uint64, peer string) string {
	if a, ok := g.peerAPIs[id]; ok {
		return a
	}
	host, _, err := net.SplitHostPort(peer)
	if err != nil || host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(g.apiPortBase)+id, 10))
}

// memberStatus asks the node at api for its status.
func memberStatus(ctx context.Context, api string, timeout time.Duration) (*raftv1.StatusResponse, error) {
	conn, err := dialAPI(api)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := raftv1.NewPeerServiceClient(conn).Status(ctx, &raftv1.StatusRequest{})
	if err != nil {
		return nil, explain(err, api)
	}
	return st, nil
}

// printStatus prints the table and a line about the leader.
func printStatus(w io.Writer, self *raftv1.StatusResponse, rows []*memberRow) {
	// The reference for LAG: the leader's commit index, or the highest one seen.
	var ref uint64
	var leader *memberRow
	for _, r := range rows {
		if r.status == nil {
			continue
		}
		ref = max(ref, r.status.GetCommitIndex())
		if r.status.GetRole() == "leader" && (leader == nil || r.status.GetTerm() > leader.status.GetTerm()) {
			leader = r
		}
	}
	if leader != nil {
		ref = leader.status.GetCommitIndex()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tTERM\tCOMMIT\tAPPLIED\tLAST\tLAG\tAPI\tPEER")
	for _, r := range rows {
		peer := r.peer
		if peer == "" {
			peer = "(not in the configuration)"
		}
		if r.status == nil {
			fmt.Fprintf(tw, "%d\tunreachable\t-\t-\t-\t-\t-\t%s\t%s\n", r.id, r.api, peer)
			continue
		}
		st := r.status
		lag := uint64(0)
		if ref > st.GetAppliedIndex() {
			lag = ref - st.GetAppliedIndex()
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.id, st.GetRole(), st.GetTerm(),
			st.GetCommitIndex(), st.GetAppliedIndex(), st.GetLastLogIndex(), lag, r.api, peer)
	}
	tw.Flush()
	switch {
	case leader != nil:
		fmt.Fprintf(w, "leader: node %d, term %d\n", leader.id, leader.status.GetTerm())
	case self.GetLeaderId() != 0:
		fmt.Fprintf(w, "leader: node %d (as node %d sees it; it did not answer)\n", self.GetLeaderId(), self.GetId())
	default:
		fmt.Fprintln(w, "leader: none known")
	}
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(w, "node %d unreachable: %v\n", r.id, r.err)
		}
	}
}
