package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Large command payloads are kept out of LevelDB, in value files beside it.
//
// LevelDB writes every byte it is given twice: once to its journal when the batch is
// written, and again into a table when the memtable holding it is flushed. For commands
// of a few KiB and more, that second write is most of the store's cost: with 16 KiB
// commands, flushing memtables took half of a node's CPU, and the disk bandwidth of both
// writes bounded the cluster's throughput. So the data of a command entry at least
// valueMinSize long is appended to a value file instead, and the entry's LevelDB record
// holds a reference to it (file number, offset, length and checksum; see valueRef): the
// data is written once.
//
// Only a batch carrying at least valueBatchMinSize bytes of such data uses the value file:
// its data must be made durable with a sync of its own, before the LevelDB batch's, and a
// small batch (a single command at low load) loses more to that second sync's latency
// than it gains by writing its data once (measured with 16 KiB commands at one client:
// 1,074 ops/s keeping the data in LevelDB, 945 in value files). Large batches, which
// come with load, amortize it.
//
// Write appends a batch's values to the newest value file, in one write, and makes them
// durable (fsync, with Options.Sync) BEFORE it writes the LevelDB batch holding the
// references, so a reference that survives a crash never points at data that did not.
// A new value file's directory entry is synced before any reference to it is written.
//
// As with LevelDB's journal (see journalFiles), the newest value file's space is
// allocated ahead of its appends (valueAllocation at a time), so that a sync writes the
// data without committing a new file size. A file is cut back to what was appended when
// the next one is started and when the store closes; after a crash, Open cuts the newest
// file after the last byte any entry refers to (verification tells where). That also
// drops the values of a Write that a crash interrupted between the two writes: no record
// refers to them.
//
// Value files are named values-<number>.dat, numbered from 1; a file takes appends until
// it holds valueFileLimit bytes, and the next Write that has values starts a new one.
// The data of entries that a Write truncates stays in its file, unreferenced: the log
// only loses a suffix when a new leader overwrites uncommitted entries, so such garbage
// is rare and small, and value files are never rewritten.

// valueMinSize is the data length from which a command entry's data can go to a value
// file. Measured in batches large enough to use one (raftbench, alternating runs): with
// 1 KiB commands, 1 KiB against 2 KiB gave 26.9k/26.7k ops/s at 64 clients and 43.0k/41.1k
// at 256, with 4-10% less CPU; with 2 KiB commands, 2 KiB against 4 KiB gave 33.6k/26.2k
// ops/s at 256 clients and 32% less CPU. A variable so that tests of LevelDB's journal
// can keep large data in it.
var valueMinSize = 1 << 10

// valueBatchMinSize is the total data length, over the entries of one Write that could
// go to a value file, from which they do. A variable so that tests can set it.
var valueBatchMinSize = 64 << 10

// valueFileLimit is the size from which a value file takes no more appends. A variable so
// that tests can make files roll over quickly.
var valueFileLimit int64 = 256 << 20

// valueAllocation is how much space the newest value file is given ahead of its appends
// at a time. A small gain, measured with 16 KiB commands at 64 clients (raftbench,
// alternating runs, medians): 6,204 → 6,435 ops/s and 215 → 196 ms of CPU per thousand
// commands in 3 pairs, 5,463 → 5,726 and 229 → 220 in 5; with 4 KiB commands, equal
// throughput and 5% less CPU.
const valueAllocation = 32 << 20

// maxKeptValues is the size up to which the buffer of a Write's values is kept for the
// next Write.
const maxKeptValues = 4 << 20

const (
	valueFilePrefix = "values-"
	valueFileSuffix = ".dat"
)

// valueFileName returns the name of value file number num.
func valueFileName(num uint64) string {
	return fmt.Sprintf("%s%06d%s", valueFilePrefix, num, valueFileSuffix)
}

// parseValueFileName returns the number of the value file called name.
func parseValueFileName(name string) (num uint64, ok bool) {
	digits, found := strings.CutPrefix(name, valueFilePrefix)
	if !found {
		return 0, false
	}
	if digits, found = strings.CutSuffix(digits, valueFileSuffix); !found {
		return 0, false
	}
	num, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || num == 0 {
		return 0, false
	}
	return num, true
}

// valueRef locates the data of one entry in a value file.
type valueRef struct {
	file   uint64 // value file number
	offset int64  // of the data's first byte in the file
	length int64  // of the data
	sum    uint32 // checksum(entry key, data)
}

// valueFiles holds a store's value files: appends to the newest, reads from any. Its
// writing methods (add, flush, discard) are called by one goroutine at a time (the
// store's Write); read may run concurrently with them.
type valueFiles struct {
	dir  string
	sync bool // fsync appends and new files' directory entries

	mu    sync.RWMutex        // guards files
	files map[uint64]*os.File // every value file, open, by number; nil once closed

	active  uint64     // number of the file appended to; 0 until there is one
	end     int64      // bytes appended to the active file
	space   spaceAhead // allocated ahead in the active file
	pending []byte     // values added since the last flush, to go at end
	created bool       // the active file was created and its directory entry not yet synced
}

// openValueFiles opens the value files in dir: every one for reading, the newest for
// appends. ends gives, by number, where the last byte an entry refers to ends (absent:
// nothing refers to the file); the newest file is cut there, dropping space allocated
// ahead and values no entry refers to, and takes the next append there.
func openValueFiles(dir string, sync bool, ends map[uint64]int64) (*valueFiles, error) {
	v := &valueFiles{dir: dir, sync: sync, files: make(map[uint64]*os.File)}
	sizes, err := valueFileSizes(dir)
	if err != nil {
		return nil, err
	}
	for num := range sizes {
		f, err := os.OpenFile(filepath.Join(dir, valueFileName(num)), os.O_RDWR, 0)
		if err != nil {
			v.close()
			return nil, err
		}
		v.files[num] = f
		v.active = max(v.active, num)
	}
	if v.active != 0 {
		v.end = ends[v.active]
		if sizes[v.active] > v.end {
			if err := truncateSynced(v.files[v.active], v.end); err != nil {
				v.close()
				return nil, fmt.Errorf("cutting %s after its last referred byte: %w", valueFileName(v.active), err)
			}
		}
	}
	return v, nil
}

// finishActive cuts the active file back to what was appended, if space was allocated past
// it: before the next file is started, and on close.
func (v *valueFiles) finishActive() error {
	if v.active == 0 {
		return nil
	}
	return v.space.finish(v.files[v.active], v.end)
}

// valueFileSizes lists the value files in dir: their sizes by number.
func valueFileSizes(dir string) (map[uint64]int64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	sizes := make(map[uint64]int64)
	for _, de := range des {
		num, ok := parseValueFileName(de.Name())
		if !ok {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("value file %s is not a regular file", de.Name())
		}
		sizes[num] = info.Size()
	}
	return sizes, nil
}

// add queues data, the data of the entry stored under key, to be appended by the next
// flush, and returns where it will be. The first value added to a full value file (or
// when there is none) creates the next one.
func (v *valueFiles) add(key, data []byte) (valueRef, error) {
	if len(v.pending) == 0 && (v.active == 0 || v.end >= valueFileLimit) {
		if err := v.rollOver(); err != nil {
			return valueRef{}, err
		}
	}
	ref := valueRef{
		file:   v.active,
		offset: v.end + int64(len(v.pending)),
		length: int64(len(data)),
		sum:    checksum(key, data),
	}
	v.pending = append(v.pending, data...)
	return ref, nil
}

// rollOver creates the next value file and makes it the active one.
func (v *valueFiles) rollOver() error {
	// Only the newest file may have space after its values (Open cuts that one).
	if err := v.finishActive(); err != nil {
		return err
	}
	num := v.active + 1
	f, err := os.OpenFile(filepath.Join(v.dir, valueFileName(num)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.files[num] = f
	v.mu.Unlock()
	v.active, v.end, v.created = num, 0, true
	v.space = spaceAhead{}
	return nil
}

// flush appends the values added since the last flush to the active file and, with sync,
// makes them durable, together with a new file's directory entry.
func (v *valueFiles) flush() error {
	if len(v.pending) == 0 {
		return nil
	}
	f := v.files[v.active]
	v.space.reserve(f, v.end, int64(len(v.pending)), valueAllocation)
	if _, err := f.WriteAt(v.pending, v.end); err != nil {
		return err
	}
	if v.sync {
		if err := datasync(f); err != nil {
			return err
		}
		if v.created {
			if err := syncDir(v.dir); err != nil {
				return err
			}
		}
	}
	v.created = false
	v.end += int64(len(v.pending))
	v.discard()
	return nil
}

// discard drops the values added since the last flush (a Write that failed before it).
func (v *valueFiles) discard() {
	if cap(v.pending) > maxKeptValues {
		v.pending = nil
		return
	}
	v.pending = v.pending[:0]
}

// errValueMissing and errValueCut describe a reference no value file can satisfy.
var (
	errValueMissing = errors.New("its value file does not exist")
	errValueCut     = errors.New("its value file ends before it")
)

// read returns the data ref locates, as stored: the caller verifies its checksum.
func (v *valueFiles) read(ref valueRef) ([]byte, error) {
	v.mu.RLock()
	f, closed := v.files[ref.file], v.files == nil
	v.mu.RUnlock()
	switch {
	case closed:
		return nil, os.ErrClosed
	case f == nil:
		return nil, errValueMissing
	}
	data := make([]byte, ref.length)
	if _, err := f.ReadAt(data, ref.offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errValueCut
		}
		return nil, err
	}
	return data, nil
}

// close cuts the active file back to what was appended and closes every value file; a
// later read returns os.ErrClosed.
func (v *valueFiles) close() error {
	first := v.finishActive()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, f := range v.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	v.files = nil
	return first
}
