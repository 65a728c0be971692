#!/bin/sh
# Kill a real run at N random points, resume each, and count lost and duplicated tests.
# Usage: scripts/kill-resume.sh N    (needs `pnpm build` and what scripts/setup.sh installs)
set -e
cd "$(dirname "$0")/.."
exec node --import tsx --conditions=source scripts/kill-resume.ts "${1:-20}"
