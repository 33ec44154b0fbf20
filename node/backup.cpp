#include "node/backup.hpp"

#include <boost/asio/post.hpp>
#include <limits>
#include <spdlog/spdlog.h>

#include "node/background.hpp"
#include "node/incarnation.hpp"
#include "node/snapshotter.hpp"
#include "storage/file_copy.hpp"
#include "storage/sha256.hpp"
#include "storage/snapshot_file.hpp"
#include "storage/wal.hpp"

namespace meridian::node {

namespace {

std::string file_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Removes what a failed backup wrote: the directory was empty before.
void remove_partial_backup(Env& env, const std::string& dir) {
    for (const char* sub : {"snapshot", "wal"}) {
        const std::string path = join_path(dir, sub);
        if (auto names = env.list_dir(path))
            for (const std::string& name : *names) (void)env.remove_file(join_path(path, name));
    }
    (void)env.remove_file(join_path(dir, std::string(kManifestFile) + ".tmp"));
    (void)env.remove_file(join_path(dir, kManifestFile));
}

}  // namespace

struct Backups::Run {
    std::string dir;
    Done done;
    std::uint64_t started_ms = 0;
    std::unique_ptr<Snapshotter> snapshotter;
    BackupManifest manifest;
};

Backups::Backups(Env& env, boost::asio::io_context& io, const ClusterConfig& config,
                 const RegionConfig& region, Keyspace& keyspace, LogStore& log,
                 std::function<std::uint64_t()> steady_ms, std::function<std::uint64_t()> unix_ms)
    : env_(env),
      io_(io),
      config_(config),
      region_(region),
      keyspace_(keyspace),
      log_(log),
      steady_ms_(std::move(steady_ms)),
      unix_ms_(std::move(unix_ms)) {
    run_in_background(worker_);
}

Backups::~Backups() {
    alive_.reset();
    worker_.join();
}

std::optional<std::uint64_t> Backups::pinned_lsn() const {
    if (!running_) return std::nullopt;
    return running_->manifest.snapshot_lsn;
}

void Backups::start(const std::string& dir, Done done) {
    if (running_) return done(unexpected(std::string("a backup is already running")));
    if (auto made = env_.create_dirs(dir); !made) return done(unexpected(made.error()));
    auto entries = env_.list_dir(dir);
    if (!entries) return done(unexpected(entries.error()));
    if (!entries->empty())
        return done(unexpected("backup directory " + dir + " is not empty (a backup never overwrites files)"));

    // Start the snapshot at a fresh segment, so the backup copies only the
    // records written while the snapshot is taken, not the segment before it.
    if (auto rolled = log_.roll_segment(); !rolled) return done(unexpected(rolled.error()));
    auto run = std::make_shared<Run>();
    run->dir = dir;
    run->done = std::move(done);
    run->started_ms = steady_ms_();
    run->manifest.snapshot_lsn = log_.appended_lsn();  // the snapshot's lsn; held until the copy is done
    run->snapshotter = std::make_unique<Snapshotter>(env_, io_, join_path(dir, "snapshot"), keyspace_,
                                                     log_, steady_ms_);
    running_ = run;
    spdlog::info("backup into {} started", dir);
    run->snapshotter->start([this, run, alive = std::weak_ptr<bool>(alive_)](auto result) {
        if (alive.lock()) snapshot_done(run, std::move(result));
    });
}

void Backups::snapshot_done(std::shared_ptr<Run> run, Expected<std::uint64_t, std::string> result) {
    if (!result) return finish(run, unexpected("snapshot: " + result.error()));
    BackupManifest& m = run->manifest;
    m.snapshot_lsn = *result;
    // The snapshot holds every record before this lsn (and perhaps some after):
    // replaying the WAL up to here makes it exact.
    m.consistent_lsn = log_.appended_lsn();
    // Close the segment holding the newest records, so every segment copied is immutable.
    if (auto rolled = log_.roll_segment(); !rolled) return finish(run, unexpected(rolled.error()));
    m.end_lsn = log_.appended_lsn();
    m.consistent_unix_ms = m.end_unix_ms = m.created_unix_ms = unix_ms_();
    m.version_vector = log_.version_vector();
    m.cluster = config_.cluster;
    m.region = region_.name;
    m.region_id = region_.id;
    m.data_fingerprint = config_.data_fingerprint();

    const std::string snapshot = snapshot_path(join_path(run->dir, "snapshot"), m.snapshot_lsn);
    const std::string wal_dir = join_path(region_.data_dir, "wal");
    boost::asio::post(worker_, [this, run, snapshot, wal_dir, alive = std::weak_ptr<bool>(alive_)] {
        BackupManifest manifest = run->manifest;
        auto files = copy_backup_files(env_, run->dir, snapshot, wal_dir, manifest.snapshot_lsn,
                                       manifest.end_lsn);
        Expected<BackupManifest, std::string> verified = unexpected(std::string());
        if (!files) {
            verified = unexpected(files.error());
        } else {
            manifest.files = std::move(*files);
            auto written = write_file_durably(env_, join_path(run->dir, kManifestFile),
                                                 encode_manifest(manifest));
            verified = written ? verify_backup(env_, run->dir) : unexpected(written.error());
            if (verified && !(*verified == manifest))
                verified = unexpected(std::string("the manifest read back differs from the one written"));
        }
        boost::asio::post(io_, [this, run, verified = std::move(verified), alive]() mutable {
            if (alive.lock()) finish(run, std::move(verified));
        });
    });
}

void Backups::finish(std::shared_ptr<Run> run, Expected<BackupManifest, std::string> result) {
    running_.reset();
    // Not destroyed here: this may run inside the snapshotter's own callback.
    boost::asio::post(io_, [snapshotter = std::shared_ptr<Snapshotter>(std::move(run->snapshotter))] {});
    stats_.last_duration_ms = steady_ms_() - run->started_ms;
    if (result) {
        ++stats_.completed;
        stats_.last_bytes = 0;
        for (const BackupFile& f : result->files) stats_.last_bytes += f.bytes;
        spdlog::info("backup into {} complete and verified: lsn {} to {}, {} files, {} bytes, {} ms",
                     run->dir, result->snapshot_lsn, result->end_lsn, result->files.size(),
                     stats_.last_bytes, stats_.last_duration_ms);
    } else {
        ++stats_.failed;
        stats_.last_error = result.error();
        remove_partial_backup(env_, run->dir);
        spdlog::error("backup into {} failed: {}", run->dir, result.error());
    }
    run->done(std::move(result));
}

Expected<std::vector<BackupFile>, std::string> copy_backup_files(Env& env, const std::string& dir,
                                                                 const std::string& snapshot_path,
                                                                 const std::string& wal_dir,
                                                                 std::uint64_t from_lsn,
                                                                 std::uint64_t end_lsn) {
    std::vector<BackupFile> files;
    auto snapshot = digest_file(env, snapshot_path);
    if (!snapshot) return unexpected(snapshot.error());
    files.push_back({"snapshot/" + file_name(snapshot_path), snapshot->bytes, snapshot->sha256});
    if (from_lsn == end_lsn) return files;

    auto segments = list_segments(env, wal_dir);
    if (!segments) return unexpected(segments.error());
    const std::string backup_wal = join_path(dir, "wal");
    if (auto made = env.create_dirs(backup_wal); !made) return unexpected(made.error());
    std::uint64_t covered = from_lsn;  // one past what the copied segments hold
    for (std::size_t i = 0; i < segments->size(); ++i) {
        const WalSegment& segment = (*segments)[i];
        const bool last = i + 1 == segments->size();
        const std::uint64_t next_first =
            last ? std::numeric_limits<std::uint64_t>::max() : (*segments)[i + 1].first_lsn;
        if (next_first <= from_lsn || segment.first_lsn >= end_lsn) continue;
        if (segment.first_lsn > covered)
            return unexpected(wal_dir + ": the WAL no longer holds lsn " + std::to_string(covered));
        if (last) return unexpected(segment.path + " is still being written");
        const std::string name = file_name(segment.path);
        auto copied = copy_file_durably(env, segment.path, join_path(backup_wal, name));
        if (!copied) return unexpected(copied.error());
        files.push_back({"wal/" + name, copied->bytes, copied->sha256});
        covered = next_first;
    }
    if (covered < end_lsn)
        return unexpected(wal_dir + ": the WAL does not hold lsn " + std::to_string(covered));
    if (auto synced = env.sync_dir(dir); !synced) return unexpected(synced.error());
    return files;
}

Expected<BackupManifest, std::string> verify_backup(Env& env, const std::string& dir) {
    const std::string manifest_path = join_path(dir, kManifestFile);
    auto text = env.read_file(manifest_path);
    if (!text)
        return unexpected(dir + ": no readable " + std::string(kManifestFile) +
                          ": not a Meridian backup, or one that never finished (" + text.error() + ")");
    auto manifest = parse_manifest(*text);
    if (!manifest) return unexpected(manifest_path + ": " + manifest.error());
    for (const BackupFile& file : manifest->files) {
        const std::string path = join_path(dir, file.path);
        auto digest = digest_file(env, path);
        if (!digest) return unexpected(digest.error());
        if (digest->bytes != file.bytes)
            return unexpected(path + ": " + std::to_string(digest->bytes) + " bytes, the manifest says " +
                              std::to_string(file.bytes) + " (truncated or replaced)");
        if (digest->sha256 != file.sha256)
            return unexpected(path + ": SHA-256 mismatch (the file is corrupted)");
    }
    // Checksums prove the files are the ones written; these prove they were
    // whole when written.
    const std::string snapshot = join_path(dir, manifest->files.front().path);
    auto read = read_snapshot(
        env, snapshot,
        [&](std::string_view meta) -> Expected<void, std::string> {
            auto decoded = decode_snapshot_meta(meta);
            if (!decoded) return unexpected("bad snapshot meta: " + decoded.error());
            if (decoded->lsn != manifest->snapshot_lsn)
                return unexpected("snapshot lsn " + std::to_string(decoded->lsn) + ", the manifest says " +
                                  std::to_string(manifest->snapshot_lsn));
            return {};
        },
        [](std::string_view) -> Expected<void, std::string> { return {}; });
    if (!read) return unexpected(read.error());
    if (manifest->end_lsn > manifest->snapshot_lsn) {
        auto wal = read_wal(env, join_path(dir, "wal"), manifest->snapshot_lsn,
                            [&](std::uint64_t lsn, std::string_view) { return lsn + 1 < manifest->end_lsn; });
        if (!wal) return unexpected(wal.error());
        if (wal->torn_tail) return unexpected(describe(*wal->torn_tail));
        if (wal->next_lsn < manifest->end_lsn)
            return unexpected(dir + "/wal: ends at lsn " + std::to_string(wal->next_lsn) +
                              ", the manifest says " + std::to_string(manifest->end_lsn));
    }
    return manifest;
}

}  // namespace meridian::node
