#!/usr/bin/env bash
# How analysis time grows with the size of a Dockerfile: 400 vs 4,000 vs 40,000 ENV lines, the same with ARG
# lines that use the variables before them, a 100k-line file of mixed instructions, and 40,000 stages. Linear analysis means
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

# NO_BUILD=1: use the driver already built (a release build takes many minutes on a loaded 2-core machine).
if [ -z "${NO_BUILD:-}" ]; then
  echo "== building ($PROFILE)"
  cargo build --profile "$PROFILE" --quiet --example analyze_check
fi
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
stage_file() { # N stages of 3 lines: FROM an image or the stage before, an apt RUN, a COPY --from an earlier stage
  awk -v n="$1" 'BEGIN {
    print "FROM ubuntu:22.04 AS s0"
    for (i = 1; i < n; i++) {
      if (i % 2) print "FROM s" (i - 1) " AS s" i; else print "FROM ubuntu:22.04 AS s" i
      print "RUN apt-get update && apt-get install -y curl"
      print "COPY --from=s" int(i / 2) " /opt/x /opt/x"
    }
  }' > "$2"
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

# The driver times the analysis itself (read, parse, model, rules; not process start-up) and prints
# "N inputs, M findings in X ms (cpu Y ms)" on stderr. The CPU time is reported (on a shared machine the wall
# time mostly measures the neighbours): best of 3 runs, and the peak RSS of the last one.
time_ms() { # FILE -> "ms rss_kb"
  local best="" rss=""
  for _ in 1 2 3; do
    local out ms
    if [ -x /usr/bin/time ]; then
      out=$( { /usr/bin/time -f "RSS %M" "$DRIVER" --quiet "$1" > /dev/null; } 2>&1 )
    else
      out=$( { "$DRIVER" --quiet "$1" > /dev/null; } 2>&1; echo "RSS 0")
    fi
    # The CPU time when the driver can read it (Linux), else the wall time.
    ms=$(printf '%s\n' "$out" | sed -n 's/.*(cpu \([0-9.]*\) ms)$/\1/p')
    [ -n "$ms" ] || ms=$(printf '%s\n' "$out" | sed -n 's/.* in \([0-9.]*\) ms.*$/\1/p')
    rss=$(printf '%s\n' "$out" | sed -n 's/^RSS \([0-9]*\)$/\1/p')
    if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$ms; fi
  done
  echo "$best $rss"
}

report() { # label generator sizes...
  local label=$1 gen=$2
  shift 2
  local prev="" prev_n=""
  for n in "$@"; do
    local f="$WORK/$label-$n"
    "$gen" "$n" "$f"
    local ms rss
    read -r ms rss < <(time_ms "$f")
    local growth=""
    if [ -n "$prev" ]; then
      growth=$(awk -v a="$prev" -v b="$ms" -v na="$prev_n" -v nb="$n" 'BEGIN{
        r = (a > 0) ? b / a : 0; k = nb / na
        printf "  x%.1f for %gx the lines (per 10x: x%.1f)", r, k, (k > 0 && r > 0) ? exp(log(r) * log(10) / log(k)) : 0 }')
    fi
    printf "%-6s %7d lines: %9.1f ms  %7d KB peak%s\n" "$label" "$(wc -l < "$f")" "$ms" "$rss" "$growth"
    prev=$ms
    prev_n=$n
  done
}

echo "== analysis CPU time per file (in-process, best of 3; load average $(cut -d" " -f1 /proc/loadavg)); linear = x10 per 10x the lines"
report ENV env_file 400 4000 40000
report ARG arg_file 400 4000 40000
report mixed mixed_file 1000 10000 100000
report stages stage_file 400 4000 40000
