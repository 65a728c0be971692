#!/bin/sh
# N trials of a real run, each with one fault (SIGKILL of its process group, SIGSTOP past the lock's
# stale time with a resume meanwhile, a full disk, a second run on the same cache, a tampered
# plan.json), each put right as a user would; counts what was lost, duplicated, written twice or
# outside, and what was left running.
# Usage: scripts/chaos.sh N [FAULT...]   (needs `pnpm build` and what scripts/setup.sh installs;
#        faults: sigkill stop full second tamper, all in turn by default)
set -e
cd "$(dirname "$0")/.."
n=${1:-50}
[ $# -gt 0 ] && shift
exec node --import tsx --conditions=source scripts/chaos.ts "$n" "$@"
