#!/usr/bin/env bash
# Measures whether suite shares Go's build cache across actions and with the
# user's own `go test`: on a real module from the module proxy, with an empty
# GOCACHE each time, it times `go test ./...` and `suite run` (cold), then
# `suite run` in the folder where go test ran, on a copy of the cache go test
# left (warm), and prints wall time and GOCACHE growth for each.
#
#   bench/go_build_cache.sh SUITE_BINARY [MODULE@VERSION] [WORKDIR]
#
# GOFLAGS=-run=^$ makes every run compile and link the tests without running
# them, so the figures are about builds, not about the module's tests.
set -euo pipefail
suite=$(realpath "$1")
module=${2:-go.starlark.net@v0.0.0-20260908191801-89a6a09411d5}
work=${3:-$(mktemp -d)}
src=$(go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
export GOFLAGS="-mod=mod -run=^\$" GOPROXY=off

measure() { # LABEL DIR GOCACHE COMMAND...
  local label=$1 dir=$2 cache=$3; shift 3
  local before s e
  before=$(du -sm "$cache" | cut -f1)
  s=$(date +%s.%N)
  (cd "$dir" && GOCACHE=$cache XDG_CACHE_HOME=$work/xdg-$label "$@" >"$work/${label// /-}.log" 2>&1) || echo "$label: failed, see $work/${label// /-}.log"
  e=$(date +%s.%N)
  printf '%-12s wall %7.1f s   GOCACHE %4d MB -> %4d MB\n' "$label" "$(echo "$e - $s" | bc)" "$before" "$(du -sm "$cache" | cut -f1)"
}
fresh() { rm -rf "$work/$1"; mkdir -p "$work/$1"; cp -r "$src" "$work/$1/mod"; chmod -R u+w "$work/$1/mod"; mkdir -p "$work/$1/gocache"; }

fresh go;    measure "go test" "$work/go/mod" "$work/go/gocache" go test ./...
fresh suite; (cd "$work/suite/mod" && "$suite" init >/dev/null)
measure "suite cold" "$work/suite/mod" "$work/suite/gocache" "$suite" run -n 2 //...
rm -rf "$work/warm"; cp -a "$work/go/gocache" "$work/warm"
(cd "$work/go/mod" && "$suite" init >/dev/null)
measure "suite warm" "$work/go/mod" "$work/warm" "$suite" run -n 2 //...
