package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/raftsidecar/raft/messages/raftv1"
)

// parsePeers reads a list "ID=HOST:PORT,..." (what names the list goes in messages). It
// checks the syntax only; the daemon checks the rest.
func parsePeers(what, text string) ([]*raftv1.Peer, error) {
	var peers []*raftv1.Peer
	for i, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, usageError{fmt.Sprintf("%s: item %d is empty; want ID=HOST:PORT,...", what, i+1)}
		}
		p, err := parsePeer(item)
		if err != nil {
			return nil, usageError{fmt.Sprintf("%s: %v", what, err)}
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// parsePeer reads "ID=HOST:PORT".
func parsePeer(item string) (*raftv1.Peer, error) {
	idText, addr, ok := strings.Cut(item, "=")
	if !ok || addr == "" {
		return nil, fmt.Errorf("%q: want ID=HOST:PORT", item)
	}
	id, err := parseID(idText)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", item, err)
	}
	return &raftv1.Peer{Id: id, Address: strings.TrimSpace(addr)}, nil
}

// parseID reads a node id: a positive integer.
func parseID(text string) (uint64, error) {
	id, err := strconv.ParseUint(strings.TrimSpace(text), 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("node id %q: want a positive integer", text)
	}
	return id, nil
}

// peersText writes peers as "ID=HOST:PORT,...", the form config set takes.
func peersText(peers []*raftv1.Peer) string {
	items := make([]string, len(peers))
	for i, p := range peers {
		items[i] = fmt.Sprintf("%d=%s", p.GetId(), p.GetAddress())
	}
	return strings.Join(items, ",")
}
