package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
	"google.golang.org/protobuf/encoding/protowire"
)

// compactForTest flushes the memtable and compacts the whole key range into tables.
func (s *LevelDB) compactForTest(t *testing.T) {
	t.Helper()
	require.NoError(t, s.db.CompactRange(util.Range{}))
}

// rawPutForTest writes value under key directly, bypassing validation and checksums.
func (s *LevelDB) rawPutForTest(t *testing.T, key, value []byte) {
	t.Helper()
	require.NoError(t, s.db.Put(key, value, nil))
}

// rawGetForTest reads the value under key directly.
func (s *LevelDB) rawGetForTest(t *testing.T, key []byte) []byte {
	t.Helper()
	v, err := s.db.Get(key, nil)
	require.NoError(t, err)
	return v
}

// rawDeleteForTest deletes key directly.
func (s *LevelDB) rawDeleteForTest(t *testing.T, key []byte) {
	t.Helper()
	require.NoError(t, s.db.Delete(key, nil))
}

// sealedEntryRecord returns the record of e, stored under its entry key.
func sealedEntryRecord(t *testing.T, e *messages.Entry) []byte {
	t.Helper()
	rec, err := appendProtoRecord(nil, entryKey(nil, e.Index), e)
	require.NoError(t, err)
	return rec
}

// sealedConfigIndexRecord returns a configuration index record holding e, stored under
// the key of the record of the entry at index.
func sealedConfigIndexRecord(t *testing.T, index uint64, e *messages.Entry) []byte {
	t.Helper()
	rec, err := appendProtoRecord(nil, configIndexKey(nil, index), e)
	require.NoError(t, err)
	return rec
}

// rawUpdate opens the closed database in dir with plain goleveldb and runs f on it.
func rawUpdate(t *testing.T, dir string, f func(db *leveldb.DB)) {
	t.Helper()
	db, err := leveldb.OpenFile(dir, &opt.Options{ErrorIfMissing: true})
	require.NoError(t, err)
	f(db)
	require.NoError(t, db.Close())
}

// copyDir copies the files of src into a new directory, as a crash would leave them
// (src may be open).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(src, de.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, de.Name()), data, 0o644))
	}
	return dst
}

// filesOf returns the names of dir's files with extension ext, in file-number order.
func filesOf(t *testing.T, dir, ext string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ext) {
			names = append(names, de.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		na, _ := strconv.Atoi(strings.TrimSuffix(a, ext))
		nb, _ := strconv.Atoi(strings.TrimSuffix(b, ext))
		return na - nb
	})
	return names
}

// journal returns the path of dir's newest journal file.
func journal(t *testing.T, dir string) string {
	t.Helper()
	logs := filesOf(t, dir, ".log")
	require.NotEmpty(t, logs)
	return filepath.Join(dir, logs[len(logs)-1])
}

// journalEnd returns where the records of dir's newest journal end: its size, less the
// zero bytes after its last record (space allocated ahead, see journalFiles).
func journalEnd(t *testing.T, dir string) int64 {
	t.Helper()
	data, err := os.ReadFile(journal(t, dir))
	require.NoError(t, err)
	if scan := scanJournal(data); scan.zeroes {
		return scan.end
	}
	return int64(len(data))
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// dirContents maps each file of dir (but LOCK) to its contents.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, de := range des {
		if de.Name() == "LOCK" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		require.NoError(t, err)
		out[de.Name()] = string(data)
	}
	return out
}

// requireCorrupt checks that opening dir fails as corrupt, naming dir, and leaves dir's
// files as they were.
func requireCorrupt(t *testing.T, dir string, msg string) {
	t.Helper()
	before := dirContents(t, dir)
	s, err := Open(dir, Options{})
	if err == nil {
		s.Close()
	}
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "storage "+dir+": corrupt: ")
	require.ErrorContains(t, err, msg)
	require.Equal(t, before, dirContents(t, dir), "a failed Open changed the directory")
	t.Logf("as expected: %v", err)
}

// bigBatch is batch k of a test history: a few entries with some payload, sometimes a
// truncation, a hard state or a configuration. (No configuration entries: the repair
// tests rely on the size of its journal records.)
func bigBatch(k uint64, last uint64) Batch {
	b := Batch{Entries: ents(last+1, last+3, k)}
	for _, e := range b.Entries {
		e.Data = bytes.Repeat([]byte{byte(k)}, 300)
	}
	if k%3 == 0 && last > 2 {
		b.TruncateFrom = last - 1
		b.Entries = ents(last-1, last+1, k)
	}
	if k%2 == 0 {
		b.HardState = &messages.HardState{Term: k, Vote: k % 3}
	}
	if k%4 == 0 {
		b.Config = cfg(k, k+1)
	}
	return b
}

// writeHistory writes batches 1..n to s, and returns the snapshot after each (index k
// holds the state after batch k; index 0 the state before any).
func writeHistory(t *testing.T, s *LevelDB, n uint64, after func(k uint64)) []snapshotOf {
	t.Helper()
	snaps := []snapshotOf{takeSnapshot(t, s)}
	for k := uint64(1); k <= n; k++ {
		require.NoError(t, s.Write(bigBatch(k, snaps[k-1].state.LastIndex)))
		snaps = append(snaps, takeSnapshot(t, s))
		if after != nil {
			after(k)
		}
	}
	return snaps
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := openLevelDB(t, dir, Options{Sync: true})
	require.Equal(t, dir, s.Dir())
	require.NoError(t, s.Write(Batch{Identity: &Identity{ClusterID: "c", NodeID: 1}}))
	require.NoError(t, s.Close())
	s = openLevelDB(t, dir, Options{Sync: true})
	st, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, Identity{ClusterID: "c", NodeID: 1}, st.Identity)
}

func TestOpenDirWithForeignFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "lost+found"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644))
	s := openLevelDB(t, dir, Options{})
	st, err := s.Load()
	require.NoError(t, err)
	require.Zero(t, st.LastIndex)
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err := Open(file, Options{})
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, file)

	// A directory is opened by one store at a time.
	dir := t.TempDir()
	openLevelDB(t, dir, Options{})
	_, err = Open(dir, Options{})
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, dir)
}

// TestCrashCopy simulates crashes: the directory is copied while the store is open, right
// after synced writes, and each copy must open with exactly the state of the last batch
// written before it was taken.
func TestCrashCopy(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	copies := map[uint64]string{}
	snaps := writeHistory(t, s, 12, func(k uint64) {
		if k == 1 || k == 6 || k == 12 {
			copies[k] = copyDir(t, dir)
		}
	})
	for k, c := range copies {
		for round := 0; round < 2; round++ { // the second open reads what the first recovered
			cs := openLevelDB(t, c, Options{Sync: true})
			requireSnapshotEqual(t, snaps[k], takeSnapshot(t, cs))
			require.NoError(t, cs.Close())
		}
	}
	// The copy taken after batch 6 goes on from there.
	cs := openLevelDB(t, copies[6], Options{Sync: true})
	require.NoError(t, cs.Write(bigBatch(7, snaps[6].state.LastIndex)))
	requireSnapshotEqual(t, snaps[7], takeSnapshot(t, cs))
}

// TestCrashCopyConfigEntries copies the directory of an open store after each of batches
// that add configuration entries and truncate them, part of them compacted into tables:
// each copy opens (verifying that the index agrees with the log) with exactly the state,
// configuration entries included, of the last batch written before it was taken.
func TestCrashCopyConfigEntries(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	batches := []Batch{
		{Entries: []*messages.Entry{configEnt(1, 1, 1), ent(2, 1), ent(3, 1)}},
		{Entries: []*messages.Entry{ent(4, 2), configEnt(5, 2, 1, 2), ent(6, 2), configEnt(7, 2, 1, 2, 3)}},
		{TruncateFrom: 6, Entries: []*messages.Entry{ent(6, 3), ent(7, 3), configEnt(8, 3, 2, 3)}},
		{TruncateFrom: 5},
		{Entries: []*messages.Entry{configEnt(5, 4, 4), ent(6, 4)}},
	}
	var copies []string
	var snaps []snapshotOf
	for k, b := range batches {
		require.NoError(t, s.Write(b))
		snaps = append(snaps, takeSnapshot(t, s))
		copies = append(copies, copyDir(t, dir))
		if k == 1 {
			s.compactForTest(t)
		}
	}
	require.Len(t, snaps[2].state.ConfigEntries, 3)
	require.Len(t, snaps[3].state.ConfigEntries, 1)
	for k, c := range copies {
		cs := openLevelDB(t, c, Options{})
		requireSnapshotEqual(t, snaps[k], takeSnapshot(t, cs))
	}
}

// TestCrashCopyAfterCompaction copies the directory of an open store whose data is partly
// in tables and partly in the journal.
func TestCrashCopyAfterCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	snaps := writeHistory(t, s, 5, nil)
	s.compactForTest(t)
	require.NotEmpty(t, filesOf(t, dir, ".ldb"))
	require.NoError(t, s.Write(bigBatch(6, snaps[5].state.LastIndex)))
	want := takeSnapshot(t, s)
	c := copyDir(t, dir)
	requireSnapshotEqual(t, want, takeSnapshot(t, openLevelDB(t, c, Options{})))
}

// TestJournalDamage cuts or flips the journal of a crashed store (a copy of an open one).
//
// goleveldb's journal is a sequence of checksummed chunks; a batch is one record of one or
// more chunks. Damage followed by more of the journal (bytes cut out of a batch, or
// changed, with later batches after them) is reported as corrupt, and so is a final batch
// that is all there but damaged. A journal that ends inside its final record is a torn
// tail, which Open repairs: no one can tell the torn tail of a batch a crash interrupted
// before it was acknowledged from a journal cut short inside an acknowledged batch, so a
// journal truncated inside an earlier batch is repaired too (the copy Open keeps holds
// what it cut). A journal cut exactly between two records cannot be told from one written
// up to there by anyone: that store opens with the batches before the cut.
func TestJournalDamage(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	sizes := []int64{journalEnd(t, dir)} // journal size after batch k
	snaps := writeHistory(t, s, 6, func(k uint64) {
		sizes = append(sizes, journalEnd(t, dir))
	})
	crashed := copyDir(t, dir)
	for k := 1; k < len(sizes); k++ {
		require.Greater(t, sizes[k], sizes[k-1]+100, "batch %d is in the journal", k)
	}

	damaged := func(f func(path string)) string {
		c := copyDir(t, crashed)
		f(journal(t, c))
		return c
	}
	cut := func(size int64) func(string) {
		return func(path string) { require.NoError(t, os.Truncate(path, size)) }
	}
	// cutOut removes the 40 bytes around at from the file: what follows moves up.
	cutOut := func(at int64) func(string) {
		return func(path string) { spliceFile(t, path, at-20, at+20, nil) }
	}
	flip := func(at int64) func(string) {
		return func(path string) { flipByte(t, path, at) }
	}

	t.Run("cut inside an earlier batch", func(t *testing.T) {
		requireCorrupt(t, damaged(cutOut((sizes[2]+sizes[3])/2)), "open")
	})
	t.Run("cut inside the first batch", func(t *testing.T) {
		requireCorrupt(t, damaged(cutOut((sizes[0]+sizes[1])/2)), "open")
	})
	t.Run("flipped byte in an earlier batch", func(t *testing.T) {
		requireCorrupt(t, damaged(flip((sizes[1]+sizes[2])/2)), "open")
	})
	t.Run("flipped byte in the final batch", func(t *testing.T) {
		requireCorrupt(t, damaged(flip((sizes[5]+sizes[6])/2)), "open")
	})
	t.Run("flipped byte in an earlier batch, torn tail", func(t *testing.T) {
		requireCorrupt(t, damaged(func(path string) {
			flipByte(t, path, (sizes[1]+sizes[2])/2)
			require.NoError(t, os.Truncate(path, sizes[6]-10))
		}), "open")
	})
	t.Run("torn tail", func(t *testing.T) {
		requireRepaired(t, damaged(cut(sizes[6]-10)), sizes[5], snaps[5])
	})
	t.Run("truncated inside an earlier batch", func(t *testing.T) {
		// Indistinguishable from a crash while batch 3 was written: repaired.
		requireRepaired(t, damaged(cut((sizes[2]+sizes[3])/2)), sizes[2], snaps[2])
	})
	t.Run("cut between batches", func(t *testing.T) {
		c := damaged(cut(sizes[4]))
		cs := openLevelDB(t, c, Options{})
		require.Empty(t, cs.Repaired())
		requireSnapshotEqual(t, snaps[4], takeSnapshot(t, cs))
	})
	t.Run("intact", func(t *testing.T) {
		cs := openLevelDB(t, copyDir(t, crashed), Options{})
		require.Empty(t, cs.Repaired())
		requireSnapshotEqual(t, snaps[6], takeSnapshot(t, cs))
	})
}

// compactedStore writes a log of 2000 entries, compacts it into tables and closes it.
func compactedStore(t *testing.T) (dir string, want snapshotOf) {
	t.Helper()
	dir = t.TempDir()
	s := openLevelDB(t, dir, Options{})
	require.NoError(t, s.Write(Batch{
		Identity:  &Identity{ClusterID: "c", NodeID: 1},
		HardState: &messages.HardState{Term: 2, Vote: 1},
		Config:    cfg(1, 2, 3),
	}))
	for i := uint64(1); i <= 2000; i += 100 {
		b := Batch{Entries: ents(i, i+99, 2)}
		for _, e := range b.Entries {
			e.Data = fmt.Appendf(nil, "%0200d", e.Index) // compressible, not constant
		}
		require.NoError(t, s.Write(b))
	}
	want = takeSnapshot(t, s)
	s.compactForTest(t)
	require.NoError(t, s.Close())
	require.NotEmpty(t, filesOf(t, dir, ".ldb"))
	// Reopened once, so that goleveldb has written a new MANIFEST and left CURRENT.bak.
	s = openLevelDB(t, dir, Options{})
	requireSnapshotEqual(t, want, takeSnapshot(t, s))
	require.NoError(t, s.Close())
	require.FileExists(t, filepath.Join(dir, "CURRENT.bak"))
	return dir, want
}

// largestTable returns the path and contents of dir's largest table file.
func largestTable(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	var path string
	var data []byte
	for _, name := range filesOf(t, dir, ".ldb") {
		d, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		if len(d) > len(data) {
			path, data = filepath.Join(dir, name), d
		}
	}
	return path, data
}

func TestTableDamage(t *testing.T) {
	dir, want := compactedStore(t)
	cs := openLevelDB(t, copyDir(t, dir), Options{})
	requireSnapshotEqual(t, want, takeSnapshot(t, cs))

	for _, at := range []float64{0.01, 0.3, 0.5, 0.9, 0.999} {
		t.Run(fmt.Sprintf("flipped bytes at %.1f%%", at*100), func(t *testing.T) {
			c := copyDir(t, dir)
			path, data := largestTable(t, c)
			off := int(float64(len(data)) * at)
			for i := off; i < off+4 && i < len(data); i++ {
				data[i] ^= 0xa5
			}
			require.NoError(t, os.WriteFile(path, data, 0o644))
			requireCorrupt(t, c, "")
		})
	}
	t.Run("table cut short", func(t *testing.T) {
		c := copyDir(t, dir)
		path, data := largestTable(t, c)
		require.NoError(t, os.Truncate(path, int64(len(data)/2)))
		requireCorrupt(t, c, "")
	})
	t.Run("table missing", func(t *testing.T) {
		c := copyDir(t, dir)
		path, _ := largestTable(t, c)
		require.NoError(t, os.Remove(path))
		requireCorrupt(t, c, "")
	})
}

func TestMetaFilesDamage(t *testing.T) {
	dir, want := compactedStore(t)
	manifest := func(c string) string {
		des, err := os.ReadDir(c)
		require.NoError(t, err)
		for _, de := range des {
			if strings.HasPrefix(de.Name(), "MANIFEST-") {
				return filepath.Join(c, de.Name())
			}
		}
		t.Fatalf("no MANIFEST in %s", c)
		return ""
	}
	cases := map[string]func(c string){
		"CURRENT removed": func(c string) {
			require.NoError(t, os.Remove(filepath.Join(c, "CURRENT")))
		},
		"CURRENT garbage": func(c string) {
			require.NoError(t, os.WriteFile(filepath.Join(c, "CURRENT"), []byte("garbage"), 0o644))
		},
		"MANIFEST removed": func(c string) {
			require.NoError(t, os.Remove(manifest(c)))
		},
		"MANIFEST cut short": func(c string) {
			m := manifest(c)
			require.NoError(t, os.Truncate(m, fileSize(t, m)/2))
		},
		"MANIFEST emptied": func(c string) {
			require.NoError(t, os.Truncate(manifest(c), 0))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			c := copyDir(t, dir)
			damage(c)
			requireCorrupt(t, c, "")
		})
	}
	// Untouched, it opens.
	cs := openLevelDB(t, copyDir(t, dir), Options{})
	requireSnapshotEqual(t, want, takeSnapshot(t, cs))
}

// TestRecordDamage writes bad records with plain goleveldb into a closed store: Open's
// verification reports each as corrupt.
func TestRecordDamage(t *testing.T) {
	base := t.TempDir()
	s := openLevelDB(t, base, Options{})
	require.NoError(t, s.Write(Batch{
		Identity:  &Identity{ClusterID: "c", NodeID: 1},
		HardState: &messages.HardState{Term: 3, Vote: 1},
		Config:    cfg(1),
		Entries:   []*messages.Entry{ent(1, 1), ent(2, 2), ent(3, 2), ent(4, 3)},
	}))
	require.NoError(t, s.Close())
	recordOf := func(db *leveldb.DB, key []byte) []byte {
		v, err := db.Get(key, nil)
		require.NoError(t, err)
		return v
	}

	cases := []struct {
		name   string
		damage func(db *leveldb.DB)
		msg    string
	}{
		{"entry checksum", func(db *leveldb.DB) {
			v := recordOf(db, entryKey(nil, 3))
			v[len(v)-1] ^= 1
			require.NoError(t, db.Put(entryKey(nil, 3), v, nil))
		}, "entry 3 checksum mismatch"},
		{"entry under another key", func(db *leveldb.DB) {
			require.NoError(t, db.Put(entryKey(nil, 2), recordOf(db, entryKey(nil, 3)), nil))
		}, "entry 2 checksum mismatch"},
		{"entry too short", func(db *leveldb.DB) {
			require.NoError(t, db.Put(entryKey(nil, 2), []byte{1, 2}, nil))
		}, "entry 2 record too short"},
		{"entry holding another index", func(db *leveldb.DB) {
			e := ent(7, 2)
			rec, err := appendProtoRecord(nil, entryKey(nil, 2), e)
			require.NoError(t, err)
			require.NoError(t, db.Put(entryKey(nil, 2), rec, nil))
		}, "entry 2 holds index 7"},
		{"hard state checksum", func(db *leveldb.DB) {
			require.NoError(t, db.Put(keyHardState, []byte{0, 0, 0, 0, 8, 3}, nil))
		}, "hard state checksum mismatch"},
		{"identity checksum", func(db *leveldb.DB) {
			v := recordOf(db, keyIdentity)
			v[5] ^= 1
			require.NoError(t, db.Put(keyIdentity, v, nil))
		}, "identity checksum mismatch"},
		{"entry missing in the middle", func(db *leveldb.DB) {
			require.NoError(t, db.Delete(entryKey(nil, 2), nil))
		}, "entries 2 to 2 missing"},
		{"first entry missing", func(db *leveldb.DB) {
			require.NoError(t, db.Delete(entryKey(nil, 1), nil))
		}, "metadata record (first index 1) does not match the entries stored (2 to 4)"},
		{"entries missing at the start", func(db *leveldb.DB) {
			require.NoError(t, db.Delete(entryKey(nil, 1), nil))
			require.NoError(t, db.Delete(entryKey(nil, 2), nil))
			require.NoError(t, db.Delete(entryKey(nil, 3), nil))
		}, "metadata record (first index 1) does not match the entries stored (4 to 4)"},
		// The end of the log is the last entry stored: an entry past it must follow on.
		{"entry beyond a gap after the last", func(db *leveldb.DB) {
			require.NoError(t, db.Put(entryKey(nil, 6), sealedEntryRecord(t, ent(6, 3)), nil))
		}, "entries 5 to 5 missing"},
		{"entry beyond the last with a lower term", func(db *leveldb.DB) {
			require.NoError(t, db.Put(entryKey(nil, 5), sealedEntryRecord(t, ent(5, 2)), nil))
		}, "entry 5 has term 2, below the term 3 of entry 4"},
		{"entry with a lower term", func(db *leveldb.DB) {
			require.NoError(t, db.Put(entryKey(nil, 3), sealedEntryRecord(t, ent(3, 1)), nil))
		}, "entry 3 has term 1, below the term 2 of entry 2"},
		{"entry with term 0", func(db *leveldb.DB) {
			require.NoError(t, db.Put(entryKey(nil, 4), sealedEntryRecord(t, ent(4, 0)), nil))
		}, "entry 4 has term 0"},
		{"entry key cut short", func(db *leveldb.DB) {
			key := entryKey(nil, 4)[:5]
			require.NoError(t, db.Put(key, sealRecord([]byte{0, 0, 0, 0}, key), nil))
		}, "unknown key ff00000000"},
		{"metadata missing", func(db *leveldb.DB) {
			require.NoError(t, db.Delete(keyMeta, nil))
		}, "metadata record missing"},
		{"metadata wrong", func(db *leveldb.DB) {
			require.NoError(t, db.Put(keyMeta, appendMetaRecord(nil, 2), nil))
		}, "metadata record (first index 2) does not match the entries stored (1 to 4)"},
		{"metadata with first index 0", func(db *leveldb.DB) {
			require.NoError(t, db.Put(keyMeta, appendMetaRecord(nil, 0), nil))
		}, "metadata record impossible: first index 0"},
		{"metadata checksum", func(db *leveldb.DB) {
			v := recordOf(db, keyMeta)
			v[len(v)-1] ^= 1
			require.NoError(t, db.Put(keyMeta, v, nil))
		}, "metadata record checksum mismatch"},
		{"format missing", func(db *leveldb.DB) {
			require.NoError(t, db.Delete(keyFormat, nil))
		}, "format record missing"},
		{"unknown key", func(db *leveldb.DB) {
			require.NoError(t, db.Put([]byte("zz"), sealRecord([]byte{0, 0, 0, 0}, []byte("zz")), nil))
		}, "unknown key 7a7a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, base)
			rawUpdate(t, dir, c.damage)
			requireCorrupt(t, dir, c.msg)
		})
	}

	// Where the log ends is recorded by the entries alone (the metadata record holds only
	// the first index, so that appending writes nothing else): a log that lost its last
	// entries, and nothing else, or gained a valid one after them, is another valid log,
	// which Open cannot tell from the one written. (Were a lost entry a configuration
	// entry, its index record would tell: see TestConfigIndexDamage.)
	for _, c := range []struct {
		name   string
		damage func(db *leveldb.DB)
		last   uint64
	}{
		{"last entry missing", func(db *leveldb.DB) {
			require.NoError(t, db.Delete(entryKey(nil, 4), nil))
		}, 3},
		{"entry beyond the last", func(db *leveldb.DB) {
			require.NoError(t, db.Put(entryKey(nil, 5), sealedEntryRecord(t, ent(5, 3)), nil))
		}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, base)
			rawUpdate(t, dir, c.damage)
			st, err := openLevelDB(t, dir, Options{}).Load()
			require.NoError(t, err)
			require.Equal(t, c.last, st.LastIndex)
		})
	}
}

// TestReadsVerifyChecksums damages records of an open store: Load, Entries and Term
// verify what they read.
func TestReadsVerifyChecksums(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{})
	require.NoError(t, s.Write(Batch{
		HardState: &messages.HardState{Term: 3, Vote: 1},
		Entries:   []*messages.Entry{ent(1, 1), ent(2, 2), configEnt(3, 2, 1), ent(4, 3)},
	}))
	requireReadCorrupt := func(err error, msg string) {
		t.Helper()
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "storage "+dir+": corrupt: ")
		require.ErrorContains(t, err, msg)
	}

	s.rawPutForTest(t, entryKey(nil, 2), []byte("not a record"))
	_, err := s.Entries(1, 4)
	requireReadCorrupt(err, "entry 2 checksum mismatch")
	_, err = s.Term(2)
	requireReadCorrupt(err, "entry 2 checksum mismatch")
	_, err = s.Entries(3, 5) // elsewhere, reads go on
	require.NoError(t, err)
	// A batch truncating below the damage must read the term of entry 2 first.
	err = s.Write(Batch{TruncateFrom: 3, Entries: ents(3, 3, 3)})
	requireReadCorrupt(err, "entry 2 checksum mismatch")
	// Load reads no entry but the last: it finds the configuration entries in the index.
	st, err := s.Load()
	require.NoError(t, err)
	requireEntriesEqual(t, []*messages.Entry{configEnt(3, 2, 1)}, st.ConfigEntries)

	// Load verifies the configuration index records it reads.
	goodIndexRecord := sealedConfigIndexRecord(t, 3, configEnt(3, 2, 1))
	s.rawPutForTest(t, configIndexKey(nil, 3), []byte("not a record"))
	_, err = s.Load()
	requireReadCorrupt(err, "configuration index record 3 checksum mismatch")
	s.rawPutForTest(t, configIndexKey(nil, 3), sealedConfigIndexRecord(t, 3, ent(3, 2)))
	_, err = s.Load()
	requireReadCorrupt(err, "configuration index record 3 holds an entry of type ENTRY_TYPE_COMMAND")
	s.rawPutForTest(t, configIndexKey(nil, 3), goodIndexRecord)
	s.rawPutForTest(t, configIndexKey(nil, 9), sealedConfigIndexRecord(t, 9, configEnt(9, 3, 1)))
	_, err = s.Load()
	requireReadCorrupt(err, "configuration index record 9 is outside the log (first 1, last 4, last term 3)")
	s.rawDeleteForTest(t, configIndexKey(nil, 9))
	_, err = s.Load()
	require.NoError(t, err)

	// A truncation reads the index records to delete; a damaged key among them fails the
	// Write, which changes nothing.
	s.rawPutForTest(t, append(configIndexKey(nil, 4), 'x'), []byte("not a record"))
	err = s.Write(Batch{TruncateFrom: 4})
	requireReadCorrupt(err, "unknown key 6b000000000000000478 inside the configuration index")
	_, err = s.Load()
	requireReadCorrupt(err, "unknown key 6b000000000000000478 inside the configuration index")
	s.rawDeleteForTest(t, append(configIndexKey(nil, 4), 'x'))
	st, err = s.Load()
	require.NoError(t, err)
	require.Equal(t, uint64(4), st.LastIndex)
	requireEntriesEqual(t, []*messages.Entry{configEnt(3, 2, 1)}, st.ConfigEntries)

	// The last entry, which ends the log, is read by Load, Entries, and Term when the
	// entry asked for is not there; otherwise Term reads only that entry.
	goodLast := s.rawGetForTest(t, entryKey(nil, 4))
	s.rawPutForTest(t, entryKey(nil, 4), []byte("not a record"))
	_, err = s.Load()
	requireReadCorrupt(err, "entry 4 checksum mismatch")
	_, err = s.Entries(3, 4)
	requireReadCorrupt(err, "entry 4 checksum mismatch")
	_, err = s.Term(5)
	requireReadCorrupt(err, "entry 4 checksum mismatch")
	term, err := s.Term(3)
	require.NoError(t, err)
	require.Equal(t, uint64(2), term)
	s.rawPutForTest(t, entryKey(nil, 4), goodLast)
	// A malformed key where the entries end.
	s.rawPutForTest(t, []byte{prefixEntry, 1}, []byte("not a record"))
	_, err = s.Load()
	requireReadCorrupt(err, "unknown key ff01 inside the entries")
	_, err = s.Term(7)
	requireReadCorrupt(err, "unknown key ff01 inside the entries")
	s.rawDeleteForTest(t, []byte{prefixEntry, 1})
	// An entry missing inside the log, and an index outside it.
	s.rawDeleteForTest(t, entryKey(nil, 3))
	_, err = s.Term(3)
	requireReadCorrupt(err, "entry 3 missing (log first 1, last 4, last term 3)")
	_, err = s.Term(5)
	require.ErrorIs(t, err, ErrOutOfRange)
	s.rawPutForTest(t, entryKey(nil, 3), sealedEntryRecord(t, configEnt(3, 2, 1)))
	_, err = s.Entries(3, 5)
	require.NoError(t, err)

	s.rawPutForTest(t, keyHardState, []byte{0, 0, 0, 0, 8, 3})
	_, err = s.Load()
	requireReadCorrupt(err, "hard state checksum mismatch")

	s.rawPutForTest(t, keyMeta, []byte{1, 2, 3, 4, 5})
	_, err = s.Load()
	requireReadCorrupt(err, "metadata record checksum mismatch")
	_, err = s.Entries(3, 4)
	requireReadCorrupt(err, "metadata record checksum mismatch")
	_, err = s.Term(5) // no entry 5: Term reads the bounds of the log
	requireReadCorrupt(err, "metadata record checksum mismatch")
	term, err = s.Term(3) // entry 3 is there: Term reads nothing else
	require.NoError(t, err)
	require.Equal(t, uint64(2), term)
}

// TestConfigIndexDamage writes bad configuration index records, or entries that disagree
// with the index, with plain goleveldb into a closed store: Open's verification reports
// each as corrupt.
func TestConfigIndexDamage(t *testing.T) {
	base := t.TempDir()
	s := openLevelDB(t, base, Options{})
	entries := []*messages.Entry{ent(1, 1), configEnt(2, 1, 1, 2), ent(3, 2), configEnt(4, 2, 1, 2, 3), ent(5, 3)}
	require.NoError(t, s.Write(Batch{Entries: entries}))
	require.NoError(t, s.Close())
	// Intact, it opens, and Load finds the configuration entries.
	intact := openLevelDB(t, copyDir(t, base), Options{})
	st, err := intact.Load()
	require.NoError(t, err)
	requireEntriesEqual(t, []*messages.Entry{entries[1], entries[3]}, st.ConfigEntries)

	putIndex := func(db *leveldb.DB, index uint64, e *messages.Entry) {
		require.NoError(t, db.Put(configIndexKey(nil, index), sealedConfigIndexRecord(t, index, e), nil))
	}
	putEntry := func(db *leveldb.DB, e *messages.Entry) {
		rec, err := appendProtoRecord(nil, entryKey(nil, e.Index), e)
		require.NoError(t, err)
		require.NoError(t, db.Put(entryKey(nil, e.Index), rec, nil))
	}
	cases := []struct {
		name   string
		damage func(db *leveldb.DB)
		msg    string
	}{
		{"index record missing", func(db *leveldb.DB) {
			require.NoError(t, db.Delete(configIndexKey(nil, 4), nil))
		}, "configuration entry 4 has no configuration index record 4"},
		{"index record of a command", func(db *leveldb.DB) {
			putIndex(db, 3, configEnt(3, 2, 1))
		}, "configuration index record 3 has no configuration entry 3"},
		{"index record beyond the log", func(db *leveldb.DB) {
			putIndex(db, 6, configEnt(6, 3, 1))
		}, "configuration index record 6 has no configuration entry 6"},
		{"index record with another configuration", func(db *leveldb.DB) {
			putIndex(db, 4, configEnt(4, 2, 1, 2))
		}, "configuration index record 4 differs from configuration entry 4"},
		{"index record with another term", func(db *leveldb.DB) {
			putIndex(db, 2, configEnt(2, 2, 1, 2))
		}, "configuration index record 2 differs from configuration entry 2"},
		{"configuration entry replaced by a command", func(db *leveldb.DB) {
			putEntry(db, ent(2, 1))
		}, "configuration index record 2 has no configuration entry 2"},
		{"command replaced by a configuration entry", func(db *leveldb.DB) {
			putEntry(db, configEnt(3, 2, 1))
		}, "configuration entry 3 has no configuration index record 3"},
		{"index record checksum", func(db *leveldb.DB) {
			v, err := db.Get(configIndexKey(nil, 2), nil)
			require.NoError(t, err)
			v[len(v)-1] ^= 1
			require.NoError(t, db.Put(configIndexKey(nil, 2), v, nil))
		}, "configuration index record 2 checksum mismatch"},
		{"index record under another key", func(db *leveldb.DB) {
			v, err := db.Get(configIndexKey(nil, 4), nil)
			require.NoError(t, err)
			require.NoError(t, db.Put(configIndexKey(nil, 2), v, nil))
		}, "configuration index record 2 checksum mismatch"},
		{"entry record under an index key", func(db *leveldb.DB) {
			v, err := db.Get(entryKey(nil, 2), nil)
			require.NoError(t, err)
			require.NoError(t, db.Put(configIndexKey(nil, 2), v, nil))
		}, "configuration index record 2 checksum mismatch"},
		{"index record holding another index", func(db *leveldb.DB) {
			putIndex(db, 2, entries[3])
		}, "configuration index record 2 holds entry 4"},
		{"index record holding a command", func(db *leveldb.DB) {
			putIndex(db, 3, ent(3, 2))
		}, "configuration index record 3 holds an entry of type ENTRY_TYPE_COMMAND"},
		{"malformed index key", func(db *leveldb.DB) {
			key := []byte{prefixConfigEntry, 1}
			require.NoError(t, db.Put(key, sealRecord([]byte{0, 0, 0, 0}, key), nil))
		}, "unknown key 6b01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, base)
			rawUpdate(t, dir, c.damage)
			requireCorrupt(t, dir, c.msg)
		})
	}
}

// TestOpenRefusesOtherFormat opens stores of other format versions: refused, but not as
// damage, and left as they are.
func TestOpenRefusesOtherFormat(t *testing.T) {
	requireRefused := func(t *testing.T, dir string, version int) {
		t.Helper()
		before := dirContents(t, dir)
		_, err := Open(dir, Options{})
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, fmt.Sprintf("format version %d, want 4 (or 3)", version))
		require.Equal(t, before, dirContents(t, dir))
	}
	formatRecord := func(version uint64) []byte {
		return sealRecord(appendVarintField([]byte{0, 0, 0, 0}, 1, version), keyFormat)
	}

	t.Run("version 1 record", func(t *testing.T) {
		dir := t.TempDir()
		s := openLevelDB(t, dir, Options{})
		require.NoError(t, s.Write(Batch{Entries: ents(1, 2, 1)}))
		require.NoError(t, s.Close())
		rawUpdate(t, dir, func(db *leveldb.DB) {
			require.NoError(t, db.Put(keyFormat, formatRecord(1), nil))
		})
		requireRefused(t, dir, 1)
	})

	// A store as version 2 wrote it: entries under 'e' + index, and a metadata record
	// holding the first index, the last index and the last term. Its keys are not those of
	// this version, which does not take them for damage.
	t.Run("version 2 store", func(t *testing.T) {
		dir := t.TempDir()
		db, err := leveldb.OpenFile(dir, nil)
		require.NoError(t, err)
		b := new(leveldb.Batch)
		b.Put(keyFormat, formatRecord(2))
		meta := []byte{0, 0, 0, 0}
		for num, v := range []uint64{1, 2, 1} { // first 1, last 2, last term 1
			meta = appendVarintField(meta, protowire.Number(num+1), v)
		}
		b.Put(keyMeta, sealRecord(meta, keyMeta))
		for _, e := range ents(1, 2, 1) {
			key := binary.BigEndian.AppendUint64([]byte{'e'}, e.Index)
			rec, err := appendProtoRecord(nil, key, e)
			require.NoError(t, err)
			b.Put(key, rec)
		}
		require.NoError(t, db.Write(b, nil))
		require.NoError(t, db.Close())
		requireRefused(t, dir, 2)
	})
}

// TestOpenEmptyDatabase opens a database that goleveldb created but that holds no record
// (a crash inside the first Open): it is taken as new.
func TestOpenEmptyDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := leveldb.OpenFile(dir, nil)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	s := openLevelDB(t, dir, Options{})
	require.NoError(t, s.Write(Batch{Entries: ents(1, 2, 1)}))
	require.NoError(t, s.Close())
	s = openLevelDB(t, dir, Options{})
	st, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, uint64(2), st.LastIndex)
}

// TestLargeBatch writes one batch larger than goleveldb's write buffer (4 MiB), which
// goleveldb writes as one journal record (DisableLargeBatchTransaction), and reads it back
// before and after a reopen. (No crash copy here: right after such a batch goleveldb
// flushes its memtable in the background, and a copy taken meanwhile is not the
// point-in-time image a crash leaves.)
func TestLargeBatch(t *testing.T) {
	dataInLevelDB(t) // a batch that is large in LevelDB is the point
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	require.NoError(t, s.Write(Batch{Entries: ents(1, 3, 1)}))
	b := Batch{TruncateFrom: 2, Entries: ents(2, 61, 2)}
	for _, e := range b.Entries {
		e.Data = bytes.Repeat(fmt.Appendf(nil, "%08d", e.Index), 100<<10/8) // 100 KiB, 6 MiB in all
	}
	require.NoError(t, s.Write(b))
	want := takeSnapshot(t, s)
	require.Len(t, want.entries, 61)
	requireEntriesEqual(t, append(ents(1, 1, 1), b.Entries...), want.entries)
	require.NoError(t, s.Close())
	requireSnapshotEqual(t, want, takeSnapshot(t, openLevelDB(t, dir, Options{})))
}

// TestWriteFailureIsSticky makes LevelDB fail a write (its database closed underneath the
// store): that Write and every later one fail, as the batch's fate is unknown.
func TestWriteFailureIsSticky(t *testing.T) {
	s := openLevelDB(t, t.TempDir(), Options{})
	require.NoError(t, s.Write(Batch{Entries: ents(1, 1, 1)}))
	require.NoError(t, s.db.Close())
	err := s.Write(Batch{Entries: ents(2, 2, 1)})
	require.Error(t, err)
	require.ErrorContains(t, err, s.Dir())
	require.Equal(t, err, s.Write(Batch{Entries: ents(2, 2, 1)}))
}
