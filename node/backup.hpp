// MERIDIAN BACKUP: a consistent, self-describing, verified copy of this
// region's data, taken while the node keeps serving.
//
// A backup directory holds a snapshot written straight into it (a fuzzy
// snapshot, taken in chunks between other work exactly like the periodic
// ones), the WAL segments from the snapshot's lsn to the moment the snapshot
// finished, and a MANIFEST (storage/backup_manifest.hpp) written last. The
// snapshot plus that WAL replays to one consistent point: the state right
// after the snapshot's last chunk. The WAL is rolled at that point, so every
// segment copied is closed and immutable; they are copied by a worker thread,
// then every file is read back and checked against the manifest before the
// command answers. A backup with no MANIFEST never finished and restores
// refuse it.
//
// Event-loop thread, except the copy and verification (worker thread).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "node/cluster_config.hpp"
#include "node/keyspace.hpp"
#include "node/log_store.hpp"
#include "storage/backup_manifest.hpp"
#include "storage/env.hpp"

namespace meridian::node {

struct BackupStats {
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;
    std::uint64_t last_bytes = 0;
    std::uint64_t last_duration_ms = 0;
    std::string last_error;
};

class Backups {
public:
    using Done = std::function<void(Expected<BackupManifest, std::string>)>;

    Backups(Env& env, boost::asio::io_context& io, const ClusterConfig& config,
            const RegionConfig& region, Keyspace& keyspace, LogStore& log,
            std::function<std::uint64_t()> steady_ms, std::function<std::uint64_t()> unix_ms);
    ~Backups();
    Backups(const Backups&) = delete;
    Backups& operator=(const Backups&) = delete;

    // Backs up into `dir` (created if missing; it must be empty) and calls
    // done with the verified manifest, or an error after removing what it wrote.
    // One backup at a time.
    void start(const std::string& dir, Done done);
    bool running() const { return running_ != nullptr; }
    // While a backup runs, the WAL must keep every record from this lsn.
    std::optional<std::uint64_t> pinned_lsn() const;
    const BackupStats& stats() const { return stats_; }

private:
    struct Run;
    void snapshot_done(std::shared_ptr<Run> run, Expected<std::uint64_t, std::string> result);
    void finish(std::shared_ptr<Run> run, Expected<BackupManifest, std::string> result);

    Env& env_;
    boost::asio::io_context& io_;
    const ClusterConfig& config_;
    const RegionConfig& region_;
    Keyspace& keyspace_;
    LogStore& log_;
    std::function<std::uint64_t()> steady_ms_;
    std::function<std::uint64_t()> unix_ms_;
    std::shared_ptr<Run> running_;
    boost::asio::thread_pool worker_{1};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    BackupStats stats_;
};

// Copies the backup's files (done by the worker; exposed for tests): the
// segments of `wal_dir` holding records in [from_lsn, end_lsn) into
// `<dir>/wal/`, then digests them and the snapshot at `snapshot_path`.
// Returns the manifest's file list.
Expected<std::vector<BackupFile>, std::string> copy_backup_files(Env& env, const std::string& dir,
                                                                 const std::string& snapshot_path,
                                                                 const std::string& wal_dir,
                                                                 std::uint64_t from_lsn,
                                                                 std::uint64_t end_lsn);

// Reads a backup directory back: the manifest parses, every file it lists has
// its size and SHA-256, the snapshot decodes, the WAL reads through end_lsn.
Expected<BackupManifest, std::string> verify_backup(Env& env, const std::string& dir);

}  // namespace meridian::node
