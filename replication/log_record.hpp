// LogRecord: the unit of replication and of the write-ahead log. A record
// holds the deltas of a contiguous interval [lo, hi] of one origin replica's
// writes, each key at most once (deltas of the same key are joined, so a hot
// key updated many times ships once). A receiver holding origin's writes up to
// seq v may apply any record with lo <= v + 1; applying a record twice is
// harmless because deltas are join-semilattice states.
//
// Three further kinds exist only in a node's own log, never on the wire as
// records: `state` (a chunk of full-state sync: key states with no interval),
// `vv_merge` (the end of a full sync: the version vector it brought) and
// `clock` (the wall-clock millisecond from which the records after it were
// appended: what point-in-time restore cuts the log by).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"
#include "crdt/value.hpp"
#include "crdt/version_vector.hpp"

namespace meridian::replication {

struct KeyDelta {
    std::string key;
    crdt::Value delta;

    friend bool operator==(const KeyDelta&, const KeyDelta&) = default;
};

// Which forwarded request a record executed, and the answer it gave: the home
// region of a key keeps these in its log so a retransmitted request (after a
// lost link, or after the home restarted) is answered again, never re-applied.
struct RequestStamp {
    crdt::ReplicaId requester;
    std::uint64_t nonce = 0;    // random per requester process
    std::uint64_t counter = 0;  // per requester process
    std::string reply;          // the RESP answer

    friend bool operator==(const RequestStamp&, const RequestStamp&) = default;
};

struct LogRecord {
    enum class Kind : std::uint8_t { deltas = 0, state = 1, vv_merge = 2, clock = 3 };

    Kind kind = Kind::deltas;
    crdt::ReplicaId origin;  // deltas only
    std::uint64_t lo = 0;    // deltas only: first seq of origin covered
    std::uint64_t hi = 0;    // deltas only: last seq of origin covered
    std::vector<KeyDelta> deltas;
    crdt::VersionVector merged;  // vv_merge only
    std::uint64_t unix_ms = 0;   // clock only
    std::optional<RequestStamp> request;  // deltas only: a forwarded write executed here

    friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

// Heap bytes a decoded record held by a std::make_shared pointer takes (crdt/heap_bytes.hpp
// estimates): often ten times its encoded size, so the in-memory log tail is budgeted by it.
std::size_t memory_bytes(const LogRecord& record);

std::string encode_record(const LogRecord& record);
Expected<LogRecord, std::string> decode_record(std::string_view bytes);

// A Records frame's payload (record_format.hpp, write_records_payload): not the WAL's bytes.
std::string encode_records(const std::vector<LogRecord>& records);
Expected<std::vector<LogRecord>, std::string> decode_records(std::string_view bytes);

}  // namespace meridian::replication
