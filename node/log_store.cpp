#include "node/log_store.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>

#include "crdt/serialization.hpp"
#include "replication/log_record.hpp"

namespace meridian::node {

using replication::LoggedRecord;
using replication::LogRecord;

std::string encode_segment_meta(const crdt::VersionVector& vv) {
    return crdt::encode(vv);
}

Expected<crdt::VersionVector, std::string> decode_segment_meta(std::string_view meta) {
    return crdt::decode<crdt::VersionVector>(meta);
}

Expected<std::unique_ptr<LogStore>, std::string> LogStore::open(Env& env,
                                                                boost::asio::io_context& io,
                                                                LogStoreOptions options,
                                                                LogStart start) {
    auto writer =
        WalWriter::open(env, options.wal_dir, start.next_lsn, encode_segment_meta(start.vv),
                        WalWriterOptions{options.segment_bytes});
    if (!writer) return unexpected(writer.error());
    auto segments = list_segments(env, options.wal_dir);
    if (!segments) return unexpected(segments.error());
    auto store = std::unique_ptr<LogStore>(
        new LogStore(env, io, std::move(options), std::move(start), std::move(*writer)));
    store->first_retained_ = segments->empty() ? store->next_append_ : segments->front().first_lsn;
    return store;
}

LogStore::LogStore(Env& env, boost::asio::io_context& io, LogStoreOptions options, LogStart start,
                   WalWriter writer)
    : env_(env),
      io_(io),
      options_(std::move(options)),
      writer_(std::move(writer)),
      vv_(std::move(start.vv)),
      next_append_(start.next_lsn),
      flushed_end_(start.next_lsn),
      durable_end_(start.next_lsn),
      visible_end_(start.next_lsn),
      announced_end_(start.next_lsn),
      catchup_floor_(start.catchup_floor) {
    for (auto& [lsn, vv] : start.checkpoints) checkpoints_.emplace(lsn, std::move(vv));
    add_checkpoint(next_append_);  // the fresh segment starts here
}

LogStore::~LogStore() {
    alive_.reset();  // completions posted from now on see no store
    syncer_.join();
}

Expected<std::uint64_t, std::string> LogStore::append(std::shared_ptr<const LogRecord> record,
                                                      std::uint64_t now_ms) {
    if (options_.unix_ms) {
        // One clock read per record: the vDSO makes it a few nanoseconds.
        const std::uint64_t wall = options_.unix_ms();
        if (wall != last_clock_ms_) {
            last_clock_ms_ = wall;
            auto clock = std::make_shared<LogRecord>();
            clock->kind = LogRecord::Kind::clock;
            clock->unix_ms = wall;
            if (auto appended = append_one(std::move(clock), now_ms); !appended) return appended;
        }
    }
    return append_one(std::move(record), now_ms);
}

Expected<std::uint64_t, std::string> LogStore::append_one(std::shared_ptr<const LogRecord> record,
                                                          std::uint64_t now_ms) {
    if (broken()) return unexpected(error_);
    std::string payload = replication::encode_record(*record);
    if (++since_checkpoint_ >= options_.checkpoint_every) add_checkpoint(next_append_);
    auto lsn = writer_.append(payload);
    if (!lsn) {
        fail(lsn.error());
        return unexpected(error_);
    }
    switch (record->kind) {
        case LogRecord::Kind::deltas:
            vv_.advance(record->origin, record->hi);
            break;
        case LogRecord::Kind::state:
        case LogRecord::Kind::clock:
            break;
        case LogRecord::Kind::vv_merge:
            // Records before a full-sync merge no longer let a peer catch up:
            // what the merge brought never existed here as records.
            vv_.merge(record->merged);
            catchup_floor_ = *lsn + 1;
            break;
    }
    next_append_ = *lsn + 1;
    if (record->kind == LogRecord::Kind::vv_merge) add_checkpoint(next_append_);
    const std::size_t cost = sizeof(TailEntry) + replication::memory_bytes(*record);
    tail_.push_back(TailEntry{LoggedRecord{*lsn, now_ms, payload.size(), std::move(record)}, cost});
    tail_bytes_ += cost;
    ++stats_.records_appended;
    stats_.bytes_appended += payload.size();
    return *lsn;
}

void LogStore::add_checkpoint(std::uint64_t lsn) {
    checkpoints_[lsn] = vv_;
    since_checkpoint_ = 0;
}

void LogStore::flush() {
    if (broken()) return;
    if (flushed_end_ < next_append_) {
        if (auto written = writer_.flush(); !written) return fail(written.error());
        flushed_end_ = next_append_;
    }
    if (writer_.should_roll() || (roll_requested_ && writer_.next_lsn() > writer_.segment_first_lsn())) {
        roll_requested_ = false;
        // roll() fsyncs the finished segment, so everything so far is durable.
        if (auto rolled = writer_.roll(encode_segment_meta(vv_)); !rolled)
            return fail(rolled.error());
        durable_end_ = std::max(durable_end_, flushed_end_);
        add_checkpoint(next_append_);
    }
    if (options_.fsync == FsyncMode::always) {
        if (!sync_running_ && flushed_end_ > durable_end_) start_sync();
        advance_visible(durable_end_);
    } else {
        advance_visible(flushed_end_);
    }
    release_waiters();
    trim_tail();
}

Expected<void, std::string> LogStore::roll_segment() {
    roll_requested_ = true;
    flush();
    roll_requested_ = false;
    if (broken()) return unexpected(error_);
    return {};
}

void LogStore::when_durable(std::uint64_t lsn, std::function<void(bool)> done) {
    if (broken()) return done(false);
    if (lsn < acknowledged_end()) return done(true);
    waiters_.emplace(lsn, std::move(done));
}

void LogStore::sync_in_background() {
    if (!broken() && !sync_running_ && flushed_end_ > durable_end_) start_sync();
}

void LogStore::start_sync() {
    sync_running_ = true;
    const std::uint64_t target = flushed_end_;
    std::shared_ptr<WritableFile> file = writer_.current_file();
    std::weak_ptr<bool> alive = alive_;
    boost::asio::post(syncer_, [this, file, target, alive] {
        const auto started = std::chrono::steady_clock::now();
        auto result = file->sync();
        const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count();
        std::string error = result ? std::string() : result.error();
        boost::asio::post(io_, [this, target, alive, error, micros] {
            if (alive.lock()) synced(target, error, static_cast<std::uint64_t>(micros));
        });
    });
}

void LogStore::synced(std::uint64_t end, const std::string& error, std::uint64_t micros) {
    sync_running_ = false;
    if (!error.empty()) return fail("fsync failed: " + error);
    ++stats_.fsyncs;
    stats_.last_fsync_us = micros;
    durable_end_ = std::max(durable_end_, end);
    if (options_.fsync == FsyncMode::always) {
        advance_visible(durable_end_);
        release_waiters();
        // Group commit: whatever arrived while this fsync ran goes in the next one.
        if (flushed_end_ > durable_end_) start_sync();
    }
}

Expected<void, std::string> LogStore::sync_now() {
    flush();
    if (broken()) return unexpected(error_);
    if (auto synced = writer_.sync(); !synced) {
        fail(synced.error());
        return unexpected(error_);
    }
    durable_end_ = std::max(durable_end_, flushed_end_);
    if (options_.fsync == FsyncMode::always) advance_visible(durable_end_);
    release_waiters();
    return {};
}

void LogStore::advance_visible(std::uint64_t end) {
    while (visible_end_ < end) {
        const std::uint64_t offset =
            visible_end_ - tail_.front().logged.lsn;  // never trimmed before visible
        const LoggedRecord& entry = tail_[offset].logged;
        ++visible_end_;
        if (on_visible) on_visible(entry);
    }
}

void LogStore::release_waiters() {
    const std::uint64_t end = acknowledged_end();
    if (end > announced_end_) {
        announced_end_ = end;
        if (on_acknowledged) on_acknowledged(end);
    }
    while (!waiters_.empty() && waiters_.begin()->first < end) {
        auto done = std::move(waiters_.begin()->second);
        waiters_.erase(waiters_.begin());
        done(true);
    }
}

void LogStore::fail(const std::string& error) {
    if (broken()) return;
    error_ = error;
    spdlog::critical("write-ahead log failed, refusing writes from now on: {}", error);
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& [lsn, done] : waiters) done(false);
    if (on_failure) on_failure(error_);
}

void LogStore::trim_tail() {
    while (tail_bytes_ > options_.tail_bytes && !tail_.empty() &&
           tail_.front().logged.lsn < visible_end_) {
        tail_bytes_ -= tail_.front().cost;
        tail_.pop_front();
    }
}

std::optional<std::uint64_t> LogStore::start_for(const crdt::VersionVector& vv) const {
    if (vv.includes(vv_)) return next_append_;
    const std::uint64_t floor = std::max(first_retained_, catchup_floor_);
    // Checkpoints are in lsn order and their vectors only grow: the latest one
    // the peer's vector includes is the best place to start.
    for (auto it = checkpoints_.rbegin(); it != checkpoints_.rend() && it->first >= floor; ++it)
        if (vv.includes(it->second)) return it->first;
    return std::nullopt;
}

bool LogStore::read(std::uint64_t from, std::size_t max_bytes, std::vector<LoggedRecord>& out) {
    if (from < first_retained_) return false;
    if (from >= visible_end_) return true;
    const std::uint64_t tail_first = tail_.empty() ? next_append_ : tail_.front().logged.lsn;
    std::size_t bytes = 0;
    if (from >= tail_first) {
        for (std::uint64_t lsn = from; lsn < visible_end_ && bytes < max_bytes; ++lsn) {
            out.push_back(tail_[lsn - tail_first].logged);
            bytes += out.back().bytes;
        }
        return true;
    }
    // Older than the tail: read the segments, up to the tail at most.
    const std::uint64_t end = std::min(tail_first, visible_end_);
    bool decoded = true;
    WalReadOptions options;
    if (read_resume_ && read_resume_->lsn == from) options.resume = read_resume_;
    auto result = read_wal(
        env_, options_.wal_dir, from,
        [&](std::uint64_t lsn, std::string_view payload) {
            auto record = replication::decode_record(payload);
            if (!record) {
                spdlog::error("WAL record {} does not decode: {}", lsn, record.error());
                decoded = false;
                return false;
            }
            out.push_back(LoggedRecord{lsn, 0, payload.size(),
                                       std::make_shared<const LogRecord>(std::move(*record))});
            bytes += payload.size();
            ++stats_.disk_reads;
            return lsn + 1 < end && bytes < max_bytes;
        },
        options);
    if (!result) {
        spdlog::error("reading the WAL from lsn {} for catch-up failed: {}", from, result.error());
        read_resume_.reset();
        return false;
    }
    read_resume_ = result->end;
    return decoded;
}

void LogStore::collect(std::uint64_t keep_from) {
    auto segments = list_segments(env_, options_.wal_dir);
    if (!segments) {
        spdlog::warn("WAL retention: {}", segments.error());
        return;
    }
    std::uint64_t total = 0;
    for (const auto& s : *segments) total += s.size;
    // Oldest first, whole segments only, never the one being written, never
    // past what recovery or a connected peer still needs.
    for (std::size_t i = 0; i + 1 < segments->size() && total > options_.retention_bytes; ++i) {
        const std::uint64_t next_first = (*segments)[i + 1].first_lsn;
        if (next_first > keep_from) break;
        auto removed = remove_segments_before(env_, options_.wal_dir, next_first);
        if (!removed) {
            spdlog::warn("WAL retention: {}", removed.error());
            return;
        }
        total -= (*segments)[i].size;
        ++stats_.segments_removed;
        first_retained_ = next_first;
        read_resume_.reset();
    }
    checkpoints_.erase(checkpoints_.begin(), checkpoints_.lower_bound(first_retained_));
}

std::uint64_t LogStore::wal_bytes() const {
    auto size = wal_size(env_, options_.wal_dir);
    return size ? *size : 0;
}

}  // namespace meridian::node
