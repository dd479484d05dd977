package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/raftsidecar/raft/messages/raftv1"
)

// Usage errors exit 2 before anything is sent; help exits 0.
func TestExitStatusOfUsage(t *testing.T) {
	cases := []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"-h"}, exitOK},
		{[]string{"help"}, exitOK},
		{[]string{"submit", "-h"}, exitOK},
		{[]string{"config", "set", "-h"}, exitOK},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"config"}, exitUsage},
		{[]string{"config", "drop"}, exitUsage},
		{[]string{"submit"}, exitUsage},
		{[]string{"submit", "a", "b"}, exitUsage},
		{[]string{"status", "extra"}, exitUsage},
		{[]string{"-bogus", "status"}, exitUsage},
		{[]string{"status", "-bogus"}, exitUsage},
		{[]string{"-api", "nope", "status"}, exitUsage},
		{[]string{"-timeout", "-1s", "status"}, exitUsage},
		{[]string{"-peers", "1=", "status"}, exitUsage},
		{[]string{"member", "add", "3"}, exitUsage},
		{[]string{"member", "remove", "zero"}, exitUsage},
		{[]string{"transfer-leader", "0"}, exitUsage},
		{[]string{"config", "set", "1=a:1,,2=b:2"}, exitUsage},
		{[]string{"watch", "-from", "x"}, exitUsage},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		if got := run(context.Background(), c.args, &out, &errOut); got != c.want {
			t.Errorf("raftctl %q: exit %d, want %d\n%s%s", c.args, got, c.want, out.String(), errOut.String())
		}
	}
}

// Flags may come before or after the command and its arguments; "--" ends them.
func TestFlagsAnywhere(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	api := fs.String("api", "", "")
	args, err := parseInterspersed(fs, []string{"hello", "-api", "h:1", "world", "--", "-api", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if *api != "h:1" || !slices.Equal(args, []string{"hello", "world", "-api", "x"}) {
		t.Errorf("api %q, args %q", *api, args)
	}
}

func TestParsePeers(t *testing.T) {
	peers, err := parsePeers("x", " 1=127.0.0.1:7001, 2=host:7002 ")
	if err != nil {
		t.Fatal(err)
	}
	if got := peersText(peers); got != "1=127.0.0.1:7001,2=host:7002" {
		t.Errorf("got %q", got)
	}
	for _, bad := range []string{"", "1", "=a:1", "0=a:1", "x=a:1", "1=a:1,", "1=a:1;2=b:2x,3"} {
		if _, err := parsePeers("x", bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestMemberAPI(t *testing.T) {
	g := defaultGlobals()
	g.peers = "2=10.0.0.9:1234"
	if err := g.check(); err != nil {
		t.Fatal(err)
	}
	if got := g.memberAPI(2, "10.0.0.2:7002"); got != "10.0.0.9:1234" {
		t.Errorf("from -peers: %q", got)
	}
	if got := g.memberAPI(3, "10.0.0.3:7003"); got != "10.0.0.3:9003" {
		t.Errorf("derived: %q", got)
	}
}

func TestEntryLine(t *testing.T) {
	cases := map[string]*raftv1.Entry{
		`1 1 noop`:              {Index: 1, Term: 1, Type: raftv1.EntryType_ENTRY_TYPE_NOOP},
		`2 1 command "hello\n"`: {Index: 2, Term: 1, Type: raftv1.EntryType_ENTRY_TYPE_COMMAND, Command: []byte("hello\n")},
		`3 2 config 1=a:1,2=b:2`: {Index: 3, Term: 2, Type: raftv1.EntryType_ENTRY_TYPE_CONFIG,
			Config: &raftv1.Configuration{Peers: []*raftv1.Peer{{Id: 1, Address: "a:1"}, {Id: 2, Address: "b:2"}}}},
	}
	for want, e := range cases {
		if got := entryLine(e); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// Every command in the usage text exists, and every command is in the usage text.
func TestUsageListsEveryCommand(t *testing.T) {
	for _, c := range commands {
		if !strings.Contains(usageText, "  "+c.name) {
			t.Errorf("usage text lacks %q", c.name)
		}
	}
}
