#!/usr/bin/env bash
# Passes all of suite's tests on a fresh Debian machine with Go: installs
# what the tests need where it is missing (as root), then runs go vet and
# the tests with the race detector. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
python3 -c 'import pytest' >/dev/null 2>&1 || [ -x /usr/bin/pytest ] || need+=(python3-pytest)
python3 -c 'import xdist' >/dev/null 2>&1 || [ -d /usr/lib/python3/dist-packages/xdist ] || need+=(python3-pytest-xdist)
command -v node >/dev/null 2>&1 || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test.sh: missing ${need[*]}; install them (apt-get install -y ${need[*]}) or tests needing them fail under CI=true" >&2
  fi
fi

go vet ./...
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change: $unformatted" >&2
  exit 1
fi
exec go test -race -timeout 40m "$@" ./...
