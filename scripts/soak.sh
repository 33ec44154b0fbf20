#!/usr/bin/env bash
# A long run of the replication simulation (tests/replication/simulation_test.cpp): CI runs
# 1,200 seeds in all; this runs SEEDS per case, starting at FIRST, so that repeated soaks
# explore new schedules instead of replaying CI's.
#
#   scripts/soak.sh [SEEDS] [FIRST]
#     SEEDS  seeds per simulation case (default 5000)
#     FIRST  the first seed (default: random, printed)
#
# Builds replication_tests into build-asan (ASan + UBSan, as scripts/test.sh does). A failing
# seed prints the command that replays it alone. Environment: MERIDIAN_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=${1:-5000}
first=${2:-$(( ((RANDOM << 15) | RANDOM) + 1 ))}
for n in "$seeds" "$first"; do
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then
    echo "usage: scripts/soak.sh [SEEDS per case, default 5000] [FIRST seed, default random]" >&2
    exit 2
  fi
done

scripts/bootstrap.sh --packages
build=build-asan
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DMERIDIAN_SANITIZE=ON \
    -DMERIDIAN_TESTS=ON >/dev/null
fi
cmake --build "$build" --target replication_tests -j "${MERIDIAN_JOBS:-2}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "soak.sh: seeds $first..$((first + seeds - 1)) of each simulation case"
MERIDIAN_SIM_SEEDS=$seeds MERIDIAN_SIM_FIRST_SEED=$first \
  "$build/bin/replication_tests" "[simulation]"
