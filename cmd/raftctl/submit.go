package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/raftsidecar/raft/messages/raftv1"
)

var submitCommand = &command{
	name: "submit",
	args: "TEXT",
	help: `Replicates TEXT as one command and prints the index and term it was committed at. Any member
may be asked: a follower forwards the command to the leader, once. On "unavailable" or "no
answer in time" the outcome is unknown: the command may or may not have been committed.`,
	minArgs: 1, maxArgs: 1,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, args []string) error {
			rctx, cancel := c.request(ctx)
			defer cancel()
			res, err := c.api.Submit(rctx, &raftv1.SubmitRequest{Command: []byte(args[0])})
			if err != nil {
				return explainSubmit(err, c.g.api)
			}
			fmt.Fprintf(c.out, "index: %d\nterm: %d\n", res.GetIndex(), res.GetTerm())
			return nil
		}
	},
}

var readIndexCommand = &command{
	name: "read-index",
	help: `Runs a linearizable read barrier and prints its index: every write acknowledged before the
call is committed at or below it. Read your state once your applier has reached it.`,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, _ []string) error {
			rctx, cancel := c.request(ctx)
			defer cancel()
			res, err := c.api.ReadIndex(rctx, &raftv1.ReadIndexRequest{})
			if err != nil {
				return explain(err, c.g.api)
			}
			fmt.Fprintf(c.out, "index: %d\n", res.GetIndex())
			return nil
		}
	},
}
