// The workload of one table row: every region's clients deposit into and
// withdraw from one account under one policy, concurrently, while a sampler
// watches each region's balance; in the middle one region is cut off from the
// others (MERIDIAN PAUSE on both sides of its links) and then healed. Runs on
// the caller's thread plus one thread per client and one sampler thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "local_cluster.hpp"

namespace meridian::demo {

enum class PolicyKind { lww, counter, home, bounded };

// One row: a policy and the account key it governs (examples/cluster.toml).
struct Account {
    PolicyKind kind;
    std::string label;  // the row's name in the table, one word
    std::string key;
};

// The four rows, in table order; the home-routed account lives in `home_region`.
std::vector<Account> demo_accounts(const std::string& home_region);

struct WorkloadOptions {
    double seconds = 8;  // per row; the partition spans its middle third
    int clients_per_region = 2;
    std::int64_t max_amount = 10;  // each deposit or withdrawal is 1..max_amount
    std::uint64_t seed = 1;
    int think_ms = 4;                 // mean pause between one client's operations
    std::size_t isolated_region = 2;  // index into the cluster's regions: cut off mid-run
    std::size_t latency_region = 1;   // where write latency is measured (not the home)
};

struct RowResult {
    Account account;
    std::vector<std::optional<std::int64_t>> final_balance;  // per region; empty: unreadable
    std::int64_t implied = 0;          // what the acknowledged operations add up to
    std::optional<std::int64_t> lost;  // acknowledged updates missing at the end; empty: unknown
    std::int64_t acknowledged = 0;     // writes the store acknowledged
    std::int64_t declined = 0;  // withdrawals the client itself declined (balance it read too low)
    std::int64_t refused = 0;   // writes the store refused
    std::map<std::string, std::int64_t> refusals;  // refused, by the reply's first word(s)
    std::int64_t unknown = 0;      // writes whose outcome is unknown (timeout, lost connection)
    std::int64_t read_errors = 0;  // balance reads that failed (nothing written after them)
    std::int64_t samples = 0;      // balance samples taken
    std::int64_t below_zero = 0;   // samples that read below zero
    std::int64_t lowest = 0;       // the lowest balance sampled
    std::optional<double> p50_ms, p99_ms;  // write latency at latency_region
    std::optional<double> converge_ms;     // heal -> every region holds every pre-heal write
    bool converged = false;                // at the end all regions agree on state and balance
    std::string problem;                   // why not, or what else went wrong
};

// Progress for the caller to show: the row, the phase and the seconds elapsed.
using ProgressFn =
    std::function<void(const std::string& phase, double elapsed, const RowResult& so_far)>;

// Runs one row against the running cluster. `stop` ends it early (Ctrl-C).
RowResult run_row(const LocalCluster& cluster, const Account& account,
                  const WorkloadOptions& options, const std::atomic<bool>& stop,
                  const ProgressFn& progress);

}  // namespace meridian::demo
