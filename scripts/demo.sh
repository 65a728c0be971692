#!/usr/bin/env bash
# The demo (README, command 1): make the demo kernel tree from Debian's linux-source once, then
# run matrices/demo.yaml: one kernel built from that tree with a minimal config, one Debian
# prebuilt kernel, each booted under QEMU running real KVM selftests. Extra arguments go to
# `kvm-matrix run` (e.g. --run-dir DIR). A second run finds the kernel in the build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
kvm_matrix() { node packages/tui/bin/kvm-matrix.js "$@"; }

kvm_matrix demo-tree
kvm_matrix run matrices/demo.yaml "$@"
