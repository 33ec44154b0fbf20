#!/usr/bin/env bash
# A long chaos run against real meridian-node processes (tests/chaos, meridian-chaos).
#
#   scripts/chaos.sh [SECONDS] [SEED] [FSYNC] [extra meridian-chaos flags...]
#     SECONDS  load and faults (default 600); healing, convergence and checks come after
#     SEED     the workload's and the faults' seed (default: random, printed)
#     FSYNC    always | everysec | no (default always)
#
# Builds meridian-chaos, meridian-node and the fault proxy into build-chaos (ASan + UBSan, so a
# node's memory error is a violation too), then runs. The summary ends with the command that
# repeats the run; a failing run keeps its data directories and node logs and says where.
# Environment: MERIDIAN_CHAOS_BUILD (build folder, default build-chaos), MERIDIAN_JOBS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
seed=${2:-$(( (RANDOM << 15) | RANDOM ))}
fsync=${3:-always}
shift $(( $# < 3 ? $# : 3 ))

build=${MERIDIAN_CHAOS_BUILD:-build-chaos}
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# Every UBSan check, including those CI's build leaves out to save compile time (CMakeLists.txt).
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DMERIDIAN_SANITIZE=ON \
  -DMERIDIAN_TESTS=ON -DMERIDIAN_UBSAN_SKIP= >/dev/null
cmake --build "$build" --target meridian-chaos -j "${MERIDIAN_JOBS:-1}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "chaos.sh: ${seconds}s, seed $seed, fsync $fsync"
exec "$build/bin/meridian-chaos" --seed "$seed" --duration "$seconds" --fsync "$fsync" \
  --converge-timeout 180 "$@"
