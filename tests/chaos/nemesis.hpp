// The chaos run's nemesis: injects one fault after another into a running Cluster (fault proxies
// between every pair of regions, signals to the nodes) and undoes each, until a deadline. Runs on
// the runner's thread, the only one that touches the Cluster. Faults: proxy delay and jitter,
// blackhole of a link (both ways or one way), isolation of a region, connection resets and
// refusals, swizzle (cut every link one by one, restore in random order), kill -9 and restart,
// SIGSTOP/SIGCONT longer than the peer timeout, kill -9 right after a write was acknowledged
// by an isolated region (it cannot have replicated: the write must survive on its disk), and
// kill -9 of a region whose homes another region then takes over (MERIDIAN FAILOVER) before it
// comes back fenced.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "checker.hpp"
#include "recorder.hpp"
#include "workload.hpp"

namespace meridian::chaos {

struct NemesisOptions {
    std::uint64_t seed = 0;
    int peer_timeout_ms = 1000;  // pauses last longer than this
    int client_timeout_ms = 1500;
    int home_lease_ms = 1000;  // how long a cut-off home may still execute its writes
    bool verbose = true;  // one line per fault on stdout
};

class Nemesis {
public:
    Nemesis(test::Cluster& cluster, const WorkloadKeys& keys, NemesisOptions options);

    // Injects faults until `deadline`; the last one may end a few seconds after it.
    void run_until(std::chrono::steady_clock::time_point deadline);
    // Undoes every fault: proxies pass traffic, paused nodes resume, dead nodes restart.
    void heal();

    // Faults injected, by name.
    const std::map<std::string, int>& injected() const { return injected_; }
    // Nodes that died on their own or would not restart, and the like.
    const std::vector<std::string>& violations() const { return violations_; }
    // The failovers it ran that may have committed (for CheckOptions::failovers).
    const std::vector<CheckOptions::Failover>& failovers() const { return failovers_; }
    // The writes the nemesis made itself (kill-after-ack).
    History& history() { return recorder_history_; }
    void log(const std::string& line) const;

private:
    using Link = std::pair<std::string, std::string>;

    void delay();
    void partition();
    void one_way();
    void isolate();
    void reset();
    void refuse();
    void swizzle();
    void kill_restart();
    void pause_resume();
    void kill_after_ack();
    void failover();
    void isolate_failover();
    // MERIDIAN FAILOVER region -> one of the live regions, run at another live one (or the same);
    // a reply that is no error means it may have committed: writes `region` acknowledged itself
    // between from_ms and to_ms may be undone (CheckOptions::failovers).
    // Returns the new owner when the reply said it committed.
    std::optional<std::string> fail_over(const std::string& region, std::uint64_t from_ms,
                                         std::uint64_t to_ms);
    // Ends the window in which `region`'s bounded-counter writes may be undone by the failovers
    // of it recorded so far (CheckOptions::Failover::bounded_to_ms), once it is back.
    void close_bounded_window(const std::string& region);
    // Withdraws the whole balance of `key` as `region` sees it (recorded); what it took.
    std::int64_t drain(const std::string& region, const std::string& key);

    bool proxy(const Link& link, const std::string& command);
    void block(const Link& link, const std::string& mode);
    void restart(const std::string& region);
    void check_alive();
    void sleep_ms(int ms);
    int between(int lo, int hi);
    const std::string& any_region();
    Link any_link();
    std::vector<Link> links_of(const std::string& region) const;

    test::Cluster& cluster_;
    const WorkloadKeys& keys_;
    NemesisOptions options_;
    std::mt19937_64 rng_;
    std::vector<std::string> regions_;
    std::vector<Link> links_;
    std::set<std::string> down_;    // killed by the nemesis, not restarted yet
    std::set<std::string> paused_;  // SIGSTOPped by the nemesis
    std::map<std::string, int> injected_;
    std::vector<std::string> violations_;
    std::vector<CheckOptions::Failover> failovers_;
    History recorder_history_;
    std::uint64_t nemesis_writes_ = 0;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace meridian::chaos
