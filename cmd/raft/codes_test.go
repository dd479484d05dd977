package main

import (
	"context"
	"testing"
	"time"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every actor-API error code maps onto the contract's gRPC code.
func TestStatusOfMapsEveryCode(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	cases := []struct {
		ctx  context.Context
		code messages.ErrorCode
		want codes.Code
	}{
		{live, messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, codes.InvalidArgument},
		{live, messages.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, codes.FailedPrecondition},
		{live, messages.ErrorCode_ERROR_CODE_UNAVAILABLE, codes.Unavailable},
		{live, messages.ErrorCode_ERROR_CODE_SHUTDOWN, codes.Unavailable},
		{live, messages.ErrorCode_ERROR_CODE_TIMEOUT, codes.Unavailable},
		{expired, messages.ErrorCode_ERROR_CODE_TIMEOUT, codes.DeadlineExceeded},
		{live, messages.ErrorCode_ERROR_CODE_LOST, codes.Aborted},
		{live, messages.ErrorCode_ERROR_CODE_OUT_OF_RANGE, codes.OutOfRange},
		{live, messages.ErrorCode(99), codes.Internal},
	}
	for _, c := range cases {
		err := statusOf(c.ctx, c.code, "text")
		if got := status.Code(err); got != c.want {
			t.Errorf("%v (context err %v): got %v, want %v", c.code, c.ctx.Err(), got, c.want)
		}
	}
	if err := statusOf(live, messages.ErrorCode_ERROR_CODE_NONE, ""); err != nil {
		t.Errorf("ERROR_CODE_NONE gave %v", err)
	}
}

// The actor API's member field names become the client API's.
func TestStatusOfNamesClientFields(t *testing.T) {
	err := statusOf(context.Background(), messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT,
		`members[1].address: node 2 is a member at "a:1"; remove it before adding it at "b:2"`)
	want := `new_config.peers[1].address: node 2 is a member at "a:1"; remove it before adding it at "b:2"`
	if got := status.Convert(err).Message(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	err = statusOf(context.Background(), messages.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "target_id: node 9 is not a voter")
	if got := status.Convert(err).Message(); got != "target_id: node 9 is not a voter" {
		t.Errorf("got %q", got)
	}
}
