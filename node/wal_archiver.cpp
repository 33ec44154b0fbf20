#include "node/wal_archiver.hpp"

#include <boost/asio/post.hpp>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>

#include "node/background.hpp"
#include "storage/wal.hpp"
#include "storage/wal_archive.hpp"

namespace meridian::node {

WalArchiver::WalArchiver(Env& env, boost::asio::io_context& io, std::string wal_dir,
                         std::string archive_dir)
    : env_(env), io_(io), wal_dir_(std::move(wal_dir)), archive_dir_(std::move(archive_dir)) {
    run_in_background(worker_);
}

WalArchiver::~WalArchiver() {
    alive_.reset();
    worker_.join();
}

void WalArchiver::poll() {
    if (!enabled() || copying_) return;
    auto segments = list_segments(env_, wal_dir_);
    if (!segments) {
        stats_.last_error = segments.error();
        return;
    }
    if (segments->size() < 2) {  // only the segment being written: nothing closed
        stats_.pending_segments = 0;
        if (archived_end_ == 0 && !segments->empty()) archived_end_ = segments->front().first_lsn;
        return;
    }
    if (archived_end_ == 0) {
        // First poll of this run: resume after the newest segment already archived.
        auto archived = list_archive(env_, archive_dir_);
        if (!archived) {
            stats_.last_error = archived.error();
            ++stats_.failures;
            return;
        }
        std::set<std::uint64_t> have;
        for (const auto& a : *archived) have.insert(a.first_lsn);
        archived_end_ = segments->back().first_lsn;
        for (std::size_t i = 0; i + 1 < segments->size(); ++i) {
            if (!have.contains((*segments)[i].first_lsn)) {
                archived_end_ = (*segments)[i].first_lsn;
                break;
            }
        }
    }
    if (segments->front().first_lsn > archived_end_) {
        spdlog::warn(
            "WAL archive: records {} to {} were removed from the WAL before they were archived "
            "(archiving was off, or the archive was changed): the archive has a gap there",
            archived_end_, segments->front().first_lsn - 1);
        archived_end_ = segments->front().first_lsn;
    }
    std::uint64_t pending = 0;
    std::optional<std::size_t> next;
    for (std::size_t i = 0; i + 1 < segments->size(); ++i) {
        if ((*segments)[i].first_lsn < archived_end_) continue;
        ++pending;
        if (!next) next = i;
    }
    stats_.pending_segments = pending;
    if (!next) return;

    copying_ = true;
    const std::string path = (*segments)[*next].path;
    const std::uint64_t next_first = (*segments)[*next + 1].first_lsn;
    const std::uint64_t bytes = (*segments)[*next].size;
    boost::asio::post(worker_, [this, path, next_first, bytes, alive = std::weak_ptr<bool>(alive_)] {
        auto archived = archive_segment(env_, path, archive_dir_);
        std::string error = archived ? std::string() : archived.error();
        boost::asio::post(io_, [this, next_first, bytes, error, alive] {
            if (alive.lock()) copied(next_first, bytes, error);
        });
    });
}

void WalArchiver::copied(std::uint64_t next_first_lsn, std::uint64_t bytes, const std::string& error) {
    copying_ = false;
    if (!error.empty()) {
        ++stats_.failures;
        stats_.last_error = error;
        // Retried at every poll; the WAL keeps the segment meanwhile.
        if (!error_logged_) spdlog::error("WAL archive: {} (retrying; the WAL keeps the segment)", error);
        error_logged_ = true;
        return;
    }
    if (error_logged_) spdlog::info("WAL archive: archiving again");
    error_logged_ = false;
    archived_end_ = next_first_lsn;
    ++stats_.segments_archived;
    stats_.bytes_archived += bytes;
    poll();  // a backlog drains without waiting for the next tick
}

}  // namespace meridian::node
