#!/usr/bin/env bash
# Executes notebooks headlessly and fails if any cell errors
# (notebooks/README.md, "Testing").
#
#   scripts/test-notebooks.sh                      both kernels: for each, the runner's
#                                                  own test, then its notebooks
#   scripts/test-notebooks.sh --kernel gonb        one kernel (gophernotes or gonb)
#   scripts/test-notebooks.sh A.ipynb ...          just these notebooks, each under the
#                                                  kernel its metadata names
#   scripts/test-notebooks.sh --kernel K A.ipynb   just these, under kernel K
#
# The notebooks of a kernel: gophernotes runs notebooks/*.ipynb, gonb runs
# notebooks/gonb/*.ipynb (the same topics written for GoNB).
#
# Each notebook runs with `jupyter nbconvert --to notebook --execute` into a
# temporary folder, so the committed notebooks never gain outputs; the kernel
# starts in the notebook's own folder, which is what `import "./nb"`
# (gophernotes) and `$GONB_DIR/../..` (GoNB) rely on. A failing cell is
# reported with the notebook, the cell number (1-based, counting every cell)
# and its error; the last line is "N passed, N failed". A kernel that is not
# installed is named, with the command that installs it, before anything runs.
# Needs scripts/setup-notebooks.sh to have run.
#
# Environment: NOTEBOOK_CELL_TIMEOUT, seconds per cell (default 600: a first
# import on a cold Go build cache compiles the whole dependency tree, about
# two minutes on 2 cores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3 # Debian's python, the one that sees Debian's Jupyter
TIMEOUT=${NOTEBOOK_CELL_TIMEOUT:-600}
KERNELS=(gophernotes gonb)

kernel=
if [[ ${1:-} == --kernel ]]; then
	kernel=${2:-}
	shift 2 || shift $#
	case $kernel in
	gophernotes | gonb) ;;
	*)
		echo "test-notebooks: unknown kernel \"$kernel\"; want --kernel gophernotes or --kernel gonb" >&2
		exit 2
		;;
	esac
fi

if ! "$PY" -c 'import nbconvert' 2>/dev/null; then
	echo "test-notebooks: Jupyter is not installed; run scripts/setup-notebooks.sh" >&2
	exit 1
fi

# needkernel K: fails, naming the kernel and how to install it, unless
# Jupyter has a spec for K whose program exists (and, for gonb, whose PATH
# has the goimports and gopls GoNB calls).
needkernel() {
	local why
	if ! why=$("$PY" - "$1" 2>&1 <<'EOF'
import os, shutil, sys
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
name = sys.argv[1]
try:
    spec = KernelSpecManager().get_kernel_spec(name)
except NoSuchKernel:
    sys.exit("Jupyter has no kernel spec %r" % name)
if not os.access(spec.argv[0], os.X_OK):
    sys.exit("its program %s is missing" % spec.argv[0])
if name == "gonb":
    path = spec.env.get("PATH", os.environ.get("PATH", ""))
    for tool in ("go", "goimports", "gopls"):
        if shutil.which(tool, path=path) is None:
            sys.exit("%s is not on the kernel's PATH" % tool)
EOF
	); then
		echo "test-notebooks: the $1 kernel is not installed ($why); install it with: bash scripts/setup-notebooks.sh $1" >&2
		exit 1
	fi
}

# kernelof NOTEBOOK: the kernel named in the notebook's metadata.
kernelof() {
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["metadata"]["kernelspec"]["name"])' "$1"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# run KERNEL NOTEBOOK
run() {
	local k=$1 nb base out start
	nb=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	base=$(basename "$nb" .ipynb)
	out="$work/$base.$passed.$failed"
	mkdir -p "$out"
	start=$SECONDS
	# --allow-errors: run to the end and write the executed notebook, whose
	# error outputs name the failing cells; the report decides pass or fail.
	"$PY" -m jupyter nbconvert --to notebook --execute --allow-errors \
		--ExecutePreprocessor.kernel_name="$k" \
		--ExecutePreprocessor.timeout="$TIMEOUT" \
		--output-dir "$out" --output "$base" "$nb" >"$out/log" 2>&1 || true
	if "$PY" "$ROOT/scripts/notebook-report.py" "$nb" "$out/$base.ipynb" "$out/log" "$((SECONDS - start))"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

if (($# == 0)); then
	selected=("${KERNELS[@]}")
	[[ -n $kernel ]] && selected=("$kernel")
	for k in "${selected[@]}"; do needkernel "$k"; done
	for k in "${selected[@]}"; do
		# The runner's own test: a fixture notebook with a failing cell must be
		# reported as such.
		(cd "$ROOT" && MHA_NOTEBOOK_KERNEL_REQUIRED=1 MHA_NOTEBOOK_KERNELS=$k \
			go test -count=1 -run '^TestRunnerReportsFailingCell$' ./notebooks/)
		shopt -s nullglob
		dir="$ROOT/notebooks"
		[[ $k == gonb ]] && dir="$ROOT/notebooks/gonb"
		notebooks=("$dir"/*.ipynb)
		((${#notebooks[@]})) || { echo "test-notebooks: no notebooks in $dir" >&2; exit 1; }
		echo "test-notebooks: ${#notebooks[@]} notebooks under $k" >&2
		for nb in "${notebooks[@]}"; do run "$k" "$nb"; done
	done
else
	for nb in "$@"; do
		[[ -f $nb ]] || { echo "test-notebooks: no notebook $nb" >&2; exit 1; }
	done
	declare -A checked=()
	for nb in "$@"; do
		k=${kernel:-$(kernelof "$nb")}
		if [[ -z ${checked[$k]:-} ]]; then
			needkernel "$k"
			checked[$k]=1
		fi
		run "$k" "$nb"
	done
fi
echo "$passed passed, $failed failed"
((failed == 0))
