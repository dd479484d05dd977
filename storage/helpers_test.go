package storage

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// impl is one Storage implementation under test.
type impl struct {
	name string
	// open returns a new, empty store, closed when the test ends.
	open func(t *testing.T) Storage
	// reopen closes s and opens its state again.
	reopen func(t *testing.T, s Storage) Storage
}

// impls lists both implementations: behaviour that is the same is tested on both.
var impls = []impl{
	{
		name: "leveldb",
		open: func(t *testing.T) Storage {
			return openLevelDB(t, t.TempDir(), Options{})
		},
		reopen: func(t *testing.T, s Storage) Storage {
			l := s.(*LevelDB)
			require.NoError(t, l.Close())
			return openLevelDB(t, l.Dir(), Options{})
		},
	},
	{
		name: "memory",
		open: func(t *testing.T) Storage {
			return NewMemory()
		},
		reopen: func(t *testing.T, s Storage) Storage {
			m := s.(*Memory)
			require.NoError(t, m.Close())
			m2, err := m.Reopen()
			require.NoError(t, err)
			return m2
		},
	},
}

// forEachImpl runs f as a subtest for each implementation.
func forEachImpl(t *testing.T, f func(t *testing.T, im impl)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) { f(t, im) })
	}
}

// openLevelDB opens a LevelDB store in dir, closed (if still open) when the test ends.
func openLevelDB(t *testing.T, dir string, opts Options) *LevelDB {
	t.Helper()
	s, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("close %s: %v", dir, err)
		}
	})
	return s
}

// ent returns a command entry whose data names its index and term.
func ent(index, term uint64) *messages.Entry {
	return &messages.Entry{
		Index: index,
		Term:  term,
		Type:  messages.EntryType_ENTRY_TYPE_COMMAND,
		Data:  fmt.Appendf(nil, "command %d/%d", index, term),
	}
}

// ents returns entries from..to (inclusive), all of term.
func ents(from, to, term uint64) []*messages.Entry {
	var out []*messages.Entry
	for i := from; i <= to; i++ {
		out = append(out, ent(i, term))
	}
	return out
}

// configEnt returns a configuration entry holding cfg(ids...).
func configEnt(index, term uint64, ids ...uint64) *messages.Entry {
	return &messages.Entry{Index: index, Term: term, Type: messages.EntryType_ENTRY_TYPE_CONFIG, Config: cfg(ids...)}
}

// configsOf returns the configuration entries of es, in order.
func configsOf(es []*messages.Entry) []*messages.Entry {
	var out []*messages.Entry
	for _, e := range es {
		if e.GetType() == messages.EntryType_ENTRY_TYPE_CONFIG {
			out = append(out, e)
		}
	}
	return out
}

func cfg(ids ...uint64) *messages.Configuration {
	c := &messages.Configuration{}
	for _, id := range ids {
		c.Voters = append(c.Voters, &messages.Member{Id: id, Address: fmt.Sprintf("127.0.0.1:%d", 9000+id)})
	}
	return c
}

func requireEntriesEqual(t *testing.T, want, got []*messages.Entry) {
	t.Helper()
	if len(want) != len(got) {
		require.Failf(t, "entries differ", "want %d entries %v, got %d %v", len(want), want, len(got), got)
	}
	for i := range want {
		require.Truef(t, proto.Equal(want[i], got[i]), "entry %d: want %v, got %v", i, want[i], got[i])
	}
}

func requireStateEqual(t *testing.T, want, got State) {
	t.Helper()
	require.Equal(t, want.Identity, got.Identity)
	require.NotNil(t, got.HardState)
	require.Truef(t, proto.Equal(want.HardState, got.HardState), "hard state: want %v, got %v", want.HardState, got.HardState)
	if want.Config == nil {
		require.Nil(t, got.Config)
	} else {
		require.Truef(t, proto.Equal(want.Config, got.Config), "config: want %v, got %v", want.Config, got.Config)
	}
	require.Equal(t, want.FirstIndex, got.FirstIndex, "first index")
	require.Equal(t, want.LastIndex, got.LastIndex, "last index")
	require.Equal(t, want.LastTerm, got.LastTerm, "last term")
	requireEntriesEqual(t, want.ConfigEntries, got.ConfigEntries)
}

// snapshotOf is everything a store holds: its State and all its entries.
type snapshotOf struct {
	state   State
	entries []*messages.Entry
}

func takeSnapshot(t *testing.T, s Storage) snapshotOf {
	t.Helper()
	st, err := s.Load()
	require.NoError(t, err)
	es, err := s.Entries(st.FirstIndex, st.LastIndex+1)
	require.NoError(t, err)
	return snapshotOf{state: st, entries: es}
}

func requireSnapshotEqual(t *testing.T, want, got snapshotOf) {
	t.Helper()
	requireStateEqual(t, want.state, got.state)
	requireEntriesEqual(t, want.entries, got.entries)
}

// dataInLevelDB keeps every entry's data in LevelDB, whatever its size, until the test
// ends: for tests of LevelDB's journal and compactions, which need large records.
func dataInLevelDB(t *testing.T) {
	t.Helper()
	saved := valueMinSize
	valueMinSize = math.MaxInt
	t.Cleanup(func() { valueMinSize = saved })
}
