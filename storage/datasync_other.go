//go:build !linux

package storage

// datasync makes the data written to f durable. Outside Linux it is f.Sync (fsync, or
// F_FULLFSYNC on macOS as the os package does).
func datasync(f syncFile) error { return f.Sync() }
