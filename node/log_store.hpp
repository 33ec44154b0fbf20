// LogStore: the node's log of records -- the write-ahead log on disk, an
// in-memory tail of recent records, and what replication needs to read it
// (version-vector checkpoints for catch-up, the boundary of what may ship).
//
// Visibility follows the fsync mode. Under `always` a record may leave the
// node (be read by replication) only once it is on disk, and a client's write
// is acknowledged only then; one fsync covers every record appended while the
// previous one ran (group commit). Under `everysec` and `no` a record becomes
// visible once written to the OS, which a crash of the process cannot undo;
// `everysec` fsyncs in the background once a second.
//
// Owned by the node's event-loop thread; only fsync runs on a worker thread,
// whose completion is posted back to the loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "node/cluster_config.hpp"
#include "storage/env.hpp"
#include "storage/wal.hpp"
#include "replication/log_reader.hpp"

namespace meridian::node {

struct LogStoreOptions {
    std::string wal_dir;
    FsyncMode fsync = FsyncMode::everysec;
    std::uint64_t segment_bytes = 64ull << 20;
    std::uint64_t retention_bytes = 1ull << 30;
    // Recent records kept decoded in memory for peers a little behind, by their heap footprint
    // (replication::memory_bytes); older ones are read back from the WAL.
    std::size_t tail_bytes = 64u << 20;
    std::uint32_t checkpoint_every = 1024;     // records between catch-up checkpoints
    // Wall-clock milliseconds since the Unix epoch. When set, a `clock` record
    // goes before the first record appended in each new millisecond, so the
    // log can be cut at a point in time (point-in-time restore).
    std::function<std::uint64_t()> unix_ms;
};

// Where recovery left the log, and what it learnt on the way.
struct LogStart {
    std::uint64_t next_lsn = 1;
    crdt::VersionVector vv;
    std::uint64_t catchup_floor = 1;  // first lsn after the latest full-sync merge
    // (lsn, version vector before it): segment starts and points met in replay.
    std::vector<std::pair<std::uint64_t, crdt::VersionVector>> checkpoints;
};

struct LogStats {
    std::uint64_t records_appended = 0;
    std::uint64_t bytes_appended = 0;
    std::uint64_t fsyncs = 0;
    std::uint64_t last_fsync_us = 0;
    std::uint64_t segments_removed = 0;
    std::uint64_t disk_reads = 0;  // records read back from segments (catch-up)
};

class LogStore final : public replication::LogReader {
public:
    static Expected<std::unique_ptr<LogStore>, std::string> open(Env& env, boost::asio::io_context& io,
                                                                 LogStoreOptions options, LogStart start);
    ~LogStore() override;
    LogStore(const LogStore&) = delete;
    LogStore& operator=(const LogStore&) = delete;

    // Appends a record to the WAL buffer and the tail; returns its lsn. Fails
    // only once the log is broken (a write or fsync failed): the node then
    // refuses writes.
    Expected<std::uint64_t, std::string> append(std::shared_ptr<const replication::LogRecord> record,
                                                std::uint64_t now_ms);
    // Writes what was appended to the OS (and, under `always`, starts an fsync
    // if none runs). Called once per batch of commands or applied records.
    void flush();
    // Runs `done(true)` once `lsn` is as durable as the fsync mode promises
    // (`always`: on disk; otherwise: written to the OS), or `done(false)` if
    // the log broke first.
    void when_durable(std::uint64_t lsn, std::function<void(bool)> done);
    // `everysec`: fsync in the background (a no-op if one runs or nothing is new).
    void sync_in_background();
    // Flushes and fsyncs on the calling thread (shutdown, snapshots).
    Expected<void, std::string> sync_now();
    // Removes WAL segments older than `keep_from` while the WAL exceeds its
    // retention budget (records before a snapshot are only kept for catch-up).
    void collect(std::uint64_t keep_from);
    // Closes the current segment now if it holds records (flushed and synced,
    // so it can be copied: backups, archiving) and starts the next one at
    // appended_lsn(). Fails only once the log is broken.
    Expected<void, std::string> roll_segment();
    // The first lsn of the segment being written.
    std::uint64_t segment_first_lsn() const { return writer_.segment_first_lsn(); }

    // Called for each record, in order, when it becomes visible (may ship).
    std::function<void(const replication::LoggedRecord&)> on_visible;
    // Called when acknowledged_end() advances: writes below it may be answered.
    std::function<void(std::uint64_t end)> on_acknowledged;
    // Called once if the log breaks (a write or fsync failed).
    std::function<void(const std::string& error)> on_failure;

    // One past the last record a client may be told is written, per the fsync
    // mode: on disk under `always`, written to the OS otherwise.
    std::uint64_t acknowledged_end() const {
        return options_.fsync == FsyncMode::always ? durable_end_ : flushed_end_;
    }

    // replication::LogReader
    const crdt::VersionVector& version_vector() const override { return vv_; }
    std::uint64_t next_lsn() const override { return visible_end_; }
    std::uint64_t appended_lsn() const override { return next_append_; }
    std::optional<std::uint64_t> start_for(const crdt::VersionVector& vv) const override;
    bool read(std::uint64_t from, std::size_t max_bytes,
              std::vector<replication::LoggedRecord>& out) override;

    std::uint64_t durable_lsn() const { return durable_end_ - 1; }
    std::uint64_t first_retained_lsn() const { return first_retained_; }
    std::uint64_t catchup_floor() const { return catchup_floor_; }
    bool broken() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    const LogStats& stats() const { return stats_; }
    // Heap bytes of the in-memory tail: records and their slots (for INFO memory).
    std::size_t tail_memory_bytes() const { return tail_bytes_; }
    std::uint64_t wal_bytes() const;

private:
    LogStore(Env& env, boost::asio::io_context& io, LogStoreOptions options, LogStart start,
             WalWriter writer);

    void start_sync();
    void synced(std::uint64_t end, const std::string& error, std::uint64_t micros);
    void advance_visible(std::uint64_t end);
    void release_waiters();
    void fail(const std::string& error);
    Expected<std::uint64_t, std::string> append_one(std::shared_ptr<const replication::LogRecord> record,
                                                    std::uint64_t now_ms);
    void add_checkpoint(std::uint64_t lsn);
    void trim_tail();

    Env& env_;
    boost::asio::io_context& io_;
    LogStoreOptions options_;
    WalWriter writer_;
    crdt::VersionVector vv_;
    std::uint64_t next_append_ = 1;
    std::uint64_t flushed_end_ = 1;  // one past the last record written to the OS
    std::uint64_t durable_end_ = 1;  // one past the last record fsynced
    std::uint64_t visible_end_ = 1;
    std::uint64_t announced_end_ = 0;  // the last acknowledged_end() passed to on_acknowledged
    std::uint64_t first_retained_ = 1;
    std::uint64_t catchup_floor_ = 1;
    std::map<std::uint64_t, crdt::VersionVector> checkpoints_;
    std::uint64_t since_checkpoint_ = 0;
    std::uint64_t last_clock_ms_ = 0;  // of the latest clock record
    bool roll_requested_ = false;

    struct TailEntry {
        replication::LoggedRecord logged;
        std::size_t cost;  // its slot and replication::memory_bytes(), computed once
    };
    std::deque<TailEntry> tail_;  // consecutive lsns ending at next_append_ - 1
    std::size_t tail_bytes_ = 0;  // sum of tail_'s costs
    std::multimap<std::uint64_t, std::function<void(bool)>> waiters_;

    // Catch-up reads resume where the last one stopped instead of re-reading
    // the segment from its start.
    std::optional<WalPosition> read_resume_;

    bool sync_running_ = false;
    boost::asio::thread_pool syncer_{1};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for completions after destruction
    std::string error_;
    LogStats stats_;
};

// The meta stored in each WAL segment header: the version vector before its first record.
std::string encode_segment_meta(const crdt::VersionVector& vv);
Expected<crdt::VersionVector, std::string> decode_segment_meta(std::string_view meta);

}  // namespace meridian::node
