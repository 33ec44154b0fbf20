#!/usr/bin/env bash
# Installs every Debian package Meridian needs (a no-op when all are there),
# then configures and builds.
#
#   scripts/bootstrap.sh            release build into build/ (binaries in build/bin/)
#   scripts/bootstrap.sh --sanitize ASan+UBSan build with tests into build-asan/
#   scripts/bootstrap.sh --packages  the packages alone (scripts/bench.sh builds its own tree)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config ccache openssl
  libboost-dev libcereal-dev liblz4-dev libssl-dev libspdlog-dev
  libtomlplusplus-dev libcli11-dev libhiredis-dev
  libabsl-dev                       # hash maps of the set CRDT
  libjemalloc-dev                   # meridian-node's allocator (not in sanitized builds)
  catch2 librapidcheck-dev
  redis-server redis-tools          # redis-cli for users, redis-server for side-by-side benchmarks
  clang libclang-rt-14-dev          # libFuzzer targets
  procps psmisc                     # pgrep/pkill/fuser used by the scripts
  chromium                          # the status page's browser test (headless)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "${1:-}" = "--packages" ]; then exit 0; fi

build_dir=build
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMERIDIAN_TESTS=OFF)
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build-asan
  cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Debug -DMERIDIAN_SANITIZE=ON -DMERIDIAN_TESTS=ON)
fi

cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "${MERIDIAN_JOBS:-2}"
