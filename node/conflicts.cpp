#include "node/conflicts.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace meridian::node {

void ConflictTracker::observe(std::string_view key, crdt::JoinReport& report, crdt::Hlc now) {
    counts_.set_adds_kept += report.adds_kept;
    if (report.counter_merged) ++counts_.counter_merges;
    if (report.counter_sealed_out_by && report.counter_sealed_out_by->region == self_)
        ++counts_.counter_writes_undone;
    auto& lost = report.overwritten;
    if (!lost || lost->loser.writer.region != self_) return;
    ++counts_.lww_overwritten;
    ConflictEntry entry{now, std::string(key), std::move(lost->value),
                        0,   lost->loser,      lost->winner};
    if (auto recorded = log_.record(std::move(entry)); !recorded) {
        ++log_write_errors_;
        spdlog::warn("conflict log: {} (the entry is kept in memory)", recorded.error());
    }
}

}  // namespace meridian::node
