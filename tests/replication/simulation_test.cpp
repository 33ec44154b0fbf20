// The replication core on a deterministic simulated network: many seeds of
// concurrent writes, partitions, duplicated frames and crashes, each checked
// against a model once the network heals. CI runs 1,200 seeds in all;
// scripts/soak.sh runs many more (MERIDIAN_SIM_SEEDS per case, starting at
// MERIDIAN_SIM_FIRST_SEED). A failing seed prints itself:
//   MERIDIAN_SIM_SEED=<seed> build-asan/bin/replication_tests "[simulation]"
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "sim_cluster.hpp"

namespace {

using meridian::sim::SimCluster;
using meridian::sim::SimOptions;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* value = std::getenv(name);
    return value ? std::stoull(value) : fallback;
}

// Runs seeds [first, first + count), or only MERIDIAN_SIM_SEED when set.
template <class Configure>
void run_seeds(std::uint64_t count, Configure configure) {
    const std::uint64_t only = env_or("MERIDIAN_SIM_SEED", 0);
    const std::uint64_t first = only ? only : env_or("MERIDIAN_SIM_FIRST_SEED", 1);
    const std::uint64_t last = only ? only : first + count - 1;
    for (std::uint64_t seed = first; seed <= last; ++seed) {
        SimOptions options;
        options.seed = seed;
        configure(options);
        const auto result = SimCluster(options).run();
        INFO("seed " << seed << " (replay: MERIDIAN_SIM_SEED=" << seed
                     << " replication_tests \"[simulation]\"): " << result.failure);
        REQUIRE(result.converged);
    }
}

}  // namespace

TEST_CASE("regions converge exactly after partitions, duplicates and crashes under fsync = always",
          "[simulation]") {
    run_seeds(env_or("MERIDIAN_SIM_SEEDS", 400), [](SimOptions& o) {
        o.nodes = 3 + static_cast<int>(o.seed % 3);
        o.fsync_always = true;
    });
}

TEST_CASE("regions converge after crashes that lose unsynced writes under fsync = no",
          "[simulation]") {
    run_seeds(env_or("MERIDIAN_SIM_SEEDS", 300), [](SimOptions& o) {
        o.nodes = 3 + static_cast<int>(o.seed % 3);
        o.fsync_always = false;
    });
}

TEST_CASE("a region behind the retained log converges through full-state sync", "[simulation]") {
    run_seeds(env_or("MERIDIAN_SIM_SEEDS", 200), [](SimOptions& o) {
        o.nodes = 3 + static_cast<int>(o.seed % 2);
        o.fsync_always = o.seed % 2 == 0;
        o.retention_records = 40;
    });
}

TEST_CASE("concurrent withdrawals at every region never take a bounded balance below its floor",
          "[simulation]") {
    run_seeds(env_or("MERIDIAN_SIM_SEEDS", 300), [](SimOptions& o) {
        o.nodes = 3 + static_cast<int>(o.seed % 2);
        o.fsync_always = o.seed % 2 == 0;
        o.withdrawals = true;
    });
}
