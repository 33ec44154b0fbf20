// What the replication core reads from its node: the log of records (for
// streaming and catch-up) and the keyspace (for full-state sync). The node
// implements these over its WAL, in-memory tail and keyspace; the simulation
// tests over plain containers. Called synchronously on the node's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "crdt/version_vector.hpp"
#include "replication/log_record.hpp"

namespace meridian::replication {

// A record as it sits in the node's log.
struct LoggedRecord {
    std::uint64_t lsn = 0;          // position in this node's log
    std::uint64_t appended_ms = 0;  // when this node appended it (steady clock)
    std::size_t bytes = 0;          // encoded size, for batching
    std::shared_ptr<const LogRecord> record;
};

class LogReader {
public:
    virtual ~LogReader() = default;

    // The version vector of everything appended so far (what this node holds).
    virtual const crdt::VersionVector& version_vector() const = 0;
    // One past the last record the core may ship. Under fsync = always that
    // is the durable end of the log -- nothing that a crash could still take
    // back ever leaves the node -- otherwise the end written to the OS.
    virtual std::uint64_t next_lsn() const = 0;
    // One past the last record appended (shippable or not). A full-sync chunk
    // read now reflects records up to here, so it may only leave once
    // next_lsn() has caught up.
    virtual std::uint64_t appended_lsn() const { return next_lsn(); }
    // The first LSN from which a peer holding `vv` finds every delta record
    // it lacks, or nullopt when some are no longer retained (the peer then
    // needs a full-state sync).
    virtual std::optional<std::uint64_t> start_for(const crdt::VersionVector& vv) const = 0;
    // Appends records from `from` on, in LSN order, to `out`, stopping once
    // about `max_bytes` were read or the log ends. Returns false when the log
    // cannot be read (the caller drops the peer and retries later).
    virtual bool read(std::uint64_t from, std::size_t max_bytes, std::vector<LoggedRecord>& out) = 0;
};

class StateReader {
public:
    virtual ~StateReader() = default;

    // Appends the states of keys from scan position `cursor` on (0 starts a
    // scan) to `out`, about `max_bytes` of them, and returns the next cursor,
    // 0 when the scan is complete. Every key present for the whole scan is
    // visited at least once, even while the keyspace changes.
    virtual std::uint64_t read_states(std::uint64_t cursor, std::size_t max_bytes,
                                      std::vector<KeyDelta>& out) = 0;
};

}  // namespace meridian::replication
