package storage

import (
	"fmt"
	"slices"
	"sync"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/proto"
)

// memoryName is the name a Memory store gives itself in error messages.
const memoryName = "memory"

// Memory is an in-memory Storage, for tests and the deterministic simulator. It validates
// batches exactly as LevelDB does, and copies messages in and out, so that callers never
// share messages with it. Write must be called by one goroutine at a time; reads may run
// concurrently with it (a mutex guards the state).
//
// Close makes the handle unusable; Reopen gives a new handle on the same state, as
// reopening a directory would, so that a simulated node can crash and restart with what
// it had written.
type Memory struct {
	d      *memoryData
	closed bool // guarded by d.mu
}

// memoryData is the state of a Memory store, shared by the handles Reopen makes.
type memoryData struct {
	mu       sync.RWMutex
	identity Identity
	hard     *messages.HardState
	config   *messages.Configuration
	first    uint64
	entries  []*messages.Entry // entries[i].Index == first+i
	configs  []uint64          // indexes of the configuration entries, ascending
	open     bool              // a handle is open
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{d: &memoryData{hard: &messages.HardState{}, first: 1, open: true}}
}

// Reopen returns a new handle on m's state. m must be closed first (as a directory can be
// opened only once at a time); otherwise Reopen returns an error.
func (m *Memory) Reopen() (*Memory, error) {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.open {
		return nil, fmt.Errorf("storage %s: reopen: the store is still open", memoryName)
	}
	d.open = true
	return &Memory{d: d}, nil
}

func (d *memoryData) meta() logMeta {
	m := logMeta{first: d.first, last: d.first + uint64(len(d.entries)) - 1}
	if len(d.entries) > 0 {
		m.lastTerm = d.entries[len(d.entries)-1].GetTerm()
	}
	return m
}

// Load returns the state held.
func (m *Memory) Load() (State, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if m.closed {
		return State{}, closedErr(memoryName)
	}
	meta := d.meta()
	st := State{
		Identity:   d.identity,
		HardState:  proto.Clone(d.hard).(*messages.HardState),
		FirstIndex: meta.first,
		LastIndex:  meta.last,
		LastTerm:   meta.lastTerm,
	}
	if d.config != nil {
		st.Config = proto.Clone(d.config).(*messages.Configuration)
	}
	for _, index := range d.configs {
		st.ConfigEntries = append(st.ConfigEntries, proto.Clone(d.entries[index-d.first]).(*messages.Entry))
	}
	return st, nil
}

// Entries returns entries with lo <= index < hi, in order.
func (m *Memory) Entries(lo, hi uint64) ([]*messages.Entry, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if m.closed {
		return nil, closedErr(memoryName)
	}
	meta := d.meta()
	if err := checkRange(memoryName, meta, lo, hi); err != nil || lo == hi {
		return nil, err
	}
	src := d.entries[lo-d.first : hi-d.first]
	out := make([]*messages.Entry, len(src))
	for i, e := range src {
		out[i] = proto.Clone(e).(*messages.Entry)
	}
	return out, nil
}

// Term returns the term of the entry at index (0 for index 0).
func (m *Memory) Term(index uint64) (uint64, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if m.closed {
		return 0, closedErr(memoryName)
	}
	if index == 0 {
		return 0, nil
	}
	meta := d.meta()
	if err := checkIndex(memoryName, meta, index); err != nil {
		return 0, err
	}
	return d.entries[index-d.first].GetTerm(), nil
}

// Write applies b atomically, or returns an error and changes nothing.
func (m *Memory) Write(b Batch) error {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if m.closed {
		return closedErr(memoryName)
	}
	cur := current{meta: d.meta(), identity: d.identity, term: d.hard.GetTerm(), vote: d.hard.GetVote()}
	if _, err := b.validate(&cur, func(index uint64) (uint64, error) {
		return d.entries[index-d.first].GetTerm(), nil
	}); err != nil {
		return fmt.Errorf("storage %s: %w", memoryName, err)
	}

	// Marshal everything first, as LevelDB does: a message that cannot be marshalled
	// rejects the batch before anything changes. Unmarshalling then gives the copies kept.
	enc, err := encodeMessages(&b)
	if err != nil {
		return fmt.Errorf("storage %s: %w", memoryName, err)
	}
	if b.Identity != nil {
		d.identity = *b.Identity
	}
	if enc.hard != nil {
		d.hard = &messages.HardState{}
		mustUnmarshal(enc.hard, d.hard)
	}
	if enc.config != nil {
		d.config = &messages.Configuration{}
		mustUnmarshal(enc.config, d.config)
	}
	if b.TruncateFrom > 0 {
		// In place: readers only ever get copies, so nothing aliases the array. The
		// dropped pointers are cleared so that the entries are not retained.
		cut := b.TruncateFrom - d.first
		clear(d.entries[cut:])
		d.entries = d.entries[:cut]
		n, _ := slices.BinarySearch(d.configs, b.TruncateFrom)
		d.configs = d.configs[:n]
	}
	for _, data := range enc.entries {
		e := &messages.Entry{}
		mustUnmarshal(data, e)
		d.entries = append(d.entries, e)
		if e.GetType() == messages.EntryType_ENTRY_TYPE_CONFIG {
			d.configs = append(d.configs, e.GetIndex())
		}
	}
	return nil
}

// encodedBatch holds the marshalled messages of a Batch (nil when absent).
type encodedBatch struct {
	hard, config []byte
	entries      [][]byte
}

func encodeMessages(b *Batch) (encodedBatch, error) {
	var enc encodedBatch
	var err error
	if b.HardState != nil {
		if enc.hard, err = proto.Marshal(b.HardState); err != nil {
			return enc, invalidf("hard state: %v", err)
		}
		if enc.hard == nil {
			enc.hard = []byte{}
		}
	}
	if b.Config != nil {
		if enc.config, err = proto.Marshal(b.Config); err != nil {
			return enc, invalidf("configuration: %v", err)
		}
		if enc.config == nil {
			enc.config = []byte{}
		}
	}
	enc.entries = make([][]byte, len(b.Entries))
	for i, e := range b.Entries {
		if enc.entries[i], err = proto.Marshal(e); err != nil {
			return enc, invalidf("entry %d: %v", e.GetIndex(), err)
		}
	}
	return enc, nil
}

// mustUnmarshal decodes what proto.Marshal just produced, which cannot fail.
func mustUnmarshal(data []byte, m proto.Message) {
	if err := proto.Unmarshal(data, m); err != nil {
		panic(fmt.Sprintf("storage: unmarshal of a marshalled %T: %v", m, err))
	}
}

// Close makes m unusable; the state stays available through Reopen.
func (m *Memory) Close() error {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if m.closed {
		return closedErr(memoryName)
	}
	m.closed = true
	d.open = false
	return nil
}

// checkRange checks that [lo, hi) is a range of indexes held in a log with bounds meta
// (lo == hi is always fine).
func checkRange(name string, meta logMeta, lo, hi uint64) error {
	if lo > hi {
		return outOfRangef(name, "entries [%d, %d): lo above hi", lo, hi)
	}
	if lo == hi {
		return nil
	}
	if lo < meta.first || hi > meta.last+1 {
		return outOfRangef(name, "entries [%d, %d) outside the log [%d, %d]", lo, hi, meta.first, meta.last)
	}
	return nil
}

// checkIndex checks that index is held in a log with bounds meta.
func checkIndex(name string, meta logMeta, index uint64) error {
	if index < meta.first || index > meta.last {
		return outOfRangef(name, "index %d outside the log [%d, %d]", index, meta.first, meta.last)
	}
	return nil
}
