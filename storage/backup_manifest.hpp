// The MANIFEST of a backup directory: which cluster and region the backup is of, the lsn range
// it restores to, and every file with its size and SHA-256, so a backup can be checked and
// restored without the node that wrote it. Human-readable TOML that checksums itself: its last
// line is `# sha256 <hex>` over every byte before it. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"
#include "crdt/ids.hpp"
#include "crdt/version_vector.hpp"

namespace meridian::node {

inline constexpr std::string_view kManifestFile = "MANIFEST";  // in the backup dir
inline constexpr std::string_view kManifestFormat = "meridian-backup/1";
// Far above any real backup (about 150 bytes per WAL segment), so a bogus file is not hashed whole.
inline constexpr std::size_t kManifestMaxBytes = 64u << 20;

struct BackupFile {
    // Relative to the backup dir: "snapshot/<20 digits>.snap" or "wal/<20 digits>.wal".
    std::string path;
    std::uint64_t bytes = 0;
    std::string sha256;  // 64 lowercase hex digits
    friend bool operator==(const BackupFile&, const BackupFile&) = default;
};

// Integers are TOML integers, so at most 2^63 - 1 (data_fingerprint, a hash, is a hex string).
struct BackupManifest {
    std::string cluster;
    std::string region;
    crdt::RegionId region_id = 0;
    std::uint64_t data_fingerprint = 0;  // refuses a restore into a cluster with other policies
    std::uint64_t created_unix_ms = 0;
    std::uint64_t snapshot_lsn = 0;    // the snapshot file's lsn; replay the WAL from here
    std::uint64_t consistent_lsn = 0;  // earliest point the backup can be restored to
    std::uint64_t end_lsn = 0;         // one past the last record in the backup
    std::uint64_t consistent_unix_ms = 0;
    std::uint64_t end_unix_ms = 0;
    crdt::VersionVector version_vector;  // at end_lsn
    std::vector<BackupFile> files;       // the snapshot (snapshot/<snapshot_lsn>.snap), then WAL
                                         // segments in lsn order
    friend bool operator==(const BackupManifest&, const BackupManifest&) = default;
};

// Writes any manifest; only one parse_manifest accepts reads back, so a writer should check
// parse_manifest(encode_manifest(m)) before publishing it.
std::string encode_manifest(const BackupManifest& manifest);

// Checks the last line's checksum first, then the format, the keys (unknown ones included: a
// typo must not pass silently), the lsn order and the file list. The error is one line without
// the manifest's path: callers prefix it. Never throws, whatever the input.
Expected<BackupManifest, std::string> parse_manifest(std::string_view text);

}  // namespace meridian::node
