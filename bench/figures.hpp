// The benchmark figures of issue 7, each run side by side against redis-server where there is
// a counterpart: throughput/latency, replication lag, bytes per replicated write, catch-up and
// full sync, memory per key, SADD into one large set (issue 13), writes during a backup
// (issue 15). Each appends its tables and target rows to Results and prints one
// machine-readable "BENCH ..." line per measurement. Main thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "systems.hpp"

namespace meridian::bench {

struct Settings {
    Launch bins;
    bool smoke = false;
    int repeats = 3;
    double seconds = 2.0;  // one throughput run
    int clients = 50;
    std::uint64_t keyspace = 100000;  // throughput and lag keys
    std::uint64_t bytes_ops = 100000;
    std::uint64_t catchup_ops = 1000000;
    std::uint64_t fullsync_keys = 1000000;
    std::uint64_t memory_keys = 1000000;
    // Members of the one set before the SADDs; the first is the small reference.
    std::vector<std::uint64_t> large_set_sizes = {10, 100000, 1000000};
    int lag_probes = 150;         // per level, repeat and system, on loopback
    int lag_probes_delayed = 60;  // the same through the 50 ms relay
    bool lag_delayed = true;      // also measure lag through the 50 ms relay
    // Writes during a backup: the keys in the store, the window without a backup (per run)
    // and the SET clients (pipeline 1) of both windows.
    std::uint64_t backup_keys = 1000000;
    double backup_idle_seconds = 3.0;
    int backup_clients = 8;
};

struct Table {
    std::string title;
    std::string note;  // how it was measured, in a sentence or two
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

struct TargetRow {
    std::string id;  // stable key, e.g. "throughput-p1"
    std::string target;
    std::string measured;
    bool met = false;
};

struct Results {
    std::vector<Table> tables;
    std::vector<TargetRow> targets;
    // Each system's flat-out SET rate with replication, reused as the lag figure's 100%.
    std::map<std::string, double> max_load;
};

void figure_throughput(const Settings& s, Results& out);
void figure_lag(const Settings& s, Results& out);
void figure_bytes(const Settings& s, Results& out);
void figure_catchup(const Settings& s, Results& out);
void figure_memory(const Settings& s, Results& out);
void figure_large_set(const Settings& s, Results& out);
void figure_backup(const Settings& s, Results& out);

// Numbers as the tables print them.
std::string fmt(double value, int decimals = 0);

// Shared by the figure files (figures.cpp, backup_figure.cpp).
struct LoadResult;
using Fields = std::vector<std::pair<std::string, std::string>>;
// One machine-readable line per measurement: "BENCH figure=lag system=redis p99_ms=0.41 ...".
void emit(const std::string& figure, const Fields& fields);
void progress(const std::string& text);      // "[bench] text" on stderr
double ratio(double a, double b);            // a / b, 0 when b is 0
std::string ratio_text(double a, double b);  // a / b to two decimals, "n/a" when b is 0
// Throws BenchError when a load had error replies or completed nothing.
void check_errors(const std::string& what, const LoadResult& r);

// Runs `body(system, rep)` for both systems `repeats` times, alternating which goes first.
template <typename Body>
void alternate(int repeats, System& meridian, System& redis, Body body) {
    for (int rep = 0; rep < repeats; ++rep) {
        if (rep % 2 == 0) {
            body(meridian, rep);
            body(redis, rep);
        } else {
            body(redis, rep);
            body(meridian, rep);
        }
    }
}

}  // namespace meridian::bench
