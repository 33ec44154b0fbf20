#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing,
# builds with AddressSanitizer and UndefinedBehaviorSanitizer, runs every test
# (unit, property, simulation, integration against real nodes, a bounded chaos
# run), then every libFuzzer target briefly (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --sanitize
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j "${MERIDIAN_JOBS:-2}"
MERIDIAN_JOBS=${MERIDIAN_JOBS:-2} scripts/fuzz.sh "${MERIDIAN_FUZZ_SECONDS:-10}"
