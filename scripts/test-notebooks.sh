#!/usr/bin/env bash
# Executes notebooks headlessly and fails if any cell errors
# (notebooks/README.md, "Testing").
#
#   scripts/test-notebooks.sh                 the runner's own test, then every notebooks/*.ipynb
#   scripts/test-notebooks.sh A.ipynb ...     just these notebooks
#
# Each notebook runs with `jupyter nbconvert --to notebook --execute` into a
# temporary folder, so the committed notebooks never gain outputs; the kernel
# starts in the notebook's own folder, which is what `import "./nb"` needs.
# A failing cell is reported with the notebook, the cell number (1-based,
# counting every cell) and its error; the last line is "N passed, N failed".
# Needs scripts/setup-notebooks.sh to have run.
#
# Environment: NOTEBOOK_CELL_TIMEOUT, seconds per cell (default 600: a first
# import on a cold Go build cache compiles the whole dependency tree into a
# plugin, about two minutes on 2 cores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3 # Debian's python, the one that sees Debian's Jupyter
TIMEOUT=${NOTEBOOK_CELL_TIMEOUT:-600}

if ! "$PY" -c 'import nbconvert' 2>/dev/null; then
	echo "test-notebooks: Jupyter is not installed; run scripts/setup-notebooks.sh" >&2
	exit 1
fi

if (($# == 0)); then
	# The runner's own test: a fixture notebook with a failing cell must be
	# reported as such.
	(cd "$ROOT" && MHA_NOTEBOOK_KERNEL_REQUIRED=1 go test -count=1 -run '^TestRunner' ./notebooks/)
	shopt -s nullglob
	set -- "$ROOT"/notebooks/*.ipynb
	(($#)) || { echo "test-notebooks: no notebooks in $ROOT/notebooks" >&2; exit 1; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
for nb in "$@"; do
	nb=$(cd "$(dirname "$nb")" && pwd)/$(basename "$nb")
	base=$(basename "$nb" .ipynb)
	out="$work/$base.$passed.$failed"
	mkdir -p "$out"
	start=$SECONDS
	# --allow-errors: run to the end and write the executed notebook, whose
	# error outputs name the failing cells; the report decides pass or fail.
	"$PY" -m jupyter nbconvert --to notebook --execute --allow-errors \
		--ExecutePreprocessor.timeout="$TIMEOUT" \
		--output-dir "$out" --output "$base" "$nb" >"$out/log" 2>&1 || true
	if "$PY" "$ROOT/scripts/notebook-report.py" "$nb" "$out/$base.ipynb" "$out/log" "$((SECONDS - start))"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
((failed == 0))
