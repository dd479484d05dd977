package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/raftsidecar/raft/messages"
	"github.com/syndtr/goleveldb/leveldb"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/opt"
	lstorage "github.com/syndtr/goleveldb/leveldb/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
	"google.golang.org/protobuf/proto"
)

// strictLevel makes goleveldb report damage instead of skipping it. Its default
// (StrictJournalChecksum|StrictBlockChecksum|StrictCompaction|StrictReader) verifies the
// journal's checksums but then DROPS a damaged journal block (32 KiB) and goes on
// replaying what follows: a damaged or cut journal silently loses acknowledged batches,
// even ones in the middle. So:
//   - StrictJournal: a damaged or cut journal chunk fails the open. goleveldb cannot tell
//     a journal cut inside an acknowledged batch from the torn tail of a batch that a
//     crash interrupted before it was acknowledged (both end in a partial record), so a
//     torn tail fails it too; Open then looks at the journal itself and repairs exactly a
//     torn tail of the newest journal (see repair.go), nothing else.
//   - StrictJournalChecksum, StrictBlockChecksum: verify the journal and table checksums.
//   - StrictManifest: a damaged MANIFEST fails Open instead of being dropped.
//   - StrictCompaction, StrictReader: a damaged table fails compaction and reads.
const strictLevel = opt.StrictManifest | opt.StrictJournalChecksum | opt.StrictJournal |
	opt.StrictBlockChecksum | opt.StrictCompaction | opt.StrictReader

// LevelDB is the production Storage: one LevelDB database in one directory, changed only
// through atomic LevelDB batches. Write must be called by one goroutine at a time (calls
// are serialized anyway); Load, Entries and Term may run concurrently with it and each
// other: each reads from one LevelDB snapshot, so it sees whole batches only.
type LevelDB struct {
	dir      string
	db       *leveldb.DB
	files    lstorage.Storage // db's files; closed after it (nil when the caller owns them)
	values   *valueFiles      // the data of large commands (value_files.go)
	wo       *opt.WriteOptions
	repaired []string // what Open repaired; never changed after

	mu      sync.Mutex // serializes Write and Close; guards the fields below
	cur     current    // the state as of the last successful Write
	closed  bool
	failed  error  // set when a LevelDB write failed: the state is then unknown
	keyBuf  []byte // scratch for keys
	recBuf  []byte // scratch for values
	pending leveldb.Batch
}

// maxKeptBatch is the size up to which the batch buffer is kept for the next Write.
const maxKeptBatch = 1 << 20

// reader is what both *leveldb.DB and *leveldb.Snapshot offer.
type reader interface {
	Get(key []byte, ro *opt.ReadOptions) ([]byte, error)
	NewIterator(slice *util.Range, ro *opt.ReadOptions) iterator.Iterator
}

// Open opens the store in dir, creating dir and an empty store if dir does not exist or
// holds no database.
//
// Opening an existing store first verifies all of it with the database opened read-only,
// so that nothing in dir is changed (goleveldb deletes files it thinks obsolete when it
// opens a database for writing) before the store is known to be sound: every record's
// checksum, every entry's index and term, the entries' contiguity from the first index
// the metadata record names to the last entry stored, and the configuration index against
// the configuration entries. This costs O(n) in the size of the log.
//
// Zero bytes after the last record of the newest journal are not damage: a journal's
// space is allocated ahead of its writes (see journalFiles), so a crash leaves them.
// They hold no record; verification reads the journal as if it ended before them, and
// opening it for writing cuts them off (logged to Options.Logger at Info level).
//
// Damage fails Open with an error wrapping ErrCorrupt that names dir, and leaves dir as it
// was, with one exception: a torn tail of the newest journal. A crash in the middle of a
// Write (a killed process, lost power) can leave the journal file ending inside that
// Write's batch, or followed by zero bytes; that Write never returned, so dropping its
// batch is correct. When goleveldb reports the newest journal damaged and all that
// follows its last complete, checksum-valid record is such an incomplete record (a chunk
// or chunk header cut off by the end of the file, chunks of a record whose last chunk
// never came, zero bytes up to the end of the file), Open copies the journal to
// <journal>.torn-<unix nanoseconds> in dir, cuts the journal after that last complete
// record, logs a warning to Options.Logger, notes the repair for Repaired, and verifies
// and opens the store as usual. Anything else stays corruption: damage in an older
// journal, damage followed by anything but such a tail, or a complete record (the final
// one included) whose checksum does not match, which is rot, not a tear. No one can tell
// a journal cut short inside an acknowledged batch (other than by a crash) from a torn
// tail, so that is repaired too, dropping the batches from the cut on: the copy keeps
// them. A journal cut exactly between two batches cannot be detected by anyone; the store
// then opens with the batches before the cut.
//
// An I/O error while repairing fails Open with an error that does not wrap ErrCorrupt;
// the journal is then as it was, or already repaired. A repaired store that then fails
// verification fails Open as any damaged one does, but stays repaired.
func Open(dir string, opts Options) (*LevelDB, error) {
	fresh, err := freshDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage %s: open: %w", dir, err)
	}
	initialized := false
	var (
		verified  logMeta
		valueEnds map[uint64]int64
		repaired  []string
	)
	if !fresh {
		verified, initialized, valueEnds, err = verifyDir(dir)
		if err != nil {
			desc, rerr := repairTornTail(dir, err, opts.Logger)
			switch {
			case rerr != nil:
				return nil, rerr
			case desc == "":
				return nil, err
			}
			repaired = append(repaired, desc)
			if verified, initialized, valueEnds, err = verifyDir(dir); err != nil {
				return nil, err
			}
		}
	}

	o := &opt.Options{
		Strict:         strictLevel,
		ErrorIfMissing: !fresh,
		ErrorIfExist:   fresh,
		// A batch larger than the write buffer would otherwise be written as a goleveldb
		// transaction, straight into tables; this keeps every batch one journal record.
		DisableLargeBatchTransaction: true,
		// Level 1 holds 1 MiB instead of goleveldb's 10 MiB (C++ LevelDB's own default).
		// Appends compact for free (keys.go), but a table holding a hard state spans every
		// older entry and is merged, once, with what the next level holds in that range:
		// smaller upper levels keep that merge small (measured: 400 MiB of appends with a
		// hard state every 25 MiB read 1,720 MB in compactions at 10 MiB, 438 MB at 1 MiB).
		CompactionTotalSize: 1 << 20,
		// Tables are written once per entry (when the memtable is flushed) and rarely read;
		// Snappy on commands an application has usually compressed or encrypted already
		// cost 5-10% of CPU per command with 16 KiB commands and saved nothing.
		Compression: opt.NoCompression,
	}
	files, err := lstorage.OpenFile(dir, false)
	if err != nil {
		return nil, wrapErr(dir, "open", err)
	}
	db, err := leveldb.Open(newJournalFiles(files, dir, false, opts.Logger), o)
	if err != nil {
		files.Close()
		return nil, wrapErr(dir, "open", err)
	}
	values, err := openValueFiles(dir, opts.Sync, valueEnds)
	if err != nil {
		db.Close()
		files.Close()
		return nil, fmt.Errorf("storage %s: open value files: %w", dir, err)
	}
	s := &LevelDB{dir: dir, db: db, files: files, values: values, wo: &opt.WriteOptions{Sync: opts.Sync}, repaired: repaired}
	if err := s.init(initialized, verified); err != nil {
		db.Close()
		files.Close()
		values.close()
		return nil, err
	}
	return s, nil
}

// init writes the format and metadata records of a new store, or loads the state of an
// existing one (checking that its log bounds are still what verification saw).
func (s *LevelDB) init(initialized bool, verified logMeta) error {
	if !initialized {
		s.cur = current{meta: emptyLog(1)}
		b := new(leveldb.Batch)
		b.Put(keyFormat, appendFormatRecord(nil))
		b.Put(keyMeta, appendMetaRecord(nil, s.cur.meta.first))
		if err := s.db.Write(b, &opt.WriteOptions{Sync: true}); err != nil {
			return wrapErr(s.dir, "initialize", err)
		}
		return nil
	}
	st, meta, err := s.load(s.db)
	if err != nil {
		return err
	}
	if meta != verified {
		return corruptf(s.dir, "log changed between verification (%v) and opening (%v)", verified, meta)
	}
	s.cur = current{meta: meta, identity: st.Identity, term: st.HardState.GetTerm(), vote: st.HardState.GetVote()}
	return s.upgradeFormat()
}

// upgradeFormat marks a store of format version 3, which verification accepted, as
// version 4. Version 4 only added references to value files, so a version 3 store is a
// valid version 4 one; marking it keeps a version 3 build from opening it once it may
// hold them.
func (s *LevelDB) upgradeFormat() error {
	payload, _, err := s.get(s.db, keyFormat)
	if err != nil {
		return err
	}
	version, err := decodeFormat(payload)
	if err != nil {
		return corruptf(s.dir, "format record undecodable: %v", err)
	}
	if version == formatVersion {
		return nil
	}
	if err := s.db.Put(keyFormat, appendFormatRecord(nil), &opt.WriteOptions{Sync: true}); err != nil {
		return wrapErr(s.dir, "upgrade the format record", err)
	}
	return nil
}

// Dir returns the directory the store lives in, as given to Open.
func (s *LevelDB) Dir() string { return s.dir }

// Repaired describes, one line each, what Open repaired to open the store: nil when
// nothing (see Open for the one repair it makes, a torn journal tail).
func (s *LevelDB) Repaired() []string { return slices.Clone(s.repaired) }

// Load returns the state held. It reads a few records, the last entry (the end of the
// log) and the configuration index, never the other entries, so it costs the same however
// long the log is.
func (s *LevelDB) Load() (State, error) {
	snap, err := s.snapshot()
	if err != nil {
		return State{}, err
	}
	defer snap.Release()
	st, _, err := s.load(snap)
	return st, err
}

func (s *LevelDB) load(r reader) (State, logMeta, error) {
	meta, err := s.bounds(r)
	if err != nil {
		return State{}, logMeta{}, err
	}
	st := State{HardState: &messages.HardState{}, FirstIndex: meta.first, LastIndex: meta.last, LastTerm: meta.lastTerm}
	if _, err := s.readProto(r, keyHardState, st.HardState); err != nil {
		return State{}, logMeta{}, err
	}
	config := &messages.Configuration{}
	found, err := s.readProto(r, keyConfig, config)
	if err != nil {
		return State{}, logMeta{}, err
	}
	if found {
		st.Config = config
	}
	payload, found, err := s.get(r, keyIdentity)
	if err != nil {
		return State{}, logMeta{}, err
	}
	if found {
		if st.Identity, err = decodeIdentity(payload); err != nil {
			return State{}, logMeta{}, corruptf(s.dir, "identity undecodable: %v", err)
		}
	}
	if st.ConfigEntries, err = s.loadConfigEntries(r, meta); err != nil {
		return State{}, logMeta{}, err
	}
	return st, meta, nil
}

// Entries returns entries with lo <= index < hi, in order.
func (s *LevelDB) Entries(lo, hi uint64) ([]*messages.Entry, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer snap.Release()
	meta, err := s.bounds(snap)
	if err != nil {
		return nil, err
	}
	if err := checkRange(s.dir, meta, lo, hi); err != nil || lo == hi {
		return nil, err
	}

	out := make([]*messages.Entry, 0, hi-lo)
	it := snap.NewIterator(&util.Range{Start: entryKey(nil, lo), Limit: entryKey(nil, hi)}, nil)
	defer it.Release()
	for it.Next() {
		want := lo + uint64(len(out))
		index, ok := parseEntryKey(it.Key())
		if !ok {
			return nil, corruptf(s.dir, "%s inside the entries", describeKey(it.Key()))
		}
		if index != want {
			return nil, corruptf(s.dir, "entry %d missing (log %v)", want, meta)
		}
		payload, err := openRecord(it.Key(), it.Value())
		if err != nil {
			return nil, corruptf(s.dir, "%v", err)
		}
		e, err := s.decodeEntry(it.Key(), payload, index)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := it.Error(); err != nil {
		return nil, wrapErr(s.dir, "read entries", err)
	}
	if uint64(len(out)) != hi-lo {
		return nil, corruptf(s.dir, "entry %d missing (log %v)", lo+uint64(len(out)), meta)
	}
	return out, nil
}

// decodeEntry decodes the entry stored under key, at index, from its record's payload,
// and reads its data from its value file when the record refers to one.
func (s *LevelDB) decodeEntry(key, payload []byte, index uint64) (*messages.Entry, error) {
	body, ref, separate, err := splitValueRef(payload)
	if err != nil {
		return nil, corruptf(s.dir, "entry %d undecodable: %v", index, err)
	}
	e := &messages.Entry{}
	if err := proto.Unmarshal(body, e); err != nil { // copies what it keeps
		return nil, corruptf(s.dir, "entry %d undecodable: %v", index, err)
	}
	if e.GetIndex() != index {
		return nil, corruptf(s.dir, "entry %d holds index %d", index, e.GetIndex())
	}
	if !separate {
		return e, nil
	}
	data, err := s.values.read(ref)
	switch {
	case errors.Is(err, os.ErrClosed):
		return nil, closedErr(s.dir)
	case errors.Is(err, errValueMissing) || errors.Is(err, errValueCut):
		return nil, corruptf(s.dir, "entry %d: %v (%s, offset %d, %d bytes)", index, err,
			valueFileName(ref.file), ref.offset, ref.length)
	case err != nil:
		return nil, fmt.Errorf("storage %s: read entry %d from %s: %w", s.dir, index, valueFileName(ref.file), err)
	case checksum(key, data) != ref.sum:
		return nil, corruptf(s.dir, "entry %d: checksum mismatch in %s at offset %d", index,
			valueFileName(ref.file), ref.offset)
	}
	e.Data = data
	return e, nil
}

// Term returns the term of the entry at index (0 for index 0). Every entry stored is
// inside the log (Write removes only a suffix of it, and Open refuses a store holding
// entries below its first index), so when the entry is there, reading it is all Term
// does; only when it is not does Term look for the bounds of the log, to tell an index
// outside the log from a missing entry.
func (s *LevelDB) Term(index uint64) (uint64, error) {
	if index == 0 {
		return 0, nil
	}
	snap, err := s.snapshot()
	if err != nil {
		return 0, err
	}
	defer snap.Release()
	term, found, err := s.lookupTerm(snap, index)
	if err != nil || found {
		return term, err
	}
	meta, err := s.bounds(snap)
	if err != nil {
		return 0, err
	}
	if err := checkIndex(s.dir, meta, index); err != nil {
		return 0, err
	}
	return 0, corruptf(s.dir, "entry %d missing (log %v)", index, meta)
}

// entryTerm reads the term of the entry at index, which must be stored.
func (s *LevelDB) entryTerm(r reader, index uint64) (uint64, error) {
	term, found, err := s.lookupTerm(r, index)
	if err == nil && !found {
		err = corruptf(s.dir, "entry %d missing", index)
	}
	return term, err
}

// lookupTerm reads the term of the entry at index; found is false when there is none.
func (s *LevelDB) lookupTerm(r reader, index uint64) (term uint64, found bool, err error) {
	key := entryKey(nil, index)
	payload, found, err := s.get(r, key)
	if err != nil || !found {
		return 0, false, err
	}
	got, term, err := entryIndexTerm(payload)
	if err != nil {
		return 0, false, corruptf(s.dir, "entry %d undecodable: %v", index, err)
	}
	if got != index {
		return 0, false, corruptf(s.dir, "entry %d holds index %d", index, got)
	}
	return term, true, nil
}

// Write applies b as one LevelDB batch (fsynced with Options.Sync). A batch rejected by
// validation (ErrInvalidBatch) or by a read error changes nothing. If LevelDB itself
// fails the write, the batch may or may not be durable, so every later Write returns that
// same error: the caller must stop and reopen.
func (s *LevelDB) Write(b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return closedErr(s.dir)
	}
	if s.failed != nil {
		return s.failed
	}
	next, err := b.validate(&s.cur, func(index uint64) (uint64, error) { return s.entryTerm(s.db, index) })
	if err != nil {
		if errors.Is(err, ErrInvalidBatch) {
			return fmt.Errorf("storage %s: %w", s.dir, err)
		}
		return err
	}

	batch := &s.pending
	batch.Reset()
	if err := s.encode(batch, &b, next); err != nil {
		s.values.discard()
		if errors.Is(err, ErrInvalidBatch) {
			return fmt.Errorf("storage %s: %w", s.dir, err)
		}
		return err
	}
	// The values first, durable before any reference to them is (value_files.go).
	if err := s.values.flush(); err != nil {
		s.failed = fmt.Errorf("storage %s: write value file: %w", s.dir, err)
		return s.failed
	}
	err = s.db.Write(batch, s.wo)
	if len(batch.Dump()) > maxKeptBatch {
		s.pending = leveldb.Batch{} // do not hold on to a large buffer
	}
	if err != nil {
		s.failed = wrapErr(s.dir, "write", err)
		return s.failed
	}
	if b.Identity != nil {
		s.cur.identity = *b.Identity
	}
	if b.HardState != nil {
		s.cur.term, s.cur.vote = b.HardState.GetTerm(), b.HardState.GetVote()
	}
	s.cur.meta = next
	return nil
}

// encode adds b, already validated, to batch, with the configuration index records it
// changes; next is the log's bounds after b. The metadata record is written only when
// the first index changes, which no Batch does for now: the end of the log is the last
// entry stored, so a batch of appends writes nothing but entries (see keys.go for why
// that matters). Values are marshalled into one scratch buffer, which batch copies. A
// message that cannot be marshalled gives an error wrapping ErrInvalidBatch; an error
// reading the configuration index is returned as it is.
func (s *LevelDB) encode(batch *leveldb.Batch, b *Batch, next logMeta) error {
	var err error
	if b.Identity != nil {
		s.recBuf = appendIdentityRecord(s.recBuf, *b.Identity)
		batch.Put(keyIdentity, s.recBuf)
	}
	if b.HardState != nil {
		if s.recBuf, err = appendProtoRecord(s.recBuf, keyHardState, b.HardState); err != nil {
			return invalidf("hard state: %v", err)
		}
		batch.Put(keyHardState, s.recBuf)
	}
	if b.Config != nil {
		if s.recBuf, err = appendProtoRecord(s.recBuf, keyConfig, b.Config); err != nil {
			return invalidf("configuration: %v", err)
		}
		batch.Put(keyConfig, s.recBuf)
	}
	// Entries from TruncateFrom up to next.last are overwritten below; only those past
	// next.last need deleting.
	for index := next.last + 1; index <= s.cur.meta.last; index++ {
		s.keyBuf = entryKey(s.keyBuf, index)
		batch.Delete(s.keyBuf)
	}
	// Index records of truncated entries go, before those of b's entries are (re)written:
	// a LevelDB batch applies in order, so a record deleted and put again stays.
	if err := s.encodeConfigIndexDeletes(batch, b); err != nil {
		return err
	}
	separate := valueBatchSize(b.Entries) >= valueBatchMinSize
	for _, e := range b.Entries {
		s.keyBuf = entryKey(s.keyBuf, e.GetIndex())
		if separate && dataInValueFile(e) {
			ref, err := s.values.add(s.keyBuf, e.GetData())
			if err != nil {
				return fmt.Errorf("storage %s: value file: %w", s.dir, err)
			}
			s.recBuf = appendSeparatedEntryRecord(s.recBuf, s.keyBuf, e, ref)
		} else if s.recBuf, err = appendProtoRecord(s.recBuf, s.keyBuf, e); err != nil {
			return invalidf("entry %d: %v", e.GetIndex(), err)
		}
		batch.Put(s.keyBuf, s.recBuf)
		if e.GetType() == messages.EntryType_ENTRY_TYPE_CONFIG {
			s.appendConfigIndexRecord(batch, e.GetIndex(), s.recBuf)
		}
	}
	if next.first != s.cur.meta.first {
		s.recBuf = appendMetaRecord(s.recBuf, next.first)
		batch.Put(keyMeta, s.recBuf)
	}
	return nil
}

// Close closes the database. Every later call returns an error wrapping ErrClosed.
func (s *LevelDB) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return closedErr(s.dir)
	}
	s.closed = true
	s.pending = leveldb.Batch{}
	verr := s.values.close()
	err := s.db.Close()
	if s.files != nil {
		if ferr := s.files.Close(); err == nil && !errors.Is(ferr, lstorage.ErrClosed) {
			err = ferr
		}
	}
	if err != nil {
		return wrapErr(s.dir, "close", err)
	}
	if verr != nil {
		return fmt.Errorf("storage %s: close value files: %w", s.dir, verr)
	}
	return nil
}

func (s *LevelDB) snapshot() (*leveldb.Snapshot, error) {
	snap, err := s.db.GetSnapshot()
	if err != nil {
		return nil, wrapErr(s.dir, "snapshot", err)
	}
	return snap, nil
}

// get reads the record under key and returns its verified payload; found is false when
// there is none.
func (s *LevelDB) get(r reader, key []byte) (payload []byte, found bool, err error) {
	value, err := r.Get(key, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrapErr(s.dir, "read "+describeKey(key), err)
	}
	payload, err = openRecord(key, value)
	if err != nil {
		return nil, false, corruptf(s.dir, "%v", err)
	}
	return payload, true, nil
}

// readProto reads the record under key into m; found is false (and m unchanged) when
// there is none.
func (s *LevelDB) readProto(r reader, key []byte, m proto.Message) (found bool, err error) {
	payload, found, err := s.get(r, key)
	if err != nil || !found {
		return false, err
	}
	if err := proto.Unmarshal(payload, m); err != nil {
		return false, corruptf(s.dir, "%s undecodable: %v", describeKey(key), err)
	}
	return true, nil
}

// readFirst reads the first index from the metadata record, which every store has.
func (s *LevelDB) readFirst(r reader) (uint64, error) {
	payload, found, err := s.get(r, keyMeta)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, corruptf(s.dir, "metadata record missing")
	}
	first, err := decodeMeta(payload)
	if err != nil {
		return 0, corruptf(s.dir, "%v", err)
	}
	return first, nil
}

// bounds returns the bounds of the log r holds: the first index from the metadata
// record, the last index and last term from the last entry stored, found with one seek to
// the end of the entry keys. A log without entries is empty (see emptyLog).
func (s *LevelDB) bounds(r reader) (logMeta, error) {
	first, err := s.readFirst(r)
	if err != nil {
		return logMeta{}, err
	}
	it := r.NewIterator(entryRange(), nil)
	defer it.Release()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return logMeta{}, wrapErr(s.dir, "read the last entry", err)
		}
		return emptyLog(first), nil
	}
	index, ok := parseEntryKey(it.Key())
	if !ok {
		return logMeta{}, corruptf(s.dir, "%s inside the entries", describeKey(it.Key()))
	}
	payload, err := openRecord(it.Key(), it.Value())
	if err != nil {
		return logMeta{}, corruptf(s.dir, "%v", err)
	}
	h, err := decodeEntryHeader(payload)
	switch {
	case err != nil:
		return logMeta{}, corruptf(s.dir, "entry %d undecodable: %v", index, err)
	case h.index != index:
		return logMeta{}, corruptf(s.dir, "entry %d holds index %d", index, h.index)
	case h.term == 0:
		return logMeta{}, corruptf(s.dir, "entry %d has term 0", index)
	case index < first:
		return logMeta{}, corruptf(s.dir, "last entry %d is below the first index %d", index, first)
	}
	return logMeta{first: first, last: index, lastTerm: h.term}, nil
}

// wrapErr wraps an error from goleveldb for the store in dir: corruption, including a
// missing or cut file, as an error wrapping ErrCorrupt; a closed database as ErrClosed.
func wrapErr(dir, op string, err error) error {
	switch {
	case errors.Is(err, leveldb.ErrClosed):
		return closedErr(dir)
	case isCorruption(err):
		return &corruptError{dir: dir, detail: op, cause: err}
	default:
		return fmt.Errorf("storage %s: %s: %w", dir, op, err)
	}
}

// isCorruption tells whether a goleveldb error means damaged or missing data. A file that
// does not exist or ends early is damage here: every file goleveldb opens is one its
// MANIFEST or CURRENT names.
func isCorruption(err error) bool {
	return lerrors.IsCorrupted(err) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, io.ErrUnexpectedEOF)
}
