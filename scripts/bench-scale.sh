#!/usr/bin/env bash
# How analysis time grows with the size of a Dockerfile: 400 vs 4,000 vs 40,000 ENV lines, the same with ARG
# lines that use the variables before them, and a 100k-line file of mixed instructions. Linear analysis means
# ten times the lines takes about ten times the time (and not a hundred). Not a timed test: prints the
# numbers and the growth factor per 10x.
#
# Usage: scripts/bench-scale.sh            (release build)
#        PROFILE=dev scripts/bench-scale.sh  (the debug build: slower, same growth; no extra target dir)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
PROFILE="${PROFILE:-release}"
OUT=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")

echo "== building ($PROFILE)"
cargo build --profile "$PROFILE" --quiet --example analyze_check
DRIVER="$CARGO_TARGET_DIR/$OUT/examples/analyze_check"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dockui-scale.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

env_file() { # N: FROM + N ENV lines
  { echo "FROM python:3.11-slim"; for ((i = 0; i < $1; i++)); do echo "ENV VAR_$i=value-$i"; done; } > "$2"
}
arg_file() { # N: ARG lines, each using the one before, and a RUN every 10 lines that expands one
  {
    echo "FROM python:3.11-slim"
    echo "ARG V0=1"
    for ((i = 1; i < $1; i++)); do
      echo "ARG V$i=\${V$((i / 2))}.$i"
      if ((i % 10 == 0)); then echo "RUN pip install pkg$i==\${V$i}"; fi
    done
  } > "$2"
}
mixed_file() { # about N lines of everything: stages, RUNs with continuations, COPY, ENV, comments
  awk -v n="$1" 'BEGIN {
    l = 0
    while (l < n) {
      s++
      print "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04 AS s" s; l++
      for (k = 0; k < 40 && l < n; k++) {
        print "# step " k; l++
        print "ENV STEP_" k "=" k " PATH=/opt/s" s "/bin:$PATH"; l++
        print "RUN apt-get update && \\"; l++
        print "    apt-get install -y --no-install-recommends curl=7.81.0-1 && \\"; l++
        print "    rm -rf /var/lib/apt/lists/*"; l++
        print "COPY requirements.txt /app/requirements-" k ".txt"; l++
        print "RUN pip install --no-cache-dir torch==2.5.1 numpy==1.26.4"; l++
        print "WORKDIR /app/s" s; l++
      }
    }
  }' > "$2"
}

now_ns() { date +%s%N; }
time_ms() { # FILE -> ms for one analysis in one process (best of 3)
  local best=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(now_ns)
    "$DRIVER" --quiet "$1" > /dev/null
    t1=$(now_ns)
    local ms=$(((t1 - t0) / 1000000))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}

report() { # label sizes...
  local label=$1 gen=$2
  shift 2
  local prev=""
  for n in "$@"; do
    local f="$WORK/$label-$n"
    "$gen" "$n" "$f"
    local ms
    ms=$(time_ms "$f")
    local growth=""
    if [ -n "$prev" ]; then
      growth=$(awk -v a="$prev" -v b="$ms" 'BEGIN{ if (a > 0) printf "  (x%.1f for 10x the lines)", b / a; else printf "  (from <1 ms)" }')
    fi
    printf "%-6s %7d lines: %7d ms%s\n" "$label" "$(wc -l < "$f")" "$ms" "$growth"
    prev=$ms
  done
}

report ENV env_file 400 4000 40000
report ARG arg_file 400 4000 40000
report mixed mixed_file 10000 100000
