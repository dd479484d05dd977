# The project's commands. `make run` shows a live cluster; `make test` runs every test.
PROTOC_GEN_GO_VERSION := v1.36.11
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
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }

# Regenerates messages/raft.pb.go from messages/raft.proto.
proto: tools
	PATH="$(GOBIN):$$PATH" protoc --proto_path=messages --go_out=messages --go_opt=paths=source_relative messages/raft.proto
