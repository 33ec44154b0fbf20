// Applying replicated state to the keyspace: the one path shared by records
// received from peers, full-sync chunks and WAL replay at start-up.
#pragma once

#include <cstdint>
#include <vector>

#include "crdt/hlc.hpp"
#include "node/conflicts.hpp"
#include "node/keyspace.hpp"
#include "replication/log_record.hpp"

namespace meridian::node {

// Joins each delta into the keyspace and advances `clock` past every register and TTL
// stamp seen (so a later local write orders after what was received). Hands what each join
// decided to `conflicts`, if given (peers' records, not WAL replay). Returns
// how many deltas were refused because the key holds another type (after a
// policy change); those are logged once each by the caller.
std::size_t apply_deltas(Keyspace& keyspace, crdt::Hlc& clock,
                         const std::vector<replication::KeyDelta>& deltas,
                         std::uint64_t physical_ms, ConflictTracker* conflicts = nullptr);

}  // namespace meridian::node
