package storage

import "syscall"

// syncFile is a file that datasync can make durable: *os.File, and goleveldb's files.
type syncFile interface {
	Sync() error
	SyscallConn() (syscall.RawConn, error)
}
