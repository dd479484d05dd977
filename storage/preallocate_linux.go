//go:build linux

package storage

import "syscall"

// preallocate makes f size bytes long, allocating the blocks it lacks below size without
// writing them (fallocate(2), mode 0): they read as zeroes.
func preallocate(f syncFile, size int64) error {
	return retryOnFD(f, func(fd int) error { return syscall.Fallocate(fd, 0, 0, size) })
}
