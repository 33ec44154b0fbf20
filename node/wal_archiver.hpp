// Continuous WAL archiving: every closed WAL segment is copied into the
// region's archive_dir (storage/wal_archive.hpp: fsynced, with a SHA-256
// sidecar) by a worker thread, oldest first. Until a segment is archived the
// log keeps it: archived_end() bounds WAL retention, so any point since the
// last backup can be rebuilt from the backup and the archive.
//
// Segments closed while the node was down (or while the archive failed) are
// found by listing wal/ again at each poll. Event-loop thread, except the copy.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "storage/env.hpp"

namespace meridian::node {

struct ArchiveStats {
    std::uint64_t segments_archived = 0;  // by this run
    std::uint64_t bytes_archived = 0;
    std::uint64_t failures = 0;
    std::uint64_t pending_segments = 0;  // closed, not archived yet (at the last poll)
    std::string last_error;
};

class WalArchiver {
public:
    // archive_dir "" disables archiving: archived_end() is then unbounded.
    WalArchiver(Env& env, boost::asio::io_context& io, std::string wal_dir, std::string archive_dir);
    ~WalArchiver();
    WalArchiver(const WalArchiver&) = delete;
    WalArchiver& operator=(const WalArchiver&) = delete;

    bool enabled() const { return !archive_dir_.empty(); }
    const std::string& archive_dir() const { return archive_dir_; }
    // Starts copying the oldest closed segment not yet archived, unless a copy runs.
    void poll();
    // Every record below this lsn is in the archive (or archiving is off): the
    // WAL may drop segments below it.
    std::uint64_t archived_end() const {
        return enabled() ? archived_end_ : std::numeric_limits<std::uint64_t>::max();
    }
    const ArchiveStats& stats() const { return stats_; }

private:
    void copied(std::uint64_t next_first_lsn, std::uint64_t bytes, const std::string& error);

    Env& env_;
    boost::asio::io_context& io_;
    std::string wal_dir_;
    std::string archive_dir_;
    std::uint64_t archived_end_ = 0;
    bool copying_ = false;
    bool error_logged_ = false;
    ArchiveStats stats_;
    boost::asio::thread_pool worker_{1};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meridian::node
