// Command raftctl drives a cluster of raft sidecar daemons (cmd/raft) through their client
// API, raft.v1.PeerService.
//
//	raftctl [flags] status                  a table of every member
//	raftctl [flags] submit TEXT             replicate one command
//	raftctl [flags] watch [-from N]         stream committed entries
//	raftctl [flags] read-index              a linearizable read barrier
//	raftctl [flags] config get              the configuration in force
//	raftctl [flags] config set ID=ADDR,...  move to exactly these voters
//	raftctl [flags] member add ID=ADDR      add one voter
//	raftctl [flags] member remove ID        remove one voter
//	raftctl [flags] transfer-leader [ID]    hand leadership over
//
// Flags may come before or after the command. Exit status: 0 when the request succeeded, 1
// when it failed (the node could not be reached, refused the request, or did not answer in
// time), 2 for a usage error. Run raftctl -h, or raftctl COMMAND -h, for details.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses scripts can rely on.
const (
	exitOK     = 0 // the request succeeded
	exitFailed = 1 // the request failed: unreachable node, refused request, timeout
	exitUsage  = 2 // the command line is wrong; nothing was sent
)

const usageText = `raftctl drives a cluster of raft sidecar daemons through their gRPC client API.

Usage:
  raftctl [flags] COMMAND [command flags] [arguments]

Commands:
  status                   a table of every member: id, role, term, commit and applied
                           index, lag, addresses; unreachable members are marked
  submit TEXT              replicate TEXT as one command; prints its index and term once
                           committed (any member forwards to the leader)
  watch [-from N]          print committed entries in log order from index N (default 1),
                           then follow the log until interrupted (-follow=false: stop at
                           the commit index seen at start)
  read-index               a linearizable read barrier: prints an index that covers every
                           write acknowledged before the call
  config get               print the configuration in force on the node and its index
  config set ID=ADDR,...   move the cluster to exactly these voters (joint consensus)
  member add ID=ADDR       add one voter (start its daemon first, without -bootstrap)
  member remove ID         remove one voter
  transfer-leader [ID]     hand leadership to ID (default: the most up-to-date voter)

Flags (before or after the command):
  -api HOST:PORT       client API of the node to ask (default 127.0.0.1:9001)
  -timeout DURATION    deadline of each request (default 30s)
  -peers ID=API,...    client API addresses of members, for status
  -api-port-base N     otherwise status reaches member ID at the host of its peer
                       address, port N+ID (default 9000, as the daemon's -api default)
  -tls-ca FILE         connect with TLS and verify the node against this PEM CA (for a
                       daemon run with -api-cert); plaintext when no -tls-* flag is given
  -tls-cert FILE, -tls-key FILE
                       client certificate to present (for a daemon run with -api-client-ca)

Exit status: 0 success; 1 the request failed (node unreachable, request refused, or no
answer in time); 2 usage error (nothing was sent).

Example (three daemons started with "raft -id 1 -bootstrap", "raft -id 2", "raft -id 3"):
  raftctl config set 1=127.0.0.1:7001,2=127.0.0.1:7002
  raftctl member add 3=127.0.0.1:7003
  raftctl submit hello
  raftctl status
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := defaultGlobals()
	top := flag.NewFlagSet("raftctl", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	g.register(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return exitOK
		}
		return usage(stderr, "", err.Error())
	}
	args = top.Args()
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	if args[0] == "help" {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	cmd, rest, err := findCommand(args)
	if err != nil {
		return usage(stderr, "", err.Error())
	}
	fs := flag.NewFlagSet("raftctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	runCmd := cmd.setup(fs)
	positional, err := parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(stdout, cmd, fs)
			return exitOK
		}
		return usage(stderr, cmd.name, err.Error())
	}
	if n := len(positional); n < cmd.minArgs || n > cmd.maxArgs {
		return usage(stderr, cmd.name, fmt.Sprintf("wrong number of arguments: usage: raftctl %s %s", cmd.name, cmd.args))
	}
	if err := g.check(); err != nil {
		return usage(stderr, cmd.name, err.Error())
	}
	c, err := dial(g)
	if err != nil {
		return usage(stderr, cmd.name, err.Error())
	}
	defer c.close()
	c.out = stdout
	err = runCmd(ctx, c, positional)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return usage(stderr, cmd.name, ue.Error())
	}
	fmt.Fprintf(stderr, "raftctl %s: %v\n", cmd.name, err)
	return exitFailed
}

// usageError is a problem with the command line found while running a command (a bad
// argument); nothing was changed.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usage reports a command-line problem and returns exitUsage.
func usage(stderr io.Writer, cmd, problem string) int {
	name := "raftctl"
	help := "raftctl -h"
	if cmd != "" {
		name += " " + cmd
		help = "raftctl " + cmd + " -h"
	}
	fmt.Fprintf(stderr, "%s: %s\nRun %s for help.\n", name, problem, help)
	return exitUsage
}

// printCommandHelp prints one command's help and its flags.
func printCommandHelp(w io.Writer, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: raftctl %s %s\n\n%s\n\nFlags:\n", cmd.name, cmd.args, strings.TrimSpace(cmd.help))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nExit status: 0 success, 1 the request failed, 2 usage error.")
}
