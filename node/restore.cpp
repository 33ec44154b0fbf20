#include "node/restore.hpp"

#include <charconv>
#include <ctime>
#include <filesystem>
#include <map>
#include <vector>

#include "crdt/serialization.hpp"
#include "node/apply.hpp"
#include "node/backup.hpp"
#include "node/incarnation.hpp"
#include "node/keyspace.hpp"
#include "node/log_store.hpp"
#include "node/snapshotter.hpp"
#include "replication/log_record.hpp"
#include "replication/record_format.hpp"
#include "storage/file_copy.hpp"
#include "storage/snapshot_file.hpp"
#include "storage/toml_words.hpp"
#include "storage/wal.hpp"
#include "storage/wal_archive.hpp"

namespace meridian::node {

using replication::LogRecord;

namespace {

constexpr std::string_view restored_file = "restored";

// Replays records onto the backup's snapshot until the target is passed. The
// cut always falls between records, so the result is a state the region held.
class Replay {
public:
    Replay(const RestoreTarget& to, std::uint64_t consistent_lsn) : to_(to), consistent_lsn_(consistent_lsn) {}

    Keyspace keyspace;
    crdt::Hlc clock;
    crdt::VersionVector vv;
    std::uint64_t end_lsn = 0;  // one past the last record applied
    std::uint64_t applied = 0;
    std::optional<std::uint64_t> last_unix_ms;
    bool passed_target = false;  // a record beyond the target was met: stop
    std::string error;

    // read_wal visitor: false stops the read.
    bool visit(std::uint64_t lsn, std::string_view payload) {
        auto record = replication::decode_record(payload);
        if (!record) {
            error = "record " + std::to_string(lsn) + " passed its CRC but does not decode (" + record.error() + ")";
            return false;
        }
        if (beyond_target(*record)) {
            if (lsn < consistent_lsn_) {
                error = "the target is before this backup's earliest restorable point (lsn " +
                        std::to_string(consistent_lsn_) + "): use an older backup";
                return false;
            }
            passed_target = true;
            return false;
        }
        if (record->kind == LogRecord::Kind::state && to_.vv) {
            // A full sync's chunks count only with the version vector that
            // ends it: held back until its vv_merge decides.
            held_.push_back(std::move(*record));
            return true;
        }
        if (record->kind == LogRecord::Kind::vv_merge)
            for (const LogRecord& state : held_) apply(state);
        held_.clear();
        apply(*record);
        end_lsn = lsn + 1;
        return true;
    }

private:
    bool beyond_target(const LogRecord& record) const {
        switch (record.kind) {
            case LogRecord::Kind::clock: return to_.unix_ms && record.unix_ms > *to_.unix_ms;
            case LogRecord::Kind::deltas: return to_.vv && record.hi > to_.vv->get(record.origin);
            case LogRecord::Kind::vv_merge: return to_.vv && !to_.vv->includes(record.merged);
            case LogRecord::Kind::state: return false;
        }
        return false;
    }

    void apply(const LogRecord& record) {
        apply_deltas(keyspace, clock, record.deltas, 0);
        switch (record.kind) {
            case LogRecord::Kind::deltas: vv.advance(record.origin, record.hi); break;
            case LogRecord::Kind::vv_merge: vv.merge(record.merged); break;
            case LogRecord::Kind::clock: last_unix_ms = record.unix_ms; break;
            case LogRecord::Kind::state: break;
        }
        ++applied;
    }

    const RestoreTarget& to_;
    std::uint64_t consistent_lsn_;
    std::vector<LogRecord> held_;
};

Expected<void, std::string> load_backup_snapshot(Env& env, const std::string& path, Replay& replay) {
    auto read = read_snapshot(
        env, path,
        [&](std::string_view bytes) -> Expected<void, std::string> {
            auto meta = decode_snapshot_meta(bytes);
            if (!meta) return unexpected("bad snapshot meta: " + meta.error());
            replay.vv = std::move(meta->vv);
            return {};
        },
        [&](std::string_view raw) -> Expected<void, std::string> {
            auto states = crdt::decode<std::vector<replication::KeyDelta>>(raw);
            if (!states) return unexpected("bad snapshot chunk: " + states.error());
            for (const auto& s : *states)
                if (!replay.keyspace.join(s.key, s.delta))
                    return unexpected("key " + s.key + " appears with two types");
            return {};
        });
    if (!read) return unexpected(read.error());
    return {};
}

// Continues the replay from the archive at the backup's end.
Expected<std::uint64_t, std::string> replay_archive(Env& env, const std::string& archive_dir,
                                                    std::uint64_t from_lsn, Replay& replay) {
    auto archived = list_archive(env, archive_dir);
    if (!archived) return unexpected(archived.error());
    std::uint64_t used = 0;
    for (std::size_t i = 0; i < archived->size(); ++i) {
        const bool needed = i + 1 == archived->size() || (*archived)[i + 1].first_lsn > from_lsn;
        if (!needed) continue;
        if (auto ok = verify_archived(env, (*archived)[i]); !ok) return unexpected(ok.error());
        ++used;
    }
    if (used == 0 || archived->front().first_lsn > from_lsn)
        return unexpected(archive_dir + ": the archive holds no segment with lsn " + std::to_string(from_lsn) +
                          " (where the backup ends)" +
                          (archived->empty() ? std::string(": it is empty")
                                             : ": it starts at lsn " + std::to_string(archived->front().first_lsn)));
    // The segment that starts where the backup ends must continue its history.
    auto segments = list_segments(env, archive_dir);
    if (!segments) return unexpected(segments.error());
    for (const WalSegment& segment : *segments) {
        if (segment.first_lsn != from_lsn) continue;
        auto vv = decode_segment_meta(segment.meta);
        if (!vv || !(*vv == replay.vv))
            return unexpected(segment.path + " does not continue this backup: its version vector " +
                              (vv ? vv->to_string() : "(unreadable)") + " is not the backup's " +
                              replay.vv.to_string() + " (another region's archive, or another history)");
    }
    auto read = read_wal(env, archive_dir, from_lsn,
                         [&](std::uint64_t lsn, std::string_view payload) { return replay.visit(lsn, payload); });
    if (!read) return unexpected(read.error());
    if (!replay.error.empty()) return unexpected(archive_dir + ": " + replay.error);
    if (read->torn_tail && !replay.passed_target) return unexpected(describe(*read->torn_tail));
    return used;
}

Expected<void, std::string> write_data_dir(Env& env, const std::string& data_dir, const Replay& replay,
                                           const std::string& provenance) {
    namespace fs = std::filesystem;
    const std::string building = data_dir + ".restoring";
    std::error_code ec;
    fs::remove_all(building, ec);  // what an earlier failed restore left
    if (ec) return unexpected("remove " + building + ": " + ec.message());
    const SnapshotMeta meta{1, replay.vv, 1};
    if (auto written = write_snapshot(env, join_path(building, "snapshot"), meta, replay.keyspace); !written)
        return unexpected(written.error());
    if (auto written = write_file_durably(env, join_path(building, restored_file), provenance); !written)
        return unexpected(written.error());
    if (fs::exists(data_dir, ec)) fs::remove(data_dir, ec);  // empty: checked before
    if (auto renamed = env.rename_file(building, data_dir); !renamed) return unexpected(renamed.error());
    return env.sync_dir(parent_dir(data_dir));
}

}  // namespace

Expected<RestoreReport, std::string> restore_backup(Env& env, const RestoreOptions& options) {
    namespace fs = std::filesystem;
    const ClusterConfig& config = *options.config;
    std::error_code ec;
    if (!options.check_only && fs::exists(options.data_dir, ec) && !fs::is_empty(options.data_dir, ec))
        return unexpected("refusing to restore into " + options.data_dir +
                          ": it is not empty (restore never overwrites a data directory)");
    if (options.to.unix_ms && options.to.vv) return unexpected(std::string("give --to or --to-vv, not both"));

    auto manifest = verify_backup(env, options.backup_dir);
    if (!manifest) return unexpected(manifest.error());
    const BackupManifest& m = *manifest;
    if (m.cluster != config.cluster)
        return unexpected(options.backup_dir + " is a backup of cluster " + quote(m.cluster) + ", not of " +
                          quote(config.cluster) + " (" + config.source + ")");
    if (m.data_fingerprint != config.data_fingerprint())
        return unexpected(options.backup_dir +
                          " was taken under other regions or policies than " + config.source +
                          " defines (data fingerprint differs): restore with the cluster file the "
                          "backup was taken under");
    const RegionConfig* region = config.find_region(m.region);
    if (!region || region->id != m.region_id)
        return unexpected(options.backup_dir + ": region " + quote(m.region) + " (id " +
                          std::to_string(m.region_id) + ") is not in " + config.source);
    const std::string as_cluster = options.as_cluster.empty() ? config.cluster + "-restored" : options.as_cluster;
    if (as_cluster == config.cluster)
        return unexpected("--as-cluster must name a new cluster: a restore into " + quote(config.cluster) +
                          " would be overwritten by its live regions' newer state");
    if (options.to.unix_ms && *options.to.unix_ms < m.consistent_unix_ms)
        return unexpected("--to " + format_unix_ms(*options.to.unix_ms) +
                          " is before this backup's earliest restorable point, " +
                          format_unix_ms(m.consistent_unix_ms) + ": use an older backup");

    Replay replay(options.to, m.consistent_lsn);
    const std::string snapshot = join_path(options.backup_dir, m.files.front().path);
    if (auto loaded = load_backup_snapshot(env, snapshot, replay); !loaded)
        return unexpected(snapshot + ": " + loaded.error());
    replay.end_lsn = m.snapshot_lsn;
    if (m.end_lsn > m.snapshot_lsn) {
        const std::string wal = join_path(options.backup_dir, "wal");
        auto read = read_wal(env, wal, m.snapshot_lsn, [&](std::uint64_t lsn, std::string_view payload) {
            return lsn < m.end_lsn && replay.visit(lsn, payload);
        });
        if (!read) return unexpected(read.error());
        if (!replay.error.empty()) return unexpected(wal + ": " + replay.error);
    }
    RestoreReport report;
    if (!replay.passed_target && !options.archive_dir.empty()) {
        auto used = replay_archive(env, options.archive_dir, m.end_lsn, replay);
        if (!used) return unexpected(used.error());
        report.archive_segments = *used;
    }
    const std::string source = options.archive_dir.empty() ? "the backup ends" : "the backup and the archive end";
    if (options.to.unix_ms && !replay.passed_target)
        return unexpected(source + " at " + format_unix_ms(replay.last_unix_ms.value_or(m.end_unix_ms)) +
                          " (lsn " + std::to_string(replay.end_lsn) + "), before --to " +
                          format_unix_ms(*options.to.unix_ms) + ": " +
                          (options.archive_dir.empty()
                               ? "later records are in the region's WAL archive: pass --archive"
                               : "later records are not archived yet (a segment is archived when it closes; "
                                 "see archive_timeout_ms)") +
                          ". Without --to, restore takes the latest point held");
    if (options.to.vv && !options.to.vv->includes(replay.vv))  // the snapshot alone is past it
        return unexpected("--to-vv " + options.to.vv->to_string() +
                          " is before this backup's earliest restorable point, version vector " +
                          replay.vv.to_string() + ": use an older backup");
    if (options.to.vv && !replay.passed_target && !replay.vv.includes(*options.to.vv))
        return unexpected(source + " at version vector " + replay.vv.to_string() + ", short of --to-vv " +
                          options.to.vv->to_string());

    report.manifest = m;
    report.as_cluster = as_cluster;
    report.end_lsn = replay.end_lsn;
    report.records_applied = replay.applied;
    report.keys = replay.keyspace.visible_size();
    report.last_unix_ms = replay.last_unix_ms;
    report.vv = replay.vv;
    const std::string provenance =
        "cluster=" + as_cluster + "\nbackup_cluster=" + m.cluster + "\nregion=" + m.region +
        "\nbackup=" + options.backup_dir + "\narchive=" + options.archive_dir +
        "\nlsn=" + std::to_string(report.end_lsn) + "\nversion_vector=" + report.vv.to_string() + "\n";
    if (options.check_only) return report;
    if (auto written = write_data_dir(env, options.data_dir, replay, provenance); !written)
        return unexpected(written.error());
    return report;
}

Expected<void, std::string> check_restored_data_dir(Env& env, const std::string& data_dir,
                                                    const std::string& cluster) {
    const std::string path = join_path(data_dir, restored_file);
    if (!std::filesystem::exists(path)) return {};
    auto text = env.read_file(path);
    if (!text) return unexpected(text.error());
    std::map<std::string, std::string> fields;
    std::string_view rest = *text;
    while (!rest.empty()) {
        const auto end = rest.find('\n');
        const std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        if (const auto eq = line.find('='); eq != std::string_view::npos)
            fields[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    if (fields["cluster"] == cluster) return {};
    return unexpected(data_dir + " was restored from a backup of cluster " + quote(fields["backup_cluster"]) +
                      " as cluster " + quote(fields["cluster"]) + "; run it under a cluster file with cluster = " +
                      quote(fields["cluster"]) + ", not " + quote(cluster) +
                      " (a restored region joins as a new cluster: see README)");
}

Expected<std::uint64_t, std::string> parse_restore_time(std::string_view text) {
    const auto bad = [&] {
        return unexpected("bad time " + quote(text) +
                          ": give RFC 3339 (2026-12-04T17:38:15.123Z) or milliseconds since the Unix epoch");
    };
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
        std::uint64_t ms = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
        if (ec != std::errc() || ptr != text.data() + text.size()) return bad();
        return ms;
    }
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    const std::string s(text);
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, used = 0;
    char sep = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &year, &month, &day, &sep, &hour, &minute,
                    &second, &used) != 7 ||
        (sep != 'T' && sep != 't' && sep != ' ') || month < 1 || month > 12 || day < 1 || day > 31 ||
        hour > 23 || minute > 59 || second > 60)
        return bad();
    std::size_t pos = static_cast<std::size_t>(used);
    std::uint64_t millis = 0;
    if (pos < s.size() && s[pos] == '.') {
        std::uint64_t scale = 100;
        ++pos;
        if (pos >= s.size() || !std::isdigit(static_cast<unsigned char>(s[pos]))) return bad();
        for (; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos, scale /= 10)
            millis += static_cast<std::uint64_t>(s[pos] - '0') * scale;
    }
    std::int64_t offset_s = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh = 0, om = 0, n = 0;
        if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return bad();
        offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        pos += 6;
    } else {
        return unexpected("bad time " + quote(text) + ": say which zone (end with Z for UTC, or +HH:MM)");
    }
    if (pos != s.size()) return bad();
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::int64_t seconds = static_cast<std::int64_t>(timegm(&tm)) - offset_s;
    if (seconds < 0) return bad();
    return static_cast<std::uint64_t>(seconds) * 1000 + millis;
}

std::string format_unix_ms(std::uint64_t unix_ms) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[40];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned>(unix_ms % 1000));
    return text;
}

Expected<crdt::VersionVector, std::string> parse_version_vector(std::string_view text,
                                                                const conflict::RegionDirectory& regions) {
    crdt::VersionVector vv;
    std::string token;
    auto take = [&]() -> Expected<void, std::string> {
        if (token.empty()) return {};
        const auto dot = token.rfind('.', token.find(':'));
        const auto colon = token.find(':');
        const auto bad = unexpected("bad version vector entry " + quote(token) +
                                    ": want region.epoch:seq, e.g. us-east.0:17 or 1.0:17");
        if (dot == std::string::npos || colon == std::string::npos || colon < dot) return bad;
        const std::string region = token.substr(0, dot);
        std::uint64_t id = 0, epoch = 0, seq = 0;
        auto number = [](std::string_view s, std::uint64_t& out) {
            const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
            return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
        };
        if (auto named = regions.id_of(region)) id = *named;
        else if (!number(region, id) || id == 0 || id > 0xFFFF) return unexpected("unknown region " + quote(region));
        if (!number(std::string_view(token).substr(dot + 1, colon - dot - 1), epoch) || epoch > 0xFFFF ||
            !number(std::string_view(token).substr(colon + 1), seq))
            return bad;
        vv.advance(crdt::ReplicaId{static_cast<crdt::RegionId>(id), static_cast<std::uint16_t>(epoch)}, seq);
        token.clear();
        return {};
    };
    for (const char c : text) {
        if (c == ' ' || c == ',' || c == '{' || c == '}' || c == '\t') {
            if (auto ok = take(); !ok) return unexpected(ok.error());
        } else {
            token += c;
        }
    }
    if (auto ok = take(); !ok) return unexpected(ok.error());
    if (vv.empty()) return unexpected("empty version vector " + quote(text));
    return vv;
}

}  // namespace meridian::node
