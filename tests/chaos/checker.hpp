// The chaos run's checker: given every client's history and the state all regions converged to,
// lists what no correct run could have produced. Pure (no I/O, no clocks); the runner calls it
// once, from its own thread, after the clients have stopped.
//
// The model, per key type:
// - counter / bounded counter: the final value lies between the sum of acknowledged changes
//   plus every unknown decrement, and that sum plus every unknown increment (an unknown change
//   may or may not have happened); a bounded counter is never read below its floor.
// - set (each element added by one SADD, removed only by an SREM at a region that showed it):
//   an acknowledged add is present unless some SREM of it was issued; an element an acknowledged
//   SREM removed is absent (it had one add, which that remove observed); nothing appears that no
//   SADD tried, nor what only a failed SADD tried.
// - register (each value written once): the final value was written by a SET that did not fail;
//   no acknowledged write is lost (nil) and none beats an acknowledged write that started after
//   it had been acknowledged (same clock for clients and nodes, so HLC order follows real time).
// - expiring register (written only by SET ... PX): gone at the end once every write's TTL ran
//   out before the final read.
// - keys: nothing exists that the workload did not write.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "history.hpp"

namespace meridian::chaos {

struct CheckOptions {
    // Real-time order is only asserted between writes this far apart (milliseconds; the HLC has
    // millisecond resolution and clients read the clock outside the node).
    std::uint64_t real_time_slack_ms = 10;
    // A key whose TTLs all ran out this long before the final read must be gone (milliseconds:
    // covers the sweep's 100 ms period and clock reads outside the node).
    std::uint64_t expiry_slack_ms = 1000;
    // Wall clock when the faults were healed: an unanswered write may have been applied as late
    // as that (a paused node runs what it had buffered once resumed), not later.
    std::uint64_t healed_ms = 0;
    // Longest violation list; the count goes on.
    std::size_t max_reported = 200;
    // Homes failed over while their region was killed or cut off. A write of a key of that home
    // (its {tag}) that the region acknowledged itself between `from_ms` and `to_ms` (wall clock:
    // its last lease), without a WAIT, may never have left it, and the new owner's seal then
    // undoes it (README, "Home failover"): such writes count as unknown, not as acknowledged.
    struct Failover {
        std::string home;
        std::uint64_t from_ms = 0;
        std::uint64_t to_ms = 0;
        // Bounded counters: a failover without the region's vote retires its epoch, and the
        // heir's handover undoes what the region wrote that no other region held in time: its
        // writes to any bounded counter from from_ms until it learned of the retirement (after
        // it was restarted or healed), as the nemesis bounds it.
        std::uint64_t bounded_to_ms = 0;
    };
    std::vector<Failover> failovers;
};

struct CheckResult {
    std::vector<std::string> violations;
    std::size_t violation_count = 0;
    std::size_t keys_checked = 0;
    std::size_t undone_by_failover = 0;  // acknowledged writes counted as unknown (Failover)
};

// `policy_of(key)` gives the type of any key the workload used.
CheckResult check(const std::vector<const History*>& histories, const FinalState& final_state,
                  const std::function<KeyPolicy(const std::string&)>& policy_of,
                  const CheckOptions& options = {});

}  // namespace meridian::chaos
