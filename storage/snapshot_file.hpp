// Snapshot files: a node's full state as LZ4-compressed chunks in `<dir>/<20-digit LSN>.snap`,
// written as `<LSN>.tmp`, fsynced and renamed, so a crash leaves either the old set of snapshots or
// the new one. A SnapshotWriter is used by one thread at a time (a worker); the free functions
// keep no state and may run on any thread.
//
// The caller's ordering duties: the WAL is durable through lsn before finish() (recovery replays
// from lsn + 1 and cannot bridge a gap), and WAL segments below lsn are dropped only after it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"
#include "storage/env.hpp"

namespace meridian::node {

// Format (little-endian):
//   header: "MRDNSNP1" | u64 lsn | u32 meta_length | meta | u32 crc32c(all before)
//   chunk:  u32 raw_length | u32 compressed_length | u32 crc32c(compressed) | LZ4 block
//   footer: u32 0xFFFFFFFF | u64 chunk_count | u32 crc32c(marker and count); then end of file
inline constexpr std::uint32_t kSnapshotMaxChunkBytes = 256u << 20;
inline constexpr std::uint32_t kSnapshotMaxMetaBytes = 16u << 20;

class SnapshotWriter {
public:
    // Starts `<dir>/<lsn>.tmp` (replacing a stale one) with the caller's meta (LSN, version
    // vector...). Creates dir if needed.
    static Expected<SnapshotWriter, std::string> open(Env& env, std::string dir, std::uint64_t lsn,
                                                      std::string_view meta);

    SnapshotWriter(SnapshotWriter&& other) noexcept;
    SnapshotWriter& operator=(SnapshotWriter&& other) noexcept;
    // An unfinished snapshot's .tmp file is removed.
    ~SnapshotWriter();

    // Compresses and writes one chunk (at most kSnapshotMaxChunkBytes of raw bytes).
    Expected<void, std::string> add_chunk(std::string_view raw);
    // Footer, fdatasync, rename to .snap, directory fsync. Returns the snapshot's path.
    Expected<std::string, std::string> finish();

    std::uint64_t lsn() const { return lsn_; }
    std::uint64_t chunk_count() const { return chunks_; }
    std::uint64_t bytes_written() const { return file_ ? file_->size() : 0; }

private:
    SnapshotWriter() = default;
    void abandon();

    Env* env_ = nullptr;
    std::string dir_;
    std::uint64_t lsn_ = 0;
    std::string tmp_path_;
    std::unique_ptr<WritableFile> file_;  // null once finished or abandoned
    std::uint64_t chunks_ = 0;
};

struct SnapshotFile {
    std::uint64_t lsn = 0;
    std::string path;
    std::uint64_t size = 0;
};

// The finished snapshots (`*.snap`), newest first; contents not validated (read_snapshot does).
// Stale .tmp files are not listed.
Expected<std::vector<SnapshotFile>, std::string> list_snapshots(Env& env, const std::string& dir);

struct SnapshotSummary {
    std::uint64_t chunks = 0;
    std::uint64_t raw_bytes = 0;
};

// A callback's error stops the read and is returned, prefixed with the path and chunk.
using SnapshotMetaVisitor = std::function<Expected<void, std::string>(std::string_view meta)>;
using SnapshotChunkVisitor = std::function<Expected<void, std::string>(std::string_view raw)>;

// Validates and streams a snapshot: on_meta once, then on_chunk for each chunk in order. A
// truncated file, a CRC mismatch, a chunk that does not decompress to its raw_length, a missing
// or wrong footer are errors naming the path and offset. Chunks before the problem have already
// been delivered: on error, discard what was built from them.
Expected<SnapshotSummary, std::string> read_snapshot(Env& env, const std::string& path,
                                                     const SnapshotMetaVisitor& on_meta,
                                                     const SnapshotChunkVisitor& on_chunk);

// Removes all but the newest `keep` (>= 1) snapshots. Returns how many were removed.
Expected<std::size_t, std::string> remove_old_snapshots(Env& env, const std::string& dir,
                                                        std::size_t keep);
// Removes the .tmp files a crash left behind. Only while no SnapshotWriter is running (start-up).
Expected<std::size_t, std::string> remove_stale_snapshot_tmp(Env& env, const std::string& dir);

// "<dir>/00000000000000000017.snap"
std::string snapshot_path(const std::string& dir, std::uint64_t lsn);

}  // namespace meridian::node
