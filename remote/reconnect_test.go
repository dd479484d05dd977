package remote

import (
	"sync"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/stretchr/testify/require"
)

// resumeTimeout is the longest a restarted peer may stay unreachable in these tests.
const resumeTimeout = 10 * time.Second

// prober sends numbered heartbeats to a peer every period and remembers when each left.
type prober struct {
	tr     Transport
	to     *messages.Member
	mu     sync.Mutex
	sentAt []time.Time // sentAt[n] is when probe n (Term n) was sent
	stop   chan struct{}
	done   chan struct{}
}

func startProber(tr Transport, to *messages.Member, period time.Duration) *prober {
	p := &prober{tr: tr, to: to, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			p.mu.Lock()
			n := uint64(len(p.sentAt))
			p.sentAt = append(p.sentAt, time.Now())
			p.mu.Unlock()
			p.tr.Send(p.to, heartbeat(1, 2, n))
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// halt stops the prober and returns how many probes it sent and when probe n left.
func (p *prober) halt(n uint64) (sent int, at time.Time) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sentAt), p.sentAt[n]
}

// After a peer crashes and restarts on the same address, how long until messages reach it
// again? Measured in two cases: the sender kept sending while the peer was down (what a
// Raft leader does), and the sender was quiet until the peer was back. Only a resumption
// within resumeTimeout is asserted; the durations are logged.
func TestDeliveryResumesAfterPeerRestartsOnSameAddress(t *testing.T) {
	for _, busy := range []bool{true, false} {
		name := map[bool]string{true: "sending while down", false: "quiet while down"}[busy]
		t.Run(name, func(t *testing.T) {
			a := parentEndpoint(t)
			b := startReceiver(t, "127.0.0.1:0")
			to := &messages.Member{Id: 2, Address: b.Address}
			tr := NewTransport(a.System, 1, nil)
			tr.Send(to, heartbeat(1, 2, 0))
			b.receive()

			crashed := time.Now()
			b.stop()
			b.close()
			var p *prober
			if busy {
				p = startProber(tr, to, 10*time.Millisecond)
			}
			b2 := startReceiver(t, to.Address)
			restarted := time.Now()
			if !busy {
				p = startProber(tr, to, 10*time.Millisecond)
			}

			var first *messages.AppendEntries
			select {
			case first = <-b2.received:
			case <-time.After(resumeTimeout):
				sent, _ := p.halt(0)
				require.Failf(t, "delivery did not resume",
					"no probe reached the restarted peer within %v (%d sent)", resumeTimeout, sent)
			}
			arrived := time.Since(restarted)
			sent, sentAt := p.halt(first.Term)

			// Then the probes still in flight arrive, in order: count the lost ones. Losses
			// are only reported; the wait for the last probe is bounded.
			got := map[uint64]bool{first.Term: true}
			drained := time.After(waitTimeout)
		drain:
			for last := first.Term; last < uint64(sent-1); {
				select {
				case m := <-b2.received:
					last = m.Term
					got[last] = true
				case <-drained:
					break drain
				}
			}
			t.Logf("%s: peer down %v; first delivery %v after the restart; "+
				"the first probe received is #%d, sent %v after the restart; "+
				"%d probes sent, %d received, %d lost",
				name, restarted.Sub(crashed).Round(time.Millisecond), arrived.Round(time.Millisecond),
				first.Term, sentAt.Sub(restarted).Round(time.Millisecond), sent, len(got), sent-len(got))
		})
	}
}
