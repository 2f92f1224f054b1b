#!/usr/bin/env bash
# Benchmark dockui's build engine against `DOCKER_BUILDKIT=0 docker build` (the legacy builder) on the same
# multi-step Dockerfile, without the layer cache, in alternating runs of the same session.
# Not a timed test: prints the figures and the ratio. Target: dockui / docker <= 1.05 (median wall time).
#
# Both sides: one process per build, wall time from start to exit, the image removed after every run.
#   dockui: target/release/dockui build DIR --format json, isolated XDG dirs, config no_cache = true,
#           builder = "legacy" (like for like), smoke tests off, one attempt.
#   docker: DOCKER_BUILDKIT=0 docker build --no-cache -t TAG DIR (output to /dev/null).
# For information only: dockui with builder = "buildkit" (the docker CLI here has no buildx to compare with).
#
# The base image is a busybox FROM scratch image built here (no registry needed) and removed at the end.
#
# Usage: scripts/bench-build.sh [RUNS]     (default 9 per side, after one warm-up each)
#   The ratio is of the medians; the median of the per-run ratios (each dockui run against the docker run
#   next to it in time) is printed too: on a shared machine it is the steadier of the two.
#   A one-step Dockerfile (FROM + ENV) is timed the same way: dockui's fixed cost per build, in ms.
#   NO_BUILDKIT=1   skip the BuildKit figure.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-9}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
. scripts/bench-lib.sh
BENCH_ID="build-$$"
bench_require_engine
bench_busybox >/dev/null

echo "== building dockui (release)"
cargo build --release --quiet --bin dockui
DOCKUI="$CARGO_TARGET_DIR/release/dockui"

TAG_ID="$$"
BASE="dockui-bench/busybox:base-$TAG_ID"
REPO="dockui-bench/build"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dockui-bench-build.XXXXXX")"
cleanup() {
  bench_cleanup_engine
  rm -rf "$WORK"
}
trap cleanup EXIT

bench_base_image "$BASE" "$WORK"

# ---- the project: a few RUN/COPY steps that write a few MB, each with a short sleep ----
P="$WORK/project"
mkdir -p "$P/src"
head -c 4000000 /dev/urandom > "$P/model.bin"
for i in $(seq 1 50); do printf 'def f%d(x):\n    return x * %d\n' "$i" "$i" > "$P/src/mod_$i.py"; done
printf '.git\n*.tmp\n' > "$P/.dockerignore"
cat > "$P/Dockerfile" <<EOF
FROM $BASE
WORKDIR /app
COPY model.bin /app/model.bin
RUN dd if=/dev/urandom of=/app/blob bs=1M count=4 2>/dev/null && sleep 0.2
COPY src/ /app/src/
RUN for i in \$(seq 1 300); do echo "compiling unit \$i of 300"; done && sleep 0.2
RUN sha256sum /app/blob /app/model.bin > /app/SUMS && cat /app/SUMS && sleep 0.2
RUN mkdir -p /app/cache && for i in 1 2 3 4; do head -c 1000000 /dev/urandom > /app/cache/part\$i; done && sleep 0.2
ENV APP_MODE=bench
CMD ["sh", "-c", "cat /app/SUMS"]
EOF

mkconfig() { # builder tag
  cat > "$WORK/$1.toml" <<EOF
[build]
image = "$REPO"
tag = "dockui-$1-$TAG_ID"
no_cache = true
builder = "$1"
max_attempts = 1
auto_fix = "off"

[smoke]
infer = false
commands = []
EOF
}
mkconfig legacy
mkconfig buildkit
export XDG_CONFIG_HOME="$WORK/xdg/config" XDG_STATE_HOME="$WORK/xdg/state" XDG_DATA_HOME="$WORK/xdg/data"

# Each run prints "WALL_MS CPU_MS": wall time, and the client's own CPU (user + sys of the dockui or docker
# process and its children), which the engine's work and the machine's other load hardly touch.
TIMEFORMAT='%R %U %S'
to_ms() { awk '{printf "%.1f %.1f\n", $1 * 1000, ($2 + $3) * 1000}' "$1"; }

run_dockui() { # builder; checks success; removes the image
  local id
  { time "$DOCKUI" build "$P" --format json --config "$WORK/$1.toml" > "$WORK/out.json" 2> "$WORK/dockui.err"; } 2> "$WORK/time" \
    || { echo "dockui build failed:" >&2; cat "$WORK/out.json" "$WORK/dockui.err" >&2; exit 1; }
  grep -q '"success": true' "$WORK/out.json" || { echo "dockui build did not succeed:" >&2; cat "$WORK/out.json" >&2; exit 1; }
  id=$(sed -n 's/.*"image_id": "\(.*\)".*/\1/p' "$WORK/out.json" | head -1)
  docker rmi -f "$REPO:dockui-$1-$TAG_ID" >/dev/null 2>&1 || true
  [ -n "$id" ] && docker rmi -f "$id" >/dev/null 2>&1 || true
  to_ms "$WORK/time"
}

run_docker() { # removes the image
  { time DOCKER_BUILDKIT=0 docker build --no-cache --iidfile "$WORK/iid" -t "$REPO:docker-$TAG_ID" "$P" > /dev/null 2> "$WORK/docker.err"; } 2> "$WORK/time" \
    || { echo "docker build failed:" >&2; cat "$WORK/docker.err" >&2; exit 1; }
  docker rmi -f "$REPO:docker-$TAG_ID" >/dev/null 2>&1 || true
  docker rmi -f "$(cat "$WORK/iid")" >/dev/null 2>&1 || true
  to_ms "$WORK/time"
}

echo "== $(grep -c '^RUN\|^COPY' "$P/Dockerfile") RUN/COPY steps, context $(du -sh "$P" | cut -f1), engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
echo "== warm-up (not counted)"
run_dockui legacy >/dev/null
run_docker >/dev/null

echo "== $RUNS alternating runs per side (legacy builder, no cache)"
d_times=(); k_times=(); r_times=(); d_cpu=(); k_cpu=()
for i in $(seq 1 "$RUNS"); do
  # Alternate who goes first, so neither side always follows the other's cleanup.
  if [ $((i % 2)) -eq 1 ]; then
    o=$(run_dockui legacy); read -r d dc <<< "$o"; o=$(run_docker); read -r k kc <<< "$o"
  else
    o=$(run_docker); read -r k kc <<< "$o"; o=$(run_dockui legacy); read -r d dc <<< "$o"
  fi
  d_times+=("$d"); k_times+=("$k"); d_cpu+=("$dc"); k_cpu+=("$kc")
  r_times+=("$(awk -v d="$d" -v k="$k" 'BEGIN{printf "%.4f", d / k}')")
  printf '   run %d: dockui %8.1f ms (cpu %5.0f ms)   docker %8.1f ms (cpu %5.0f ms)\n' "$i" "$d" "$dc" "$k" "$kc"
done
d_med=$(printf '%s\n' "${d_times[@]}" | median)
k_med=$(printf '%s\n' "${k_times[@]}" | median)
ratio=$(awk -v d="$d_med" -v k="$k_med" 'BEGIN{printf "%.3f", d / k}')
r_med=$(printf '%s\n' "${r_times[@]}" | sort -n | awk '{a[NR]=$1} END{ if (NR % 2) printf "%.3f", a[(NR+1)/2]; else printf "%.3f", (a[NR/2] + a[NR/2+1]) / 2 }')

# The fixed cost: the same comparison on a one-step Dockerfile.
echo "== fixed cost: a one-step Dockerfile (FROM + ENV), $RUNS alternating runs per side"
P_FULL="$P"
P="$WORK/minimal"
mkdir -p "$P"
printf 'FROM %s\nENV APP_MODE=bench\n' "$BASE" > "$P/Dockerfile"
m_d=(); m_k=()
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) -eq 1 ]; then
    o=$(run_dockui legacy); read -r d _ <<< "$o"; o=$(run_docker); read -r k _ <<< "$o"
  else
    o=$(run_docker); read -r k _ <<< "$o"; o=$(run_dockui legacy); read -r d _ <<< "$o"
  fi
  m_d+=("$d"); m_k+=("$k")
done
m_d_med=$(printf '%s\n' "${m_d[@]}" | median)
m_k_med=$(printf '%s\n' "${m_k[@]}" | median)
P="$P_FULL"

b_med=""
if [ -z "${NO_BUILDKIT:-}" ]; then
  echo "== dockui with BuildKit (information: no BuildKit peer in this docker CLI)"
  run_dockui buildkit >/dev/null
  b_times=()
  for i in $(seq 1 "$RUNS"); do o=$(run_dockui buildkit); read -r b _ <<< "$o"; b_times+=("$b"); done
  b_med=$(printf '%s\n' "${b_times[@]}" | median)
fi

echo
echo "dockui (legacy):   ${d_med} ms median of $RUNS ($(printf '%s\n' "${d_times[@]}" | spread) ms)"
echo "docker (legacy):   ${k_med} ms median of $RUNS ($(printf '%s\n' "${k_times[@]}" | spread) ms)"
echo "ratio dockui/docker: ${ratio} (target <= 1.05: $(awk -v r="$ratio" 'BEGIN{print (r <= 1.05) ? "met" : "MISSED"}')); median of the per-run ratios: ${r_med}"
echo "client CPU per build: dockui $(printf '%s\n' "${d_cpu[@]}" | median) ms, docker CLI $(printf '%s\n' "${k_cpu[@]}" | median) ms (median user+sys of the client process)"
echo "one-step Dockerfile: dockui ${m_d_med} ms, docker ${m_k_med} ms median of $RUNS: dockui's fixed cost $(awk -v d="$m_d_med" -v k="$m_k_med" 'BEGIN{printf "%+.0f", d - k}') ms per build"
if [ -n "$b_med" ]; then
  echo "dockui (BuildKit): ${b_med} ms median of $RUNS ($(printf '%s\n' "${b_times[@]}" | spread) ms); vs docker legacy: $(awk -v d="$b_med" -v k="$k_med" 'BEGIN{printf "%.3f", d / k}')"
fi
