#!/usr/bin/env bash
# The demo, until `kvm-matrix run` exists: show what the demo matrix expands to, then boot
# Debian's kernel under QEMU with its KVM modules and show that KVM works inside the guest.
set -euo pipefail
cd "$(dirname "$0")/.."
kvm_matrix() { node packages/tui/bin/kvm-matrix.js "$@"; }

kvm_matrix plan matrices/demo.yaml
echo
kernel=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z $kernel ]]; then
	echo "demo: no Debian kernel in /boot; run scripts/setup.sh (it installs linux-image-amd64)" >&2
	exit 2
fi
echo "Booting $kernel with kvm_amd loaded (nested=1):"
kvm_matrix boot --kernel "$kernel" --load kvm_amd:nested=1 -- \
	sh -c 'echo "guest kernel: $(uname -r)"; ls -l /dev/kvm; echo "nested: $(cat /sys/module/kvm_amd/parameters/nested)"'
