// Start-up recovery: the newest valid snapshot, then the WAL after it. A
// torn record at the WAL's tail (a crash mid-write) is cut with a warning;
// corruption anywhere else stops the start with a message naming the file and
// offset, unless the operator asked to repair (truncate there).
// Start-up only, before the event loop runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/hlc.hpp"
#include "storage/env.hpp"
#include "node/keyspace.hpp"
#include "node/log_store.hpp"

namespace meridian::node {

struct Recovered {
    Keyspace keyspace;
    LogStart log;
    crdt::Hlc clock;                 // past every register stamp recovered
    std::uint64_t snapshot_lsn = 0;  // 0 when no snapshot was loaded
    std::uint64_t records_replayed = 0;
    std::uint64_t deltas_refused = 0;  // type changed by a policy change
    std::vector<std::string> warnings;
    // --repair-wal cut records off at a corruption: peers may hold writes this
    // region no longer knows it made, so it must not reuse their sequence numbers.
    bool wal_repaired = false;
    // Forwarded requests this region executed, found in the replayed log, so
    // a retransmission after this restart is answered, not re-applied.
    std::vector<std::pair<replication::RequestStamp, crdt::Dot>> executed_requests;
};

Expected<Recovered, std::string> recover(Env& env, const std::string& data_dir, bool repair_wal,
                                         std::uint64_t physical_ms);

}  // namespace meridian::node
