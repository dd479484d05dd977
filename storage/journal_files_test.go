package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	lstorage "github.com/syndtr/goleveldb/leveldb/storage"
)

// requireJournalAllocated checks that dir's newest journal has space allocated after its
// records (on Linux, where journals are allocated ahead) and returns where they end.
func requireJournalAllocated(t *testing.T, dir string) int64 {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("journals are allocated ahead on Linux only")
	}
	data, err := os.ReadFile(journal(t, dir))
	require.NoError(t, err)
	scan := scanJournal(data)
	require.True(t, scan.zeroes, "zero bytes follow the records: %+v", scan)
	require.GreaterOrEqual(t, int64(len(data)), scan.end+journalAllocation/2)
	return scan.end
}

// requireJournalExact checks that dir's newest journal is its records and nothing else.
func requireJournalExact(t *testing.T, dir string, end int64) {
	t.Helper()
	data, err := os.ReadFile(journal(t, dir))
	require.NoError(t, err)
	require.Equal(t, end, int64(len(data)))
	scan := scanJournal(data)
	require.False(t, scan.torn, "%+v", scan)
	require.Equal(t, end, scan.end)
}

// TestJournalAllocatedAheadAndCutOnClose: a journal being written has space allocated
// after its records; closing the store cuts it to them.
func TestJournalAllocatedAheadAndCutOnClose(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	snaps := writeHistory(t, s, 4, nil)
	end := requireJournalAllocated(t, dir)
	require.NoError(t, s.Close())
	requireJournalExact(t, dir, end)

	var logged bytes.Buffer
	s = openLevelDB(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	requireSnapshotEqual(t, snaps[4], takeSnapshot(t, s))
	require.Empty(t, logged.String(), "nothing to cut after a clean close")
}

// TestJournalAllocationGrows: a record larger than the space allocated ahead extends it;
// the record is there after a crash and after a close.
func TestJournalAllocationGrows(t *testing.T) {
	dir := t.TempDir()
	files, err := lstorage.OpenFile(dir, false)
	require.NoError(t, err)
	// A memtable larger than the record: goleveldb keeps writing the same journal.
	o := &opt.Options{Strict: strictLevel, DisableLargeBatchTransaction: true, WriteBuffer: 64 << 20}
	db, err := leveldb.Open(newJournalFiles(files, dir, false, nil), o)
	require.NoError(t, err)
	value := bytes.Repeat([]byte("0123456789abcdef"), journalAllocation/16+(1<<16))
	require.NoError(t, db.Put([]byte("small"), []byte("first"), &opt.WriteOptions{Sync: true}))
	require.NoError(t, db.Put([]byte("large"), value, &opt.WriteOptions{Sync: true}))
	end := requireJournalAllocated(t, dir)
	require.Greater(t, end, int64(journalAllocation), "the record outgrew the first allocation")

	check := func(dir string) {
		t.Helper()
		files, err := lstorage.OpenFile(dir, false)
		require.NoError(t, err)
		defer files.Close()
		db, err := leveldb.Open(newJournalFiles(files, dir, false, nil), o)
		require.NoError(t, err)
		defer db.Close()
		got, err := db.Get([]byte("large"), nil)
		require.NoError(t, err)
		require.Equal(t, value, got)
	}
	check(copyDir(t, dir)) // a crash
	require.NoError(t, db.Close())
	require.NoError(t, files.Close())
	requireJournalExact(t, dir, end)
	check(dir)
}

// failJournals is a goleveldb storage that cannot create journals.
type failJournals struct{ lstorage.Storage }

var errNoJournal = errors.New("no new journal")

func (f failJournals) Create(fd lstorage.FileDesc) (lstorage.Writer, error) {
	if fd.Type == lstorage.TypeJournal {
		return nil, errNoJournal
	}
	return f.Storage.Create(fd)
}

// TestCrashedJournalCutBeforeRecoveryGoesOn: verification reads a crashed store's
// journal without the space after its records and leaves the file alone; opening for
// writing cuts the journal, durably, before goleveldb starts the next one, so a crash
// during recovery cannot leave an older journal with zero bytes after its records.
func TestCrashedJournalCutBeforeRecoveryGoesOn(t *testing.T) {
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	snaps := writeHistory(t, s, 4, nil)
	end := requireJournalAllocated(t, dir)
	crashed := copyDir(t, dir)
	before := dirContents(t, crashed)

	meta, initialized, _, err := verifyDir(crashed)
	require.NoError(t, err)
	require.True(t, initialized)
	require.Equal(t, snaps[4].state.LastIndex, meta.last)
	require.Equal(t, before, dirContents(t, crashed), "verification changes nothing")

	files, err := lstorage.OpenFile(crashed, false)
	require.NoError(t, err)
	_, err = leveldb.Open(newJournalFiles(failJournals{files}, crashed, false, nil),
		&opt.Options{Strict: strictLevel, ErrorIfMissing: true})
	require.ErrorIs(t, err, errNoJournal)
	require.NoError(t, files.Close())
	requireJournalExact(t, crashed, end)

	requireSnapshotEqual(t, snaps[4], takeSnapshot(t, openLevelDB(t, crashed, Options{})))
}

// journalsAtCreate is a goleveldb storage that, each time a journal is created, notes
// which journals already in dir have zero bytes after their records.
type journalsAtCreate struct {
	lstorage.Storage
	t       *testing.T
	dir     string
	created int
	spaced  []string // journals found with space after their records
}

func (j *journalsAtCreate) Create(fd lstorage.FileDesc) (lstorage.Writer, error) {
	if fd.Type == lstorage.TypeJournal {
		j.created++
		for _, name := range filesOf(j.t, j.dir, ".log") {
			data, err := os.ReadFile(filepath.Join(j.dir, name))
			require.NoError(j.t, err)
			if scanJournal(data).zeroes {
				j.spaced = append(j.spaced, name)
			}
		}
	}
	return j.Storage.Create(fd)
}

// TestOlderJournalCutBeforeNextCreated: goleveldb creates its next journal before it
// closes the current one; the current one is cut to its records first, so that a crash
// in between leaves no older journal with zero bytes after its records (which Open takes
// for damage).
func TestOlderJournalCutBeforeNextCreated(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("journals are allocated ahead on Linux only")
	}
	dir := t.TempDir()
	files, err := lstorage.OpenFile(dir, false)
	require.NoError(t, err)
	defer files.Close()
	observed := &journalsAtCreate{Storage: files, t: t, dir: dir}
	db, err := leveldb.Open(newJournalFiles(observed, dir, false, nil),
		&opt.Options{Strict: strictLevel, WriteBuffer: 64 << 10})
	require.NoError(t, err)
	defer db.Close()
	for i := 0; observed.created < 3; i++ {
		require.Less(t, i, 1000)
		require.NoError(t, db.Put([]byte(fmt.Sprint(i)), bytes.Repeat([]byte{1}, 4<<10), &opt.WriteOptions{Sync: true}))
	}
	require.Empty(t, observed.spaced)
}
