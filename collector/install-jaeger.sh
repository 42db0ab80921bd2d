#!/usr/bin/env bash
# Build Jaeger v2 (all-in-one, in-memory storage) into collector/_build/jaeger: the trace
# backend of `tokentrail stack` and of the e2e tests (tests/e2e). Not part of the product.
#
# `go install github.com/jaegertracing/jaeger/cmd/jaeger@...` is refused because Jaeger's
# go.mod has a replace directive, so this builds inside the downloaded module, with Jaeger's
# own go.mod, go.sum and replace, as upstream's Makefile does (without the web UI assets, which
# no registry serves: the HTTP API works without them; `tokentrail stack up --jaeger-ui DIR`
# serves assets built elsewhere). Same caching as build.sh: Go's default
# caches, and nothing to do when the stamp matches (FORCE=1 rebuilds).
set -euo pipefail

JAEGER_VERSION=v2.13.0
JAEGER_MODULE_VERSION=v1.76.0 # Jaeger tags each v2 release with a v1 tag too; Go needs that one

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
out="$here/_build"
binary="$out/jaeger"
stamp="$out/jaeger.stamp"
log="$out/jaeger-build.log"

ensure_go
want="jaeger=$JAEGER_VERSION go=$(go env GOVERSION)"
if up_to_date "$binary" "$stamp" "$want"; then
    echo "jaeger is up to date: $binary" >&2
    echo "$binary"
    exit 0
fi

mkdir -p "$out"
rm -f "$stamp"
start=$SECONDS
echo "building jaeger $JAEGER_VERSION ($(go env GOVERSION)); log: $log" >&2
src="$(cd "$here" && go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION" 2>"$log" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || true
[[ -n $src ]] || fail_with_log "$log"
(cd "$src" && go build -trimpath -o "$binary" \
    -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_VERSION" \
    ./cmd/jaeger) >>"$log" 2>&1 || fail_with_log "$log"
echo "$want" >"$stamp"
echo "built in $((SECONDS - start)) s: $binary" >&2
echo "$binary"
