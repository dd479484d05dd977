package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/raftsidecar/raft/messages"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	lstorage "github.com/syndtr/goleveldb/leveldb/storage"
	"google.golang.org/protobuf/proto"
)

// freshDir tells whether dir holds no database yet, creating it when it does not exist.
// A directory holds a database as soon as it holds any file goleveldb keeps data in
// (CURRENT*, MANIFEST-*, numbered .log, .ldb, .sst or .tmp files) or a value file of
// this package (values-*.dat: a directory holding value files but no database has lost
// its database, and is refused as damaged, not made a new store); LOCK and LOG alone,
// the copies a repair keeps (<journal>.torn-*), or files of other programs (lost+found),
// do not count. An existing database is opened with ErrorIfMissing, because goleveldb,
// asked to open a database whose CURRENT file is gone, would otherwise create a new one
// and delete the old files as obsolete.
func freshDir(dir string) (bool, error) {
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, os.MkdirAll(dir, 0o750)
	}
	if err != nil {
		return false, err
	}
	for _, e := range names {
		if isDatabaseFile(e.Name()) {
			return false, nil
		}
	}
	return true, nil
}

func isDatabaseFile(name string) bool {
	if _, ok := parseValueFileName(name); ok {
		return true
	}
	if name == "CURRENT" || strings.HasPrefix(name, "CURRENT.") || strings.HasPrefix(name, "MANIFEST-") {
		return true
	}
	num, ext, ok := strings.Cut(name, ".")
	if !ok {
		return false
	}
	if _, err := strconv.ParseUint(num, 10, 64); err != nil {
		return false
	}
	switch ext {
	case "log", "ldb", "sst", "tmp":
		return true
	}
	return false
}

// verifyDir opens the database in dir read-only and checks all of it (see scan). It
// returns the verified log bounds, initialized false when the database holds no record at
// all (a crash between its creation and the first write of Open), and, by value file
// number, where the last byte that an entry refers to ends (absent: nothing refers to
// that file).
func verifyDir(dir string) (meta logMeta, initialized bool, valueEnds map[uint64]int64, err error) {
	// goleveldb opens LOCK read-only in read-only mode, so it must exist.
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return logMeta{}, false, nil, fmt.Errorf("storage %s: open: %w", dir, err)
	}
	lock.Close()

	sizes, err := valueFileSizes(dir)
	if err != nil {
		return logMeta{}, false, nil, fmt.Errorf("storage %s: open: list value files: %w", dir, err)
	}
	files, err := lstorage.OpenFile(dir, true)
	if err != nil {
		return logMeta{}, false, nil, wrapErr(dir, "open", err)
	}
	defer files.Close()
	db, err := leveldb.Open(newJournalFiles(files, dir, true, nil), &opt.Options{ReadOnly: true, ErrorIfMissing: true, Strict: strictLevel})
	if err != nil {
		return logMeta{}, false, nil, wrapErr(dir, "open", err)
	}
	defer db.Close()
	values := &valueFileUse{sizes: sizes, ends: make(map[uint64]int64)}
	meta, initialized, err = scan(dir, db, values)
	return meta, initialized, values.ends, err
}

// scan reads every record of the database (O(n) in the size of the log): it verifies each
// checksum, decodes each record, checks that every entry holds its own index, that the
// entries are contiguous with non-decreasing nonzero terms, that the first of them is the
// first index the metadata record names (a log without entries may start anywhere), and
// that the configuration index agrees with them (a record, holding the same entry, for
// every configuration entry and for nothing else). Entries are decoded only as far as
// their index, term and type, but configuration entries, which are few, in full. Reading
// every record also makes goleveldb verify the checksum of every table block holding one.
//
// It returns the log's bounds: the first index of the metadata record, the index and term
// of the last entry. Nothing records the last index elsewhere, so a log that lost a
// suffix of whole entries, and nothing else, cannot be told from a shorter one.
func scan(dir string, r reader, values *valueFileUse) (meta logMeta, initialized bool, err error) {
	var (
		any, haveMeta, haveFormat bool
		version                   uint64
		metaFirst                 uint64 // of the metadata record
		count                     uint64 // entries seen
		first, last, lastTerm     uint64 // of the entries seen
		configs                   configIndexCheck
	)
	// The format record first: a store of another version is refused as such, before its
	// records are taken for damage (those of version 2 have other keys).
	switch value, err := r.Get(keyFormat, nil); {
	case errors.Is(err, leveldb.ErrNotFound):
	case err != nil:
		return logMeta{}, false, wrapErr(dir, "verify", err)
	default:
		payload, err := openRecord(keyFormat, value)
		if err != nil {
			return logMeta{}, false, corruptf(dir, "%v", err)
		}
		if version, err = decodeFormat(payload); err != nil {
			return logMeta{}, false, corruptf(dir, "format record undecodable: %v", err)
		}
		if version != formatVersion && version != previousFormatVersion {
			return logMeta{}, false, fmt.Errorf("storage %s: open: format version %d, want %d (or %d)", dir, version, formatVersion, previousFormatVersion)
		}
		haveFormat = true
	}

	it := r.NewIterator(nil, &opt.ReadOptions{DontFillCache: true})
	defer it.Release()
	for it.Next() {
		any = true
		key := it.Key()
		payload, err := openRecord(key, it.Value())
		if err != nil {
			return logMeta{}, false, corruptf(dir, "%v", err)
		}
		if index, ok := parseEntryKey(key); ok {
			h, err := decodeEntryHeader(payload)
			switch {
			case err != nil:
				return logMeta{}, false, corruptf(dir, "entry %d undecodable: %v", index, err)
			case h.index != index:
				return logMeta{}, false, corruptf(dir, "entry %d holds index %d", index, h.index)
			case h.term == 0:
				return logMeta{}, false, corruptf(dir, "entry %d has term 0", index)
			case count > 0 && index != last+1:
				return logMeta{}, false, corruptf(dir, "entries %d to %d missing", last+1, index-1)
			case h.term < lastTerm:
				return logMeta{}, false, corruptf(dir, "entry %d has term %d, below the term %d of entry %d",
					index, h.term, lastTerm, last)
			}
			if err := checkValueRef(index, payload, values); err != nil {
				return logMeta{}, false, corruptf(dir, "%v", err)
			}
			if h.typ == messages.EntryType_ENTRY_TYPE_CONFIG {
				if err := configs.addEntry(index, payload); err != nil {
					return logMeta{}, false, corruptf(dir, "%v", err)
				}
			}
			if count == 0 {
				first = index
			}
			last, lastTerm = index, h.term
			count++
			continue
		}
		if index, ok := parseConfigIndexKey(key); ok {
			if err := configs.addRecord(index, payload); err != nil {
				return logMeta{}, false, corruptf(dir, "%v", err)
			}
			continue
		}
		switch string(key) {
		case string(keyMeta):
			haveMeta = true
			if metaFirst, err = decodeMeta(payload); err != nil {
				return logMeta{}, false, corruptf(dir, "%v", err)
			}
		case string(keyFormat): // checked above
		case string(keyIdentity):
			if _, err := decodeIdentity(payload); err != nil {
				return logMeta{}, false, corruptf(dir, "identity undecodable: %v", err)
			}
		case string(keyHardState):
			if err := proto.Unmarshal(payload, &messages.HardState{}); err != nil {
				return logMeta{}, false, corruptf(dir, "hard state undecodable: %v", err)
			}
		case string(keyConfig):
			if err := proto.Unmarshal(payload, &messages.Configuration{}); err != nil {
				return logMeta{}, false, corruptf(dir, "configuration undecodable: %v", err)
			}
		default:
			return logMeta{}, false, corruptf(dir, "%s", describeKey(key))
		}
	}
	if err := it.Error(); err != nil {
		return logMeta{}, false, wrapErr(dir, "verify", err)
	}

	switch {
	case !any:
		return logMeta{}, false, nil
	case !haveFormat:
		return logMeta{}, false, corruptf(dir, "format record missing")
	case !haveMeta:
		return logMeta{}, false, corruptf(dir, "metadata record missing")
	case count > 0 && metaFirst != first:
		return logMeta{}, false, corruptf(dir, "metadata record (first index %d) does not match the entries stored (%d to %d)",
			metaFirst, first, last)
	}
	if err := configs.check(); err != nil {
		return logMeta{}, false, corruptf(dir, "%v", err)
	}
	if count == 0 {
		return emptyLog(metaFirst), true, nil
	}
	return logMeta{first: first, last: last, lastTerm: lastTerm}, true, nil
}

// valueFileUse is what verification learns of the value files.
type valueFileUse struct {
	sizes map[uint64]int64 // each file's size, by number
	ends  map[uint64]int64 // by number: where the last byte referred to ends
}

// checkValueRef checks that the reference of the entry record at index with payload, if
// it has one, points at bytes that its value file holds, and notes how far it reaches.
func checkValueRef(index uint64, payload []byte, values *valueFileUse) error {
	_, ref, separate, err := splitValueRef(payload)
	switch {
	case err != nil:
		return fmt.Errorf("entry %d undecodable: %v", index, err)
	case !separate:
		return nil
	}
	size, ok := values.sizes[ref.file]
	switch {
	case !ok:
		return fmt.Errorf("entry %d: %v (%s)", index, errValueMissing, valueFileName(ref.file))
	case ref.offset+ref.length > size:
		return fmt.Errorf("entry %d: %v (%s holds %d bytes, the entry's data is at offset %d, %d bytes)",
			index, errValueCut, valueFileName(ref.file), size, ref.offset, ref.length)
	}
	values.ends[ref.file] = max(values.ends[ref.file], ref.offset+ref.length)
	return nil
}
