package main

import (
	"context"
	"errors"
	"strings"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// statusOf turns an actor-API error code and text into the gRPC status of the contract:
//
//	INVALID_ARGUMENT    -> INVALID_ARGUMENT (nothing changed)
//	FAILED_PRECONDITION -> FAILED_PRECONDITION (e.g. another configuration change in progress)
//	UNAVAILABLE         -> UNAVAILABLE (no leader known or reachable; Submit outcome unknown)
//	TIMEOUT             -> DEADLINE_EXCEEDED once the client's deadline has passed, else
//	                       UNAVAILABLE (no quorum or leader answered in time; outcome unknown)
//	SHUTDOWN            -> UNAVAILABLE (the node is stopping)
//	LOST                -> ABORTED (another leader replaced the entry: certainly not committed)
//	OUT_OF_RANGE        -> OUT_OF_RANGE (entries the log no longer holds)
//
// It returns nil for ERROR_CODE_NONE.
func statusOf(ctx context.Context, code messages.ErrorCode, text string) error {
	switch code {
	case messages.ErrorCode_ERROR_CODE_NONE:
		return nil
	case messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT:
		return status.Error(codes.InvalidArgument, apiFieldNames(text))
	case messages.ErrorCode_ERROR_CODE_FAILED_PRECONDITION:
		return status.Error(codes.FailedPrecondition, apiFieldNames(text))
	case messages.ErrorCode_ERROR_CODE_UNAVAILABLE, messages.ErrorCode_ERROR_CODE_SHUTDOWN:
		return status.Error(codes.Unavailable, text)
	case messages.ErrorCode_ERROR_CODE_TIMEOUT:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return status.Error(codes.DeadlineExceeded, text)
		}
		return status.Error(codes.Unavailable, text)
	case messages.ErrorCode_ERROR_CODE_LOST:
		return status.Error(codes.Aborted, text)
	case messages.ErrorCode_ERROR_CODE_OUT_OF_RANGE:
		return status.Error(codes.OutOfRange, text)
	}
	return status.Errorf(codes.Internal, "unexpected error code %v: %s", code, text)
}

// apiFieldNames rewrites the actor API's field names at the start of an error text into the
// client API's: the members of a ChangeConfiguration are the peers of new_config.
func apiFieldNames(text string) string {
	if rest, ok := strings.CutPrefix(text, "members"); ok {
		return "new_config.peers" + rest
	}
	return text
}

// contextStatus is the gRPC status for a request whose context ended before the node
// answered: the outcome is unknown.
func contextStatus(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "the deadline passed before the node answered: outcome unknown")
	}
	return status.Error(codes.Canceled, "the request was cancelled before the node answered: outcome unknown")
}
