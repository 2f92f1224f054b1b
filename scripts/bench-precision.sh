#!/usr/bin/env bash
# Precision and recall of dockui's non-hadolint error/warning findings on tests/precision (the project's own
# corpus; expected findings in tests/precision/expected.toml). Pass --list to see every false positive and miss.
# Targets (issue 16): precision >= 95% overall; no error-level finding a reviewer cannot confirm.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --example bench_precision -- "$@"
