// The cluster file: every region's addresses, the shared secret, the conflict
// policies and the tunables, read and validated once at start-up (by main, on
// its thread). The result is immutable and may be shared by every thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conflict/policy.hpp"
#include "conflict/region_directory.hpp"
#include "crdt/expected.hpp"
#include "crdt/ids.hpp"

namespace meridian::node {

enum class FsyncMode { always, everysec, no };

struct RegionConfig {
    crdt::RegionId id = 0;
    std::string name;
    // "host:port" (an IPv6 host in brackets), the port in plain decimal.
    std::string client_listen;  // RESP
    std::string peer_listen;    // replication
    std::string admin_listen;   // HTTP /metrics /status; "" = off
    std::string data_dir;       // default "data/<name>"
    std::string archive_dir;    // closed WAL segments are copied here; "" = no archiving
};

// Paths as written, or resolved against the cluster file's folder when
// relative. Either all three are set or none (TLS off).
struct TlsConfig {
    std::string cert_file;
    std::string key_file;
    std::string ca_file;

    bool enabled() const { return !cert_file.empty(); }
};

struct ClusterConfig {
    std::string source;  // the file name, for messages
    std::string cluster;
    std::string secret;  // `secret`, or the contents of `secret_file` (trailing newline trimmed)
    FsyncMode fsync = FsyncMode::everysec;
    std::vector<RegionConfig> regions;  // in file order
    conflict::RegionDirectory directory;
    conflict::PolicyTable policies;
    TlsConfig tls;

    // Tunables: optional top-level keys with these defaults.
    std::uint64_t wal_retention_bytes = 1ull << 30;
    std::uint64_t wal_segment_bytes = 64ull << 20;
    std::uint64_t log_tail_bytes = 64ull << 20;
    std::uint64_t snapshot_every_records = 1'000'000;
    std::uint32_t snapshot_every_seconds = 300;
    std::uint32_t max_clients = 10'000;
    std::uint64_t max_bulk_bytes = 64ull << 20;
    std::uint32_t max_args = 1u << 20;
    std::string requirepass;              // empty: no AUTH needed
    std::uint32_t client_timeout_ms = 0;  // idle clients closed after this; 0 = never
    std::uint32_t forward_timeout_ms = 1000;
    std::uint32_t rights_timeout_ms = 500;
    // How long a home's owner may execute its writes after regions renewed its lease, and so
    // how long a failover waits for a dead owner's lease to run out (conflict/home_table.hpp).
    std::uint32_t home_lease_ms = 3000;
    // When not 0: the lowest region that, with a majority, has lost a home's owner for this long
    // fails that owner's homes over to itself. Off by default: a failover is an operator's call.
    std::uint32_t failover_after_ms = 0;
    std::uint64_t batch_bytes = 256u << 10;
    std::uint64_t conflict_log_entries = 10'000;    // the conflict feed's length; 0 = off
    std::uint64_t conflict_log_value_bytes = 1024;  // a losing value is kept up to this
    std::uint32_t heartbeat_ms = 500;
    std::uint32_t peer_timeout_ms = 3000;
    std::uint32_t relay_delay_ms = 200;
    std::uint32_t reconnect_min_ms = 50;
    std::uint32_t reconnect_max_ms = 5000;
    // With an archive_dir: a segment holding records is closed (and so
    // archived) at the latest this long after it was opened; 0 = only when full.
    std::uint32_t archive_timeout_ms = 60'000;
    std::string log_level = "info";  // trace debug info warn error critical off

    const RegionConfig* find_region(std::string_view name) const;
    const RegionConfig* find_region(crdt::RegionId id) const;
    // policy_fingerprint(cluster, directory, policies): what peers compare.
    std::uint64_t fingerprint() const;
    // The same without the cluster's name: what decides how stored data reads
    // (regions and policies). A backup restores only under an equal one.
    std::uint64_t data_fingerprint() const;
};

// Parses and validates a cluster file's text. Errors are one line naming the
// file, the entry and the problem, e.g.
//   cluster.toml: [[policy]] #2 (match = "acct:*"): home "mars" is not a region (regions: us-east)
//   cluster.toml: [[regions]] #3: duplicate id 2 (also used by eu-west)
//   cluster.toml: unknown key "fsynk" (did you mean "fsync"?)
//   cluster.toml:12:5: TOML parse error: ...
// A relative `secret_file` (or TLS path) is taken from the folder of
// `source_name`; that file is the only I/O done here.
Expected<ClusterConfig, std::string> parse_cluster_config(std::string_view toml_text,
                                                          std::string_view source_name);

// Reads the file at `path` and parses it, naming it `path` in messages.
Expected<ClusterConfig, std::string> load_cluster_config(const std::string& path);

}  // namespace meridian::node
