// BatchBuilder: assembles the Records frame for one peer. Records arrive in
// log order; consecutive records of one origin are joined into one record
// over the union interval, with the deltas of each key joined, so a hot key
// written many times while the link was busy ships once. Nothing is copied
// for that: a joined record is a list of the logged records' deltas, read in
// place, and only a key that repeats gets a private copy to join into.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "replication/log_record.hpp"

namespace meridian::replication {

class BatchBuilder {
public:
    void add(std::shared_ptr<const LogRecord> record, std::size_t bytes);

    bool empty() const { return batch_.empty(); }
    std::size_t bytes() const { return bytes_; }
    std::size_t records_added() const { return records_added_; }

    // The encoded Records payload; the builder is empty afterwards.
    std::string encode_and_clear();

    // One delta of a joined record: a logged record's, or a private join of several of one key.
    struct Part {
        const KeyDelta* logged = nullptr;
        std::unique_ptr<KeyDelta> joined;

        const KeyDelta& delta() const { return joined ? *joined : *logged; }
    };

    // One record of the frame: the first record added, shipped as logged while nothing joined
    // it; once another did, the union interval and every delta, keys in first-seen order.
    struct Entry {
        std::shared_ptr<const LogRecord> first;
        std::uint64_t lo = 0;
        std::uint64_t hi = 0;
        bool is_joined = false;
        std::vector<Part> parts;
        absl::flat_hash_map<std::string_view, std::size_t> key_index;  // key -> parts index
    };

private:
    void join_into(Entry& entry, std::shared_ptr<const LogRecord> next);
    void add_part(Entry& entry, const KeyDelta& delta);

    std::vector<Entry> batch_;
    std::vector<std::shared_ptr<const LogRecord>> joined_records_;  // what Part::logged points into
    std::unordered_map<crdt::ReplicaId, std::size_t> open_by_origin_;  // origin -> batch_ index
    std::size_t bytes_ = 0;
    std::size_t records_added_ = 0;
};

}  // namespace meridian::replication
