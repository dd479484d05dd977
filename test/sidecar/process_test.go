package sidecar

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages/raftv1"
	"github.com/raftsidecar/raft/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// binaries are the paths of the daemon and the CLI built for one test run.
type binaries struct {
	raft    string
	raftctl string
}

// buildBinaries builds cmd/raft and cmd/raftctl into dir with `go build`; with
// SIDECAR_RACE=1 in the environment they are built with the race detector, and a daemon
// that races exits with status 66 (run under GOWORK=$(bash test/race-workspace.sh)).
func buildBinaries(t *testing.T, dir string) binaries {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is not on PATH: %v", err)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if os.Getenv("SIDECAR_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/raftsidecar/raft/cmd/raft", "github.com/raftsidecar/raft/cmd/raftctl")
	cmd := exec.Command(goTool, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return binaries{raft: filepath.Join(dir, "raft"), raftctl: filepath.Join(dir, "raftctl")}
}

// freeAddress returns a loopback address free a moment ago and never handed out before in
// this process (see remote.FreeLoopbackAddress).
func freeAddress(t *testing.T) string {
	t.Helper()
	addr, err := remote.FreeLoopbackAddress()
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	return addr
}

// daemon is one raft node run as a process; it keeps its addresses and data directory
// across restarts.
type daemon struct {
	t         *testing.T
	bin       string
	id        uint64
	addr      string // peer address (-addr)
	api       string // client API (-api)
	data      string // data directory (-data)
	logPath   string // stderr of every incarnation, appended
	bootstrap bool
	extra     []string // more flags

	cmd    *exec.Cmd
	exited chan struct{} // closed when the current incarnation has exited
	status error         // its Wait result, once exited is closed
	conn   *grpc.ClientConn
}

// newDaemon describes node id with fresh ports and a data directory; start runs it.
func newDaemon(t *testing.T, bin string, id uint64, bootstrap bool, extra ...string) *daemon {
	dir := t.TempDir()
	d := &daemon{
		t: t, bin: bin, id: id, bootstrap: bootstrap, extra: extra,
		addr: freeAddress(t), api: freeAddress(t),
		data: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "stderr.log"),
	}
	t.Cleanup(d.cleanup)
	return d
}

// args is the daemon's command line.
func (d *daemon) args() []string {
	args := []string{"-id", strconv.FormatUint(d.id, 10), "-addr", d.addr, "-api", d.api, "-data", d.data, "-log-level", "info"}
	if d.bootstrap {
		args = append(args, "-bootstrap")
	}
	return append(args, d.extra...)
}

// start runs a new incarnation of the daemon and waits until its API answers.
func (d *daemon) start() {
	d.t.Helper()
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	fmt.Fprintf(logFile, "---- start: raft %s\n", strings.Join(d.args(), " "))
	cmd := exec.Command(d.bin, d.args()...)
	cmd.Stderr = logFile
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		d.t.Fatalf("start node %d: %v", d.id, err)
	}
	d.cmd = cmd
	exited := make(chan struct{})
	d.exited = exited
	go func() {
		d.status = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	if d.conn == nil {
		conn, err := grpc.Dial(d.api, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			d.t.Fatal(err)
		}
		d.conn = conn
	}
	eventually(d.t, 15*time.Second, fmt.Sprintf("node %d serves its API", d.id), func() error {
		select {
		case <-exited:
			return stop{fmt.Errorf("node %d exited at start: %v\n%s", d.id, d.status, d.logs())}
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := d.client().Status(ctx, &raftv1.StatusRequest{})
		return err
	})
}

// client is a PeerService client of the daemon's API (it reconnects across restarts).
func (d *daemon) client() raftv1.PeerServiceClient { return raftv1.NewPeerServiceClient(d.conn) }

// running says whether the current incarnation still runs.
func (d *daemon) running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill() {
	d.t.Helper()
	if !d.running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// terminate sends SIGTERM and returns the exit code and how long the exit took; it fails
// the test if the daemon has not exited within timeout.
func (d *daemon) terminate(timeout time.Duration) (int, time.Duration) {
	d.t.Helper()
	if !d.running() {
		d.t.Fatalf("node %d is not running", d.id)
	}
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatalf("SIGTERM node %d: %v", d.id, err)
	}
	select {
	case <-d.exited:
	case <-time.After(timeout):
		d.kill()
		d.t.Fatalf("node %d did not exit within %v of SIGTERM\n%s", d.id, timeout, d.logs())
	}
	took := time.Since(start)
	var exitErr *exec.ExitError
	switch {
	case d.status == nil:
		return 0, took
	case errors.As(d.status, &exitErr):
		return exitErr.ExitCode(), took
	}
	d.t.Fatalf("node %d: %v", d.id, d.status)
	return -1, took
}

// logs returns what the daemon wrote to stderr, every incarnation.
func (d *daemon) logs() string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	return string(b)
}

// cleanup kills the daemon if it still runs and shows its logs when the test failed.
func (d *daemon) cleanup() {
	d.kill()
	if d.conn != nil {
		d.conn.Close()
	}
	if d.t.Failed() {
		d.t.Logf("stderr of node %d (%s):\n%s", d.id, d.logPath, tail(d.logs(), 12000))
	}
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
