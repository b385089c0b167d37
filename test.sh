#!/usr/bin/env bash
# Passes all of suite's tests on a fresh Debian machine with Go: installs
# what the tests need where it is missing (as root), then runs go vet and
# the tests with the race detector. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-deps.sh

go vet ./...
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change: $unformatted" >&2
  exit 1
fi
exec go test -race -timeout 40m "$@" ./...
