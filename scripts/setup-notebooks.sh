#!/usr/bin/env bash
# Installs what the notebooks in notebooks/ need (notebooks/README.md), for
# both Go kernels:
#   1. Jupyter from Debian (nbconvert, notebook, ipykernel, nbclient);
#   2. gophernotes v0.7.5, patched to start on Go 1.26 and built against a
#      newer gomacro, into $MHA_GOPHERNOTES_HOME
#      (default ~/.local/share/mha/gophernotes);
#   3. a Jupyter kernel spec "gophernotes" pointing at that binary, with the
#      GOMODCACHE it was built with;
#   4. GoNB v0.11.4 with the goimports and gopls it calls, into
#      $MHA_GONB_HOME/bin (default ~/.local/share/mha/gonb/bin), and a kernel
#      spec "gonb" whose PATH finds them.
# Idempotent: each step is skipped when its result is already in place.
# Needs only Go 1.26, gcc (the gophernotes kernel loads each import as a Go
# plugin, which needs cgo), apt and the Go module proxy.
#
#   scripts/setup-notebooks.sh                 both kernels
#   scripts/setup-notebooks.sh gophernotes     Jupyter and one kernel
#   scripts/setup-notebooks.sh gonb
set -euo pipefail
KERNELS=${1:-all}
case $KERNELS in
all | gophernotes | gonb) ;;
*)
	echo "setup-notebooks: unknown kernel \"$KERNELS\"; want gophernotes, gonb or nothing (both)" >&2
	exit 2
	;;
esac

GOPHERNOTES_VERSION=v0.7.5
# The newest gomacro the module proxy serves; v0.7.5's own (2022) crashes on Go 1.26.
GOMACRO_VERSION=v0.0.0-20260901205243-0df6c0cd20af
# v0.7.5's own zmq4: a newer one pulls packages that later clash with the
# packages of plugins the kernel loads.
ZMQ4_VERSION=v0.14.1
KERNEL_NAME=gophernotes

HOME_DIR=${MHA_GOPHERNOTES_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/mha/gophernotes}
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
log() { printf 'setup-notebooks: %s\n' "$*" >&2; }

# --- 1. Jupyter (and patch) from Debian --------------------------------------
DEBS=(jupyter-nbconvert jupyter-notebook python3-ipykernel python3-nbclient)
command -v patch >/dev/null || DEBS+=(patch) # applies the gophernotes fix
missing=()
for deb in "${DEBS[@]}"; do
	dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q 'install ok installed' || missing+=("$deb")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]} from Debian"
	SUDO=
	[[ $(id -u) -ne 0 ]] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
	log "Debian Jupyter packages already installed"
fi
# Debian's Python packages are only visible to Debian's python.
PY=/usr/bin/python3
"$PY" -c 'import nbconvert, nbclient, ipykernel' || { log "Debian's python3 cannot import nbconvert/nbclient"; exit 1; }

install_gophernotes() {
# --- 2. patched gophernotes ---------------------------------------------------
command -v go >/dev/null || { log "go not found on PATH"; exit 1; }
command -v gcc >/dev/null || { log "gcc not found: the kernel needs cgo to build and load plugins"; exit 1; }

GOROOT_DIR=$(go env GOROOT)
GOMODCACHE_DIR=$(go env GOMODCACHE)
GOVERSION=$(go env GOVERSION)
BIN="$HOME_DIR/bin/gophernotes"
# The build is keyed by everything that goes into it.
STAMP_WANT="gophernotes=$GOPHERNOTES_VERSION gomacro=$GOMACRO_VERSION zmq4=$ZMQ4_VERSION go=$GOVERSION goroot=$GOROOT_DIR modcache=$GOMODCACHE_DIR patch=$(sha256sum "$SCRIPT_DIR/gophernotes-jsoner.patch" | cut -c1-16)"
STAMP_FILE="$HOME_DIR/build.stamp"

if [[ -x $BIN && -f $STAMP_FILE && $(cat "$STAMP_FILE") == "$STAMP_WANT" ]]; then
	log "patched gophernotes already built: $BIN"
else
	log "building patched gophernotes $GOPHERNOTES_VERSION with gomacro $GOMACRO_VERSION into $HOME_DIR"
	export CGO_ENABLED=1 GOFLAGS=-mod=mod GOTOOLCHAIN=local
	src="$HOME_DIR/src"
	rm -rf "$src"
	mkdir -p "$src" "$HOME_DIR/bin"
	# A copy of the module as the proxy serves it, made writable and patched.
	srcdir=$(cd "$src" && go mod download -json "github.com/gopherdata/gophernotes@$GOPHERNOTES_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $srcdir ]] || { log "go mod download gave no directory for gophernotes"; exit 1; }
	cp -r "$srcdir" "$src/gophernotes"
	chmod -R u+w "$src/gophernotes"
	patch --quiet --forward -p1 -d "$src/gophernotes" <"$SCRIPT_DIR/gophernotes-jsoner.patch"
	# A build module that requires the copy through a replace directive and
	# pins gomacro and zmq4.
	cat >"$src/go.mod" <<EOF
module mha.local/gophernotes-build

go 1.26

require (
	github.com/gopherdata/gophernotes $GOPHERNOTES_VERSION
	github.com/cosmos72/gomacro $GOMACRO_VERSION
	github.com/go-zeromq/zmq4 $ZMQ4_VERSION
)

replace github.com/gopherdata/gophernotes => ./gophernotes
EOF
	# v0.7.5's go.sum vouches for its own (older) requirements, whose go.mod
	# files the checksum database no longer answers for.
	cp "$src/gophernotes/go.sum" "$src/go.sum"
	(cd "$src" && go build -o "$BIN.tmp" github.com/gopherdata/gophernotes)
	got=$(cd "$src" && go list -m -f '{{.Version}}' github.com/go-zeromq/zmq4)
	[[ $got == "$ZMQ4_VERSION" ]] || { log "zmq4 resolved to $got, want $ZMQ4_VERSION"; exit 1; }
	mv "$BIN.tmp" "$BIN"
	printf '%s' "$STAMP_WANT" >"$STAMP_FILE"
	log "built $BIN"
fi

# --- 3. kernel spec -------------------------------------------------------------
# Installed per user (jupyter's user data dir), replacing any earlier "gophernotes" spec.
spec="$HOME_DIR/kernelspec/$KERNEL_NAME"
mkdir -p "$spec"
cp "$HOME_DIR"/src/gophernotes/kernel/logo-*.png "$spec/" 2>/dev/null || true
# The kernel environment (notebooks/README.md, "How the kernel is set up"):
#   PATH, GOROOT  the Go that built the kernel: a plugin built by another
#                 toolchain refuses to load;
#   GOMODCACHE    the module cache it was built from, for the same reason;
#   GOPATH        a private one: gomacro writes each import's plugin source
#                 under $GOPATH/src/gomacro.imports and deletes that folder
#                 when a kernel first imports;
#   GOPROXY       the configured proxies, each falling through ("|") to
#                 "off": `import "./nb"` makes gomacro `go get` this module,
#                 which exists only as a local replace directive, and only a
#                 lookup that ends in "off" lets go fall back to the
#                 replacement (the proxy answers 403 for an unknown module,
#                 which is otherwise fatal).
proxy=$(go env GOPROXY | tr ',|' '\n\n' | grep -v -x -e direct -e off -e '' | paste -sd'|' -)
proxy=${proxy:+$proxy|}off
"$PY" - "$spec/kernel.json" "$BIN" "$GOROOT_DIR" "$GOMODCACHE_DIR" "$HOME_DIR/gopath" "$proxy" <<'EOF'
import json, os, sys
path, binary, goroot, modcache, gopath, proxy = sys.argv[1:]
spec = {
    "argv": [binary, "{connection_file}"],
    "display_name": "Go (gophernotes)",
    "language": "go",
    "env": {
        "GOROOT": goroot,
        "GOMODCACHE": modcache,
        "GOPATH": gopath,
        "GOPROXY": proxy,
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "1",
        "GOFLAGS": "-mod=mod",
        "PATH": os.path.join(goroot, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    },
}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
EOF
"$PY" - "$spec" "$KERNEL_NAME" <<'EOF'
import sys
from jupyter_client.kernelspec import KernelSpecManager
dest = KernelSpecManager().install_kernel_spec(sys.argv[1], kernel_name=sys.argv[2], user=True)
print("setup-notebooks: kernel %r registered in %s" % (sys.argv[2], dest), file=sys.stderr)
EOF
}

# --- 4. GoNB, goimports, gopls and the "gonb" kernel spec -------------------------
# GoNB compiles every cell with the real Go toolchain; it runs goimports on each
# cell and gopls for completion, and finds both (and go) on its PATH.
GONB_VERSION=v0.11.4
# The newest x/tools and gopls the module proxy serves that build with Go 1.26
# (gopls v0.24.0 needs Go 1.27).
XTOOLS_VERSION=v0.52.0
GOPLS_VERSION=v0.23.0
GONB_HOME=${MHA_GONB_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/mha/gonb}

install_gonb() {
	command -v go >/dev/null || { log "go not found on PATH"; exit 1; }
	local goroot bin stamp_want stamp_file
	goroot=$(go env GOROOT)
	bin="$GONB_HOME/bin"
	stamp_want="gonb=$GONB_VERSION x/tools=$XTOOLS_VERSION gopls=$GOPLS_VERSION go=$(go env GOVERSION) goroot=$goroot"
	stamp_file="$GONB_HOME/build.stamp"
	if [[ -x $bin/gonb && -x $bin/goimports && -x $bin/gopls && -f $stamp_file && $(cat "$stamp_file") == "$stamp_want" ]]; then
		log "GoNB $GONB_VERSION, goimports and gopls already installed in $bin"
	else
		log "installing GoNB $GONB_VERSION, goimports $XTOOLS_VERSION and gopls $GOPLS_VERSION into $bin"
		mkdir -p "$bin"
		(
			export GOBIN=$bin GOTOOLCHAIN=local GOFLAGS=
			# `go install gonb@version` asks the proxy for gonb's version list (to
			# report deprecation), which the proxy refuses (403); a build module
			# that requires exactly that version, with gonb's own go.sum, does not.
			src="$GONB_HOME/src"
			rm -rf "$src"
			mkdir -p "$src"
			printf 'module mha.local/gonb-build\n\ngo 1.26\n\nrequire github.com/janpfeifer/gonb %s\n' "$GONB_VERSION" >"$src/go.mod"
			cd "$src"
			go mod download "github.com/janpfeifer/gonb@$GONB_VERSION"
			cp "$(go env GOMODCACHE)/github.com/janpfeifer/gonb@$GONB_VERSION/go.sum" go.sum
			chmod u+w go.sum
			GOFLAGS=-mod=mod go build -o "$bin/gonb.tmp" github.com/janpfeifer/gonb
			mv "$bin/gonb.tmp" "$bin/gonb"
			# go install pkg@version builds with each tool's own go.mod.
			go install "golang.org/x/tools/cmd/goimports@$XTOOLS_VERSION"
			go install "golang.org/x/tools/gopls@$GOPLS_VERSION"
		)
		printf '%s' "$stamp_want" >"$stamp_file"
		log "installed $bin/gonb, $bin/goimports, $bin/gopls"
	fi

	# The kernel spec, written here rather than by `gonb --install`, so that the
	# kernel's PATH holds the goimports and gopls above and the Go that installed
	# them (notebooks/README.md, "How the kernels are set up").
	local spec="$GONB_HOME/kernelspec/gonb"
	mkdir -p "$spec"
	"$PY" - "$spec/kernel.json" "$bin" "$goroot" <<'EOF'
import json, os, sys
path, bindir, goroot = sys.argv[1:]
spec = {
    "argv": [os.path.join(bindir, "gonb"), "--kernel", "{connection_file}"],
    "display_name": "Go (gonb)",
    "language": "go",
    "interrupt_mode": "message",
    "env": {
        "GOROOT": goroot,
        "GOTOOLCHAIN": "local",
        "PATH": bindir + ":" + os.path.join(goroot, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    },
}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
EOF
	"$PY" - "$spec" gonb <<'EOF'
import sys
from jupyter_client.kernelspec import KernelSpecManager
dest = KernelSpecManager().install_kernel_spec(sys.argv[1], kernel_name=sys.argv[2], user=True)
print("setup-notebooks: kernel %r registered in %s" % (sys.argv[2], dest), file=sys.stderr)
EOF
}

# install KERNEL: runs install_KERNEL in a subshell (errexit on) and, when it
# fails, names the kernel that is left uninstalled and how to retry.
install() {
	set +e
	(
		set -e
		"install_$1"
	)
	local rc=$?
	set -e
	if ((rc != 0)); then
		log "the $1 kernel is NOT installed: its step failed (above); fix that and rerun: bash scripts/setup-notebooks.sh $1"
		failed+=("$1")
	fi
}
failed=()
[[ $KERNELS == gonb ]] || install gophernotes
[[ $KERNELS == gophernotes ]] || install gonb
((${#failed[@]} == 0)) || exit 1
