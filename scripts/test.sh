#!/usr/bin/env bash
# The project's test command (README "Quick start"; .ci/run calls it).
#
# 1. installs what the notebook tests need (Debian's Jupyter and the patched
#    gophernotes kernel; idempotent, about a minute the first time),
# 2. installs tmux (the live display is tested in an 80-column tmux), vets
#    and runs the whole Go test suite,
# 3. executes every notebook headlessly and fails on any cell error,
# 4. installs SLURM and munge, starts a single-node cluster, runs a small
#    sweep as a job array of shards plus a merge (with a killed and
#    resubmitted shard) and compares it byte for byte with a local run.
#
# Steps 1, 3 and 4 need root and apt. MHA_SKIP_NOTEBOOKS=1 skips 1 and 3
# (the notebook runner's own test then skips with a message);
# MHA_SKIP_SLURM=1 skips 4.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${MHA_SKIP_NOTEBOOKS:-}" != 1 ]]; then
	bash scripts/setup-notebooks.sh
	# The runner's fixture test must not skip once the kernel is installed.
	export MHA_NOTEBOOK_KERNEL_REQUIRED=1
fi
# The live display's test runs a sweep in an 80-column tmux (Debian's).
if ! command -v tmux >/dev/null; then
	SUDO=
	[[ $(id -u) -ne 0 ]] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tmux >/dev/null
fi
export MHA_TMUX_REQUIRED=1
go vet ./...
go test -count=1 -timeout 20m ./...
if [[ "${MHA_SKIP_NOTEBOOKS:-}" != 1 ]]; then
	bash scripts/test-notebooks.sh notebooks/*.ipynb
fi
if [[ "${MHA_SKIP_SLURM:-}" != 1 ]]; then
	bash scripts/slurm-ci.sh
fi
