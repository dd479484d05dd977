package test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// maxCapturedLog bounds the protoactor log kept per cluster; older lines are dropped.
const maxCapturedLog = 4 << 20

// capturedLog keeps what every node logged (its Raft events, and its protoactor remoting's
// connections made, lost, refused), so that a failing cluster test can show it. It is printed only on failure.
type capturedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p, dropping the oldest half when the log grows past maxCapturedLog.
func (l *capturedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > maxCapturedLog {
		keep := l.buf.Bytes()[l.buf.Len()/2:]
		if i := bytes.IndexByte(keep, '\n'); i >= 0 {
			keep = keep[i+1:]
		}
		kept := append([]byte("... earlier lines dropped\n"), keep...)
		l.buf.Reset()
		l.buf.Write(kept)
	}
	return l.buf.Write(p)
}

// logger returns a logger for node id writing into the capture.
func (l *capturedLog) logger(id uint64) *slog.Logger {
	h := slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(h).With(slog.Uint64("node", id))
}

// nodeLogger returns the Raft node's own logger for node id (debug level) writing into the capture.
func (l *capturedLog) nodeLogger(id uint64) *slog.Logger {
	h := slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h).With(slog.Uint64("node", id), slog.String("lib", "raft"))
}

// dumpOnFailure prints the capture at the end of a failed test.
func (l *capturedLog) dumpOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Logf("protoactor logs of every node:\n%s", l.buf.String())
	})
}
