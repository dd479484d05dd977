# The project's commands. `make run` shows a live cluster; `make test` runs every test.
PROTOC_GEN_GO_VERSION := v1.36.11
# protoc-gen-go-grpc 1.3.0 is the last generator whose code builds against the grpc module
# this project pins (v1.60.x); later ones need grpc >= 1.62.
PROTOC_GEN_GO_GRPC_VERSION := v1.3.0
GOBIN ?= $(shell go env GOPATH)/bin

.PHONY: all build test test-cluster run lint proto tools

all: build

build:
	go build ./...

# Every test, with the race detector. The workspace from test/race-workspace.sh swaps in
# protoactor-go with one racy logger call disabled (see that script for why).
test:
	GOWORK=$$(bash test/race-workspace.sh) go test -race -count=1 -timeout 30m ./...

# The cluster tests alone, repeated (the bar before an issue is resolved).
test-cluster:
	GOWORK=$$(bash test/race-workspace.sh) go test -race -count=20 -timeout 90m ./test/...

run:
	go run ./examples/cluster

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

tools:
	go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }

# Regenerates messages/raft.pb.go from messages/raft.proto, and the sidecar's client API
# (messages/raftv1: raft.pb.go and raft_grpc.pb.go) from messages/raftv1/raft.proto. Both
# are compiled from --proto_path=messages, so they register as "raft.proto" and
# "raftv1/raft.proto": distinct names in one binary.
proto: tools
	PATH="$(GOBIN):$$PATH" protoc --proto_path=messages --go_out=messages --go_opt=paths=source_relative messages/raft.proto
	PATH="$(GOBIN):$$PATH" protoc --proto_path=messages \
	  --go_out=messages --go_opt=paths=source_relative \
	  --go-grpc_out=messages --go-grpc_opt=paths=source_relative \
	  messages/raftv1/raft.proto
