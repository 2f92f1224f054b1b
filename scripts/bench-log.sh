#!/usr/bin/env bash
# Benchmark the Build log pane's model and the drawing of the whole UI (issue 5 point 10), in release mode.
# Not a timed test: prints the figures and the targets (see examples/bench_log.rs for what is measured).
# Targets: ingestion >= 1,000,000 lines/s; one frame (160x48, log focused, after 1,000,000 lines) <= 2 ms;
# memory per retained line is reported (the window is bounded by LOG_WINDOW).
#
# Usage: scripts/bench-log.sh [--lines N] [--frames N] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== building (release)"
cargo build --release --quiet --example bench_log
exec "$CARGO_TARGET_DIR/release/examples/bench_log" "$@"
