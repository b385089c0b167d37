#!/usr/bin/env bash
# Installs, where missing, what the example monorepo and suite's own tests
# run: pytest and pytest-xdist for Debian's python3, venv, pip and
# setuptools (pytest scripts install a package into a virtualenv, offline),
# node and npm (npm workspaces with a dependency from the registry), nginx
# (the HTTP remote cache tests), Debian's Bazel (a repository that both
# suite and Bazel use) and Debian's chromium (the HTML report is tested in a
# headless browser). Needs root and apt-get; otherwise it says what
# is missing and leaves the rest to the caller.
set -euo pipefail
need=()
[ -x /usr/bin/pytest ] || python3 -c 'import pytest' >/dev/null 2>&1 || need+=(python3-pytest)
[ -d /usr/lib/python3/dist-packages/xdist ] || python3 -c 'import xdist' >/dev/null 2>&1 || need+=(python3-pytest-xdist)
/usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
/usr/bin/python3 -c 'import pip' >/dev/null 2>&1 || need+=(python3-pip)
/usr/bin/python3 -c 'import setuptools' >/dev/null 2>&1 || need+=(python3-setuptools)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# setpriv runs the sandbox's and the tracer's tests as an unprivileged user.
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v bazel >/dev/null 2>&1 || need+=(bazel-bootstrap)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
# Bazel's runfiles library for Go, which run_runfiles.txtar uses from the
# module cache (its tests run without network).
if command -v go >/dev/null 2>&1 && [ ! -d "$(go env GOMODCACHE)/github.com/bazelbuild/rules_go@v0.50.1" ]; then
  go mod download github.com/bazelbuild/rules_go@v0.50.1 || echo "could not download github.com/bazelbuild/rules_go@v0.50.1 from the Go module proxy" >&2
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]}: install them (apt-get install -y ${need[*]})" >&2
  fi
fi
# pnpm workspaces (run_pnpm_workspace): pnpm comes from npm.
if ! command -v pnpm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v npm >/dev/null 2>&1; then
    echo "installing pnpm with npm" >&2
    npm install -g --no-audit --no-fund pnpm@9 >/dev/null
  else
    echo "missing pnpm: install it (npm install -g pnpm@9)" >&2
  fi
fi
