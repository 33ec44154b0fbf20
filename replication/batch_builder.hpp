// BatchBuilder: assembles the Records frame for one peer. Records arrive in
// log order; consecutive records of one origin are joined into one record
// over the union interval, with the deltas of each key joined, so a hot key
// written many times while the link was busy ships once. A record that needs
// no joining is shipped as it is, without a copy.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
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

private:
    struct Entry {
        std::shared_ptr<const LogRecord> shared;  // as logged, while nothing was joined
        std::optional<LogRecord> joined;          // a private copy once something was
        std::unordered_map<std::string, std::size_t> key_index;  // into joined->deltas

        const LogRecord& record() const { return joined ? *joined : *shared; }
    };

    void join_into(Entry& entry, const LogRecord& next);

    std::vector<Entry> batch_;
    std::unordered_map<crdt::ReplicaId, std::size_t> open_by_origin_;  // origin -> batch_ index
    std::size_t bytes_ = 0;
    std::size_t records_added_ = 0;
};

}  // namespace meridian::replication
