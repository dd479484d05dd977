package main

import (
	"strings"
	"testing"

	"github.com/raftsidecar/raft/messages/raftv1"
)

func TestValidateCommand(t *testing.T) {
	if err := validateCommand([]byte("x"), 1); err != nil {
		t.Errorf("a command at the limit: %v", err)
	}
	for _, cmd := range [][]byte{nil, {}, []byte("xy")} {
		err := validateCommand(cmd, 1)
		if err == nil || !strings.HasPrefix(err.Error(), "command: ") {
			t.Errorf("%q: got %v, want an error naming command", cmd, err)
		}
	}
}

func TestValidateConfiguration(t *testing.T) {
	p := func(id uint64, addr string) *raftv1.Peer { return &raftv1.Peer{Id: id, Address: addr} }
	cfg := func(peers ...*raftv1.Peer) *raftv1.Configuration { return &raftv1.Configuration{Peers: peers} }
	good := []*raftv1.Configuration{
		cfg(p(1, "127.0.0.1:7001")),
		cfg(p(1, "127.0.0.1:7001"), p(2, "localhost:7002"), p(3, "[::1]:7003")),
	}
	for _, c := range good {
		if err := validateConfiguration(c); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	}
	bad := []struct {
		cfg   *raftv1.Configuration
		field string
	}{
		{nil, "new_config: "},
		{cfg(), "new_config.peers: "},
		{cfg(p(0, "127.0.0.1:7001")), "new_config.peers[0].id: "},
		{cfg(p(1, "127.0.0.1:7001"), p(1, "127.0.0.1:7002")), "new_config.peers[1].id: duplicate id 1"},
		{cfg(p(1, "127.0.0.1:7001"), p(2, "127.0.0.1:7001")), "new_config.peers[1].address: duplicate"},
		{cfg(p(1, "")), "new_config.peers[0].address: "},
		{cfg(p(1, "nohost")), "new_config.peers[0].address: "},
		{cfg(p(1, ":7001")), "new_config.peers[0].address: "},
		{cfg(p(1, "a b:7001")), "new_config.peers[0].address: "},
		{cfg(p(1, "h:0")), "new_config.peers[0].address: "},
		{cfg(p(1, "h:65536")), "new_config.peers[0].address: "},
		{cfg(p(1, "h:port")), "new_config.peers[0].address: "},
	}
	for _, c := range bad {
		err := validateConfiguration(c.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("%v: got %v, want an error starting %q", c.cfg, err, c.field)
		}
	}
}
