// Conflict accounting: what the joins of replicated state decided where two regions' writes met
// without either having observed the other, counted per policy, and the conflict feed: this
// region's LWW writes that a concurrent write of another region replaced, kept in the conflict
// log beside the WAL (storage/conflict_log.hpp).
//
// Only joins of what peers send count (records and full syncs), not WAL replay at start-up, so a
// restart counts nothing twice. An LWW loss is counted and logged at the region that made the
// losing write, when the concurrent winner reaches it: every loser is logged exactly once, at its
// origin, and a write its own region had already overwritten is never logged (re-applying from
// the feed cannot bring back a superseded value).
#pragma once

#include <cstdint>
#include <string_view>

#include "crdt/ids.hpp"
#include "crdt/value.hpp"
#include "storage/conflict_log.hpp"

namespace meridian::node {

struct ConflictCounts {
    std::uint64_t lww_overwritten = 0;  // this region's LWW writes lost to concurrent writes
    std::uint64_t set_adds_kept = 0;    // members a remove left, for adds it had not observed
    std::uint64_t counter_merges = 0;   // remote deltas merged into multi-writer counters
    // Remote counter deltas of an old owner of a home that this region, as the new owner, had
    // sealed the counter without (writes made in the old owner's last lease, undone by the seal).
    std::uint64_t counter_writes_undone = 0;
};

class ConflictTracker {
public:
    ConflictTracker(crdt::RegionId self, ConflictLog log) : self_(self), log_(std::move(log)) {}

    // What joining a peer's delta for `key` reported, with this region's clock after the join.
    void observe(std::string_view key, crdt::JoinReport& report, crdt::Hlc now);

    const ConflictCounts& counts() const { return counts_; }
    const ConflictLog& log() const { return log_; }
    // Failed appends to the conflict log since start (each also logged as a warning).
    std::uint64_t log_write_errors() const { return log_write_errors_; }

private:
    crdt::RegionId self_;
    ConflictLog log_;
    ConflictCounts counts_;
    std::uint64_t log_write_errors_ = 0;
};

}  // namespace meridian::node
