package actors

import "time"

// Clock tells the time. Raft logic never calls time.Now itself, so tests and the simulator
// can run it on virtual time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
