#!/usr/bin/env bash
# Makes docs/report.png, the README's picture of the HTML report: runs the
# example monorepo's regression suite (./example.sh) with every test
# executed, writes its report, and photographs it in headless chromium
# (which scripts/install-deps.sh installs). Extra arguments go to
# `suite run`. Usage: scripts/report-screenshot.sh [-n 4]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# A failing test would still make a report worth a picture.
./example.sh --no-cache --html "$out/report.html" "$@" || true
chromium=$(command -v chromium || command -v chromium-browser)
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$out/profile" --window-size=1200,1280 \
  --screenshot="$PWD/docs/report.png" "file://$out/report.html" 2>/dev/null
echo "wrote docs/report.png"
