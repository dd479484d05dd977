package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
)

// command is one raftctl command: its name (one or two words), its arguments and help, and
// setup, which registers the command's own flags and returns the function that runs it.
type command struct {
	name    string
	args    string
	help    string
	minArgs int
	maxArgs int
	setup   func(fs *flag.FlagSet) func(ctx context.Context, c *client, args []string) error
}

// commands lists every command, in the order of the usage text.
var commands = []*command{
	statusCommand,
	submitCommand,
	watchCommand,
	readIndexCommand,
	configGetCommand,
	configSetCommand,
	memberAddCommand,
	memberRemoveCommand,
	transferCommand,
}

// findCommand finds the command args start with and returns it with the arguments after
// its name.
func findCommand(args []string) (*command, []string, error) {
	if len(args) >= 2 {
		for _, c := range commands {
			if c.name == args[0]+" "+args[1] {
				return c, args[2:], nil
			}
		}
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c, args[1:], nil
		}
	}
	var subs []string
	for _, c := range commands {
		if word, sub, ok := strings.Cut(c.name, " "); ok && word == args[0] {
			subs = append(subs, sub)
		}
	}
	if len(subs) > 0 {
		return nil, nil, fmt.Errorf("%q needs one of: %s", args[0], strings.Join(subs, ", "))
	}
	return nil, nil, fmt.Errorf("unknown command %q", args[0])
}

// parseInterspersed parses flags that may come before, between or after the arguments,
// and returns the arguments. Everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
