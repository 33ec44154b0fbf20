#include "sim_store.hpp"

#include "crdt/serialization.hpp"
#include "replication/record_format.hpp"

namespace meridian::sim {

using replication::KeyDelta;
using replication::LoggedRecord;
using replication::LogRecord;

std::optional<std::uint64_t> SimStore::start_for(const crdt::VersionVector& vv) const {
    const std::uint64_t floor = std::max(first_retained_, catchup_floor_);
    if (floor > log_.size()) {
        // Nothing retained past the floor: the peer needs nothing older than it.
        const crdt::VersionVector& at_floor = floor - 1 < vv_before_.size() ? vv_before_[floor - 1] : vv_;
        return vv.includes(at_floor) ? std::optional(next_lsn()) : std::nullopt;
    }
    if (!vv.includes(vv_before_[floor - 1])) return std::nullopt;
    // The latest lsn whose prefix the peer holds entirely.
    std::uint64_t lo = floor, hi = log_.size();
    while (lo < hi) {
        const std::uint64_t mid = (lo + hi + 1) / 2;
        if (vv.includes(vv_before_[mid - 1])) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

bool SimStore::read(std::uint64_t from, std::size_t max_bytes, std::vector<LoggedRecord>& out) {
    if (from < first_retained_) return false;
    std::size_t bytes = 0;
    for (std::uint64_t lsn = from; lsn <= log_.size() && bytes < max_bytes; ++lsn) {
        out.push_back(log_[lsn - 1]);
        bytes += log_[lsn - 1].bytes;
    }
    return true;
}

std::uint64_t SimStore::read_states(std::uint64_t cursor, std::size_t max_bytes,
                                    std::vector<KeyDelta>& out) {
    std::uint32_t scan = static_cast<std::uint32_t>(cursor >> 32);
    std::uint32_t index = static_cast<std::uint32_t>(cursor);
    if (cursor == 0) {
        scan = next_scan_++;
        auto& keys = scans_[scan];
        for (const auto& [key, value] : keyspace_) keys.push_back(key);
    }
    auto& keys = scans_[scan];
    std::size_t bytes = 0;
    while (index < keys.size() && bytes < max_bytes) {
        auto it = keyspace_.find(keys[index++]);
        if (it == keyspace_.end()) continue;
        out.push_back(KeyDelta{it->first, it->second});
        bytes += it->first.size() + crdt::encode(it->second).size();
    }
    if (index >= keys.size()) {
        scans_.erase(scan);
        return 0;
    }
    return (std::uint64_t{scan} << 32) | index;
}

LoggedRecord SimStore::append(LogRecord record, std::uint64_t now_ms) {
    vv_before_.push_back(vv_);
    switch (record.kind) {
        case LogRecord::Kind::deltas: vv_.advance(record.origin, record.hi); break;
        case LogRecord::Kind::state: break;
        case LogRecord::Kind::vv_merge:
            vv_.merge(record.merged);
            catchup_floor_ = log_.size() + 2;
            break;
        case LogRecord::Kind::clock: break;
    }
    LoggedRecord entry;
    entry.lsn = log_.size() + 1;
    entry.appended_ms = now_ms;
    entry.bytes = replication::encode_record(record).size();
    entry.record = std::make_shared<const LogRecord>(std::move(record));
    log_.push_back(entry);
    return entry;
}

void SimStore::join(const std::vector<KeyDelta>& deltas, std::uint64_t physical_ms) {
    for (const KeyDelta& d : deltas) {
        auto [it, inserted] = keyspace_.try_emplace(d.key, crdt::Value::empty(d.delta.type()));
        (void)it->second.join(d.delta);  // types never differ within one simulation
        if (const auto latest = d.delta.latest_time())
            clock_ = crdt::Hlc::receive(clock_, *latest, physical_ms);
    }
}

void SimStore::retain_from(std::uint64_t lsn) {
    first_retained_ = std::max(first_retained_, std::min<std::uint64_t>(lsn, log_.size() + 1));
}

SimStore SimStore::recover(std::uint64_t durable_lsn) const {
    SimStore recovered;
    for (std::uint64_t lsn = 1; lsn <= std::min<std::uint64_t>(durable_lsn, log_.size()); ++lsn) {
        const LoggedRecord& entry = log_[lsn - 1];
        recovered.join(entry.record->deltas, 0);
        recovered.append(*entry.record, entry.appended_ms);
    }
    recovered.first_retained_ = std::min(first_retained_, recovered.log_.size() + 1);
    return recovered;
}

}  // namespace meridian::sim
