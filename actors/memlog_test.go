package actors

import (
	"errors"
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/storage"
	"github.com/stretchr/testify/require"
)

// storedLog writes entries 1..n (term 1, every tenth a configuration entry) to a Memory
// store and returns it with the entries.
func storedLog(t *testing.T, n int) (*storage.Memory, []*messages.Entry) {
	t.Helper()
	store := storage.NewMemory()
	var entries []*messages.Entry
	for i := 1; i <= n; i++ {
		e := &messages.Entry{Index: uint64(i), Term: 1, Type: messages.EntryType_ENTRY_TYPE_COMMAND, Data: make([]byte, 10)}
		if i%10 == 0 {
			e.Type, e.Data = messages.EntryType_ENTRY_TYPE_CONFIG, nil
			e.Config = &messages.Configuration{Voters: []*messages.Member{{Id: uint64(i), Address: "127.0.0.1:1"}}}
		}
		entries = append(entries, e)
	}
	require.NoError(t, store.Write(storage.Batch{Entries: entries}))
	return store, entries
}

func configsOf(entries []*messages.Entry) []*messages.Entry {
	var out []*messages.Entry
	for _, e := range entries {
		if e.Type == messages.EntryType_ENTRY_TYPE_CONFIG {
			out = append(out, e)
		}
	}
	return out
}

// Released entries are read back from storage: terms, single entries, and slices that
// stop where memory starts; the configuration entries stay known.
func TestMemLogReadsReleasedEntriesFromStorage(t *testing.T) {
	store, entries := storedLog(t, 100)
	l := newMemLog(store, entries, configsOf(entries), func(err error) { t.Fatal(err) })
	l.release(100, 20, 1<<20)
	require.Equal(t, uint64(100), l.lastIndex())
	require.LessOrEqual(t, len(l.entries), 20, "more entries than the cache bound stay in memory")
	require.Equal(t, uint64(85), l.offset, "releases down to three quarters of the bound")
	require.False(t, l.cached(85))
	require.True(t, l.cached(86))

	require.Equal(t, uint64(1), l.term(3))
	require.Equal(t, uint64(3), l.entry(3).Index)
	got := l.slice(80, 90, 0, 0)
	require.Equal(t, uint64(80), got[0].Index)
	require.Equal(t, uint64(85), got[len(got)-1].Index, "a read from storage stops before the cached entries")
	got = l.slice(86, 90, 0, 0)
	require.Len(t, got, 5)
	require.Len(t, l.slice(1, 100, 3, 0), 3)

	cfg, idx := l.lastConfig(55)
	require.Equal(t, uint64(50), idx)
	require.Equal(t, uint64(50), cfg.Voters[0].Id)
}

// Nothing uncommitted or not yet durable leaves memory, the newest entry always stays, and
// small excesses wait so the copy is amortised.
func TestMemLogReleaseBounds(t *testing.T) {
	store, entries := storedLog(t, 100)
	l := newMemLog(store, entries, configsOf(entries), func(err error) { t.Fatal(err) })
	l.release(40, 20, 1<<20)
	require.Equal(t, uint64(40), l.offset, "released past the committed, durable index")
	l.release(100, 100, 1<<20)
	require.Equal(t, uint64(40), l.offset, "released while within the bounds")
	l.release(100, 0, 0)
	require.Equal(t, uint64(99), l.offset)
	require.Len(t, l.entries, 1, "the newest entry must stay")
	require.Equal(t, uint64(1), l.lastTerm())

	// By bytes: ten-byte payloads, at most 100 bytes kept.
	l = newMemLog(store, entries, configsOf(entries), func(err error) { t.Fatal(err) })
	l.release(100, 1000, 100)
	require.LessOrEqual(t, l.bytes, 75)
}

func TestMemLogTruncateDropsConfigurations(t *testing.T) {
	store, entries := storedLog(t, 100)
	l := newMemLog(store, entries, configsOf(entries), func(err error) { t.Fatal(err) })
	l.release(50, 60, 1<<20)
	l.truncateFrom(65)
	require.Equal(t, uint64(64), l.lastIndex())
	_, idx := l.lastConfig(l.lastIndex())
	require.Equal(t, uint64(60), idx)
}

// A restarted node holds only the newest entries in memory; a leader may still replace an
// older part of its uncommitted tail.
func TestMemLogTruncateBelowWhatARestartLoaded(t *testing.T) {
	store, entries := storedLog(t, 100)
	l := newMemLog(store, entries[79:], configsOf(entries), func(err error) { t.Fatal(err) }) // as loadTail: 80..100
	require.Equal(t, uint64(79), l.offset)

	l.truncateFrom(55)
	require.Equal(t, uint64(54), l.lastIndex())
	require.Equal(t, uint64(1), l.lastTerm(), "the entry before the cut is read from storage")
	require.Equal(t, uint64(54), l.entry(54).Index)
	_, idx := l.lastConfig(100)
	require.Equal(t, uint64(50), idx, "configuration entries from the cut on are gone")

	replacement := &messages.Entry{Index: 55, Term: 2, Type: messages.EntryType_ENTRY_TYPE_COMMAND}
	l.append(replacement)
	require.Equal(t, uint64(55), l.lastIndex())
	require.Equal(t, uint64(2), l.term(55))
	require.True(t, l.cached(55))
	got := l.slice(54, 55, 0, 0)
	require.Len(t, got, 1, "a read from storage stops where memory starts")
	require.Equal(t, uint64(54), got[0].Index)
	require.Equal(t, replacement, l.slice(55, 55, 0, 0)[0])
}

type failingStore struct{}

func (failingStore) Entries(lo, hi uint64) ([]*messages.Entry, error) {
	return nil, errors.New("disk gone")
}
func (failingStore) Term(index uint64) (uint64, error) { return 0, errors.New("disk gone") }

func TestMemLogReportsReadFailures(t *testing.T) {
	var failures []error
	tail := []*messages.Entry{{Index: 10, Term: 2, Type: messages.EntryType_ENTRY_TYPE_NOOP}}
	l := newMemLog(failingStore{}, tail, nil, func(err error) { failures = append(failures, err) })
	require.Equal(t, uint64(0), l.term(5))
	require.Nil(t, l.slice(1, 10, 0, 0))
	require.Len(t, failures, 2)
	require.Equal(t, uint64(2), l.term(10), "cached entries do not touch storage")
}
