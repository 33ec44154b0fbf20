#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what is missing, builds the
# release binaries into build/ (scripts/bootstrap.sh), then runs the CRDT
# convergence example: two regions change the same keys concurrently,
# exchange deltas and end with identical state (non-zero exit if they differ).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
build/bin/crdt_convergence
