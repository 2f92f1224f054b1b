#!/usr/bin/env bash
# Precision and recall of dockui's non-hadolint error/warning findings on tests/precision (the project's own
# corpus; expected findings in tests/precision/expected.toml), and, when ../shared/testdata is present, precision
# on its real projects against the reviewer verdicts shipped there. --list prints every false positive and miss.
# Targets (issue 16): precision >= 95%; no error-level finding a reviewer cannot confirm.
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
for d in "${DOCKUI_TESTDATA:-}" ../shared/testdata ../../shared/testdata; do
    if [ -n "$d" ] && [ -d "$d/real-projects" ]; then
        args+=(--real "$d")
        break
    fi
done
exec cargo run --quiet --example bench_precision -- "${args[@]}"
