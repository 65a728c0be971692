#!/usr/bin/env bash
# Installs everything kvm-matrix and its tests need on Debian 12/13, then builds it.
#
#   bash scripts/setup.sh            install what is missing (root needed only for apt-get)
#   bash scripts/setup.sh --no-apt   skip the Debian packages (check and report them only)
#
# It says what it installs before it does, and stops with one clear line when it cannot.
set -euo pipefail

PNPM_VERSION=10.34.8
NODE_MIN=20.19

# What each Debian package is for; kept here so the list and the reasons cannot drift apart.
PACKAGES=(
	"qemu-system-x86:boots the kernels under test"
	"busybox-static:the guest's userland in the generated initramfs"
	"cpio:packs the initramfs"
	"linux-image-amd64:Debian's prebuilt kernel (the demo's second kernel)"
	"linux-source:kernel sources with the KVM selftests (the demo's built kernel)"
	"linux-headers-amd64:builds the small test module that makes the kernel WARN (tests)"
	"build-essential:compiler and make for kernels and selftests, and better-sqlite3's native module"
	"python3:node-gyp, which builds better-sqlite3 (the history index) for this Node"
	"flex:kernel build dependency"
	"bison:kernel build dependency"
	"bc:kernel build dependency"
	"libelf-dev:kernel build dependency (objtool)"
	"libssl-dev:kernel build dependency (signing tools)"
	"rsync:make headers_install"
	"xz-utils:unpacks linux-source"
	"git:checkouts and fix-containment checks"
	"tmux:a real terminal for the interactive view's end-to-end test"
	"chromium:a headless browser that opens the HTML report in its test"
	"openssh-client:ssh and scp to remote (ssh) targets"
	"openssh-server:the loopback sshd the ssh target's tests start"
	"strace:shows the tests which writes are synced to the disk, and in what order"
	"procps:pgrep, with which a command's shell ends everything the command started"
)

say() { printf 'setup: %s\n' "$*"; }
die() {
	printf 'setup: error: %s\n' "$*" >&2
	exit 1
}

with_apt=1
for arg in "$@"; do
	case "$arg" in
	--no-apt) with_apt=0 ;;
	-h | --help)
		sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$arg' (try --help)" ;;
	esac
done

cd "$(dirname "$0")/.."

# Node: the one thing this script does not install (it is the distro's or the user's choice).
command -v node >/dev/null || die "Node.js >= $NODE_MIN is needed: apt-get install nodejs (Debian 13) or see https://nodejs.org"
node -e "
const [maj, min] = process.versions.node.split('.').map(Number);
const [wantMaj, wantMin] = '$NODE_MIN'.split('.').map(Number);
process.exit(maj > wantMaj || (maj === wantMaj && min >= wantMin) ? 0 : 1);
" || die "Node.js >= $NODE_MIN is needed, this is $(node --version)"

missing=()
for entry in "${PACKAGES[@]}"; do
	pkg=${entry%%:*}
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} == 0)); then
	say "Debian packages: all present"
elif ((with_apt == 0)); then
	say "Debian packages missing (skipped, --no-apt): ${missing[*]}"
else
	command -v apt-get >/dev/null || die "apt-get not found: install by hand: ${missing[*]}"
	if [[ $(id -u) -ne 0 ]]; then
		if command -v sudo >/dev/null; then SUDO=(sudo); else die "root is needed to install: ${missing[*]} (run as root, or with --no-apt after installing them)"; fi
	else
		SUDO=()
	fi
	say "installing Debian packages:"
	for entry in "${PACKAGES[@]}"; do
		pkg=${entry%%:*}
		for m in "${missing[@]}"; do [[ $m == "$pkg" ]] && printf '  %-18s %s\n' "$pkg" "${entry#*:}"; done
	done
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get update -q >/dev/null || die "apt-get update failed (network or sources.list?)"
	"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/kvm-matrix-apt.log 2>&1 ||
		die "apt-get install failed; see /tmp/kvm-matrix-apt.log"
fi

if [[ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]]; then
	say "installing pnpm $PNPM_VERSION (npm install -g)"
	npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null || die "could not install pnpm $PNPM_VERSION with npm"
fi

say "installing npm dependencies (pnpm install --frozen-lockfile)"
pnpm install --frozen-lockfile --reporter=silent || die "pnpm install failed"
say "building (pnpm build)"
pnpm -s build || die "the build failed"
say "done: try 'pnpm -s kvm-matrix --help'"
