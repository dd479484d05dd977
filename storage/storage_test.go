package storage

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func TestEmptyStore(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		st, err := s.Load()
		require.NoError(t, err)
		requireStateEqual(t, State{HardState: &messages.HardState{}, FirstIndex: 1}, st)
		require.True(t, st.Identity.IsZero())

		term, err := s.Term(0)
		require.NoError(t, err)
		require.Zero(t, term)
		es, err := s.Entries(1, 1)
		require.NoError(t, err)
		require.Empty(t, es)

		_, err = s.Term(1)
		require.ErrorIs(t, err, ErrOutOfRange)
		_, err = s.Entries(1, 2)
		require.ErrorIs(t, err, ErrOutOfRange)
	})
}

func TestRoundTrip(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		id := Identity{ClusterID: "cluster-a", NodeID: 3}
		hs := &messages.HardState{Term: 3, Vote: 2}
		entries := []*messages.Entry{ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)}
		entries[2].Type = messages.EntryType_ENTRY_TYPE_CONFIG
		entries[2].Data = nil
		entries[2].Config = cfg(1, 2, 3)
		entries[3].Type = messages.EntryType_ENTRY_TYPE_NOOP
		entries[3].Data = nil
		require.NoError(t, s.Write(Batch{Identity: &id, HardState: hs, Config: cfg(1, 2), Entries: entries}))

		want := State{Identity: id, HardState: hs, Config: cfg(1, 2), FirstIndex: 1, LastIndex: 5, LastTerm: 3,
			ConfigEntries: []*messages.Entry{entries[2]}}
		check := func(s Storage) {
			st, err := s.Load()
			require.NoError(t, err)
			requireStateEqual(t, want, st)
			last := want.LastIndex
			got, err := s.Entries(1, last+1)
			require.NoError(t, err)
			requireEntriesEqual(t, entries, got)
			got, err = s.Entries(2, 4)
			require.NoError(t, err)
			requireEntriesEqual(t, entries[1:3], got)
			for _, e := range entries {
				term, err := s.Term(e.Index)
				require.NoError(t, err)
				require.Equal(t, e.Term, term)
			}
			for _, r := range [][2]uint64{{0, 2}, {1, last + 2}, {last + 1, last + 2}, {4, 3}} {
				_, err := s.Entries(r[0], r[1])
				require.ErrorIs(t, err, ErrOutOfRange, "entries [%d, %d)", r[0], r[1])
			}
			_, err = s.Term(last + 1)
			require.ErrorIs(t, err, ErrOutOfRange)
		}
		check(s)

		// What was handed out or given is not shared with the store.
		got, err := s.Entries(1, 2)
		require.NoError(t, err)
		got[0].Term = 99
		given := entries[0]
		entries[0] = proto.Clone(given).(*messages.Entry)
		given.Data = []byte("changed by the caller")
		want.HardState = proto.Clone(hs).(*messages.HardState)
		hs.Vote = 7
		check(s)

		// Appending more, in a later batch, with only some fields set.
		require.NoError(t, s.Write(Batch{Entries: ents(6, 8, 4)}))
		entries = append(entries, ents(6, 8, 4)...)
		want.LastIndex, want.LastTerm = 8, 4
		check(s)

		// Everything survives a close and reopen.
		s = im.reopen(t, s)
		check(s)
	})
}

func TestTruncateAndAppend(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 2)}}))

		check := func(lastTerm uint64, want []*messages.Entry) {
			t.Helper()
			for round := 0; round < 2; round++ {
				st, err := s.Load()
				require.NoError(t, err)
				require.Equal(t, uint64(1), st.FirstIndex)
				require.Equal(t, uint64(len(want)), st.LastIndex)
				require.Equal(t, lastTerm, st.LastTerm)
				got, err := s.Entries(1, st.LastIndex+1)
				require.NoError(t, err)
				requireEntriesEqual(t, want, got)
				_, err = s.Term(st.LastIndex + 1)
				require.ErrorIs(t, err, ErrOutOfRange)
				s = im.reopen(t, s)
			}
		}

		// A conflict: entries from 3 on are replaced by a shorter suffix of a later term.
		require.NoError(t, s.Write(Batch{TruncateFrom: 3, Entries: []*messages.Entry{ent(3, 3), ent(4, 3)}}))
		check(3, []*messages.Entry{ent(1, 1), ent(2, 1), ent(3, 3), ent(4, 3)})

		// Replaced by a longer one.
		require.NoError(t, s.Write(Batch{TruncateFrom: 4, Entries: ents(4, 7, 4)}))
		check(4, append([]*messages.Entry{ent(1, 1), ent(2, 1), ent(3, 3)}, ents(4, 7, 4)...))

		// TruncateFrom == LastIndex+1 is a plain append.
		require.NoError(t, s.Write(Batch{TruncateFrom: 8, Entries: ents(8, 8, 4)}))
		check(4, append([]*messages.Entry{ent(1, 1), ent(2, 1), ent(3, 3)}, ents(4, 8, 4)...))

		// Truncation alone: the last term is that of the new last entry.
		require.NoError(t, s.Write(Batch{TruncateFrom: 3}))
		check(1, []*messages.Entry{ent(1, 1), ent(2, 1)})

		// Down to nothing, then from 1 again.
		require.NoError(t, s.Write(Batch{TruncateFrom: 1}))
		check(0, nil)
		require.NoError(t, s.Write(Batch{Entries: ents(1, 2, 5)}))
		check(5, ents(1, 2, 5))
		require.NoError(t, s.Write(Batch{TruncateFrom: 1, Entries: ents(1, 1, 6)}))
		check(6, ents(1, 1, 6))
	})
}

func TestStatePersists(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		id := Identity{ClusterID: "c", NodeID: 1}
		require.NoError(t, s.Write(Batch{Identity: &id}))
		s = im.reopen(t, s)
		require.NoError(t, s.Write(Batch{HardState: &messages.HardState{Term: 1}}))
		s = im.reopen(t, s)
		require.NoError(t, s.Write(Batch{HardState: &messages.HardState{Term: 1, Vote: 1}, Config: cfg(1)}))
		s = im.reopen(t, s)
		require.NoError(t, s.Write(Batch{Config: cfg(1, 2, 3)}))
		s = im.reopen(t, s)

		st, err := s.Load()
		require.NoError(t, err)
		requireStateEqual(t, State{
			Identity:   id,
			HardState:  &messages.HardState{Term: 1, Vote: 1},
			Config:     cfg(1, 2, 3),
			FirstIndex: 1,
		}, st)

		// Writing the same identity again, or the same vote, is fine; a new term may
		// clear the vote.
		require.NoError(t, s.Write(Batch{Identity: &id, HardState: &messages.HardState{Term: 1, Vote: 1}}))
		require.NoError(t, s.Write(Batch{HardState: &messages.HardState{Term: 4}}))
		st, err = s.Load()
		require.NoError(t, err)
		require.Equal(t, uint64(4), st.HardState.Term)
		require.Zero(t, st.HardState.Vote)
	})
}

func TestInvalidBatchChangesNothing(t *testing.T) {
	badUTF8 := &messages.Configuration{Voters: []*messages.Member{{Id: 1, Address: "\xff\xfe"}}}
	unspecified := ent(5, 3)
	unspecified.Type = messages.EntryType_ENTRY_TYPE_UNSPECIFIED
	badEntry := ent(5, 3)
	badEntry.Config = badUTF8
	badConfigEntry := configEnt(3, 3)
	badConfigEntry.Config = badUTF8

	cases := []struct {
		name  string
		batch Batch
		msg   string // part of the error message
	}{
		{"identity without cluster", Batch{Identity: &Identity{NodeID: 1}}, "needs a cluster id"},
		{"identity without node", Batch{Identity: &Identity{ClusterID: "c"}}, "nonzero node id"},
		{"identity of another cluster", Batch{Identity: &Identity{ClusterID: "d", NodeID: 1}}, "differs from the stored identity"},
		{"identity of another node", Batch{Identity: &Identity{ClusterID: "c", NodeID: 2}}, "differs from the stored identity"},
		{"hard state term decreases", Batch{HardState: &messages.HardState{Term: 4, Vote: 2}}, "below the stored term 5"},
		{"vote changes in a term", Batch{HardState: &messages.HardState{Term: 5, Vote: 3}}, "changes the vote of term 5"},
		{"vote cleared in a term", Batch{HardState: &messages.HardState{Term: 5}}, "changes the vote of term 5"},
		{"truncate beyond the log", Batch{TruncateFrom: 6}, "truncate from 6 is outside [1, 5]"},
		{"truncate beyond the log with entries", Batch{TruncateFrom: 7, Entries: ents(7, 7, 3)}, "outside [1, 5]"},
		{"gap after the log", Batch{Entries: ents(6, 6, 3)}, "first entry has index 6, want 5"},
		{"overlap without truncation", Batch{Entries: ents(4, 5, 3)}, "first entry has index 4, want 5"},
		{"index 0", Batch{Entries: ents(0, 0, 3)}, "first entry has index 0, want 5"},
		{"first index differs from TruncateFrom", Batch{TruncateFrom: 3, Entries: ents(4, 4, 3)}, "first entry has index 4, want 3"},
		{"not contiguous", Batch{Entries: []*messages.Entry{ent(5, 3), ent(7, 3)}}, "not contiguous: index 7 follows 5"},
		{"repeated index", Batch{Entries: []*messages.Entry{ent(5, 3), ent(5, 3)}}, "not contiguous: index 5 follows 5"},
		{"nil entry", Batch{Entries: []*messages.Entry{ent(5, 3), nil}}, "entry 1 of the batch is nil"},
		{"unspecified type", Batch{Entries: []*messages.Entry{unspecified}}, "entry 5 has no type"},
		{"term 0", Batch{Entries: ents(5, 5, 0)}, "entry 5 has term 0"},
		{"terms decrease in the batch", Batch{Entries: []*messages.Entry{ent(5, 4), ent(6, 3)}}, "entry 6 has term 3, below the term 4"},
		{"term below the last entry", Batch{Entries: ents(5, 5, 2)}, "entry 5 has term 2, below the term 3 of entry 4"},
		{"term below the entry before the truncation", Batch{TruncateFrom: 4, Entries: ents(4, 4, 1)}, "entry 4 has term 1, below the term 2 of entry 3"},
		{"unmarshallable config", Batch{Config: badUTF8}, "configuration:"},
		{"unmarshallable entry", Batch{Entries: []*messages.Entry{badEntry}}, "entry 5:"},
		// Batches that would change the configuration index.
		{"configuration entry truncated, invalid entries", Batch{
			TruncateFrom: 2, Entries: []*messages.Entry{configEnt(2, 9, 4), ent(3, 8)},
		}, "entry 3 has term 8, below the term 9"},
		{"configuration entry overwritten by an unmarshallable one", Batch{
			TruncateFrom: 3, Entries: []*messages.Entry{badConfigEntry},
		}, "entry 3:"},
		{"configuration entry appended after a gap", Batch{Entries: []*messages.Entry{configEnt(6, 3, 4)}},
			"first entry has index 6, want 5"},
		// A valid part does not get through with an invalid one.
		{"valid hard state, invalid entries", Batch{
			HardState: &messages.HardState{Term: 9, Vote: 1}, Config: cfg(7), TruncateFrom: 2,
			Entries: []*messages.Entry{ent(2, 9), ent(3, 8)},
		}, "entry 3 has term 8, below the term 9"},
		{"valid everything, invalid identity", Batch{
			Identity: &Identity{ClusterID: "x", NodeID: 1}, HardState: &messages.HardState{Term: 9},
			TruncateFrom: 2, Entries: ents(2, 3, 9),
		}, "differs from the stored identity"},
	}

	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		require.NoError(t, s.Write(Batch{
			Identity:  &Identity{ClusterID: "c", NodeID: 1},
			HardState: &messages.HardState{Term: 5, Vote: 2},
			Config:    cfg(1, 2, 3),
			Entries:   []*messages.Entry{ent(1, 1), ent(2, 1), configEnt(3, 2, 1, 2), ent(4, 3)},
		}))
		before := takeSnapshot(t, s)
		require.Len(t, before.state.ConfigEntries, 1)
		for _, c := range cases {
			err := s.Write(c.batch)
			require.ErrorIs(t, err, ErrInvalidBatch, c.name)
			require.ErrorContains(t, err, c.msg, c.name)
			requireSnapshotEqual(t, before, takeSnapshot(t, s))
		}
		s = im.reopen(t, s)
		requireSnapshotEqual(t, before, takeSnapshot(t, s))
		// The store still takes valid batches.
		require.NoError(t, s.Write(Batch{Entries: ents(5, 5, 3)}))
	})
}

func TestInvalidBatchOnEmptyLog(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		for _, b := range []Batch{
			{Entries: ents(2, 3, 1)},
			{Entries: ents(0, 1, 1)},
			{TruncateFrom: 2},
			{TruncateFrom: 2, Entries: ents(2, 2, 1)},
		} {
			err := s.Write(b)
			require.ErrorIs(t, err, ErrInvalidBatch)
		}
		require.NoError(t, s.Write(Batch{TruncateFrom: 1})) // deletes nothing
		require.NoError(t, s.Write(Batch{TruncateFrom: 1, Entries: ents(1, 1, 1)}))
		st, err := s.Load()
		require.NoError(t, err)
		require.Equal(t, uint64(1), st.LastIndex)
	})
}

func TestClosed(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		require.NoError(t, s.Write(Batch{Entries: ents(1, 1, 1)}))
		require.NoError(t, s.Close())
		_, err := s.Load()
		require.ErrorIs(t, err, ErrClosed)
		_, err = s.Entries(1, 2)
		require.ErrorIs(t, err, ErrClosed)
		_, err = s.Term(1)
		require.ErrorIs(t, err, ErrClosed)
		require.ErrorIs(t, s.Write(Batch{Entries: ents(2, 2, 1)}), ErrClosed)
		require.ErrorIs(t, s.Close(), ErrClosed)
	})
}

// TestConcurrentReaders reads while one goroutine writes appends and truncations: a
// reader sees whole batches only, so it never finds a gap (which would be reported as
// corruption) nor an entry of the wrong term.
func TestConcurrentReaders(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		first := ents(1, 5, 1)
		first[2] = configEnt(3, 1, 1)
		require.NoError(t, s.Write(Batch{Entries: first}))
		const writes = 150
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the writer: every term's entries, a configuration entry first, replace the previous term's from 3 on
			defer wg.Done()
			defer close(done)
			for term := uint64(2); term < writes; term++ {
				n := 3 + term%5
				es := ents(3, n, term)
				es[0] = configEnt(3, term, term)
				if err := s.Write(Batch{TruncateFrom: 3, Entries: es}); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
		for r := 0; r < 2; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					es, err := s.Entries(1, 4) // 1..3 always exist
					if err != nil {
						t.Errorf("entries: %v", err)
						return
					}
					if len(es) != 3 || es[0].Term != 1 || es[1].Term != 1 || es[2].Index != 3 {
						t.Errorf("entries: %v", es)
						return
					}
					st, err := s.Load()
					if err != nil {
						t.Errorf("load: %v", err)
						return
					}
					// The configuration entries are those of the batch the log ends with.
					if st.LastIndex >= 3 && (len(st.ConfigEntries) != 1 || st.ConfigEntries[0].Term != st.LastTerm) {
						t.Errorf("configuration entries %v with last term %d", st.ConfigEntries, st.LastTerm)
						return
					}
					es, err = s.Entries(3, st.LastIndex+1)
					if errors.Is(err, ErrOutOfRange) {
						continue // a truncation came between Load and Entries
					}
					if err != nil {
						t.Errorf("entries: %v", err)
						return
					}
					for _, e := range es { // one batch: all of one term
						if e.Term != es[0].Term {
							t.Errorf("entries of two batches: %v", es)
							return
						}
					}
					if _, err := s.Term(3); err != nil {
						t.Errorf("term: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

// TestRandomAgainstModel applies the same random batches, valid and not, to both
// implementations and to a plain model, and compares all three after every batch; the
// LevelDB store is reopened now and then. This is also the "many writes, then reopen"
// check.
func TestRandomAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	ldb := openLevelDB(t, dir, Options{})
	mem := NewMemory()
	var (
		model []*messages.Entry // model[i].Index == i+1
		term  uint64            // hard state term
	)
	// configure makes some of es configuration entries.
	configure := func(es []*messages.Entry) {
		for i, e := range es {
			if rng.IntN(4) == 0 {
				es[i] = configEnt(e.Index, e.Term, uint64(1+rng.IntN(5)))
			}
		}
	}
	const steps = 600
	for step := 0; step < steps; step++ {
		var b Batch
		last := uint64(len(model))
		lastTerm := uint64(0)
		if last > 0 {
			lastTerm = model[last-1].Term
		}
		valid := true
		switch k := rng.IntN(10); {
		case k < 5: // append
			n := uint64(1 + rng.IntN(8))
			t := max(lastTerm, 1) + uint64(rng.IntN(2))
			b.Entries = ents(last+1, last+n, t)
			configure(b.Entries)
		case k < 7: // conflict: truncate and append
			from := 1 + uint64(rng.IntN(int(last)+1))
			n := uint64(rng.IntN(6))
			t := lastTerm + 1
			b.TruncateFrom = from
			b.Entries = ents(from, from+n-1, t)
			configure(b.Entries)
		case k < 8: // hard state
			// Sometimes the same term with another vote: invalid, and both stores must
			// say so.
			term += uint64(rng.IntN(2))
			b.HardState = &messages.HardState{Term: term, Vote: uint64(1 + rng.IntN(3))}
		case k < 9: // invalid: a gap
			b.Entries = ents(last+2, last+3, lastTerm+1)
			valid = false
		default: // config, plus a truncation
			b.Config = cfg(uint64(1 + rng.IntN(5)))
			if last > 0 {
				b.TruncateFrom = last
			}
		}
		errL := ldb.Write(b)
		errM := mem.Write(b)
		require.Equal(t, errL == nil, errM == nil, "step %d: leveldb %v, memory %v", step, errL, errM)
		if !valid {
			require.ErrorIs(t, errL, ErrInvalidBatch, "step %d", step)
		}
		if errL == nil {
			if b.TruncateFrom > 0 {
				model = model[:b.TruncateFrom-1]
			}
			model = append(model, b.Entries...)
		} else {
			require.ErrorIs(t, errL, ErrInvalidBatch, "step %d", step)
		}

		want := takeSnapshot(t, mem)
		requireEntriesEqual(t, model, want.entries)
		requireEntriesEqual(t, configsOf(model), want.state.ConfigEntries)
		requireSnapshotEqual(t, want, takeSnapshot(t, ldb))
		if step%97 == 0 || step == steps-1 {
			require.NoError(t, ldb.Close())
			ldb = openLevelDB(t, dir, Options{})
			requireSnapshotEqual(t, want, takeSnapshot(t, ldb))
		}
	}
}

// TestConfigEntries follows the configuration entries Load returns through appends,
// truncations and overwrites, each checked before and after a reopen.
func TestConfigEntries(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		s := im.open(t)
		var log []*messages.Entry // what the store should hold
		check := func() {
			t.Helper()
			for round := 0; round < 2; round++ {
				st, err := s.Load()
				require.NoError(t, err)
				requireEntriesEqual(t, configsOf(log), st.ConfigEntries)
				got, err := s.Entries(st.FirstIndex, st.LastIndex+1)
				require.NoError(t, err)
				requireEntriesEqual(t, log, got)
				s = im.reopen(t, s)
			}
		}
		write := func(b Batch) {
			t.Helper()
			require.NoError(t, s.Write(b))
			if b.TruncateFrom > 0 {
				log = log[:b.TruncateFrom-1]
			}
			for _, e := range b.Entries {
				log = append(log, proto.Clone(e).(*messages.Entry))
			}
			check()
		}

		check() // none in an empty log
		write(Batch{Entries: []*messages.Entry{configEnt(1, 1, 1), ent(2, 1), ent(3, 1)}})
		write(Batch{Entries: []*messages.Entry{configEnt(4, 2, 1, 2), ent(5, 2), configEnt(6, 2, 1, 2, 3), ent(7, 2)}})
		require.Len(t, configsOf(log), 3)
		// Commands alone, with other changes, leave them as they are.
		write(Batch{HardState: &messages.HardState{Term: 2}, Config: cfg(1), Entries: ents(8, 10, 2)})
		// A truncation removes those at and above TruncateFrom.
		write(Batch{TruncateFrom: 6})
		require.Len(t, configsOf(log), 2)
		// Overwritten: a configuration entry by a command, a command by a configuration entry.
		write(Batch{TruncateFrom: 4, Entries: []*messages.Entry{ent(4, 3), configEnt(5, 3, 4)}})
		// A configuration entry overwritten by another at the same index.
		write(Batch{TruncateFrom: 5, Entries: []*messages.Entry{configEnt(5, 4, 5), ent(6, 4)}})
		// TruncateFrom == LastIndex+1 is a plain append, which removes nothing.
		write(Batch{TruncateFrom: 7, Entries: []*messages.Entry{configEnt(7, 4, 6)}})
		require.Len(t, configsOf(log), 3)
		// Down to nothing, and from 1 again.
		write(Batch{TruncateFrom: 1})
		require.Empty(t, configsOf(log))
		write(Batch{Entries: []*messages.Entry{configEnt(1, 5, 7), ent(2, 5)}})

		// Load hands out copies, and Write keeps none of what it is given.
		st, err := s.Load()
		require.NoError(t, err)
		st.ConfigEntries[0].Config.Voters[0].Id = 99
		given := configEnt(3, 5, 8)
		require.NoError(t, s.Write(Batch{Entries: []*messages.Entry{given}}))
		log = append(log, proto.Clone(given).(*messages.Entry))
		given.Config.Voters[0].Id = 98
		check()
	})
}
