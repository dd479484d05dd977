package actors

import (
	"fmt"
	"log/slog"
	"math/rand"
	"time"

	"github.com/raftsidecar/raft/messages"
)

// Defaults for Config fields left zero.
const (
	DefaultElectionTimeout   = 400 * time.Millisecond
	DefaultHeartbeatInterval = 80 * time.Millisecond
	DefaultMaxCommandBytes   = 1 << 20
	DefaultMaxAppendEntries  = 4096
	DefaultMaxAppendBytes    = 2 << 20
	DefaultMaxInflight       = 4
	DefaultApplyWindow       = 4096
	DefaultLogCacheEntries   = 16384
	DefaultLogCacheBytes     = 32 << 20
	DefaultForwardTimeout    = 5 * time.Second
	DefaultCatchUpTimeout    = 30 * time.Second
	DefaultCatchUpMargin     = 64
)

// settings are the knobs every logic type reads; built from a Config by withDefaults.
type settings struct {
	id                uint64
	clusterID         string
	address           string
	electionTimeout   time.Duration // the minimum; each timeout is drawn from [T, 2T)
	heartbeatInterval time.Duration
	maxCommandBytes   int
	maxAppendEntries  int
	maxAppendBytes    int
	maxInflight       int
	applyWindow       int
	logCacheEntries   int // newest entries kept in memory (at most, once committed and durable)
	logCacheBytes     int // payload bytes kept in memory (idem)
	forwardTimeout    time.Duration
	catchUpTimeout    time.Duration        // how long new members may take to catch up before a change fails
	catchUpMargin     int                  // how close (in entries) a learner must be to join the voters
	transferTimeout   time.Duration        // how long a leadership transfer may take
	subscribers       []*messages.ActorRef // registered with the Applier before anything is applied
	clock             Clock
	rand              *rand.Rand
	logger            *slog.Logger
}

// validateMembers checks a member list: non-empty, ids > 0, no duplicate ids or addresses,
// addresses of the form host:port.
func validateMembers(field string, members []*messages.Member) error {
	if len(members) == 0 {
		return fmt.Errorf("%s: no members", field)
	}
	ids := map[uint64]bool{}
	addrs := map[string]bool{}
	for i, m := range members {
		if m == nil {
			return fmt.Errorf("%s[%d]: missing member", field, i)
		}
		if m.Id == 0 {
			return fmt.Errorf("%s[%d].id: 0 is not a valid node id", field, i)
		}
		if ids[m.Id] {
			return fmt.Errorf("%s[%d].id: duplicate id %d", field, i, m.Id)
		}
		if err := validateAddress(m.Address); err != nil {
			return fmt.Errorf("%s[%d].address: %w", field, i, err)
		}
		if addrs[m.Address] {
			return fmt.Errorf("%s[%d].address: duplicate address %q", field, i, m.Address)
		}
		ids[m.Id] = true
		addrs[m.Address] = true
	}
	return nil
}
