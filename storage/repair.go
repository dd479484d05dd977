package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	ljournal "github.com/syndtr/goleveldb/leveldb/journal"
	lstorage "github.com/syndtr/goleveldb/leveldb/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// A torn journal tail, and why only that is repaired.
//
// goleveldb appends every batch to its current journal (a numbered .log file) as one
// record, then fsyncs the file (Options.Sync) before Write returns. The journal is a
// sequence of 32 KiB blocks; a record is one FULL chunk, or a FIRST chunk, MIDDLE chunks
// and a LAST chunk, one per block it touches. A chunk is a 7-byte header (masked
// CRC32-Castagnoli of its type and payload, payload length, type) and its payload; a
// block with fewer than 7 bytes left is padded with zeroes. A record is written with one
// write() per block it completes and one for the rest, so a crash (a killed process, or
// power lost before the fsync) can leave the file ending anywhere inside the record being
// written, or, on some filesystems, extended with zeroes in place of what was not yet
// written. That record's Write had not returned: dropping it is correct.
//
// Everything before it was fsynced by an earlier Write, so a crash damages the end of the
// newest journal and nothing else. Open therefore repairs exactly this: the file
// goleveldb complains about is the highest-numbered journal in the directory, its records
// are complete and checksum-valid up to some offset, and all that follows that offset is
// an incomplete record or zeroes:
//   - a chunk header, or a chunk's payload, cut off by the end of the file;
//   - FIRST and MIDDLE chunks, complete and checksum-valid, with no LAST chunk before the
//     end of the file (a crash between two write() calls of a record spanning blocks);
//   - zero bytes up to the end of the file after such chunks.
//
// Zero bytes up to the end of the file right after a complete record are no tear: the
// space of the journal being written is allocated ahead, so a crash always leaves them,
// and they hold nothing. goleveldb reads that journal as if it ended before them
// (journalFiles.Open), and it is never reported here.
//
// Anything else stays corruption (ErrCorrupt): damage in an older journal (goleveldb
// starts a new journal only between two batches, once the last one written to the old
// journal is complete, and fsynced with Options.Sync, so a crash cannot tear it), damage
// followed by anything but the above, a chunk out of sequence or overflowing its block,
// and a complete chunk whose checksum does not match. The last includes a final record
// that is all there but damaged: bytes the writer finished writing that then changed are
// rot, not a tear, and the record may well have been acknowledged.
//
// What no one can tell from the file: a journal cut short inside a record by anything
// but a crash (a filesystem losing the end of a file, a careless copy, or damage to the
// length field of the final chunk making it reach past the end of the file) looks exactly
// like a torn tail, and is repaired too, even if later batches had been acknowledged.
// That is why the repair keeps the original file and says what it did (Options.Logger,
// LevelDB.Repaired).

// The journal format (goleveldb's leveldb/journal, that of LevelDB's log files).
const (
	journalBlockSize  = 32 << 10
	journalHeaderSize = 7

	chunkFull   = 1
	chunkFirst  = 2
	chunkMiddle = 3
	chunkLast   = 4
)

// journalScan is what scanJournal found in a journal.
type journalScan struct {
	records int    // complete, checksum-valid records from the start of the file
	end     int64  // offset just past the last of them: the size the file is cut to
	torn    bool   // everything from end on is a torn tail (see above)
	zeroes  bool   // everything from end on is zero bytes (torn is then set too)
	what    string // what follows end; "" when the file ends there (or in padding)
}

// scanJournal walks the chunks of a journal, verifying each chunk's checksum, and tells
// where its last complete record ends and whether all that follows is a torn tail.
func scanJournal(data []byte) journalScan {
	var s journalScan
	p := 0
	inRecord := false // a FIRST chunk was seen, its LAST not yet
	stop := func(torn bool, format string, args ...any) journalScan {
		s.torn, s.what = torn, fmt.Sprintf(format, args...)
		return s
	}
	for {
		if p >= len(data) {
			if inRecord {
				return stop(true, "a record without its last chunk")
			}
			return s // at a record boundary, or in the padding after it
		}
		left := journalBlockSize - p%journalBlockSize
		if left < journalHeaderSize { // block padding, skipped by readers
			p += left
			continue
		}
		rest := data[p:]
		if isZero(rest) {
			if inRecord {
				return stop(true, "a record without its last chunk, then %d zero bytes", len(rest))
			}
			s.zeroes = true
			return stop(true, "%d zero bytes", len(rest))
		}
		if len(rest) < journalHeaderSize {
			return stop(true, "a chunk header cut off by the end of the file")
		}
		sum := binary.LittleEndian.Uint32(rest[0:4])
		n := int(binary.LittleEndian.Uint16(rest[4:6]))
		typ := rest[6]
		switch {
		case typ < chunkFull || typ > chunkLast:
			return stop(false, "a chunk of invalid type %d at offset %d", typ, p)
		case (typ == chunkMiddle || typ == chunkLast) != inRecord:
			return stop(false, "a chunk of type %d out of sequence at offset %d", typ, p)
		case journalHeaderSize+n > left:
			return stop(false, "a chunk overflowing its block at offset %d", p)
		case journalHeaderSize+n > len(rest):
			return stop(true, "a chunk cut off by the end of the file")
		case util.NewCRC(rest[6:journalHeaderSize+n]).Value() != sum:
			return stop(false, "a checksum mismatch in the complete chunk at offset %d", p)
		}
		p += journalHeaderSize + n
		inRecord = typ == chunkFirst || typ == chunkMiddle
		if !inRecord {
			s.records++
			s.end = int64(p)
		}
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readJournal reads data with goleveldb's own journal reader, strict and verifying
// checksums as Open's goleveldb is, and returns the number of records read before the
// end of the file or the first error.
func readJournal(data []byte) (records int, err error) {
	jr := ljournal.NewReader(bytes.NewReader(data), nil, true, true)
	for {
		r, err := jr.Next()
		if err == io.EOF {
			return records, nil
		}
		if err != nil {
			return records, err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return records, err
		}
		records++
	}
}

// tornJournal is a journal found to end in a torn tail.
type tornJournal struct {
	name string // file name in the directory
	data []byte // its contents
	scan journalScan
}

// journalCorruption returns the journal that goleveldb reports damaged in err, an error
// of opening a database.
func journalCorruption(err error) (lstorage.FileDesc, bool) {
	var ce *lerrors.ErrCorrupted
	if !errors.As(err, &ce) || ce.Fd.Type != lstorage.TypeJournal {
		return lstorage.FileDesc{}, false
	}
	var je *ljournal.ErrCorrupted
	if !errors.As(ce.Err, &je) { // a batch that does not decode is no tear
		return lstorage.FileDesc{}, false
	}
	return ce.Fd, true
}

// findTornTail tells whether the journal bad, which goleveldb found damaged, is the newest
// journal in the directory of stor (at dir) and ends in a torn tail. It returns nil when
// it is not (or when what goleveldb reports is not that tail).
func findTornTail(dir string, stor lstorage.Storage, bad lstorage.FileDesc) (*tornJournal, error) {
	fds, err := stor.List(lstorage.TypeJournal)
	if err != nil {
		return nil, err
	}
	listed := false
	for _, fd := range fds {
		if fd.Num > bad.Num {
			return nil, nil // damage in an older journal
		}
		listed = listed || fd == bad
	}
	if !listed {
		return nil, nil
	}
	name := bad.String() // the name goleveldb gives (and opens) the file
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	scan := scanJournal(data)
	if !scan.torn {
		return nil, nil
	}
	// goleveldb must see the same: the same records, then corruption; and, once cut, the
	// same records, then the end.
	if n, err := readJournal(data); n != scan.records || !lerrors.IsCorrupted(err) {
		return nil, nil
	}
	if n, err := readJournal(data[:scan.end]); n != scan.records || err != nil {
		return nil, nil
	}
	return &tornJournal{name: name, data: data, scan: scan}, nil
}

// repairTornTail looks at openErr, the error verifyDir returned for dir, and when it
// reports exactly a torn tail of the newest journal (see above), cuts that journal to its
// last complete record, after keeping a copy of it. It returns a description of the
// repair, or "" and nil when there is nothing it may repair (openErr stands). An error
// means a repair was called for but failed.
func repairTornTail(dir string, openErr error, logger *slog.Logger) (string, error) {
	bad, ok := journalCorruption(openErr)
	if !ok {
		return "", nil
	}
	// First look with the directory shared-locked, changing nothing.
	stor, err := lstorage.OpenFile(dir, true)
	if err != nil {
		return "", nil // cannot look: openErr stands
	}
	torn, err := findTornTail(dir, stor, bad)
	stor.Close()
	if err != nil || torn == nil {
		return "", nil
	}

	// Then decide again, and repair, with the directory locked as goleveldb locks it for
	// writing, so that no store can be appending to the journal meanwhile.
	stor, err = lstorage.OpenFile(dir, false)
	if err != nil {
		return "", fmt.Errorf("storage %s: open: repairing the torn tail of journal %s: %w", dir, torn.name, err)
	}
	defer stor.Close()
	torn, err = findTornTail(dir, stor, bad)
	if err != nil {
		return "", fmt.Errorf("storage %s: open: repairing the torn tail of journal %s: %w", dir, bad, err)
	}
	if torn == nil {
		return "", nil
	}
	kept, err := cutJournal(dir, torn)
	if err != nil {
		return "", fmt.Errorf("storage %s: open: repairing the torn tail of journal %s: %w", dir, torn.name, err)
	}

	size, end := int64(len(torn.data)), torn.scan.end
	desc := fmt.Sprintf("journal %s: cut from %d to %d bytes, dropping a torn final record (%s) after %d complete ones; original kept as %s",
		torn.name, size, end, torn.scan.what, torn.scan.records, kept)
	if logger != nil {
		logger.Warn("storage: repaired the torn tail of a journal, dropping a batch a crash interrupted before it was acknowledged",
			"dir", dir, "file", torn.name, "size", size, "kept", end, "cut", size-end,
			"records", torn.scan.records, "tail", torn.scan.what, "original", kept)
	}
	return desc, nil
}

// cutJournal keeps a copy of the journal (as <name>.torn-<unix nanoseconds>, a name
// goleveldb and freshDir ignore), then cuts the journal to torn.scan.end. It returns the
// copy's name.
//
// A crash in between is harmless: until the copy is complete, synced and named, the
// journal is untouched, and a later Open finds the same torn tail (and makes another
// copy; an interrupted one is left as <copy>.tmp). The cut itself is idempotent, made
// durable by syncing the journal, and leaves the journal clean.
func cutJournal(dir string, torn *tornJournal) (string, error) {
	kept := fmt.Sprintf("%s.torn-%d", torn.name, time.Now().UnixNano())
	tmp := filepath.Join(dir, kept+".tmp")
	if err := writeFileSynced(tmp, torn.data); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(dir, kept)); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}

	f, err := os.OpenFile(filepath.Join(dir, torn.name), os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	// The file is still the one diagnosed (the directory is locked); check anyway.
	fi, err := f.Stat()
	if err == nil && fi.Size() != int64(len(torn.data)) {
		err = fmt.Errorf("journal %s changed size (%d bytes, %d when checked)", torn.name, fi.Size(), len(torn.data))
	}
	if err == nil {
		err = f.Truncate(torn.scan.end)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return kept, nil
}

// writeFileSynced creates path (which must not exist), writes data to it and syncs it.
func writeFileSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes the names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
