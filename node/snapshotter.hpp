// Snapshots of the keyspace: taken in chunks between other work on the event
// loop (a fuzzy snapshot), compressed and written by a worker thread, renamed
// into place once the WAL is synced past what the snapshot reflects.
//
// A fuzzy snapshot is enough because every state only grows by joins: it
// holds at least the effects of every record before its lsn, and replaying the
// WAL from that lsn at start-up re-joins anything newer, harmlessly.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crdt/version_vector.hpp"
#include "storage/env.hpp"
#include "node/keyspace.hpp"
#include "node/log_store.hpp"

namespace meridian::node {

struct SnapshotMeta {
    std::uint64_t lsn = 1;  // replay the WAL from here
    crdt::VersionVector vv;  // of the records before lsn
    std::uint64_t catchup_floor = 1;
};

std::string encode_snapshot_meta(const SnapshotMeta& meta);
Expected<SnapshotMeta, std::string> decode_snapshot_meta(std::string_view bytes);

// The next chunk of key states from `cursor` (0 starts a scan; 0 on return
// means the scan is done), about 1 MiB encoded.
std::string encode_snapshot_chunk(const Keyspace& keyspace, std::uint64_t& cursor);
// Writes the whole keyspace as one snapshot in `dir`, blocking; returns its path.
Expected<std::string, std::string> write_snapshot(Env& env, const std::string& dir,
                                                  const SnapshotMeta& meta, const Keyspace& keyspace);

struct SnapshotStats {
    std::uint64_t taken = 0;
    std::uint64_t failed = 0;
    std::uint64_t last_lsn = 0;
    std::uint64_t last_bytes = 0;
    std::uint64_t last_duration_ms = 0;
    std::string last_error;
};

class Snapshotter {
public:
    // `done` receives the snapshot's lsn, or an error.
    using Done = std::function<void(Expected<std::uint64_t, std::string>)>;

    Snapshotter(Env& env, boost::asio::io_context& io, std::string dir, Keyspace& keyspace,
                LogStore& log, std::function<std::uint64_t()> now_ms);
    ~Snapshotter();

    bool running() const { return running_ != nullptr; }
    // Starts a snapshot; it advances in chunks posted to the event loop.
    void start(Done done);
    // Takes a whole snapshot now, blocking (clean shutdown).
    Expected<std::uint64_t, std::string> take_now();
    const SnapshotStats& stats() const { return stats_; }

private:
    struct Run;
    void step(std::shared_ptr<Run> run);
    void finish(std::shared_ptr<Run> run);

    Env& env_;
    boost::asio::io_context& io_;
    std::string dir_;
    Keyspace& keyspace_;
    LogStore& log_;
    std::function<std::uint64_t()> now_ms_;
    std::shared_ptr<Run> running_;
    boost::asio::thread_pool writer_{1};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    SnapshotStats stats_;
};

// Loads the newest snapshot that reads back whole (older ones are tried if
// the newest is damaged, with a warning) into `keyspace`. nullopt: none.
Expected<std::optional<SnapshotMeta>, std::string> load_snapshot(Env& env, const std::string& dir,
                                                                 Keyspace& keyspace,
                                                                 std::vector<std::string>& warnings);

}  // namespace meridian::node
