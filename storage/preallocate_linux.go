//go:build linux

package storage

import "syscall"

// preallocate makes f size bytes long, allocating the blocks it lacks below size without
// writing them (fallocate(2), mode 0): they read as zeroes.
func preallocate(f syncFile, size int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if ferr = syscall.Fallocate(int(fd), 0, 0, size); ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
