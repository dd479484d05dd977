#!/usr/bin/env bash
# Writes .build/go.work: a Go workspace for running the tests under the race detector.
#
# protoactor-go's remote.(*Remote).Start calls grpclog.SetLoggerV2, which writes gRPC's
# global logger without synchronisation while the gRPC goroutines of any endpoint already
# running read it. Production runs one endpoint per process, started before any other gRPC
# activity, so it is harmless there; but the cluster tests run several nodes, each with its
# own endpoint, in one process and restart them, and the race detector rightly reports it.
# This workspace replaces protoactor-go with a copy of the same version, taken from the
# module cache at test time, in which that one call is a no-op (the remote package silences
# gRPC's logger itself, once, at init). Nothing of protoactor-go is committed here.
set -euo pipefail
cd "$(dirname "$0")/.."
module=github.com/asynkron/protoactor-go
version=$(go list -m -f '{{.Version}}' "$module")
src=$(go list -m -f '{{.Dir}}' "$module")
if [ -z "$src" ] || [ ! -d "$src" ]; then
  go mod download "$module"
  src=$(go list -m -f '{{.Dir}}' "$module")
fi
dst=.build/protoactor-go
stamp="$dst/.patched-$version"
if [ ! -f "$stamp" ]; then
  rm -rf "$dst"
  mkdir -p .build
  cp -r "$src" "$dst"
  chmod -R u+w "$dst"
  target="$dst/remote/server.go"
  call='grpclog.SetLoggerV2(grpclog.NewLoggerV2(ioutil.Discard, ioutil.Discard, ioutil.Discard))'
  grep -qF "$call" "$target" || { echo "race-workspace: $target no longer holds the call to patch" >&2; exit 1; }
  sed -i "s/grpclog.SetLoggerV2(grpclog.NewLoggerV2(ioutil.Discard, ioutil.Discard, ioutil.Discard))/_, _ = grpclog.NewLoggerV2, ioutil.Discard \/\/ no-op: see test\/race-workspace.sh/" "$target"
  touch "$stamp"
fi
gover=$(go list -m -f '{{.GoVersion}}' github.com/raftsidecar/raft)
cat > .build/go.work <<WORK
go $gover

use ..

replace $module $version => ./protoactor-go
WORK
echo "$PWD/.build/go.work"
