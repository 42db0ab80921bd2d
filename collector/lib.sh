# shellcheck shell=bash
# Shared by build.sh and install-jaeger.sh (sourced, not run).

# Put Go on PATH: CI machines have it at /usr/local/go/bin without it being on PATH.
ensure_go() {
    if ! command -v go >/dev/null 2>&1; then
        PATH="/usr/local/go/bin:$PATH"
    fi
    if ! command -v go >/dev/null 2>&1; then
        echo "$(basename "$0"): no 'go' on PATH or in /usr/local/go/bin" >&2
        exit 1
    fi
}

# up_to_date BINARY STAMP_FILE WANT: the binary exists and was built for WANT (FORCE=1: never).
up_to_date() {
    [[ -z ${FORCE:-} && -x $1 && -f $2 && "$(<"$2")" == "$3" ]]
}

# fail_with_log LOG: print the end of a build log (the tool's own error message) and exit 1.
fail_with_log() {
    echo "$(basename "$0"): failed; last lines of $1:" >&2
    tail -n 40 "$1" >&2
    exit 1
}
