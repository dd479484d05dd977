package storage

import "os"

// spaceAhead is the space allocated ahead of the appends to one file, so that a sync after
// an append need not commit a new file size (see journalFiles, which measures it). LevelDB's
// journals and the newest value file use it.
type spaceAhead struct {
	allocated int64 // the file's size when space is allocated past what was written, else 0
	off       bool  // no more allocation: it failed (or is not supported), or the file is finished
}

// reserve makes room in f, written up to end, for need more bytes, allocating at least
// step more when there is not. When allocation fails, appends just grow the file (ENOSPC,
// if real, comes back from the write itself).
func (a *spaceAhead) reserve(f syncFile, end, need, step int64) {
	if a.off || end+need <= a.allocated {
		return
	}
	size := end + max(step, need)
	if err := preallocate(f, size); err != nil {
		a.off = true
		return
	}
	a.allocated = size
}

// finish cuts f back to end, what was written, when space was allocated past it, and makes
// that durable. Nothing is allocated for f after it.
func (a *spaceAhead) finish(f truncatableFile, end int64) error {
	a.off = true
	if a.allocated <= end {
		a.allocated = 0
		return nil
	}
	if err := truncateSynced(f, end); err != nil {
		return err
	}
	a.allocated = 0
	return nil
}

// truncatableFile is a file that can be cut and synced: *os.File, and goleveldb's files.
type truncatableFile interface {
	syncFile
	Truncate(size int64) error
}

// truncateSynced cuts f to size bytes and makes that durable.
func truncateSynced(f truncatableFile, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return datasync(f)
}

// truncateFileSynced cuts the file at path to size bytes and makes that durable.
func truncateFileSynced(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = truncateSynced(f, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
