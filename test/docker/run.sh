#!/usr/bin/env bash
# Runs the Docker fault test (test/docker/docker_test.go) when Docker is usable, and says
# why it skipped otherwise (exit 0, so that CI without Docker still passes).
#
#   bash test/docker/run.sh
#
# RAFT_DOCKER_REQUIRED=1 turns every reason to skip into a failure (exit 1).
# Compose may be the v2 plugin (docker compose) or the v1 tool (docker-compose, as Debian
# packages it); the one found is passed to the test in RAFT_DOCKER_COMPOSE. When only
# Docker itself is there and this runs as root with apt-get, Debian's docker-compose is
# installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

export PATH="$PATH:/usr/local/go/bin"

skip() {
  if [ "${RAFT_DOCKER_REQUIRED:-0}" = 1 ]; then
    echo "docker test: cannot run: $*" >&2
    exit 1
  fi
  echo "docker test skipped: $*"
  exit 0
}

command -v go >/dev/null || skip "no go command"
command -v docker >/dev/null || skip "no docker command"
if ! info_err=$(docker info 2>&1 >/dev/null); then
  skip "docker info failed (is the Docker daemon running, and may this user use it?): $(printf '%s\n' "$info_err" | tail -n 2)"
fi

compose=""
if docker compose version >/dev/null 2>&1; then
  compose="docker compose"
elif command -v docker-compose >/dev/null && docker-compose version >/dev/null 2>&1; then
  compose="docker-compose"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "docker test: no compose found; installing Debian's docker-compose"
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1 ||
     { apt-get update -qq >/dev/null 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1; }; then
    docker-compose version >/dev/null 2>&1 && compose="docker-compose"
  fi
fi
[ -n "$compose" ] || skip "neither docker compose nor docker-compose is available"

echo "docker test: $(docker version --format 'engine {{.Server.Version}}' 2>/dev/null || echo 'engine ?'), compose: $compose ($($compose version --short 2>/dev/null || $compose version | head -n 1))"
export RAFT_DOCKER_COMPOSE="$compose"
RAFT_DOCKER_TEST=1 go test -v -count=1 -timeout 15m ./test/docker/
