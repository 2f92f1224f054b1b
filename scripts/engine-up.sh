#!/usr/bin/env bash
# Start the Docker engine (Debian's docker.io) if it does not answer yet, and wait until it does.
# Used by .ci/run and by developers; safe to run again.
set -euo pipefail
sock=/var/run/docker.sock
ping() { curl -fsS --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }
if ping; then exit 0; fi
if ! pgrep -x dockerd >/dev/null; then
  rm -f /var/run/docker.pid   # stale after an abrupt stop; dockerd refuses to start with it
  setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
  if ping; then echo "docker engine up at unix://$sock"; exit 0; fi
  sleep 1
done
echo "docker engine did not answer within 60 s; see /tmp/dockerd.log" >&2
tail -20 /tmp/dockerd.log >&2 || true
exit 1
