// cereal serialization of log records (the wire and WAL format of a record).
// Include only where records are encoded or decoded.
#pragma once

#include <cereal/types/optional.hpp>
#include <functional>
#include <iterator>
#include <optional>
#include <string>

#include "crdt/serialization.hpp"
#include "replication/log_record.hpp"

namespace meridian::replication {

template <class Archive>
void serialize(Archive& ar, KeyDelta& d) {
    ar(d.key, d.delta);
}

template <class Archive>
void serialize(Archive& ar, RequestStamp& s) {
    ar(s.requester, s.nonce, s.counter, s.reply);
}

// A deltas record, kind byte included, from its parts: `deltas` is any sized range whose items
// `delta_of` maps to a KeyDelta, so a record joined from others (BatchBuilder) is written
// without being assembled. The deltas encode as a std::vector<KeyDelta> does.
template <class Archive, class Deltas, class DeltaOf = std::identity>
void save_deltas_record(Archive& ar, crdt::ReplicaId origin, std::uint64_t lo, std::uint64_t hi,
                        const Deltas& deltas, const std::optional<RequestStamp>& request,
                        DeltaOf delta_of = {}) {
    ar(static_cast<std::uint8_t>(LogRecord::Kind::deltas), origin, lo, hi);
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(std::size(deltas))));
    for (const auto& item : deltas) ar(delta_of(item));
    ar(request);
}

template <class Archive>
void save(Archive& ar, const LogRecord& r) {
    if (r.kind == LogRecord::Kind::deltas)
        return save_deltas_record(ar, r.origin, r.lo, r.hi, r.deltas, r.request);
    ar(static_cast<std::uint8_t>(r.kind));
    switch (r.kind) {
        case LogRecord::Kind::deltas:
            break;  // above
        case LogRecord::Kind::state: ar(r.deltas); break;
        case LogRecord::Kind::vv_merge: ar(r.merged); break;
        case LogRecord::Kind::clock: ar(r.unix_ms); break;
    }
}

template <class Archive>
void load(Archive& ar, LogRecord& r) {
    std::uint8_t kind = 0;
    ar(kind);
    if (kind > static_cast<std::uint8_t>(LogRecord::Kind::clock))
        throw crdt::DecodeError("unknown log record kind " + std::to_string(kind));
    r.kind = static_cast<LogRecord::Kind>(kind);
    switch (r.kind) {
        case LogRecord::Kind::deltas:
            ar(r.origin, r.lo, r.hi, r.deltas, r.request);
            if (r.lo == 0 || r.lo > r.hi) throw crdt::DecodeError("log record with a bad interval");
            if (r.origin.region == 0) throw crdt::DecodeError("log record from region 0");
            break;
        case LogRecord::Kind::state: ar(r.deltas); break;
        case LogRecord::Kind::vv_merge: ar(r.merged); break;
        case LogRecord::Kind::clock: ar(r.unix_ms); break;
    }
}

// A Records frame's payload: the count, then the records, each clock in it written as the
// difference from the clock before it (protocol version 5). A batch's stamps lie milliseconds
// apart, so a SET's stamp takes 1-3 bytes instead of 9. `record_of` maps an item to its record.
template <class Items, class RecordOf = std::identity>
void write_records_payload(std::string& out, const Items& items, RecordOf record_of = {}) {
    crdt::CompactOutputArchive ar(out);
    ar.chain_clocks();
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(items.size())));
    for (const auto& item : items) ar(record_of(item));
}

}  // namespace meridian::replication
