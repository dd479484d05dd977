package remote

import (
	"io"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/grpc/grpclog"
)

// loggerFactory returns the protoactor logger factory for an endpoint: logger tagged with
// the actor system id, or a logger that discards everything when logger is nil.
// protoactor's default writes Info-level lines for every connection event to stderr.
func loggerFactory(logger *slog.Logger) func(*actor.ActorSystem) *slog.Logger {
	return func(system *actor.ActorSystem) *slog.Logger {
		if logger == nil {
			return slog.New(slog.DiscardHandler)
		}
		return logger.With(slog.String("lib", "protoactor"), slog.String("system", system.ID))
	}
}

// gRPC's own logger is silenced once, here, before any endpoint starts. protoactor-go also
// does it on every remote start; the test workspace (test/race-workspace.sh) turns that
// repeated, unsynchronised write into a no-op so several endpoints can share a process
// under the race detector.
func init() {
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, io.Discard))
}
