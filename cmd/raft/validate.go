package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/raftsidecar/raft/messages/raftv1"
)

// The gRPC layer checks every request before it reaches Raft, so a malformed request never
// changes anything; each message names the request field at fault.

// validateCommand checks a Submit's command: present and within the size limit.
func validateCommand(cmd []byte, limit int) error {
	if len(cmd) == 0 {
		return fmt.Errorf("command: empty")
	}
	if len(cmd) > limit {
		return fmt.Errorf("command: %d bytes, over the limit of %d bytes", len(cmd), limit)
	}
	return nil
}

// validateConfiguration checks a ChangeConfiguration's new_config: at least one peer, ids
// above 0 and unique, addresses host:port and unique.
func validateConfiguration(cfg *raftv1.Configuration) error {
	if cfg == nil {
		return fmt.Errorf("new_config: missing")
	}
	if len(cfg.Peers) == 0 {
		return fmt.Errorf("new_config.peers: empty: a configuration needs at least one peer")
	}
	ids := make(map[uint64]int, len(cfg.Peers))
	addrs := make(map[string]int, len(cfg.Peers))
	for i, p := range cfg.Peers {
		if p.Id == 0 {
			return fmt.Errorf("new_config.peers[%d].id: 0 is not a valid node id", i)
		}
		if j, dup := ids[p.Id]; dup {
			return fmt.Errorf("new_config.peers[%d].id: duplicate id %d (also new_config.peers[%d])", i, p.Id, j)
		}
		if err := checkAddress(p.Address); err != nil {
			return fmt.Errorf("new_config.peers[%d].address: %v", i, err)
		}
		if j, dup := addrs[p.Address]; dup {
			return fmt.Errorf("new_config.peers[%d].address: duplicate address %q (also new_config.peers[%d])", i, p.Address, j)
		}
		ids[p.Id] = i
		addrs[p.Address] = i
	}
	return nil
}

// checkAddress accepts "host:port" with a non-empty host free of spaces and a port in
// 1..65535.
func checkAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("malformed address %q: want host:port", addr)
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n") {
		return fmt.Errorf("malformed address %q: bad host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("malformed address %q: port must be 1..65535", addr)
	}
	return nil
}
