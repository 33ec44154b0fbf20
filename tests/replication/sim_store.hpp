// A node's storage for the simulation: an in-memory log with a version vector
// before every record (so start_for() is exact), retention that forgets old
// records (forcing full syncs), and a keyspace of CRDT values. Implements the
// LogReader and StateReader the replication core reads through.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "crdt/hlc.hpp"
#include "crdt/value.hpp"
#include "replication/log_reader.hpp"

namespace meridian::sim {

class SimStore : public replication::LogReader, public replication::StateReader {
public:
    const crdt::VersionVector& version_vector() const override { return vv_; }
    std::uint64_t next_lsn() const override { return log_.size() + 1; }
    std::optional<std::uint64_t> start_for(const crdt::VersionVector& vv) const override;
    bool read(std::uint64_t from, std::size_t max_bytes,
              std::vector<replication::LoggedRecord>& out) override;
    std::uint64_t read_states(std::uint64_t cursor, std::size_t max_bytes,
                              std::vector<replication::KeyDelta>& out) override;

    // Appends to the log (advancing the version vector), returning the entry.
    replication::LoggedRecord append(replication::LogRecord record, std::uint64_t now_ms);
    // Joins deltas into the keyspace and advances the clock past any register stamps.
    void join(const std::vector<replication::KeyDelta>& deltas, std::uint64_t physical_ms);

    // Forgets records before `lsn` (as WAL retention would).
    void retain_from(std::uint64_t lsn);
    // What survives a crash that loses records after `durable_lsn`: a new
    // store rebuilt by replaying the surviving records.
    SimStore recover(std::uint64_t durable_lsn) const;

    std::map<std::string, crdt::Value>& keyspace() { return keyspace_; }
    const std::map<std::string, crdt::Value>& keyspace() const { return keyspace_; }
    crdt::Hlc& clock() { return clock_; }
    std::uint64_t first_retained() const { return first_retained_; }

private:
    crdt::VersionVector vv_;
    std::vector<replication::LoggedRecord> log_;       // lsn = index + 1
    std::vector<crdt::VersionVector> vv_before_;       // per lsn
    std::uint64_t first_retained_ = 1;
    std::uint64_t catchup_floor_ = 1;  // first lsn after the latest vv_merge
    std::map<std::string, crdt::Value> keyspace_;
    crdt::Hlc clock_;
    // Full-state scans in progress: the keys as they were when each began
    // (keys created later reach the peer as records after the scan).
    std::map<std::uint32_t, std::vector<std::string>> scans_;
    std::uint32_t next_scan_ = 1;
};

}  // namespace meridian::sim
