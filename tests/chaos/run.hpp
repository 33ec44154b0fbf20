// One chaos run, start to verdict: three regions behind fault proxies, clients at every region,
// the nemesis, then heal, convergence, the checker, and a clean restart that must read the same.
// Called from the test thread of meridian-chaos (harness calls may FAIL, which needs Catch2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::chaos {

struct RunOptions {
    std::uint64_t seed = 1;
    double duration_s = 60;        // of faults and load; healing and checks come after
    std::string fsync = "always";  // always | everysec | no
    int clients_per_region = 2;
    double ops_per_second = 150;  // per client, at most
    std::string home = "auto";    // home-routed keys: on | off | auto (probe the node)
    int converge_timeout_s = 90;
    bool verbose = true;
};

struct RunResult {
    std::vector<std::string> violations;  // the first ones found (the list is capped)
    std::size_t violation_count = 0;      // 0: the run passed
    std::string summary;
};

RunResult run_chaos(const RunOptions& options);

}  // namespace meridian::chaos
