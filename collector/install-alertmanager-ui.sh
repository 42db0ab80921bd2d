#!/usr/bin/env bash
# Put Alertmanager's web UI into collector/_build/alertmanager-ui/, for Debian's
# prometheus-alertmanager, which ships without it (its page says "does not include a web
# application") and serves one from --web.ui-path; `tokentrail stack up` passes that flag when
# this directory exists. Not part of the product: only the local stack uses it.
#
# The UI comes from the Go module of the same Alertmanager release, from the Go module proxy:
# that release embeds the compiled UI in asset/assets_vfsdata.go (vfsgen: every file as
# gzip-compressed "\xNN" bytes), which is unpacked here; nothing is compiled. Same caching as
# build.sh: nothing to do when the stamp matches (FORCE=1 redoes it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
out="$here/_build/alertmanager-ui"
stamp="$here/_build/alertmanager-ui.stamp"
log="$here/_build/alertmanager-ui.log"

alertmanager="${TOKENTRAIL_ALERTMANAGER:-prometheus-alertmanager}"
if ! command -v "$alertmanager" >/dev/null 2>&1; then
    echo "$(basename "$0"): no $alertmanager on PATH: apt-get install prometheus-alertmanager" >&2
    exit 1
fi
if ! "$alertmanager" --help 2>&1 | grep -q -- "--web.ui-path"; then
    echo "$(basename "$0"): $alertmanager has its UI built in (no --web.ui-path): nothing to do" >&2
    exit 0
fi
version="$("$alertmanager" --version 2>&1 | sed -n 's/^alertmanager, version \([0-9.]*\).*/\1/p')"
[[ -n $version ]] || { echo "$(basename "$0"): cannot read the version of $alertmanager" >&2; exit 1; }

ensure_go
want="alertmanager-ui=v$version"
if up_to_date "$out" "$stamp" "$want"; then
    echo "the Alertmanager UI is up to date: $out" >&2
    echo "$out"
    exit 0
fi

mkdir -p "$here/_build"
rm -f "$stamp"
src="$(cd "$here" && go mod download -json "github.com/prometheus/alertmanager@v$version" 2>"$log" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || true
[[ -n $src && -f $src/asset/assets_vfsdata.go ]] || fail_with_log "$log"
rm -rf "$out"
python3 - "$src/asset/assets_vfsdata.go" "$out" >>"$log" 2>&1 <<'EOF' || fail_with_log "$log"
import gzip, pathlib, re, sys

source, out = pathlib.Path(sys.argv[1]).read_text(), pathlib.Path(sys.argv[2])
entry = re.compile(
    r'"/static/([^"]+)": &vfsgen۰(Compressed)?FileInfo\{.*?'
    r'(?:compressedContent|content): \[\]byte\("((?:\\x[0-9a-f]{2})*)"\)',
    re.S,
)
files = entry.findall(source)
for path, compressed, data in files:
    content = bytes.fromhex(data.replace("\\x", ""))
    target = out / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.decompress(content) if compressed else content)
if not (out / "index.html").is_file() or not (out / "script.js").is_file():
    sys.exit(f"no index.html and script.js among the {len(files)} files of {sys.argv[1]}")
print(f"unpacked {len(files)} files")
EOF
echo "$want" >"$stamp"
echo "$out"
