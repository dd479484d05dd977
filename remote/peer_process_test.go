package remote

// Tests run every endpoint but one in a child process (the test binary re-executed in a
// "peer mode"): protoactor's remote start writes gRPC's global logger unsynchronized, so
// two endpoint starts in one process are a data race under -race (see StartEndpoint).
// The parent process starts a single shared endpoint, once, before any gRPC traffic.
//
// A peer process talks over stdin/stdout, one line per event:
//   child -> parent: "ready <address>", "recv <base64 of an AppendEntries>", "stopped",
//                    "done", "error <text>"
//   parent -> child: "stop" (the receiver calls Endpoint.Stop twice); closing stdin ends it.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// Environment of a peer process.
const (
	peerModeEnv    = "RAFT_REMOTE_TEST_PEER_MODE"
	peerAddressEnv = "RAFT_REMOTE_TEST_PEER_ADDRESS" // address to listen on
	peerTargetEnv  = "RAFT_REMOTE_TEST_PEER_TARGET"  // address to send to
)

// Peer modes.
const (
	// modeReceiver listens on peerAddressEnv with a RaftNode actor that reports every
	// AppendEntries it receives.
	modeReceiver = "receiver"
	// modeDelayedSendAfterStop sends to peerTargetEnv with a delay, stops its endpoint
	// before the delay ends, sends again, and reports "done" once the delayed delivery ran.
	modeDelayedSendAfterStop = "delayed-send-after-stop"
	// modeAddressInUse starts an endpoint on an address it already listens on and reports
	// the error.
	modeAddressInUse = "address-in-use"
)

// runPeer runs the peer process of the given mode and returns its exit code.
func runPeer(mode string) int {
	out := &lineWriter{w: os.Stdout}
	var err error
	switch mode {
	case modeReceiver:
		err = runReceiverPeer(out, os.Getenv(peerAddressEnv), os.Stdin)
	case modeDelayedSendAfterStop:
		err = runDelayedSendAfterStopPeer(out, os.Getenv(peerTargetEnv))
	case modeAddressInUse:
		err = runAddressInUsePeer(out)
	default:
		err = fmt.Errorf("unknown peer mode %q", mode)
	}
	if err != nil {
		out.printf("error %v", err)
		return 1
	}
	return 0
}

// lineWriter writes whole lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

func runReceiverPeer(out *lineWriter, address string, commands io.Reader) error {
	e, err := StartEndpoint(address, EndpointOptions{})
	if err != nil {
		return err
	}
	defer e.Stop()
	props := actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*messages.AppendEntries); ok {
			b, err := proto.Marshal(m)
			if err != nil {
				out.printf("error %v", err)
				return
			}
			out.printf("recv %s", base64.StdEncoding.EncodeToString(b))
		}
	})
	if _, err := e.System.Root.SpawnNamed(props, NodeActorName); err != nil {
		return err
	}
	out.printf("ready %s", e.Address())

	lines := bufio.NewScanner(commands)
	for lines.Scan() {
		switch lines.Text() {
		case "stop":
			e.Stop()
			e.Stop()
			out.printf("stopped")
		default:
			return fmt.Errorf("unknown command %q", lines.Text())
		}
	}
	return lines.Err()
}

func runDelayedSendAfterStopPeer(out *lineWriter, target string) error {
	e, err := StartEndpoint("127.0.0.1:0", EndpointOptions{})
	if err != nil {
		return err
	}
	faults := NewFaultNetwork(1)
	faults.SetLink(1, 2, LinkFaults{Delay: 20 * time.Millisecond})
	tr := NewTransport(e.System, 1, faults)
	to := &messages.Member{Id: 2, Address: target}

	tr.Send(to, heartbeat(1, 2, 1))
	e.Stop()
	tr.Send(to, heartbeat(1, 2, 2)) // delayed as well, and sent after the stop
	NewTransport(e.System, 1, nil).Send(to, heartbeat(1, 2, 3))

	// A panic of the timer goroutine would kill this process before "done".
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for faults.Stats().Delivered < 2 {
		if time.Now().After(deadline) {
			return fmt.Errorf("delayed deliveries did not run: %+v", faults.Stats())
		}
		<-tick.C
	}
	out.printf("done")
	return nil
}

func runAddressInUsePeer(out *lineWriter) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	e, err := StartEndpoint(l.Addr().String(), EndpointOptions{})
	if err == nil {
		e.Stop()
		return fmt.Errorf("StartEndpoint on a busy address %s succeeded", l.Addr())
	}
	out.printf("done %v", err)
	return nil
}

// peerProcess is the parent's handle on a peer process.
type peerProcess struct {
	t        *testing.T
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   *syncBuffer
	lines    chan string                  // every line but "recv"
	received chan *messages.AppendEntries // decoded "recv" lines
	exited   chan struct{}
	exitErr  error
	closed   bool

	// Address is the address the peer's endpoint listens on (receiver mode).
	Address string
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPeer starts a peer process of the given mode with extra environment variables
// ("NAME=value"). The process is ended, and its exit checked, at test end.
func startPeer(t *testing.T, mode string, env ...string) *peerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	// A race-enabled binary sleeps 1 s at exit to let goroutines race: not needed here.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(append(os.Environ(), peerModeEnv+"="+mode, "GORACE="+gorace), env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &peerProcess{
		t:        t,
		cmd:      cmd,
		stdin:    stdin,
		stderr:   &syncBuffer{},
		lines:    make(chan string, 64),
		received: make(chan *messages.AppendEntries, 1024),
		exited:   make(chan struct{}),
	}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go p.read(stdout)
	t.Cleanup(p.close)
	return p
}

// startReceiver starts a receiver peer listening on address and waits until it is ready.
func startReceiver(t *testing.T, address string) *peerProcess {
	t.Helper()
	p := startPeer(t, modeReceiver, peerAddressEnv+"="+address)
	p.Address = strings.TrimPrefix(p.expect("ready "), "ready ")
	return p
}

// read dispatches the peer's output lines, then waits for its exit.
func (p *peerProcess) read(stdout io.Reader) {
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		if payload, ok := strings.CutPrefix(line, "recv "); ok {
			m, err := decodeAppendEntries(payload)
			if err != nil {
				line = "error " + err.Error()
			} else {
				select {
				case p.received <- m:
				default:
				}
				continue
			}
		}
		select {
		case p.lines <- line:
		default:
		}
	}
	p.exitErr = p.cmd.Wait()
	close(p.exited)
}

func decodeAppendEntries(payload string) (*messages.AppendEntries, error) {
	b, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, err
	}
	m := &messages.AppendEntries{}
	return m, proto.Unmarshal(b, m)
}

// expect waits for the peer's next line (other than "recv") and requires it to start
// with prefix.
func (p *peerProcess) expect(prefix string) string {
	p.t.Helper()
	select {
	case line := <-p.lines:
		require.True(p.t, strings.HasPrefix(line, prefix),
			"peer said %q, want %q…; stderr:\n%s", line, prefix, p.stderr.String())
		return line
	case <-p.exited:
		p.t.Fatalf("peer exited (%v) before saying %q…; stderr:\n%s", p.exitErr, prefix, p.stderr.String())
	case <-time.After(waitTimeout):
		p.t.Fatalf("peer did not say %q… within %v; stderr:\n%s", prefix, waitTimeout, p.stderr.String())
	}
	return ""
}

// receive waits for the next AppendEntries the peer received.
func (p *peerProcess) receive() *messages.AppendEntries {
	p.t.Helper()
	return receive(p.t, p.received)
}

// send writes one command line to the peer.
func (p *peerProcess) send(command string) {
	p.t.Helper()
	_, err := io.WriteString(p.stdin, command+"\n")
	require.NoError(p.t, err)
}

// stop stops the peer's endpoint (twice: Stop is idempotent) and waits for it.
func (p *peerProcess) stop() {
	p.t.Helper()
	p.send("stop")
	p.expect("stopped")
}

// close ends the peer: closes its stdin, waits for its exit (killing it after a while)
// and fails the test if it did not exit cleanly or reported a data race.
func (p *peerProcess) close() {
	if p.closed {
		return
	}
	p.closed = true
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Errorf("peer did not exit within %v", waitTimeout)
	}
	stderr := p.stderr.String()
	if p.exitErr != nil || strings.Contains(stderr, "DATA RACE") {
		p.t.Errorf("peer ended with %v; stderr:\n%s", p.exitErr, stderr)
	}
}
