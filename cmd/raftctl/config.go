package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/raftsidecar/raft/messages/raftv1"
)

var configGetCommand = &command{
	name: "config get",
	help: `Prints the configuration in force on the node at -api: the index of its log entry (0 for
the bootstrap configuration) and its voters as ID=HOST:PORT,... (the form config set takes).`,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, _ []string) error {
			rctx, cancel := c.request(ctx)
			defer cancel()
			res, err := c.api.GetConfiguration(rctx, &raftv1.GetConfigurationRequest{})
			if err != nil {
				return explain(err, c.g.api)
			}
			printConfig(c.out, res.GetIndex(), res.GetConfig())
			return nil
		}
	},
}

var configSetCommand = &command{
	name: "config set",
	args: "ID=HOST:PORT,...",
	help: `Moves the cluster to exactly these voters through joint consensus (any number added and
removed in one change) and prints the new configuration once it is committed. HOST:PORT is
each node's peer address (its daemon's -addr). New members must be running (started without
-bootstrap); they catch up before they count. Fails with nothing changed when another change
is still in progress.`,
	minArgs: 1, maxArgs: 1,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, args []string) error {
			peers, err := parsePeers("configuration", args[0])
			if err != nil {
				return err
			}
			return changeConfiguration(ctx, c, peers)
		}
	},
}

var memberAddCommand = &command{
	name: "member add",
	args: "ID=HOST:PORT",
	help: `Adds one voter: reads the configuration from the node at -api and moves the cluster to it
plus ID at HOST:PORT (its daemon's -addr). Start the new node first, without -bootstrap.
Do not run two membership commands at once: each reads the configuration, then sets it.`,
	minArgs: 1, maxArgs: 1,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, args []string) error {
			p, err := parsePeer(args[0])
			if err != nil {
				return usageError{err.Error()}
			}
			peers, err := currentPeers(ctx, c)
			if err != nil {
				return err
			}
			for _, q := range peers {
				if q.Id == p.Id {
					if q.Address == p.Address {
						return fmt.Errorf("node %d is already a member at %s: nothing to do", p.Id, p.Address)
					}
					return fmt.Errorf("node %d is a member at %s: remove it before adding it at %s", p.Id, q.Address, p.Address)
				}
			}
			return changeConfiguration(ctx, c, append(peers, p))
		}
	},
}

var memberRemoveCommand = &command{
	name: "member remove",
	args: "ID",
	help: `Removes one voter: reads the configuration from the node at -api and moves the cluster to
it without ID. A leader that removes itself hands leadership over once the change commits.
Do not run two membership commands at once: each reads the configuration, then sets it.`,
	minArgs: 1, maxArgs: 1,
	setup: func(*flag.FlagSet) func(context.Context, *client, []string) error {
		return func(ctx context.Context, c *client, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return usageError{err.Error()}
			}
			peers, err := currentPeers(ctx, c)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(peers, func(p *raftv1.Peer) bool { return p.Id == id })
			if i < 0 {
				return fmt.Errorf("node %d is not a member of %s: nothing to do", id, peersText(peers))
			}
			rest := slices.Delete(slices.Clone(peers), i, i+1)
			if len(rest) == 0 {
				return fmt.Errorf("node %d is the only member: a cluster cannot be left without members", id)
			}
			return changeConfiguration(ctx, c, rest)
		}
	},
}

// currentPeers reads the voters of the configuration in force on the node at -api.
func currentPeers(ctx context.Context, c *client) ([]*raftv1.Peer, error) {
	rctx, cancel := c.request(ctx)
	defer cancel()
	res, err := c.api.GetConfiguration(rctx, &raftv1.GetConfigurationRequest{})
	if err != nil {
		return nil, explain(err, c.g.api)
	}
	return res.GetConfig().GetPeers(), nil
}

// changeConfiguration moves the cluster to peers and prints the committed configuration.
func changeConfiguration(ctx context.Context, c *client, peers []*raftv1.Peer) error {
	rctx, cancel := c.request(ctx)
	defer cancel()
	res, err := c.api.ChangeConfiguration(rctx, &raftv1.ChangeConfigurationRequest{
		NewConfig: &raftv1.Configuration{Peers: peers},
	})
	if err != nil {
		return explain(err, c.g.api)
	}
	printConfig(c.out, res.GetIndex(), res.GetConfig())
	return nil
}

// printConfig prints a configuration and its index.
func printConfig(w io.Writer, index uint64, cfg *raftv1.Configuration) {
	fmt.Fprintf(w, "index: %d\npeers: %s\n", index, peersText(cfg.GetPeers()))
}
