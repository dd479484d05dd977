package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/raftsidecar/raft/messages/raftv1"
)

var transferCommand = &command{
	name: "transfer-leader",
	args: "[ID]",
	help: `Hands leadership to node ID, or without ID to the most up-to-date voter, and prints the new
leader and its term. Writes are refused while the handover runs (a few hundred ms).`,
	maxArgs: 1,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, args []string) error {
			var target uint64
			if len(args) == 1 {
				id, err := parseID(args[0])
				if err != nil {
					return usageError{err.Error()}
				}
				target = id
			}
			rctx, cancel := c.request(ctx)
			defer cancel()
			res, err := c.api.TransferLeadership(rctx, &raftv1.TransferLeadershipRequest{TargetId: target})
			if err != nil {
				return explain(err, c.g.api)
			}
			fmt.Fprintf(c.out, "leader: %d\nterm: %d\n", res.GetLeaderId(), res.GetTerm())
			return nil
		}
	},
}
