package sidecar

import (
	"errors"
	"testing"
	"time"
)

// pollInterval is how often eventually tries again.
const pollInterval = 20 * time.Millisecond

// stop wraps an error that makes eventually give up at once.
type stop struct{ error }

// eventually calls try until it returns nil, and fails the test with the last error if that
// does not happen within timeout or try returns a stop error.
func eventually(t *testing.T, timeout time.Duration, what string, try func() error) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := try()
		if err == nil {
			return
		}
		var s stop
		if errors.As(err, &s) {
			t.Fatalf("%s: %v", what, s.error)
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		case <-tick.C:
		}
	}
}
