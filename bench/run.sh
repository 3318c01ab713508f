#!/usr/bin/env bash
# Side-by-side GD step: this project's graph vs PyTorch on the same model,
# data and parameters (see BENCHMARKS.md, "graph"). Extra arguments go to
# bench/step, e.g. bench/run.sh -sizes 512x16x32x1,512x16x32x4 -reps 5.
# Without PyTorch (bench/setup.sh installs it) only the Go side runs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./bench/step "$@"
