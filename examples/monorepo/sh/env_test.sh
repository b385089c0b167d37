#!/bin/bash
# The test environment of the Bazel test encyclopedia.
set -eu
for v in TEST_TARGET TEST_TMPDIR TEST_SRCDIR XML_OUTPUT_FILE TEST_UNDECLARED_OUTPUTS_DIR; do
  [ -n "${!v:-}" ] || { echo "$v is not set"; exit 1; }
done
[ "$HOME" = "$TEST_TMPDIR" ] || { echo "HOME=$HOME"; exit 1; }
[ "$TZ" = "UTC" ] || { echo "TZ=$TZ"; exit 1; }
echo "target $TEST_TARGET ok"
