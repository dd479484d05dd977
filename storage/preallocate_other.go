//go:build !linux

package storage

import "errors"

// preallocate is not supported outside Linux: journals grow with each append.
func preallocate(syncFile, int64) error { return errors.ErrUnsupported }
