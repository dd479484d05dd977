package main

import (
	"time"

	"github.com/raftsidecar/raft/messages"
	"github.com/raftsidecar/raft/messages/raftv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// One Watch stream holds at most one page of entries: it asks the node for the next page only
// once the previous one has been sent to the client, so a slow client slows its own stream
// (gRPC flow control blocks Send) and nothing else.
const (
	watchPageEntries = 256
	watchPageBytes   = 1 << 20
	// watchRepoll is how long a stream waits for a page or a commit notice before it asks
	// again (and registers again): a safety net should a message to or from the node be lost.
	watchRepoll = 5 * time.Second
)

// Watch implements raft.v1.PeerService: it streams committed entries in log order from
// from_index (0 means 1) by paging through the node's log, then follows the log live, woken
// by the node's commit notices, until the client cancels.
func (s *service) Watch(req *raftv1.WatchRequest, stream raftv1.PeerService_WatchServer) error {
	ctx := stream.Context()
	next := max(req.GetFromIndex(), 1)
	w := startCommitWatcher(s.system, s.node)
	defer w.stop()
	for {
		page, err := s.readPage(w, next, stream)
		if err != nil {
			return err
		}
		if len(page.Entries) == 0 {
			// Caught up: wait until the commit index moves past next.
			if err := s.awaitNotice(w, stream); err != nil {
				return err
			}
			continue
		}
		for _, e := range page.Entries {
			if err := stream.Send(toEntry(e)); err != nil {
				return err
			}
		}
		next = page.Entries[len(page.Entries)-1].Index + 1
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// readPage asks for the page of committed entries that starts at from and waits for it.
// A page that starts elsewhere is a late answer to an earlier request and is ignored.
func (s *service) readPage(w *commitWatcher, from uint64, stream raftv1.PeerService_WatchServer) (*messages.ReadCommittedResult, error) {
	ctx := stream.Context()
	w.requestPage(from)
	repoll := time.NewTimer(watchRepoll)
	defer repoll.Stop()
	for {
		select {
		case page := <-w.pages:
			if err := statusOf(ctx, page.Code, page.Error); err != nil {
				return nil, err
			}
			switch {
			case len(page.Entries) > 0 && page.Entries[0].Index == from:
				return page, nil
			case len(page.Entries) == 0 && page.CommitIndex < from:
				return page, nil
			}
		case <-repoll.C:
			w.register()
			w.requestPage(from)
			repoll.Reset(watchRepoll)
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-s.stopping:
			return nil, status.Error(codes.Unavailable, "the node is shutting down")
		}
	}
}

// awaitNotice waits for the node's next commit notice (or the re-poll interval).
func (s *service) awaitNotice(w *commitWatcher, stream raftv1.PeerService_WatchServer) error {
	ctx := stream.Context()
	repoll := time.NewTimer(watchRepoll)
	defer repoll.Stop()
	select {
	case <-w.notices:
	case <-repoll.C:
		w.register()
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.stopping:
		return status.Error(codes.Unavailable, "the node is shutting down")
	}
	return nil
}
