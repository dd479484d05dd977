//go:build linux

package storage

import "syscall"

// datasync makes the data written to f durable, with the metadata needed to read it
// back (its size), but not its timestamps: fdatasync(2).
func datasync(f syncFile) error {
	return retryOnFD(f, syscall.Fdatasync)
}

// retryOnFD runs op on f's file descriptor, again for as long as it fails with EINTR.
func retryOnFD(f syncFile, op func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if opErr = op(int(fd)); opErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return opErr
}
