#!/usr/bin/env bash
# Validate every shipped Collector config with the built binary (`otelcol-tokentrail validate`
# parses, resolves and checks every component's settings without starting anything): the
# default route under each privacy setting, and each example overlaid on it, with the
# placeholder values of examples/validate.env for the variables the examples require.
# Binary: $TOKENTRAIL_OTELCOL, else collector/_build/otelcol-tokentrail (collector/build.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="${TOKENTRAIL_OTELCOL:-$here/_build/otelcol-tokentrail}"
if [[ ! -x $binary ]]; then
    echo "validate.sh: no collector at $binary; run collector/build.sh first" >&2
    exit 1
fi

set -a
source "$here/examples/validate.env"
set +a

failed=0
check() { # check LABEL CONFIG...: validate the configs merged in order
    local label=$1 output config
    shift
    local args=()
    for config in "$@"; do args+=(--config "$here/$config"); done
    if output="$("$binary" validate "${args[@]}" 2>&1)"; then
        echo "ok    $label"
    else
        echo "FAIL  $label"
        sed 's/^/      /' <<<"$output"
        failed=1
    fi
}

for content in drop keep; do
    for user_id in keep hash delete; do
        TOKENTRAIL_COLLECTOR_CONTENT=$content TOKENTRAIL_COLLECTOR_USER_ID=$user_id \
            check "otelcol.yaml (content=$content, user.id=$user_id)" otelcol.yaml
    done
done
for example in "$here"/examples/*.yaml; do
    example="examples/$(basename "$example")"
    check "otelcol.yaml + $example" otelcol.yaml "$example"
done
exit "$failed"
