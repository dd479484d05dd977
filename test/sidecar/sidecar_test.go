package sidecar

import "testing"

// TestSidecar builds the daemon and the CLI once, into a temporary directory, and runs the
// scenarios in parallel, each on its own cluster of processes.
func TestSidecar(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs clusters of processes")
	}
	bin := buildBinaries(t, t.TempDir())
	t.Run("Walkthrough", func(t *testing.T) {
		t.Parallel()
		testWalkthrough(t, bin)
	})
	t.Run("ErrorTable", func(t *testing.T) {
		t.Parallel()
		testErrorTable(t, bin)
	})
	t.Run("CrashAndShutdown", func(t *testing.T) {
		t.Parallel()
		testCrashAndShutdown(t, bin)
	})
	t.Run("SlowWatcher", func(t *testing.T) {
		t.Parallel()
		testSlowWatcher(t, bin)
	})
}
