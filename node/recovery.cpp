#include "node/recovery.hpp"

#include <algorithm>

#include "node/apply.hpp"
#include "storage/snapshot_file.hpp"
#include "node/snapshotter.hpp"
#include "storage/wal.hpp"

namespace meridian::node {

using replication::LogRecord;

Expected<Recovered, std::string> recover(Env& env, const std::string& data_dir, bool repair_wal,
                                         std::uint64_t physical_ms) {
    Recovered out;
    const std::string wal_dir = join_path(data_dir, "wal");
    const std::string snapshot_dir = join_path(data_dir, "snapshot");
    if (auto made = env.create_dirs(wal_dir); !made) return unexpected(made.error());
    if (auto made = env.create_dirs(snapshot_dir); !made) return unexpected(made.error());
    if (auto removed = remove_stale_snapshot_tmp(env, snapshot_dir); !removed)
        out.warnings.push_back(removed.error());

    auto snapshot = load_snapshot(env, snapshot_dir, out.keyspace, out.warnings);
    if (!snapshot) return unexpected(snapshot.error());
    std::uint64_t from = 1;
    if (*snapshot) {
        from = (*snapshot)->lsn;
        out.snapshot_lsn = from;
        out.log.vv = (*snapshot)->vv;
        out.log.catchup_floor = (*snapshot)->catchup_floor;
        // The write stamps in the snapshot count as seen.
        std::uint64_t cursor = 0;
        do {
            cursor =
                out.keyspace.scan(cursor, 1024, [&](std::string_view, const crdt::Value& value) {
                    if (const auto latest = value.latest_time())
                        out.clock = crdt::Hlc::receive(out.clock, *latest, physical_ms);
                });
        } while (cursor != 0);
    }

    auto segments = list_segments(env, wal_dir);
    if (!segments) return unexpected(segments.error());
    for (const WalSegment& segment : *segments) {
        auto vv = decode_segment_meta(segment.meta);
        if (!vv) return unexpected(segment.path + ": bad segment header meta: " + vv.error());
        out.log.checkpoints.emplace_back(segment.first_lsn, std::move(*vv));
    }
    if (!segments->empty() && segments->front().first_lsn > from)
        return unexpected(wal_dir + ": the WAL starts at lsn " +
                          std::to_string(segments->front().first_lsn) +
                          " but recovery needs it from lsn " + std::to_string(from) +
                          (out.snapshot_lsn ? " (the snapshot's)" : " (there is no snapshot)") +
                          ": records are missing");

    // Replay from the start of the segment that holds the snapshot's lsn:
    // re-joining records the snapshot already reflects is harmless, and it
    // recovers the request stamps of recent forwarded writes.
    std::uint64_t replay_from = from;
    for (const WalSegment& segment : *segments)
        if (segment.first_lsn <= from) replay_from = segment.first_lsn;

    crdt::VersionVector& vv = out.log.vv;
    std::string problem;
    WalReadOptions options;
    options.truncate_torn_tail = true;
    options.repair = repair_wal;
    auto read = read_wal(
        env, wal_dir, replay_from,
        [&](std::uint64_t lsn, std::string_view payload) {
            auto record = replication::decode_record(payload);
            if (!record) {
                problem = wal_dir + ": record " + std::to_string(lsn) +
                          " passed its CRC but does not decode (" + record.error() + ")";
                return false;
            }
            out.deltas_refused +=
                apply_deltas(out.keyspace, out.clock, record->deltas, physical_ms);
            if (record->request)
                out.executed_requests.emplace_back(*record->request,
                                                   crdt::Dot{record->origin, record->hi});
            switch (record->kind) {
                case LogRecord::Kind::deltas:
                    vv.advance(record->origin, record->hi);
                    break;
                case LogRecord::Kind::state:
                    break;
                case LogRecord::Kind::vv_merge:
                    vv.merge(record->merged);
                    out.log.catchup_floor = lsn + 1;
                    out.log.checkpoints.emplace_back(lsn + 1, vv);
                    break;
                case LogRecord::Kind::clock: break;
            }
            out.records_replayed += lsn >= from ? 1 : 0;
            return true;
        },
        options);
    if (!read) return unexpected(read.error());
    if (!problem.empty()) return unexpected(problem);
    if (read->torn_tail) out.warnings.push_back(describe(*read->torn_tail));
    if (read->repair) {
        out.warnings.push_back(describe(*read->repair));
        out.wal_repaired = true;
    }
    out.log.next_lsn = std::max(read->next_lsn, from);
    std::sort(out.log.checkpoints.begin(), out.log.checkpoints.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

}  // namespace meridian::node
