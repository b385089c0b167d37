#!/bin/bash
# A slow end-to-end check: starts a server on a loopback port and talks to it.
set -eu
python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 50); do
  if python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8765/greet.sh")' 2>/dev/null; then
    echo "served greet.sh"
    exit 0
  fi
  sleep 0.1
done
echo "server did not come up"
exit 1
