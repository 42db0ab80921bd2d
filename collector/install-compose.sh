#!/usr/bin/env bash
# Build Docker Compose (the `docker compose` CLI, as the standalone `docker-compose`) into
# collector/_build/docker-compose, for the checks of deploy/compose/compose.yaml:
# `docker-compose config` parses, validates against the Compose specification and resolves a
# file without a Docker engine. Not part of the product. Debian 12 has only Compose v1 and the
# Docker CLI here comes without the plugin, so it is built from the Go module proxy, inside the
# downloaded module (its go.mod has exclude directives, which `go install` refuses), as
# install-jaeger.sh does. Same caching as build.sh (FORCE=1 rebuilds).
set -euo pipefail

# v5.7 needs Go 1.26.10; v5.6.0 builds with the Go 1.26.8 that CI has.
COMPOSE_VERSION=v5.6.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
out="$here/_build"
binary="$out/docker-compose"
stamp="$out/docker-compose.stamp"
log="$out/docker-compose-build.log"

ensure_go
want="compose=$COMPOSE_VERSION go=$(go env GOVERSION)"
if up_to_date "$binary" "$stamp" "$want"; then
    echo "docker-compose is up to date: $binary" >&2
    echo "$binary"
    exit 0
fi

mkdir -p "$out"
rm -f "$stamp"
start=$SECONDS
echo "building docker-compose $COMPOSE_VERSION ($(go env GOVERSION)); log: $log" >&2
src="$(cd "$here" && go mod download -json "github.com/docker/compose/v5@$COMPOSE_VERSION" 2>"$log" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || true
[[ -n $src ]] || fail_with_log "$log"
(cd "$src" && GOTOOLCHAIN=local GOFLAGS=-buildvcs=false go build -trimpath -o "$binary" \
    -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" \
    ./cmd) >>"$log" 2>&1 || fail_with_log "$log"
echo "$want" >"$stamp"
echo "built in $((SECONDS - start)) s: $binary" >&2
echo "$binary"
