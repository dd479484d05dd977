package remote

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
)

// Loopback addresses for clusters run inside one machine: tests, examples, benchmarks.
// Such a node keeps its address across restarts, and a node that joins later gets its
// address long before it listens, so an address handed out must stay clear of two things:
// another address handed out in this process (asking the kernel for port 0 twice can
// return the same port once the first listener has closed), and the ephemeral ports that
// outgoing connections use (the kernel could give a reserved but not yet bound port to a
// client socket). So ports come from below the kernel's ephemeral range, in sequence from
// a random start, each checked free by listening on it once.

var loopbackPorts struct {
	sync.Mutex
	next, low, high int // next candidate, in [low, high); high 0 until first use
}

// FreeLoopbackAddress returns "127.0.0.1:port" with a port that was free a moment ago,
// lies below the kernel's ephemeral port range and was not returned before by this
// process. It is meant for clusters run on one machine (tests, demos, benchmarks).
func FreeLoopbackAddress() (string, error) {
	p := &loopbackPorts
	p.Lock()
	defer p.Unlock()
	if p.high == 0 {
		p.low, p.high = portsBelowEphemeral()
		p.next = p.low + rand.IntN(p.high-p.low)
	}
	for tries := p.high - p.low; tries > 0; tries-- {
		port := p.next
		if p.next++; p.next == p.high {
			p.next = p.low
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if l, err := net.Listen("tcp", addr); err == nil {
			if err := l.Close(); err != nil {
				return "", err
			}
			return addr, nil
		}
	}
	return "", errors.New("remote: no free loopback port below the ephemeral range")
}

// portsBelowEphemeral returns [low, high): the ports from 10000 up to where the kernel's
// ephemeral range starts (32768 when that cannot be read).
func portsBelowEphemeral() (low, high int) {
	low, high = 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first, last int
		if n, _ := fmt.Sscan(string(b), &first, &last); n == 2 && first > low+1000 {
			high = first
		}
	}
	return low, high
}
