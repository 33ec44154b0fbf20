#include "node/apply.hpp"

namespace meridian::node {

std::size_t apply_deltas(Keyspace& keyspace, crdt::Hlc& clock,
                         const std::vector<replication::KeyDelta>& deltas,
                         std::uint64_t physical_ms, ConflictTracker* conflicts) {
    std::size_t refused = 0;
    for (const replication::KeyDelta& d : deltas) {
        auto joined = keyspace.join(d.key, d.delta);
        if (!joined) {
            ++refused;
            continue;
        }
        if (const auto latest = d.delta.latest_time())
            clock = crdt::Hlc::receive(clock, *latest, physical_ms);
        if (conflicts) conflicts->observe(d.key, *joined, clock);
    }
    return refused;
}

}  // namespace meridian::node
