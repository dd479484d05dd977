package sidecar

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/protobuf/proto"
)

// testWalkthrough runs the contract's walkthrough with ids 1, 2, 3, step by step, through
// the gRPC API, then drives the same cluster with raftctl and shuts it down with SIGTERM.
func testWalkthrough(t *testing.T, bin binaries) {
	// Start node 1 with -bootstrap, and node 2.
	n1 := newDaemon(t, bin.raft, 1, true)
	n2 := newDaemon(t, bin.raft, 2, false)
	n1.start()
	n2.start()
	waitLeader(t, n1)

	// Form the cluster with one ChangeConfiguration call.
	changeConfiguration(t, n1, n1, n2)

	// Start node 3 and add it with a second call.
	n3 := newDaemon(t, bin.raft, 3, false)
	n3.start()
	changeConfiguration(t, n1, n1, n2, n3)

	// Submit "hello".
	hello := submit(t, n1, "hello")
	if hello.Index == 0 || hello.Term == 0 {
		t.Fatalf("Submit answered %v", hello)
	}

	// See it committed on all three: every Watch from 1 shows the same sequence, with
	// "hello" at the index Submit returned; every node has the configuration {1, 2, 3}.
	nodes := []*daemon{n1, n2, n3}
	var first []*raftv1.Entry
	for _, d := range nodes {
		entries := watchUntil(t, d, 1, hello.Index, 15*time.Second)
		got := entries[hello.Index-1]
		if got.Type != raftv1.EntryType_ENTRY_TYPE_COMMAND || string(got.Command) != "hello" || got.Term != hello.Term {
			t.Fatalf("node %d: entry %d is %v, want the command \"hello\" of term %d", d.id, hello.Index, got, hello.Term)
		}
		if first == nil {
			first = entries
			continue
		}
		for i := range first {
			if !proto.Equal(first[i], entries[i]) {
				t.Fatalf("node %d: entry %d is %v, node 1 has %v", d.id, i+1, entries[i], first[i])
			}
		}
	}
	for _, d := range nodes {
		waitConfiguration(t, d, n1, n2, n3)
	}
	t.Logf("walkthrough log:\n%s", entriesText(first))
	checkReflection(t, n2)

	testRaftctl(t, bin, nodes)

	// SIGTERM: every node exits with status 0 within a few seconds.
	for _, d := range nodes {
		code, took := d.terminate(5 * time.Second)
		if code != 0 {
			t.Fatalf("node %d exited with status %d after SIGTERM\n%s", d.id, code, tail(d.logs(), 4000))
		}
		t.Logf("node %d exited 0 in %v after SIGTERM", d.id, took.Round(time.Millisecond))
	}
}

// testRaftctl runs the CLI against a live cluster: status shows a row per member, submit
// succeeds through a follower, and usage errors exit 2.
func testRaftctl(t *testing.T, bin binaries, nodes []*daemon) {
	var peers []string
	for _, d := range nodes {
		peers = append(peers, fmt.Sprintf("%d=%s", d.id, d.api))
	}
	peersFlag := strings.Join(peers, ",")

	out, code := raftctl(t, bin, "-api", nodes[0].api, "-peers", peersFlag, "status")
	if code != 0 {
		t.Fatalf("raftctl status: exit %d\n%s", code, out)
	}
	t.Logf("raftctl status:\n%s", out)
	for _, d := range nodes {
		row := rowOf(out, d.id)
		if row == nil {
			t.Fatalf("raftctl status has no row for node %d:\n%s", d.id, out)
		}
		if role := row[1]; role != "leader" && role != "follower" {
			t.Fatalf("raftctl status: node %d has role %q:\n%s", d.id, role, out)
		}
	}

	// submit through a follower (forwarded to the leader), with flags after the command.
	out, code = raftctl(t, bin, "submit", "x", "-api", nodes[2].api)
	if code != 0 || !strings.Contains(out, "index: ") {
		t.Fatalf("raftctl submit x: exit %d\n%s", code, out)
	}

	// watch -follow=false prints the log up to the commit index, "x" last.
	out, code = raftctl(t, bin, "-api", nodes[1].api, "watch", "-follow=false")
	if code != 0 || !strings.Contains(out, ` command "hello"`) {
		t.Fatalf("raftctl watch: exit %d\n%s", code, out)
	}

	// config get shows the three members.
	out, code = raftctl(t, bin, "-api", nodes[1].api, "config", "get")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("3=%s", nodes[2].addr)) {
		t.Fatalf("raftctl config get: exit %d\n%s", code, out)
	}

	// Usage errors exit 2 and send nothing; a refused request exits 1.
	for _, args := range [][]string{
		{"submit"},
		{"submit", "a", "b"},
		{"frobnicate"},
		{"config"},
		{"member", "add", "four=127.0.0.1:1"},
		{"watch", "-from", "minus-one"},
		{"-timeout", "0s", "status"},
	} {
		out, code := raftctl(t, bin, append([]string{"-api", nodes[0].api}, args...)...)
		if code != 2 {
			t.Fatalf("raftctl %v: exit %d, want 2 (usage error)\n%s", args, code, out)
		}
	}
	if out, code := raftctl(t, bin, "-api", nodes[0].api, "submit", ""); code != 1 || !strings.Contains(out, "command: empty") {
		t.Fatalf("raftctl submit \"\": exit %d, want 1 naming the command\n%s", code, out)
	}
	if out, code := raftctl(t, bin, "-api", freeAddress(t), "status"); code != 1 || !strings.Contains(out, "cannot reach") {
		t.Fatalf("raftctl status of a node that does not run: exit %d, want 1\n%s", code, out)
	}
}

// raftctl runs the CLI and returns its combined output and exit status.
func raftctl(t *testing.T, bin binaries, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin.raftctl, args...).CombinedOutput()
	if err == nil {
		return string(out), 0
	}
	if exitErr, ok := err.(*exec.ExitError); ok {
		return string(out), exitErr.ExitCode()
	}
	t.Fatalf("raftctl %v: %v", args, err)
	return "", -1
}

// rowOf returns the fields of the status table's row for node id.
func rowOf(table string, id uint64) []string {
	for _, line := range strings.Split(table, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 9 && fields[0] == fmt.Sprint(id) {
			return fields
		}
	}
	return nil
}

// entriesText formats entries one a line, for the test log.
func entriesText(entries []*raftv1.Entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "  %d term %d %s", e.Index, e.Term, strings.TrimPrefix(e.Type.String(), "ENTRY_TYPE_"))
		switch e.Type {
		case raftv1.EntryType_ENTRY_TYPE_COMMAND:
			fmt.Fprintf(&b, " %q", e.Command)
		case raftv1.EntryType_ENTRY_TYPE_CONFIG:
			for _, p := range e.Config.Peers {
				fmt.Fprintf(&b, " %d=%s", p.Id, p.Address)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
