package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var watchCommand = &command{
	name: "watch",
	args: "[-from N] [-follow=false]",
	help: `Prints the committed log of the node at -api from index N on, one entry a line:

  INDEX TERM command "TEXT"           an application command (quoted as in Go)
  INDEX TERM config ID=HOST:PORT,...  a configuration entry: the voters it moves to
  INDEX TERM noop                     a leader's no-op

then follows the log as it commits until interrupted (Ctrl-C ends it with status 0).
With -follow=false it stops at the commit index the node had when the command started.`,
	setup: func(fs *flag.FlagSet) func(context.Context, *client, []string) error {
		from := fs.Uint64("from", 1, "first log `index` to print")
		follow := fs.Bool("follow", true, "keep following the log; false: stop at the commit index seen at start")
		return func(ctx context.Context, c *client, _ []string) error {
			var until uint64 // 0: follow
			if !*follow {
				rctx, cancel := c.request(ctx)
				st, err := c.api.Status(rctx, &raftv1.StatusRequest{})
				cancel()
				if err != nil {
					return explain(err, c.g.api)
				}
				until = st.GetCommitIndex()
				if until < max(*from, 1) {
					return nil
				}
			}
			return watch(ctx, c, *from, until)
		}
	},
}

// watch prints entries from index from on, until index until (0: until interrupted).
func watch(ctx context.Context, c *client, from, until uint64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Watch(ctx, &raftv1.WatchRequest{FromIndex: from})
	if err != nil {
		return explain(err, c.g.api)
	}
	for {
		e, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("the node ended the stream")
		case status.Code(err) == codes.Canceled && ctx.Err() != nil:
			return nil // interrupted
		case err != nil:
			return explain(err, c.g.api)
		}
		fmt.Fprintln(c.out, entryLine(e))
		if until != 0 && e.GetIndex() >= until {
			return nil
		}
	}
}

// entryLine formats one entry as watch prints it.
func entryLine(e *raftv1.Entry) string {
	head := fmt.Sprintf("%d %d", e.GetIndex(), e.GetTerm())
	switch e.GetType() {
	case raftv1.EntryType_ENTRY_TYPE_COMMAND:
		return head + " command " + strconv.Quote(string(e.GetCommand()))
	case raftv1.EntryType_ENTRY_TYPE_CONFIG:
		return head + " config " + peersText(e.GetConfig().GetPeers())
	case raftv1.EntryType_ENTRY_TYPE_NOOP:
		return head + " noop"
	}
	return head + " " + e.GetType().String()
}
