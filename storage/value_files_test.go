package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
	"github.com/syndtr/goleveldb/leveldb"
)

// command returns a command entry whose size bytes of data name its index and term.
func command(index, term uint64, size int) *messages.Entry {
	data := make([]byte, size)
	for i := 0; i < size; i += 16 {
		copy(data[i:], fmt.Sprintf("%07d/%07d;", index, term))
	}
	return &messages.Entry{Index: index, Term: term, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: data}
}

// valueFileBytes returns the total size of dir's value files.
func valueFileBytes(t *testing.T, dir string) int64 {
	t.Helper()
	sizes, err := valueFileSizes(dir)
	require.NoError(t, err)
	var total int64
	for _, size := range sizes {
		total += size
	}
	return total
}

// appendedValueBytes returns how many bytes the open store s has appended to its value
// files: their sizes, less the space allocated ahead in the active one.
func appendedValueBytes(t *testing.T, s *LevelDB) int64 {
	t.Helper()
	sizes, err := valueFileSizes(s.dir)
	require.NoError(t, err)
	var total int64
	for num, size := range sizes {
		if num == s.values.active {
			require.GreaterOrEqual(t, size, s.values.end)
			size = s.values.end
		}
		total += size
	}
	return total
}

// valueFilesForAnyBatch sends large commands to value files whatever the size of their
// batch, until the test ends (the tests below write small batches).
func valueFilesForAnyBatch(t *testing.T) {
	t.Helper()
	saved := valueBatchMinSize
	valueBatchMinSize = 0
	t.Cleanup(func() { valueBatchMinSize = saved })
}

// requireSameAfterReopen closes s and checks that its directory opens again holding want.
func requireSameAfterReopen(t *testing.T, s *LevelDB, want snapshotOf) {
	t.Helper()
	require.NoError(t, s.Close())
	requireSnapshotEqual(t, want, takeSnapshot(t, openLevelDB(t, s.Dir(), Options{})))
}

// smallValueFiles makes value files roll over at limit bytes until the test ends.
func smallValueFiles(t *testing.T, limit int64) {
	t.Helper()
	saved := valueFileLimit
	valueFileLimit = limit
	t.Cleanup(func() { valueFileLimit = saved })
}

// TestLargeCommandsGoToValueFiles writes command entries on both sides of valueMinSize,
// a large configuration entry and a large no-op: only the large commands' data goes to a
// value file, every entry reads back whole, before and after a reopen, and Load and Term
// see the log's end as usual.
func TestLargeCommandsGoToValueFiles(t *testing.T) {
	valueFilesForAnyBatch(t)
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	large := configEnt(4, 1, 1, 2, 3)
	large.Data = make([]byte, 2*valueMinSize) // a configuration entry keeps its data in LevelDB
	noop := &messages.Entry{Index: 5, Term: 2, Type: messages.EntryType_ENTRY_TYPE_NOOP, Data: make([]byte, valueMinSize)}
	batches := []Batch{
		{Entries: []*messages.Entry{command(1, 1, valueMinSize-1), command(2, 1, valueMinSize), command(3, 1, 0), large}},
		{Entries: []*messages.Entry{noop, command(6, 2, 100<<10), command(7, 2, 17)}},
		{Entries: []*messages.Entry{command(8, 2, 3*valueMinSize)}},
	}
	for _, b := range batches {
		require.NoError(t, s.Write(b))
	}
	require.Equal(t, int64(valueMinSize+100<<10+3*valueMinSize), appendedValueBytes(t, s),
		"the value files hold exactly the large commands' data")

	want := takeSnapshot(t, s)
	var all []*messages.Entry
	for _, b := range batches {
		all = append(all, b.Entries...)
	}
	requireEntriesEqual(t, all, want.entries)
	require.Equal(t, uint64(8), want.state.LastIndex)
	require.Equal(t, uint64(2), want.state.LastTerm)
	term, err := s.Term(6)
	require.NoError(t, err)
	require.Equal(t, uint64(2), term)
	one, err := s.Entries(6, 7)
	require.NoError(t, err)
	requireEntriesEqual(t, all[5:6], one)

	requireSameAfterReopen(t, s, want)
}

// TestValueFilesRollOver writes many batches of large commands with value files limited
// to 16 commands' worth: the data spreads over several files, each taking appends until it reaches
// the limit, and all of it reads back across reopens, which continue in the newest file.
func TestValueFilesRollOver(t *testing.T) {
	valueFilesForAnyBatch(t)
	smallValueFiles(t, int64(16*valueMinSize))
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	var want []*messages.Entry
	write := func(s *LevelDB, from, to uint64) {
		b := Batch{}
		for i := from; i <= to; i++ {
			b.Entries = append(b.Entries, command(i, 1, valueMinSize+int(i)))
		}
		require.NoError(t, s.Write(b))
		want = append(want, b.Entries...)
	}
	for i := uint64(1); i <= 60; i += 3 {
		write(s, i, i+2)
	}
	sizes, err := valueFileSizes(dir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(sizes), 3, "value files: %v", sizes)
	for num, size := range sizes {
		if num < uint64(len(sizes)) {
			require.GreaterOrEqual(t, size, valueFileLimit, "value file %d was left before it was full", num)
			require.Less(t, size, valueFileLimit+int64(3*(valueMinSize+128)), "value file %d took appends once full", num)
		}
	}
	require.NoError(t, s.Close())

	s = openLevelDB(t, dir, Options{Sync: true})
	write(s, 61, 70)
	got := takeSnapshot(t, s)
	requireEntriesEqual(t, want, got.entries)
	requireSameAfterReopen(t, s, got)
}

// TestTruncatedLargeCommandsAreReplaced overwrites a suffix of large commands with
// others (a new leader's): the new data is read, before and after a reopen, and the
// overwritten data stays in the value file, unreferenced.
func TestTruncatedLargeCommandsAreReplaced(t *testing.T) {
	valueFilesForAnyBatch(t)
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	old := []*messages.Entry{command(1, 1, valueMinSize), command(2, 1, valueMinSize), command(3, 1, valueMinSize), command(4, 1, valueMinSize)}
	require.NoError(t, s.Write(Batch{Entries: old}))
	replaced := []*messages.Entry{command(3, 2, 2*valueMinSize), command(4, 2, 10)}
	require.NoError(t, s.Write(Batch{HardState: &messages.HardState{Term: 2}, TruncateFrom: 3, Entries: replaced}))
	require.NoError(t, s.Write(Batch{TruncateFrom: 2}))
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(2, 2, valueMinSize+1)}}))

	want := []*messages.Entry{old[0], command(2, 2, valueMinSize+1)}
	got := takeSnapshot(t, s)
	requireEntriesEqual(t, want, got.entries)
	require.Equal(t, int64(4*valueMinSize+2*valueMinSize+valueMinSize+1), appendedValueBytes(t, s))
	requireSameAfterReopen(t, s, got)
}

// TestLostLevelDBWriteLeavesUnreferencedValues makes LevelDB fail a Write after its
// values reached the value file (as a crash between the two would): the store opens again
// as it was before that Write, with the value file cut after the last byte an entry
// refers to, and later Writes append there.
func TestLostLevelDBWriteLeavesUnreferencedValues(t *testing.T) {
	valueFilesForAnyBatch(t)
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(1, 1, valueMinSize)}}))
	want := takeSnapshot(t, s)
	require.NoError(t, s.db.Close())
	require.Error(t, s.Write(Batch{Entries: []*messages.Entry{command(2, 1, 2*valueMinSize)}}))
	require.Equal(t, int64(3*valueMinSize), appendedValueBytes(t, s), "the failed Write's values are in the file")
	require.NoError(t, s.values.close())
	require.Equal(t, int64(3*valueMinSize), valueFileBytes(t, dir), "closing cut the file to its values")
	require.NoError(t, s.files.Close()) // releases the directory's lock

	s = openLevelDB(t, dir, Options{Sync: true})
	requireSnapshotEqual(t, want, takeSnapshot(t, s))
	require.Equal(t, int64(valueMinSize), valueFileBytes(t, dir), "Open cut the values no entry refers to")
	next := command(2, 1, valueMinSize+7)
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{next}}))
	require.Equal(t, int64(2*valueMinSize+7), appendedValueBytes(t, s))
	require.NoError(t, s.Close())
	got := takeSnapshot(t, openLevelDB(t, dir, Options{}))
	requireEntriesEqual(t, append(want.entries, next), got.entries)
}

// TestDamagedValueFiles damages the value file of a store holding large commands: a
// missing or cut file fails Open as corruption, leaving the directory as it was; a flipped
// byte fails the read of that entry (Open does not read the data), and no other; a
// directory that kept its value files but lost its database is refused, not made a new
// store.
func TestDamagedValueFiles(t *testing.T) {
	valueFilesForAnyBatch(t)
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		s := openLevelDB(t, dir, Options{Sync: true})
		require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(1, 1, valueMinSize), command(2, 1, valueMinSize)}}))
		require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(3, 1, 10), command(4, 1, valueMinSize)}}))
		require.NoError(t, s.Close())
		return dir
	}
	valueFile := func(dir string) string { return filepath.Join(dir, valueFileName(1)) }

	t.Run("missing", func(t *testing.T) {
		dir := setup(t)
		require.NoError(t, os.Remove(valueFile(dir)))
		requireCorrupt(t, dir, "entry 1: its value file does not exist (values-000001.dat)")
	})
	t.Run("cut", func(t *testing.T) {
		dir := setup(t)
		require.NoError(t, os.Truncate(valueFile(dir), int64(3*valueMinSize-1)))
		requireCorrupt(t, dir, "entry 4: its value file ends before it")
	})
	t.Run("flipped byte", func(t *testing.T) {
		dir := setup(t)
		f, err := os.OpenFile(valueFile(dir), os.O_RDWR, 0)
		require.NoError(t, err)
		_, err = f.WriteAt([]byte{'!'}, int64(valueMinSize+5)) // in entry 2's data
		require.NoError(t, err)
		require.NoError(t, f.Close())
		s := openLevelDB(t, dir, Options{})
		_, err = s.Entries(1, 5)
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, fmt.Sprintf("entry 2: checksum mismatch in values-000001.dat at offset %d", valueMinSize))
		for _, r := range [][2]uint64{{1, 2}, {3, 5}} {
			_, err := s.Entries(r[0], r[1])
			require.NoError(t, err)
		}
	})
	t.Run("database lost", func(t *testing.T) {
		dir := setup(t)
		des, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, de := range des {
			if _, ok := parseValueFileName(de.Name()); !ok {
				require.NoError(t, os.Remove(filepath.Join(dir, de.Name())))
			}
		}
		before := dirContents(t, dir)
		_, err = Open(dir, Options{})
		require.ErrorIs(t, err, ErrCorrupt)
		require.Equal(t, before, dirContents(t, dir))
	})
}

// TestReadsDuringWritesToValueFiles reads large commands while other Writes append and
// roll value files over (run with -race): every read sees whole entries.
func TestReadsDuringWritesToValueFiles(t *testing.T) {
	valueFilesForAnyBatch(t)
	smallValueFiles(t, 32<<10)
	s := openLevelDB(t, t.TempDir(), Options{})
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(1, 1, valueMinSize)}}))
	const last = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(2); i <= last; i++ {
			if err := s.Write(Batch{Entries: []*messages.Entry{command(i, 1, valueMinSize+int(i))}}); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
		}
	}()
	for done := false; !done; {
		st, err := s.Load()
		require.NoError(t, err)
		es, err := s.Entries(1, st.LastIndex+1)
		require.NoError(t, err)
		for _, e := range es {
			want := command(e.Index, 1, valueMinSize)
			if e.Index > 1 {
				want = command(e.Index, 1, valueMinSize+int(e.Index))
			}
			requireEntriesEqual(t, []*messages.Entry{want}, []*messages.Entry{e})
		}
		done = st.LastIndex == last
	}
	wg.Wait()
}

// TestFormatThreeUpgraded opens a store marked with format version 3 (which knows no
// value files): it opens, and is marked version 4 before anything is written to it.
func TestFormatThreeUpgraded(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{})
	require.NoError(t, s.Write(Batch{Entries: ents(1, 2, 1)}))
	require.NoError(t, s.Close())
	version := func() uint64 {
		var v uint64
		rawUpdate(t, dir, func(db *leveldb.DB) {
			rec, err := db.Get(keyFormat, nil)
			require.NoError(t, err)
			payload, err := openRecord(keyFormat, rec)
			require.NoError(t, err)
			v, err = decodeFormat(payload)
			require.NoError(t, err)
		})
		return v
	}
	rawUpdate(t, dir, func(db *leveldb.DB) {
		require.NoError(t, db.Put(keyFormat, sealRecord(appendVarintField([]byte{0, 0, 0, 0}, 1, 3), keyFormat), nil))
	})
	require.Equal(t, uint64(3), version())
	s = openLevelDB(t, dir, Options{})
	got := takeSnapshot(t, s)
	requireEntriesEqual(t, ents(1, 2, 1), got.entries)
	require.NoError(t, s.Close())
	require.Equal(t, uint64(formatVersion), version())
}

// TestValueRefDecoding checks that a damaged reference is refused, not followed.
func TestValueRefDecoding(t *testing.T) {
	key := entryKey(nil, 7)
	e := command(7, 3, valueMinSize)
	ref := valueRef{file: 2, offset: 12345, length: int64(len(e.Data)), sum: checksum(key, e.Data)}
	rec := appendSeparatedEntryRecord(nil, key, e, ref)
	payload, err := openRecord(key, rec)
	require.NoError(t, err)
	body, got, separate, err := splitValueRef(payload)
	require.NoError(t, err)
	require.True(t, separate)
	require.Equal(t, ref, got)
	h, err := decodeEntryHeader(payload)
	require.NoError(t, err)
	require.Equal(t, entryHeader{index: 7, term: 3, typ: messages.EntryType_ENTRY_TYPE_COMMAND}, h)
	h2, err := decodeEntryHeader(body)
	require.NoError(t, err)
	require.Equal(t, h, h2)

	for name, b := range map[string][]byte{
		"file 0":      {0, 1, 1, 0, 0, 0, 0},
		"short sum":   {1, 1, 1, 0, 0},
		"long sum":    {1, 1, 1, 0, 0, 0, 0, 0},
		"huge length": append([]byte{1, 0}, append(appendVarintField(nil, 0, 1<<40)[1:], 0, 0, 0, 0)...),
		"cut varint":  {1, 0x80},
	} {
		_, err := decodeValueRef(b)
		require.Error(t, err, name)
	}
	trailing := append(append([]byte{}, payload...), appendVarintField(nil, 1, 7)...)
	_, _, _, err = splitValueRef(trailing)
	require.ErrorContains(t, err, "not the record's last field")
}

// TestReadRacingCloseIsClosedNotCorrupt reads a large command whose value files were
// closed under it (as a Close racing with Entries does, between the LevelDB snapshot and
// the value's read): the error says the store is closed, not damaged.
func TestReadRacingCloseIsClosedNotCorrupt(t *testing.T) {
	valueFilesForAnyBatch(t)
	s := openLevelDB(t, t.TempDir(), Options{})
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(1, 1, valueMinSize)}}))
	require.NoError(t, s.values.close())
	_, err := s.Entries(1, 2)
	require.ErrorIs(t, err, ErrClosed)
	require.NotErrorIs(t, err, ErrCorrupt)
}

// TestSmallBatchesKeepLargeCommandsInLevelDB writes large commands in batches below and
// at valueBatchMinSize: only the batch carrying enough of them uses the value file, and
// both read back whole, before and after a reopen.
func TestSmallBatchesKeepLargeCommandsInLevelDB(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	small := Batch{Entries: []*messages.Entry{command(1, 1, valueMinSize), command(2, 1, valueBatchMinSize-valueMinSize-1)}}
	require.NoError(t, s.Write(small))
	require.Zero(t, appendedValueBytes(t, s), "a batch under valueBatchMinSize wrote a value file")
	large := Batch{Entries: []*messages.Entry{command(3, 1, valueBatchMinSize-valueMinSize), command(4, 1, 100), command(5, 1, valueMinSize)}}
	require.NoError(t, s.Write(large))
	require.Equal(t, int64(valueBatchMinSize), appendedValueBytes(t, s))

	want := takeSnapshot(t, s)
	requireEntriesEqual(t, append(small.Entries, large.Entries...), want.entries)
	requireSameAfterReopen(t, s, want)
}

// TestValueFileSpaceAllocatedAhead: the active value file has space allocated after its
// values while the store is open; closing cuts it to them, and so does opening a copy
// taken while it was open (a crash), after the last byte an entry refers to. Appends go on
// from there.
func TestValueFileSpaceAllocatedAhead(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("value files are allocated ahead on Linux only")
	}
	valueFilesForAnyBatch(t)
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	first := []*messages.Entry{command(1, 1, valueMinSize), command(2, 1, 3*valueMinSize)}
	require.NoError(t, s.Write(Batch{Entries: first}))
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(3, 1, 2*valueMinSize+5)}}))
	appended := int64(6*valueMinSize + 5)
	require.Equal(t, appended, appendedValueBytes(t, s))
	require.GreaterOrEqual(t, valueFileBytes(t, dir), appended+valueAllocation/2, "space is allocated ahead")
	want := takeSnapshot(t, s)

	crashed := copyDir(t, dir)
	c := openLevelDB(t, crashed, Options{Sync: true})
	requireSnapshotEqual(t, want, takeSnapshot(t, c))
	require.Equal(t, appended, valueFileBytes(t, crashed), "Open cut the copy after its last referred byte")
	more := command(4, 1, valueMinSize+1)
	require.NoError(t, c.Write(Batch{Entries: []*messages.Entry{more}}))
	require.Equal(t, appended+int64(valueMinSize)+1, appendedValueBytes(t, c))
	requireSameAfterReopen(t, c, takeSnapshot(t, c))

	require.NoError(t, s.Close())
	require.Equal(t, appended, valueFileBytes(t, dir), "Close cut the file to its values")
	requireSnapshotEqual(t, want, takeSnapshot(t, openLevelDB(t, dir, Options{})))
}

// TestNewValueFileWithoutReferences: a value file whose first values' LevelDB write was
// lost (no entry refers to anything in it) is cut to nothing when the store opens again,
// and takes the next values from its start.
func TestNewValueFileWithoutReferences(t *testing.T) {
	valueFilesForAnyBatch(t)
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{command(1, 1, 10)}}))
	want := takeSnapshot(t, s)
	require.NoError(t, s.db.Close())
	require.Error(t, s.Write(Batch{Entries: []*messages.Entry{command(2, 1, valueMinSize)}}))
	require.NoError(t, s.values.close())
	require.NoError(t, s.files.Close())
	require.Equal(t, int64(valueMinSize), valueFileBytes(t, dir))

	s = openLevelDB(t, dir, Options{Sync: true})
	requireSnapshotEqual(t, want, takeSnapshot(t, s))
	require.Zero(t, valueFileBytes(t, dir))
	next := command(2, 1, valueMinSize+3)
	require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{next}}))
	require.Equal(t, int64(valueMinSize+3), appendedValueBytes(t, s))
	requireEntriesEqual(t, append(want.entries, next), takeSnapshot(t, s).entries)
	requireSameAfterReopen(t, s, takeSnapshot(t, s))
}
