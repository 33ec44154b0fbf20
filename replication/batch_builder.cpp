#include "replication/batch_builder.hpp"

#include <algorithm>
#include <optional>

#include "replication/record_format.hpp"

namespace meridian::replication {

void BatchBuilder::add(std::shared_ptr<const LogRecord> record, std::size_t bytes) {
    bytes_ += bytes;
    ++records_added_;
    auto open = open_by_origin_.find(record->origin);
    if (open != open_by_origin_.end()) {
        Entry& entry = batch_[open->second];
        if (record->lo <= entry.hi + 1) {
            join_into(entry, std::move(record));
            return;
        }
    }
    open_by_origin_[record->origin] = batch_.size();
    const std::uint64_t lo = record->lo, hi = record->hi;
    batch_.push_back(Entry{std::move(record), lo, hi, false, {}, {}});
}

void BatchBuilder::join_into(Entry& entry, std::shared_ptr<const LogRecord> next) {
    if (!entry.is_joined) {
        entry.is_joined = true;
        entry.parts.reserve(entry.first->deltas.size() + next->deltas.size());
        for (const KeyDelta& delta : entry.first->deltas) add_part(entry, delta);
    }
    entry.lo = std::min(entry.lo, next->lo);
    entry.hi = std::max(entry.hi, next->hi);
    for (const KeyDelta& delta : next->deltas) add_part(entry, delta);
    joined_records_.push_back(std::move(next));
}

void BatchBuilder::add_part(Entry& entry, const KeyDelta& delta) {
    auto [it, inserted] = entry.key_index.try_emplace(delta.key, entry.parts.size());
    if (!inserted) {
        Part& part = entry.parts[it->second];
        if (!part.joined) part.joined = std::make_unique<KeyDelta>(*part.logged);
        if (part.joined->delta.join(delta.delta)) return;
        // After a policy change, a delta of another type: ship it separately and let the
        // receiver decide.
        it->second = entry.parts.size();
    }
    entry.parts.push_back(Part{&delta, nullptr});
}

// A joined entry encodes as the LogRecord it stands for (record_format.hpp), without the
// request stamp: only the home's own log needs it.
template <class Archive>
void save(Archive& ar, const BatchBuilder::Entry& entry) {
    if (!entry.is_joined) {
        ar(*entry.first);
        return;
    }
    save_deltas_record(
        ar, entry.first->origin, entry.lo, entry.hi, entry.parts, std::optional<RequestStamp>{},
        [](const BatchBuilder::Part& part) -> const KeyDelta& { return part.delta(); });
}

std::string BatchBuilder::encode_and_clear() {
    std::string out;
    write_records_payload(out, batch_);
    batch_.clear();
    joined_records_.clear();
    open_by_origin_.clear();
    bytes_ = 0;
    records_added_ = 0;
    return out;
}

}  // namespace meridian::replication
