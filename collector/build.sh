#!/usr/bin/env bash
# Build otelcol-tokentrail into collector/_build/ from builder-config.yaml with the pinned ocb.
#
# Uses Go's default module and build caches, so a rebuild after a manifest change takes
# seconds once they are warm; does nothing at all when the binary was already built from
# this manifest with this Go and this builder (stamp file). FORCE=1 rebuilds anyway.
# Prints the binary's path on stdout; the builder's log goes to collector/_build/build.log.
set -euo pipefail

BUILDER_VERSION=v0.161.0 # keep equal to the versions in builder-config.yaml

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
out="$here/_build"
binary="$out/otelcol-tokentrail"
stamp="$out/otelcol-tokentrail.stamp"
log="$out/build.log"

ensure_go
# The generated module sits inside this repository: without this, go build stamps the
# repository's VCS state into the binary and fails where git refuses to read it (CI checkouts
# owned by another user).
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
want="manifest=$(sha256sum "$here/builder-config.yaml" | cut -d' ' -f1) go=$(go env GOVERSION) builder=$BUILDER_VERSION"
if up_to_date "$binary" "$stamp" "$want"; then
    echo "otelcol-tokentrail is up to date: $binary" >&2
    echo "$binary"
    exit 0
fi

mkdir -p "$out"
rm -f "$stamp"
start=$SECONDS
echo "building otelcol-tokentrail (ocb $BUILDER_VERSION, $(go env GOVERSION)); log: $log" >&2
GOBIN="$out/tools" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" \
    >"$log" 2>&1 || fail_with_log "$log"
(cd "$here" && "$out/tools/builder" --config=builder-config.yaml) >>"$log" 2>&1 ||
    fail_with_log "$log"
echo "$want" >"$stamp"
echo "built in $((SECONDS - start)) s: $binary" >&2
echo "$binary"
