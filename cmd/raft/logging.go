package main

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// logUnary logs every unary RPC at debug level: method, outcome and duration, one line each.
func logUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		res, err := handler(ctx, req)
		logRPC(ctx, logger, info.FullMethod, start, err)
		return res, err
	}
}

// logStream logs every streaming RPC (Watch) at debug level when it ends.
func logStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		logRPC(ss.Context(), logger, info.FullMethod, start, err)
		return err
	}
}

func logRPC(ctx context.Context, logger *slog.Logger, method string, start time.Time, err error) {
	if !logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	st := status.Convert(err)
	logger.Debug("rpc", "method", method, "code", st.Code().String(), "error", st.Message(), "duration", time.Since(start))
}
