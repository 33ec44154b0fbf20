#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what is missing and builds
# the release binaries into build/ (scripts/bootstrap.sh), then starts three
# regions (us-east, eu-west, ap-south) on ports 7001-7003, runs the balance
# demo on them, and leaves them serving.
#
#   scripts/demo.sh [balance_demo flags]   (re)start the demo cluster and run the demo
#   scripts/demo.sh stop                   stop the demo cluster
#
# e.g. scripts/demo.sh --duration 20 --clients 4. The cluster lives in
# build/demo-cluster (cluster file, data, logs, nodes.pid); a second run stops
# the old cluster first.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster_dir="$PWD/build/demo-cluster"

# Stops the nodes recorded in nodes.pid -- only processes that still are
# meridian-node serving this cluster file, in case a pid was reused -- and
# removes the cluster's directory.
stop_cluster() {
    local pid_file="$cluster_dir/nodes.pid" pids=() pid region
    if [ -f "$pid_file" ]; then
        while read -r pid region; do
            if [ -r "/proc/$pid/cmdline" ] &&
                tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--config $cluster_dir/cluster.toml"; then
                kill -TERM "$pid" 2>/dev/null && pids+=("$pid") && echo "demo: stopping $region (pid $pid)"
            fi
        done <"$pid_file"
    fi
    for pid in "${pids[@]}"; do
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null && echo "demo: killed pid $pid (no exit after 15 s)"
    done
    rm -rf "$cluster_dir"
}

if [ "${1:-}" = "stop" ]; then
    stop_cluster
    exit 0
fi

scripts/bootstrap.sh
stop_cluster
build/bin/balance_demo --keep --fixed-ports --dir "$cluster_dir" "$@"
echo "(or: scripts/demo.sh stop)"
