package storage

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by every error reporting damaged data: LevelDB's own
	// corruption errors, missing or cut files, checksum mismatches and metadata that
	// disagrees with the entries stored. Such an error's message names the directory.
	ErrCorrupt = errors.New("corrupt")

	// ErrInvalidBatch is wrapped by the error Write returns for a rejected Batch. A
	// rejected Batch changes nothing.
	ErrInvalidBatch = errors.New("invalid batch")

	// ErrOutOfRange is wrapped by the error Entries and Term return for indexes outside
	// the log held.
	ErrOutOfRange = errors.New("index out of range")

	// ErrClosed is wrapped by the error every call on a closed store returns.
	ErrClosed = errors.New("store closed")
)

// corruptError reports damaged data in one store. It matches ErrCorrupt with errors.Is
// and unwraps to its cause, when there is one (a LevelDB error, for instance).
type corruptError struct {
	dir    string // directory of the store (or "memory")
	detail string // what is wrong, e.g. "entry 17 checksum mismatch"
	cause  error  // may be nil
}

func (e *corruptError) Error() string {
	if e.cause == nil {
		return fmt.Sprintf("storage %s: %v: %s", e.dir, ErrCorrupt, e.detail)
	}
	return fmt.Sprintf("storage %s: %v: %s: %v", e.dir, ErrCorrupt, e.detail, e.cause)
}

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *corruptError) Unwrap() error { return e.cause }

// corruptf returns a corruption error for the store in dir.
func corruptf(dir string, format string, args ...any) error {
	return &corruptError{dir: dir, detail: fmt.Sprintf(format, args...)}
}

// invalidf returns an error wrapping ErrInvalidBatch (without the store's name: the
// store adds it).
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidBatch, fmt.Sprintf(format, args...))
}

// outOfRangef returns an error wrapping ErrOutOfRange for the store named name.
func outOfRangef(name string, format string, args ...any) error {
	return fmt.Errorf("storage %s: %w: %s", name, ErrOutOfRange, fmt.Sprintf(format, args...))
}

// closedErr returns an error wrapping ErrClosed for the store named name.
func closedErr(name string) error {
	return fmt.Errorf("storage %s: %w", name, ErrClosed)
}
