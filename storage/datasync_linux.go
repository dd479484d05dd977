//go:build linux

package storage

import "syscall"

// datasync makes the data written to f durable, with the metadata needed to read it
// back (its size), but not its timestamps: fdatasync(2).
func datasync(f syncFile) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fdatasync(int(fd)); serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
