package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/remote"
	"github.com/raftsidecar/raft/storage"
)

// Config describes one node. ID, ClusterID, Address and DataDir (or Storage) are required;
// zero values elsewhere take the defaults.
type Config struct {
	// ID is the node's id, unique in the cluster and > 0 (0 means "none").
	ID uint64
	// ClusterID names the cluster; peer messages with another cluster id are dropped.
	ClusterID string
	// Address is the node's peer address (protoactor remoting, "host:port"): the address
	// that appears in configurations.
	Address string
	// DataDir is the node's LevelDB directory, created if missing.
	DataDir string
	// Storage, when set, is used instead of opening DataDir (tests and simulations).
	Storage storage.Storage
	// NoSync skips fsync on writes: fast, but a machine crash may lose acknowledged writes.
	NoSync bool
	// Bootstrap is the initial voter set, used only when the store is empty. A node started
	// with an empty store and no Bootstrap never campaigns: it waits to be added.
	Bootstrap []*messages.Member

	// ElectionTimeout is the minimum election timeout; each one is drawn from [T, 2T).
	ElectionTimeout time.Duration
	// HeartbeatInterval is how often a leader contacts idle followers.
	HeartbeatInterval time.Duration
	// MaxCommandBytes is the largest command Submit accepts.
	MaxCommandBytes int
	// MaxAppendEntries and MaxAppendBytes bound one AppendEntries batch.
	MaxAppendEntries int
	MaxAppendBytes   int
	// MaxInflight is how many AppendEntries may be pipelined to one follower; beyond the
	// first, only full batches (MaxAppendEntries or MaxAppendBytes) are sent.
	MaxInflight int
	// ApplyWindow is how many committed entries may wait for subscribers' acknowledgements.
	ApplyWindow int
	// Subscribers receive CommittedEntries batches (and must acknowledge each with a
	// CommittedAck) from index 1, after every start and restart: they are registered before
	// the node applies anything. A Subscribe sent to a running node starts at the oldest entry
	// the node still holds for delivery, which is index 1 only if nothing was applied yet; a
	// state machine that must see every entry is therefore given here.
	Subscribers []*messages.ActorRef
	// LogCacheEntries and LogCacheBytes bound the newest log entries RaftNode keeps in
	// memory (by count, and by payload bytes); older ones are read back from storage when
	// needed (a follower far behind, a subscriber catching up), so memory stays flat however
	// long the log grows, and a restart reads only this much of it.
	LogCacheEntries int
	LogCacheBytes   int
	// ForwardTimeout bounds how long a follower waits for the leader to answer a forwarded Submit.
	ForwardTimeout time.Duration
	// CatchUpTimeout bounds how long new members may take to catch up as learners before a
	// configuration change fails (leaving the old configuration in force). Default 30 s.
	CatchUpTimeout time.Duration
	// TransferTimeout bounds a leadership transfer. Default 5 election timeouts.
	TransferTimeout time.Duration

	// Clock and RandSeed make timing injectable; nil and 0 mean the wall clock and a seed
	// drawn from the node id and the time.
	Clock    Clock
	RandSeed int64
	// Logger receives the node's events; nil means silent.
	Logger *slog.Logger
	// Faults, when set, injects network faults into this node's outgoing peer traffic (tests).
	Faults *remote.FaultNetwork
}

// settings validates the config and fills in defaults.
func (c Config) settings() (settings, error) {
	if c.ID == 0 {
		return settings{}, errors.New("config: ID must be > 0")
	}
	if c.ClusterID == "" {
		return settings{}, errors.New("config: ClusterID is required")
	}
	if err := validateAddress(c.Address); err != nil {
		return settings{}, fmt.Errorf("config: Address: %w", err)
	}
	if c.DataDir == "" && c.Storage == nil {
		return settings{}, errors.New("config: DataDir is required")
	}
	if len(c.Bootstrap) > 0 {
		if err := validateMembers("config: Bootstrap", c.Bootstrap); err != nil {
			return settings{}, err
		}
	}
	for i, r := range c.Subscribers {
		if r.GetId() == "" {
			return settings{}, fmt.Errorf("config: Subscribers[%d]: an actor reference with an id is required", i)
		}
	}
	s := settings{
		id: c.ID, clusterID: c.ClusterID, address: c.Address,
		electionTimeout: c.ElectionTimeout, heartbeatInterval: c.HeartbeatInterval,
		maxCommandBytes: c.MaxCommandBytes, maxAppendEntries: c.MaxAppendEntries, maxAppendBytes: c.MaxAppendBytes,
		maxInflight: c.MaxInflight, applyWindow: c.ApplyWindow, forwardTimeout: c.ForwardTimeout,
		logCacheEntries: c.LogCacheEntries, logCacheBytes: c.LogCacheBytes,
		catchUpTimeout: c.CatchUpTimeout, catchUpMargin: DefaultCatchUpMargin, transferTimeout: c.TransferTimeout,
		clock: c.Clock, logger: c.Logger, subscribers: c.Subscribers,
	}
	setDefault(&s.electionTimeout, DefaultElectionTimeout)
	setDefault(&s.heartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&s.maxCommandBytes, DefaultMaxCommandBytes)
	setDefault(&s.maxAppendEntries, DefaultMaxAppendEntries)
	setDefault(&s.maxAppendBytes, DefaultMaxAppendBytes)
	setDefault(&s.maxInflight, DefaultMaxInflight)
	setDefault(&s.applyWindow, DefaultApplyWindow)
	setDefault(&s.logCacheEntries, DefaultLogCacheEntries)
	setDefault(&s.logCacheBytes, DefaultLogCacheBytes)
	setDefault(&s.forwardTimeout, DefaultForwardTimeout)
	setDefault(&s.catchUpTimeout, DefaultCatchUpTimeout)
	setDefault(&s.transferTimeout, 5*s.electionTimeout)
	if s.heartbeatInterval >= s.electionTimeout {
		return settings{}, fmt.Errorf("config: HeartbeatInterval (%v) must be below ElectionTimeout (%v)", s.heartbeatInterval, s.electionTimeout)
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	seed := c.RandSeed
	if seed == 0 {
		seed = time.Now().UnixNano() ^ int64(c.ID)*7919
	}
	s.rand = rand.New(rand.NewSource(seed))
	return s, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
