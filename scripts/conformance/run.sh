#!/usr/bin/env bash
# Regenerates docs/CONFORMANCE.md: runs real public projects under their own
# test runner and under `suite init && suite run`, side by side.
#
#   scripts/conformance/run.sh              every project, then the report
#   scripts/conformance/run.sh toml tqdm    only these projects (the others keep
#                                           their last results), then the report
#   scripts/conformance/run.sh --report     only rewrite the report from results
#
# It needs the network (the Go module proxy and the npm registry) and takes
# many minutes, so ./test.sh never runs it. Go modules and npm packages are
# downloaded by exact version; repositories that no registry serves are read
# from $CONFORMANCE_REPOS (default /work/.mirror), one bare git directory per
# repository at $CONFORMANCE_REPOS/OWNER+NAME/repo, and a project whose
# repository is missing is skipped with a message naming what to clone.
# As root, the Debian packages the Python projects need are installed.
#
# Scratch space: $CONFORMANCE_WORK (default /tmp/suite-conformance-work).
# Results: scripts/conformance/results/*.json (committed, so a report can be
# rewritten without rerunning everything).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=${CONFORMANCE_WORK:-/tmp/suite-conformance-work}
mkdir -p "$work"

if [ "${1:-}" != "--report" ]; then
  for tool in go git node npm python3; do
    command -v "$tool" >/dev/null || { echo "conformance: $tool is not on PATH" >&2; exit 1; }
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    for p in python3-pytest python3-pytest-timeout python3-pytest-asyncio python3-click \
      python3-mypy-extensions python3-pathspec python3-platformdirs python3-packaging python3-aiohttp; do
      dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
  fi
  echo "conformance: building suite" >&2
  (cd "$top" && go build -o "$work/suite" ./cmd/suite)
fi
exec python3 "$here/conformance.py" --top "$top" --work "$work" --suite "$work/suite" "$@"
