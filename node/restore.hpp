// Restore: rebuilds a data directory from a backup (node/backup.hpp), and
// from the WAL archive after it, as of a point in time or a version vector.
//
// The restored directory belongs to a new cluster (its own name, by default
// "<cluster>-restored"): restoring into the running cluster would be undone at
// once, because the peers' newer state joins over it. The node refuses to run
// a restored directory under any other cluster name. To bring restored values
// back into the live cluster, read them from a node running the restored
// directory and write them to the live cluster as new writes (README:
// "Backups and point-in-time restore").
//
// Nothing is written until the backup and the archive segments it needs have
// passed their checksums; the directory is built beside the target
// (`<data-dir>.restoring`) and renamed into place last, so a failed restore
// leaves no data directory behind and never touches an existing one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conflict/region_directory.hpp"
#include "crdt/version_vector.hpp"
#include "node/cluster_config.hpp"
#include "storage/backup_manifest.hpp"
#include "storage/env.hpp"

namespace meridian::node {

// Where to stop: the last record appended at or before a wall-clock
// millisecond, or the latest state whose version vector is within `vv`.
// Neither: everything the backup and archive hold.
struct RestoreTarget {
    std::optional<std::uint64_t> unix_ms;
    std::optional<crdt::VersionVector> vv;
};

struct RestoreOptions {
    std::string backup_dir;
    std::string archive_dir;  // "": the backup alone
    RestoreTarget to;
    std::string data_dir;
    const ClusterConfig* config = nullptr;  // the cluster the backup was taken in
    std::string as_cluster;                 // "": "<cluster>-restored"
    bool check_only = false;                // verify and replay, write nothing
};

struct RestoreReport {
    BackupManifest manifest;
    std::string as_cluster;
    std::uint64_t end_lsn = 0;  // one past the last record applied (the backup's numbering)
    std::uint64_t records_applied = 0;
    std::uint64_t archive_segments = 0;  // archive segments read
    std::uint64_t keys = 0;
    std::optional<std::uint64_t> last_unix_ms;  // of the last clock record applied
    crdt::VersionVector vv;
};

Expected<RestoreReport, std::string> restore_backup(Env& env, const RestoreOptions& options);

// At start-up: a directory made by restore runs only under the cluster name it
// was restored as.
Expected<void, std::string> check_restored_data_dir(Env& env, const std::string& data_dir,
                                                    const std::string& cluster);

// "2026-12-04T17:38:15.123Z" (RFC 3339, any offset) or milliseconds since the Unix epoch.
Expected<std::uint64_t, std::string> parse_restore_time(std::string_view text);
// "us-east.0:17 eu-west.1:9" (MERIDIAN VV's output) or "{1.0:17, 2.1:9}".
Expected<crdt::VersionVector, std::string> parse_version_vector(std::string_view text,
                                                                const conflict::RegionDirectory& regions);
// "2026-12-04T17:38:15.123Z"
std::string format_unix_ms(std::uint64_t unix_ms);

}  // namespace meridian::node
