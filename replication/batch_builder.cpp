#include "replication/batch_builder.hpp"

#include <algorithm>

#include "replication/record_format.hpp"

namespace meridian::replication {

void BatchBuilder::add(std::shared_ptr<const LogRecord> record, std::size_t bytes) {
    bytes_ += bytes;
    ++records_added_;
    auto open = open_by_origin_.find(record->origin);
    if (open != open_by_origin_.end()) {
        Entry& entry = batch_[open->second];
        if (record->lo <= entry.record().hi + 1) {
            join_into(entry, *record);
            return;
        }
    }
    open_by_origin_[record->origin] = batch_.size();
    batch_.push_back(Entry{std::move(record), std::nullopt, {}});
}

void BatchBuilder::join_into(Entry& entry, const LogRecord& next) {
    if (!entry.joined) {
        entry.joined = *entry.shared;
        entry.joined->request.reset();  // only the home's own log needs it
        entry.shared.reset();
        for (std::size_t i = 0; i < entry.joined->deltas.size(); ++i)
            entry.key_index.emplace(entry.joined->deltas[i].key, i);
    }
    LogRecord& record = *entry.joined;
    record.lo = std::min(record.lo, next.lo);
    record.hi = std::max(record.hi, next.hi);
    for (const KeyDelta& delta : next.deltas) {
        auto [it, inserted] = entry.key_index.try_emplace(delta.key, record.deltas.size());
        if (inserted || !record.deltas[it->second].delta.join(delta.delta)) {
            // New key, or (after a policy change) a delta of another type:
            // ship it separately and let the receiver decide.
            if (!inserted) it->second = record.deltas.size();
            record.deltas.push_back(delta);
        }
    }
}

std::string BatchBuilder::encode_and_clear() {
    std::string out;
    write_records_payload(out, batch_,
                          [](const Entry& entry) -> const LogRecord& { return entry.record(); });
    batch_.clear();
    open_by_origin_.clear();
    bytes_ = 0;
    records_added_ = 0;
    return out;
}

}  // namespace meridian::replication
