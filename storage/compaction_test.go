package storage

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

// compactionStats is what goleveldb's "leveldb.stats" property says about the work its
// compactions did, summed over the levels. Memtable flushes count as writes (to the level
// they flush to) and read nothing; a table moved down a level without being rewritten
// counts nothing; every other compaction reads its input tables and writes its output.
type compactionStats struct {
	readMB, writeMB float64 // summed over the levels
	table           string  // the property as goleveldb gives it
}

// compactionStatsOf parses the "leveldb.stats" property of s's database.
func compactionStatsOf(tb testing.TB, s *LevelDB) compactionStats {
	tb.Helper()
	prop, err := s.db.GetProperty("leveldb.stats")
	require.NoError(tb, err)
	st := compactionStats{table: prop}
	// Rows: " Level | Tables | Size(MB) | Time(sec) | Read(MB) | Write(MB)", after a
	// header of three lines.
	for _, line := range strings.Split(prop, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) != 6 {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimSpace(cols[0])); err != nil {
			continue // a header line
		}
		read, err := strconv.ParseFloat(strings.TrimSpace(cols[4]), 64)
		require.NoError(tb, err, line)
		write, err := strconv.ParseFloat(strings.TrimSpace(cols[5]), 64)
		require.NoError(tb, err, line)
		st.readMB += read
		st.writeMB += write
	}
	return st
}

// settledCompactionStats waits until goleveldb's background compactions have stopped
// changing its statistics (for settle, or at most a minute), and returns them.
func settledCompactionStats(tb testing.TB, s *LevelDB, settle time.Duration) compactionStats {
	tb.Helper()
	st := compactionStatsOf(tb, s)
	deadline := time.Now().Add(time.Minute)
	for stable := time.Now(); time.Since(stable) < settle && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if next := compactionStatsOf(tb, s); next != st {
			st, stable = next, time.Now()
		}
	}
	return st
}

// appendSequentially appends entries of entrySize random (incompressible) bytes to s, in
// batches of perBatch, until about total bytes of entry data are written, as a leader
// appending client commands does. With hardStateEvery > 0, a batch after every
// hardStateEvery bytes of entries also holds a new hard state (a new term, as an election
// brings), and its entries have that term. It returns the bytes of entry data written.
func appendSequentially(tb testing.TB, s *LevelDB, total, entrySize, perBatch, hardStateEvery int) int {
	tb.Helper()
	rng := rand.NewChaCha8([32]byte{1})
	st, err := s.Load()
	require.NoError(tb, err)
	next, written, term := st.LastIndex+1, 0, max(st.LastTerm, st.HardState.GetTerm(), 1)
	for sinceHardState := 0; written < total; {
		b := Batch{Entries: make([]*messages.Entry, perBatch)}
		if hardStateEvery > 0 && sinceHardState >= hardStateEvery {
			term++
			b.HardState = &messages.HardState{Term: term, Vote: 1}
			sinceHardState = 0
		}
		for i := range b.Entries {
			data := make([]byte, entrySize)
			rng.Read(data)
			b.Entries[i] = &messages.Entry{Index: next, Term: term, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: data}
			next++
			written += entrySize
			sinceHardState += entrySize
		}
		require.NoError(tb, s.Write(b))
	}
	return written
}

// TestSequentialAppendsCompactForFree appends 48 MiB of 16 KiB entries, 16 a batch, and
// checks that goleveldb's compactions read nothing: every table a memtable flush writes
// holds keys above those of all older tables (entry keys sort last, and no batch of
// appends writes any other key), so compaction only ever moves tables down a level,
// which reads and writes nothing. All that is written is the flushes, about the data
// appended.
func TestSequentialAppendsCompactForFree(t *testing.T) {
	dataInLevelDB(t) // the point is LevelDB's tables, so large records
	s := openLevelDB(t, t.TempDir(), Options{})
	written := appendSequentially(t, s, 48<<20, 16<<10, 16, 0)
	st := settledCompactionStats(t, s, time.Second)
	t.Logf("appended %.1f MB of entries; compactions read %.1f MB, wrote %.1f MB\n%s",
		float64(written)/(1<<20), st.readMB, st.writeMB, st.table)
	require.Zero(t, st.readMB, "compactions read tables")
	require.Less(t, st.writeMB, 1.1*float64(written)/(1<<20), "tables were written more than once")

	// Reads see it all.
	got, err := s.Entries(1, 3)
	require.NoError(t, err)
	require.Len(t, got, 2)
	last, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, uint64(written/(16<<10)), last.LastIndex)
}

// BenchmarkSequentialAppends appends 200 MiB of 16 KiB entries, 16 a batch, to a new
// store per iteration (as a leader appending client commands does), and reports the MB
// goleveldb's compactions read and wrote (compact-read-MB, compact-write-MB; flushes of
// the memtable count as writes), with goleveldb's per-level statistics in the log. Run it
// with -benchtime=1x.
//
// "appends" writes nothing but entries: compactions read nothing. "hardstate-per-25MiB"
// also writes a hard state every 25 MiB, as frequent elections would: each table holding
// one spans from the hard state's key to its entries, so it overlaps the older tables and
// is merged with those of the next level (up to 100 MiB in goleveldb's level 1), once.
func BenchmarkSequentialAppends(b *testing.B) {
	const total, entrySize, perBatch = 200 << 20, 16 << 10, 16
	for _, bc := range []struct {
		name           string
		hardStateEvery int
	}{
		{"appends", 0},
		{"hardstate-per-25MiB", 25 << 20},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(total)
			var read, write float64
			saved := valueMinSize
			valueMinSize = math.MaxInt // LevelDB's compactions are the point: large records
			defer func() { valueMinSize = saved }()
			for range b.N {
				b.StopTimer()
				s, err := Open(b.TempDir(), Options{})
				require.NoError(b, err)
				b.StartTimer()
				appendSequentially(b, s, total, entrySize, perBatch, bc.hardStateEvery)
				b.StopTimer()
				st := settledCompactionStats(b, s, 2*time.Second)
				b.Logf("compactions read %.1f MB, wrote %.1f MB\n%s", st.readMB, st.writeMB, st.table)
				read, write = read+st.readMB, write+st.writeMB
				require.NoError(b, s.Close())
				b.StartTimer()
			}
			b.ReportMetric(read/float64(b.N), "compact-read-MB")
			b.ReportMetric(write/float64(b.N), "compact-write-MB")
		})
	}
}
