#!/bin/sh
# render_report.sh: screenshot an hpsweep HTML report in headless Chromium, to look at it.
# Not part of the Criterion suite (CI need not have Chromium): apt-get install -y chromium
# usage: tests/render_report.sh REPORT.html [OUT.png] [HEIGHT]
set -eu
[ $# -ge 1 ] || { echo "usage: $0 REPORT.html [OUT.png] [HEIGHT]" >&2; exit 2; }
html=$(realpath "$1")
out=${2:-${html%.html}.png}
height=${3:-3000}
bin=$(command -v chromium || command -v chromium-browser || true)
[ -n "$bin" ] || { echo "$0: chromium not found (apt-get install -y chromium)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$bin" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --screenshot="$(realpath -m "$out")" --window-size=1200,"$height" "file://$html" >/dev/null 2>&1
[ -s "$out" ] || { echo "$0: no screenshot written" >&2; exit 1; }
echo "$out"
