package storage

import (
	"log/slog"

	"github.com/raftsidecar/raft/messages"
)

// Identity binds a data directory to one node of one cluster.
type Identity struct {
	// ClusterID names the cluster the node belongs to.
	ClusterID string
	// NodeID is the node's id inside the cluster; never 0 once stored.
	NodeID uint64
}

// IsZero reports whether id is the zero Identity (no identity stored).
func (id Identity) IsZero() bool { return id.ClusterID == "" && id.NodeID == 0 }

// State is what a store holds, as loaded.
type State struct {
	// Identity is the node's identity; zero when never bootstrapped/identified.
	Identity Identity
	// HardState is the stored term and vote; never nil (zero value when nothing stored).
	HardState *messages.HardState
	// Config is the base configuration; nil when none stored.
	Config *messages.Configuration
	// FirstIndex is the index of the first entry held. The log always starts at 1 for
	// now (Batch can only cut a suffix), so FirstIndex is 1, also when the log is empty.
	FirstIndex uint64
	// LastIndex is the index of the last entry held; 0 when the log is empty.
	LastIndex uint64
	// LastTerm is the term of the entry at LastIndex; 0 when the log is empty.
	LastTerm uint64
	// ConfigEntries are the log's configuration entries (type ENTRY_TYPE_CONFIG), in index
	// order. The store keeps an index of them, so a node learns its configuration without
	// reading the whole log.
	ConfigEntries []*messages.Entry
}

// Storage is the interface the Persistence actor and RaftNode use; both LevelDB and
// Memory satisfy it. Write must be called by one goroutine at a time; Load, Entries and
// Term may run concurrently with it and with each other, and always see the state as it
// was before or after a whole Write, never a part of one.
type Storage interface {
	// Load returns the state held.
	Load() (State, error)
	// Entries returns entries with lo <= index < hi, in order; error if any is missing.
	// A range outside [FirstIndex, LastIndex+1) gives an error wrapping ErrOutOfRange;
	// lo == hi gives no entries and no error.
	Entries(lo, hi uint64) ([]*messages.Entry, error)
	// Term returns the term of the entry at index: 0, nil for index 0; an error wrapping
	// ErrOutOfRange for an index outside [FirstIndex, LastIndex].
	Term(index uint64) (uint64, error)
	// Write applies b atomically, or returns an error and changes nothing.
	Write(b Batch) error
	// Close releases the store. Every later call returns an error wrapping ErrClosed.
	Close() error
}

// Options configures Open.
type Options struct {
	// Sync makes every Write fsynced before it returns (true in production).
	Sync bool
	// Logger, when not nil, gets a warning for each repair Open makes (a torn journal
	// tail: see Open), naming the directory, the journal and the bytes cut.
	Logger *slog.Logger
}

var (
	_ Storage = (*LevelDB)(nil)
	_ Storage = (*Memory)(nil)
)
