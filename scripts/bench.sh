#!/usr/bin/env bash
# Runs the benchmark suite (Meridian side by side with redis-server) and writes
# docs/BENCHMARKS.md. About 10 minutes on a 2-core machine once the packages are installed
# (10 min 05 s from a fresh clone on 2026-12-03: 3 min of build, 7 min of suite).
#
#   scripts/bench.sh                 bootstrap, build build-bench/ (RelWithDebInfo), run the suite
#   scripts/bench.sh --smoke         every figure with tiny counts, written to build-bench/bench-smoke.md
#   scripts/bench.sh --no-bootstrap  skip scripts/bootstrap.sh (the packages are installed)
#
# Extra arguments go to meridian-bench (e.g. --repeats 5, --catchup-ops 200000).
set -euo pipefail
cd "$(dirname "$0")/.."

bootstrap=1
smoke=0
args=()
for a in "$@"; do
  case "$a" in
    --no-bootstrap) bootstrap=0 ;;
    --smoke) smoke=1 ;;
    *) args+=("$a") ;;
  esac
done

# Packages (redis-server among them); the bench builds its own tree below.
if ((bootstrap)); then scripts/bootstrap.sh --packages; fi

# A RelWithDebInfo build without sanitizers, with the tests' tools: the relay the bench puts
# on replication links is tests/tools' meridian-fault-proxy.
build_dir=build-bench
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMERIDIAN_SANITIZE=OFF >/dev/null
cmake --build "$build_dir" --target meridian-bench meridian-node meridian-fault-proxy -j "${MERIDIAN_JOBS:-2}"

if ((smoke)); then
  exec "$build_dir/bin/meridian-bench" suite --smoke --out "$build_dir/bench-smoke.md" "${args[@]}"
fi
mkdir -p docs
exec "$build_dir/bin/meridian-bench" suite --out docs/BENCHMARKS.md \
  --limits bench/limits.txt --notes bench/notes.md "${args[@]}"
