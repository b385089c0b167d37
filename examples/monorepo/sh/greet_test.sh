#!/bin/bash
set -eu
out=$(sh ./greet.sh suite)
[ "$out" = "hello, suite" ] || { echo "got: $out"; exit 1; }
echo ok
