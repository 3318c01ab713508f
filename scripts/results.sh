#!/usr/bin/env bash
# Reruns every experiment with its default config and rewrites
# docs/results.md and its figures (docs/img/) from the result files, so the
# text cannot drift from the code.
#
#   bash scripts/results.sh                  # every experiment, then the document
#   bash scripts/results.sh headsweep margin # rerun only these, then the document (from every run in results/docs)
#   MHA_RESULTS_SKIP_RUN=1 bash scripts/results.sh   # only the document, from the last runs
#   MHA_RESULTS_SEEDS=3 bash scripts/results.sh   # every experiment over seeds 1..3 (key seed: data and init; replaces their seed axis)
#   MHA_RESULTS_ARGS="-set steps=500" bash scripts/results.sh headsweep   # extra flags for every program
#
# MHA_RESULTS_SEEDS must be an integer >= 1 (exit 2 otherwise, before anything runs).
# Every folder experiments/<name>/ with a main.go that is an experiment
# program is run (the list is not fixed here: new experiments are picked
# up, removed ones dropped), one after the other, each on all cores, into
# results/docs/<name>/ (its stdout, with the table, in
# results/docs/<name>.stdout, its wall time in results/docs/<name>.seconds).
# The runner reuses a finished point whose config and code are unchanged,
# so an interrupted script resumes where it stopped. To spread one
# experiment over machines use its -shard/-slurm flags (README) into
# results/docs/<name>/ and then run this script with MHA_RESULTS_SKIP_RUN=1.
#
# Time: all default experiments take tens of minutes on 2 cores (the
# times of the last run are in docs/results.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/docs

args=${MHA_RESULTS_ARGS:-}
if [ -n "${MHA_RESULTS_SEEDS:-}" ]; then
	if ! [[ "$MHA_RESULTS_SEEDS" =~ ^[0-9]+$ ]] || [ "$MHA_RESULTS_SEEDS" -lt 1 ]; then
		echo "MHA_RESULTS_SEEDS = \"$MHA_RESULTS_SEEDS\": must be an integer >= 1 (the number of seeds)" >&2
		exit 2
	fi
	args="$args -sweep seed=$(seq -s, 1 "$MHA_RESULTS_SEEDS")"
fi
mkdir -p "$out"

experiments=("$@")
if [ ${#experiments[@]} -eq 0 ]; then
	for d in experiments/*/; do
		name=$(basename "$d")
		# An experiment program: a main package built on the runner.
		if [ -f "$d/main.go" ] && grep -q '^package main' "$d/main.go" && grep -q 'runner\.' "$d/main.go"; then
			experiments+=("$name")
		fi
	done
fi

if [ "${MHA_RESULTS_SKIP_RUN:-0}" != 1 ]; then
	# One build, one code version for every program.
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	for name in "${experiments[@]}"; do
		go build -o "$bin/$name" "./experiments/$name"
	done
	for name in "${experiments[@]}"; do
		echo "== $name" >&2
		start=$(date +%s)
		status=0
		echo "$args" >"$out/$name.args"
		# shellcheck disable=SC2086
		"$bin/$name" -out "$out/$name" -quiet $args >"$out/$name.stdout" 2>"$out/$name.stderr" || status=$?
		end=$(date +%s)
		echo "$((end - start))" >"$out/$name.seconds"
		echo "$status" >"$out/$name.exit"
		echo "   exit $status after $((end - start)) s" >&2
	done
fi

# The document covers every result directory under $out, also those of
# experiments not rerun this time.
go run ./scripts/results -in "$out" -doc docs/results.md -img docs/img
