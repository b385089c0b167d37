#!/usr/bin/env bash
# Builds suite and runs the example monorepo's regression suite (its Go,
# Python, Node and shell tests), installing pytest and node first where
# missing. Extra arguments go to `suite run`, e.g. ./example.sh -n 4.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
exec go run ./cmd/suite -C examples/monorepo run regression "$@"
