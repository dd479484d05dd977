package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/syndtr/goleveldb/leveldb"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	ljournal "github.com/syndtr/goleveldb/leveldb/journal"
	"github.com/syndtr/goleveldb/leveldb/opt"
	lstorage "github.com/syndtr/goleveldb/leveldb/storage"
)

// spliceFile replaces the bytes [from, to) of the file at path with insert.
func spliceFile(t *testing.T, path string, from, to int64, insert []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data = slices.Concat(data[:from], insert, data[to:])
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[at] ^= 0x55
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// extendWithZeroes makes the file at path size bytes long, adding zero bytes.
func extendWithZeroes(t *testing.T, path string, size int64) {
	t.Helper()
	require.Less(t, fileSize(t, path), size)
	require.NoError(t, os.Truncate(path, size))
}

// tornCopies returns the names of the copies a repair kept of the journal name in dir.
func tornCopies(t *testing.T, dir, name string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), name+".torn-") && !strings.HasSuffix(de.Name(), ".tmp") {
			out = append(out, de.Name())
		}
	}
	return out
}

// requireRepaired checks that Open repairs the torn tail of dir's newest journal, cutting
// it to kept bytes, and then holds want: the journal as it was is kept as a .torn- copy,
// Repaired and the logger each say so once, and opening again repairs nothing.
func requireRepaired(t *testing.T, dir string, kept int64, want snapshotOf) {
	t.Helper()
	name := filepath.Base(journal(t, dir))
	original, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	require.Empty(t, tornCopies(t, dir, name))

	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	s, err := Open(dir, Options{Logger: logger})
	require.NoError(t, err)
	requireSnapshotEqual(t, want, takeSnapshot(t, s))

	copies := tornCopies(t, dir, name)
	require.Len(t, copies, 1)
	kept0, err := os.ReadFile(filepath.Join(dir, copies[0]))
	require.NoError(t, err)
	require.Equal(t, original, kept0, "the copy holds the journal as it was")

	repaired := s.Repaired()
	require.Len(t, repaired, 1)
	require.Contains(t, repaired[0], fmt.Sprintf("journal %s: cut from %d to %d bytes", name, len(original), kept))
	require.Contains(t, repaired[0], copies[0])
	requireOneLogLine(t, &logged, "level=WARN", "dir="+dir, "file="+name,
		fmt.Sprintf("kept=%d", kept), fmt.Sprintf("cut=%d", int64(len(original))-kept), "original="+copies[0])
	t.Logf("repaired: %s", repaired[0])
	require.NoError(t, s.Close())

	requireQuietReopen(t, dir, want)
	require.Equal(t, copies, tornCopies(t, dir, name), "the copy stays")
}

// requireOneLogLine checks that logged holds one line, containing each of wants.
func requireOneLogLine(t *testing.T, logged *bytes.Buffer, wants ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	require.Len(t, lines, 1)
	for _, want := range wants {
		require.Contains(t, lines[0], want)
	}
}

// requireQuietReopen opens dir again: it holds want, and nothing is repaired or logged.
func requireQuietReopen(t *testing.T, dir string, want snapshotOf) {
	t.Helper()
	var logged bytes.Buffer
	s := openLevelDB(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.Empty(t, s.Repaired())
	require.Empty(t, logged.String())
	requireSnapshotEqual(t, want, takeSnapshot(t, s))
	require.NoError(t, s.Close())
}

// largeFinal is a batch whose journal record spans three 32 KiB blocks.
//
// The tests using it are about LevelDB's journal, so they call dataInLevelDB first.
func largeFinal(k, last uint64) Batch {
	b := bigBatch(k, last)
	for _, e := range b.Entries {
		e.Data = bytes.Repeat([]byte{byte(k)}, 24<<10)
	}
	return b
}

// crashedWithLargeFinal writes 4 batches and a large fifth one to a store, and returns a
// copy of its directory (a crash right after), the snapshots after each batch, and where
// the fifth batch's record starts and ends in the journal.
func crashedWithLargeFinal(t *testing.T) (crashed string, snaps []snapshotOf, start, end int64) {
	t.Helper()
	dataInLevelDB(t)
	dir := t.TempDir()
	s := openLevelDB(t, dir, Options{Sync: true})
	snaps = writeHistory(t, s, 4, nil)
	start = journalEnd(t, dir)
	require.NoError(t, s.Write(largeFinal(5, snaps[4].state.LastIndex)))
	snaps = append(snaps, takeSnapshot(t, s))
	end = journalEnd(t, dir)
	crashed = copyDir(t, dir)
	// The record is a FIRST chunk from start, a MIDDLE chunk filling the second block and
	// a LAST chunk in the third.
	require.Less(t, start, int64(journalBlockSize-journalHeaderSize))
	require.Greater(t, end, int64(2*journalBlockSize+journalHeaderSize+100))
	require.Less(t, end, int64(3*journalBlockSize))
	return crashed, snaps, start, end
}

// TestTornTailRepaired tears the final record, which spans three journal blocks, at
// every kind of place a crash can: Open drops that record and nothing else.
func TestTornTailRepaired(t *testing.T) {
	crashed, snaps, start, end := crashedWithLargeFinal(t)
	const b1, b2 = journalBlockSize, 2 * journalBlockSize
	cuts := []struct {
		name string
		at   int64
	}{
		{"right after the first chunk header", start + journalHeaderSize},
		{"inside the first chunk", (start + b1) / 2},
		{"only the first chunk", b1}, // a crash between two write() calls
		{"inside the middle chunk header", b1 + 3},
		{"right after the middle chunk header", b1 + journalHeaderSize},
		{"inside the middle chunk", (b1 + b2) / 2},
		{"no last chunk", b2},
		{"inside the last chunk header", b2 + 1},
		{"right after the last chunk header", b2 + journalHeaderSize},
		{"inside the last chunk", (b2 + end) / 2},
		{"last byte missing", end - 1},
	}
	for _, c := range cuts {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, crashed)
			require.NoError(t, os.Truncate(journal(t, dir), c.at))
			requireRepaired(t, dir, start, snaps[4])
		})
	}

	t.Run("store goes on after the repair", func(t *testing.T) {
		dir := copyDir(t, crashed)
		require.NoError(t, os.Truncate(journal(t, dir), b1))
		s := openLevelDB(t, dir, Options{Sync: true}) // no logger: silent
		require.Len(t, s.Repaired(), 1)
		require.NoError(t, s.Write(largeFinal(5, snaps[4].state.LastIndex)))
		requireSnapshotEqual(t, snaps[5], takeSnapshot(t, s))
		require.NoError(t, s.Close())
		s = openLevelDB(t, dir, Options{})
		require.Empty(t, s.Repaired())
		requireSnapshotEqual(t, snaps[5], takeSnapshot(t, s))
	})

	// goleveldb itself takes a journal ending in less than a chunk header, where a record
	// would start, for a clean end: there is nothing to repair, and nothing is reported.
	t.Run("inside the first chunk header", func(t *testing.T) {
		dir := copyDir(t, crashed)
		name := filepath.Base(journal(t, dir))
		require.NoError(t, os.Truncate(journal(t, dir), start+3))
		s := openLevelDB(t, dir, Options{})
		require.Empty(t, s.Repaired())
		require.Empty(t, tornCopies(t, dir, name))
		requireSnapshotEqual(t, snaps[4], takeSnapshot(t, s))
	})
}

// TestTornTailZeroes: zero bytes where a crash left the end of the journal unwritten, or
// the space allocated ahead of it unused. Zero bytes after a complete record hold nothing:
// the journal is read as if it ended there, and that is no repair. Zero bytes after part
// of a record are a torn tail.
func TestTornTailZeroes(t *testing.T) {
	crashed, snaps, start, end := crashedWithLargeFinal(t)
	t.Run("space allocated after the last record", func(t *testing.T) {
		dir := copyDir(t, crashed)
		require.Greater(t, fileSize(t, journal(t, dir)), end, "the crash left allocated space")
		requireSpaceCut(t, dir, end, snaps[5])
	})
	t.Run("after the last record", func(t *testing.T) {
		dir := copyDir(t, crashed)
		require.NoError(t, os.Truncate(journal(t, dir), end))
		extendWithZeroes(t, journal(t, dir), end+5000)
		requireSpaceCut(t, dir, end, snaps[5])
	})
	t.Run("in place of the final record", func(t *testing.T) {
		dir := copyDir(t, crashed)
		require.NoError(t, os.Truncate(journal(t, dir), start))
		extendWithZeroes(t, journal(t, dir), end)
		requireSpaceCut(t, dir, start, snaps[4])
	})
	t.Run("after the first chunk of the final record", func(t *testing.T) {
		dir := copyDir(t, crashed)
		require.NoError(t, os.Truncate(journal(t, dir), journalBlockSize))
		extendWithZeroes(t, journal(t, dir), end)
		requireRepaired(t, dir, start, snaps[4])
	})
}

// requireSpaceCut checks that Open reads dir's newest journal as if it ended at kept
// bytes, which is followed by zero bytes only, and then holds want: Repaired stays empty,
// no copy is kept, the logger is told once (at Info level), and opening again tells it
// nothing.
func requireSpaceCut(t *testing.T, dir string, kept int64, want snapshotOf) {
	t.Helper()
	path := journal(t, dir)
	name := filepath.Base(path)
	size := fileSize(t, path)
	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	s, err := Open(dir, Options{Logger: logger})
	require.NoError(t, err)
	requireSnapshotEqual(t, want, takeSnapshot(t, s))
	require.Empty(t, s.Repaired())
	require.Empty(t, tornCopies(t, dir, name))
	requireOneLogLine(t, &logged, "level=INFO", "dir="+dir, "file="+name,
		fmt.Sprintf("kept=%d", kept), fmt.Sprintf("cut=%d", size-kept))
	require.NoError(t, s.Close())
	requireQuietReopen(t, dir, want)
}

// TestNotATornTail: damage that a crash cannot leave is never repaired.
func TestNotATornTail(t *testing.T) {
	crashed, _, start, end := crashedWithLargeFinal(t)
	const b1, b2 = journalBlockSize, 2 * journalBlockSize
	cases := []struct {
		name   string
		damage func(path string)
	}{
		{"flipped byte in the last chunk of the complete final record", func(path string) {
			flipByte(t, path, (b2+end)/2)
		}},
		{"flipped byte in the first chunk of the complete final record", func(path string) {
			flipByte(t, path, (start+b1)/2)
		}},
		{"flipped last byte of the complete final record", func(path string) {
			flipByte(t, path, end-1)
		}},
		{"flipped byte in the first chunk of a torn final record", func(path string) {
			flipByte(t, path, (start+b1)/2)
			require.NoError(t, os.Truncate(path, b1+100))
		}},
		{"final record missing a block", func(path string) {
			spliceFile(t, path, b1, b2, nil) // FIRST then LAST: a record, but not the batch
		}},
		{"flipped byte in an earlier batch, torn final record", func(path string) {
			flipByte(t, path, start/2)
			require.NoError(t, os.Truncate(path, b1))
		}},
		{"garbage after the last record", func(path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write(bytes.Repeat([]byte("garbage!"), 100))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"zeroes, then more", func(path string) {
			spliceFile(t, path, end, end, append(make([]byte, 100), 1))
		}},
		{"torn record followed by a complete one", func(path string) {
			// The final record's first chunk, then the journal's first record (one chunk)
			// again.
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			first := data[:journalHeaderSize+int(binary.LittleEndian.Uint16(data[4:6]))]
			require.Equal(t, byte(chunkFull), first[6])
			spliceFile(t, path, b1, end, first)
		}},
	}
	// Each damage to the journal as the crash left it (with the space allocated after its
	// records) and to the journal cut to its records.
	for _, c := range cases {
		for _, cut := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cut to its records %v", c.name, cut), func(t *testing.T) {
				dir := copyDir(t, crashed)
				if cut {
					require.NoError(t, os.Truncate(journal(t, dir), end))
				}
				c.damage(journal(t, dir))
				requireCorrupt(t, dir, "open")
			})
		}
	}
}

// holdTables is a goleveldb storage whose table files cannot be created until release is
// closed: a memtable flush then waits, with the journal it retires still on disk.
type holdTables struct {
	lstorage.Storage
	release chan struct{}
}

func (h holdTables) Create(fd lstorage.FileDesc) (lstorage.Writer, error) {
	if fd.Type == lstorage.TypeTable {
		<-h.release
	}
	return h.Storage.Create(fd)
}

// crashedWithTwoJournals returns a copy of a store's directory taken while goleveldb
// had rotated its journal but not yet flushed the memtable of the older one: both
// journals are replayed on open. The newer one holds two batches (the second spanning
// blocks); the snapshots are those after each batch.
func crashedWithTwoJournals(t *testing.T) (crashed string, snaps []snapshotOf) {
	t.Helper()
	dataInLevelDB(t)
	dir := t.TempDir()
	stor, err := lstorage.OpenFile(dir, false)
	require.NoError(t, err)
	release := make(chan struct{})
	db, err := leveldb.Open(newJournalFiles(holdTables{stor, release}, dir, false, nil), &opt.Options{
		Strict:                       strictLevel,
		ErrorIfExist:                 true,
		DisableLargeBatchTransaction: true,
		WriteBuffer:                  128 << 10,
	})
	require.NoError(t, err)
	values, err := openValueFiles(dir, true, nil)
	require.NoError(t, err)
	s := &LevelDB{dir: dir, db: db, values: values, wo: &opt.WriteOptions{Sync: true}}
	require.NoError(t, s.init(false, logMeta{}))
	defer func() {
		close(release)
		require.NoError(t, s.Close())
		require.NoError(t, stor.Close())
	}()

	snaps = []snapshotOf{takeSnapshot(t, s)}
	write := func(b Batch) {
		require.NoError(t, s.Write(b))
		snaps = append(snaps, takeSnapshot(t, s))
	}
	// Batches of 3 x 8 KiB until the memtable is full and goleveldb starts a new journal.
	for k := uint64(1); len(filesOf(t, dir, ".log")) < 2; k++ {
		require.Less(t, k, uint64(20))
		b := bigBatch(k, snaps[k-1].state.LastIndex)
		for _, e := range b.Entries {
			e.Data = bytes.Repeat([]byte{byte(k)}, 8<<10)
		}
		write(b)
	}
	n := uint64(len(snaps) - 1)
	write(bigBatch(n+1, snaps[n].state.LastIndex))
	write(largeFinal(n+2, snaps[n+1].state.LastIndex))
	require.Len(t, filesOf(t, dir, ".log"), 2)
	return copyDir(t, dir), snaps
}

// TestTornTailOlderJournal: only the newest journal can have a torn tail.
func TestTornTailOlderJournal(t *testing.T) {
	crashed, snaps := crashedWithTwoJournals(t)
	logs := filesOf(t, crashed, ".log")
	older := logs[0]
	olderSize := fileSize(t, filepath.Join(crashed, older))
	last := len(snaps) - 1
	// goleveldb started the newest journal after the older one was cut to its records.
	older0, err := os.ReadFile(filepath.Join(crashed, older))
	require.NoError(t, err)
	require.Equal(t, journalScan{records: scanJournal(older0).records, end: olderSize}, scanJournal(older0))
	newestSize := journalEnd(t, crashed)

	t.Run("intact", func(t *testing.T) {
		s := openLevelDB(t, copyDir(t, crashed), Options{})
		require.Empty(t, s.Repaired())
		requireSnapshotEqual(t, snaps[last], takeSnapshot(t, s))
	})
	t.Run("older journal cut inside its last batch", func(t *testing.T) {
		dir := copyDir(t, crashed)
		require.NoError(t, os.Truncate(filepath.Join(dir, older), olderSize-100))
		requireCorrupt(t, dir, "open")
	})
	t.Run("older journal with zeroes after its last batch", func(t *testing.T) {
		dir := copyDir(t, crashed)
		extendWithZeroes(t, filepath.Join(dir, older), olderSize+1000)
		requireCorrupt(t, dir, "open")
	})
	t.Run("older journal flipped byte", func(t *testing.T) {
		dir := copyDir(t, crashed)
		flipByte(t, filepath.Join(dir, older), olderSize/2)
		requireCorrupt(t, dir, "open")
	})
	t.Run("newest journal torn", func(t *testing.T) {
		dir := copyDir(t, crashed)
		// Cut after the first chunk of the final record: the newest journal keeps its first
		// batch only.
		require.Greater(t, newestSize, int64(journalBlockSize))
		require.NoError(t, os.Truncate(filepath.Join(dir, logs[1]), journalBlockSize))
		data, err := os.ReadFile(filepath.Join(dir, logs[1]))
		require.NoError(t, err)
		scan := scanJournal(data)
		require.Equal(t, 2, scan.records)
		requireRepaired(t, dir, scan.end, snaps[last-1])
	})
}

// TestScanJournal compares scanJournal with goleveldb's strict journal reader on every
// cut of a journal written by goleveldb's journal writer, near each block and record
// boundary and at a stride in between.
func TestScanJournal(t *testing.T) {
	var buf bytes.Buffer
	w := ljournal.NewWriter(&buf)
	var ends []int64 // where each record ends
	left := func() int { return journalBlockSize - buf.Len()%journalBlockSize }
	for i, r := range []struct {
		size      func() int
		leftAfter int // bytes left in the block after the record; 0: any
	}{
		{func() int { return 100 }, 0},
		{func() int { return 40000 }, 0}, // two chunks
		{func() int { return left() - journalHeaderSize }, journalBlockSize},
		{func() int { return 5 }, 0},
		{func() int { return left() - journalHeaderSize - 3 }, 3}, // then padding
		{func() int { return 1000 }, 0},
		{func() int { return 70000 }, 0}, // three chunks
		{func() int { return left() - 2*journalHeaderSize + journalBlockSize }, journalBlockSize},
		{func() int { return 0 }, 0},
		{func() int { return left() - journalHeaderSize - 6 }, 6},
		{func() int { return 300 }, 0},
	} {
		rw, err := w.Next()
		require.NoError(t, err)
		_, err = rw.Write(bytes.Repeat([]byte{byte(i + 1)}, r.size()))
		require.NoError(t, err)
		require.NoError(t, w.Flush())
		ends = append(ends, int64(buf.Len()))
		if r.leftAfter != 0 {
			require.Equal(t, r.leftAfter, left(), "record %d", i)
		}
	}
	data := buf.Bytes()
	n, err := readJournal(data)
	require.NoError(t, err)
	require.Equal(t, len(ends), n)
	require.Equal(t, journalScan{records: len(ends), end: int64(len(data))}, scanJournal(data))

	var cuts []int64
	for _, p := range ends {
		for d := int64(-9); d <= 9; d++ {
			cuts = append(cuts, p+d)
		}
	}
	for b := int64(0); b <= int64(len(data)); b += journalBlockSize {
		for d := int64(-9); d <= 9; d++ {
			cuts = append(cuts, b+d)
		}
	}
	for c := int64(0); c < int64(len(data)); c += 997 {
		cuts = append(cuts, c)
	}
	for _, c := range cuts {
		if c < 0 || c > int64(len(data)) {
			continue
		}
		records, end := 0, int64(0)
		for _, e := range ends {
			if e <= c {
				records, end = records+1, e
			}
		}
		scan := scanJournal(data[:c])
		require.Equal(t, records, scan.records, "cut at %d", c)
		require.Equal(t, end, scan.end, "cut at %d", c)
		read, err := readJournal(data[:c])
		require.Equal(t, records, read, "cut at %d", c)
		next := end // where the next record's first header is
		if padding := journalBlockSize - end%journalBlockSize; padding < journalHeaderSize {
			next += padding
		}
		switch {
		case err != nil: // goleveldb reports damage: it is a torn tail
			require.True(t, lerrors.IsCorrupted(err))
			require.True(t, scan.torn, "cut at %d: %v", c, err)
		case c <= next:
			// At a record boundary, or in the padding after it.
			require.Equal(t, "", scan.what, "cut at %d", c)
		default:
			// goleveldb takes less than a header where a record would start for the end.
			require.Less(t, c-next, int64(journalHeaderSize), "cut at %d", c)
			require.True(t, scan.torn, "cut at %d", c)
		}
	}

	// A changed byte in a complete chunk is damage, never a torn tail, unless it is in the
	// length field of the final chunk and makes it reach past the end of the file (no one
	// can tell that from a chunk a crash cut). A changed padding byte is ignored, by
	// goleveldb too. (cuts holds every chunk header and padding byte, and more.)
	for _, at := range cuts {
		if at < 0 || at >= int64(len(data)) {
			continue
		}
		d := slices.Clone(data)
		d[at] ^= 0x40
		scan := scanJournal(d)
		read, err := readJournal(d)
		if scan.what == "" {
			require.NoError(t, err, "flip at %d", at)
			require.Equal(t, len(ends), read)
			continue
		}
		require.Error(t, err, "flip at %d", at)
		if scan.torn {
			require.Equal(t, "a chunk cut off by the end of the file", scan.what, "flip at %d", at)
			require.Greater(t, at, int64(len(data)-journalBlockSize), "flip at %d", at)
		}
	}
}

func TestTornCopyNames(t *testing.T) {
	for _, name := range []string{"000007.log.torn-1700000000000000000", "000007.log.torn-1700000000000000000.tmp"} {
		require.False(t, isDatabaseFile(name), name)
	}
	// A copy left by a repair interrupted before the cut (and a half-written one) are
	// left alone; the repair is made again.
	crashed, snaps, _, _ := crashedWithLargeFinal(t)
	dir := copyDir(t, crashed)
	name := filepath.Base(journal(t, dir))
	require.NoError(t, os.Truncate(journal(t, dir), journalBlockSize))
	data, err := os.ReadFile(journal(t, dir))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".torn-1"), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".torn-2.tmp"), data[:10], 0o644))
	s := openLevelDB(t, dir, Options{})
	require.Len(t, s.Repaired(), 1)
	requireSnapshotEqual(t, snaps[4], takeSnapshot(t, s))
	copies := tornCopies(t, dir, name)
	require.Len(t, copies, 2)
	for _, c := range copies {
		got, err := os.ReadFile(filepath.Join(dir, c))
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
	got, err := os.ReadFile(filepath.Join(dir, name+".torn-2.tmp"))
	require.NoError(t, err)
	require.Equal(t, data[:10], got)
}
