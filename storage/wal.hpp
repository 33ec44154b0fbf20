// The write-ahead log: opaque records numbered by LSN in CRC-checked segment files
// `<dir>/<20-digit first LSN>.wal`. One owner thread holds the WalWriter; an fsync worker may
// sync current_file() concurrently. The read functions keep no state and may run on any thread,
// also while a writer appends (an incomplete record at the live end then reads as a torn tail).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"
#include "storage/env.hpp"

namespace meridian::node {

// Format (little-endian):
//   segment header: "MRDNWAL1" | u64 first_lsn | u32 meta_length | meta | u32 crc32c(all before)
//   record:         u32 length | u32 crc32c(length bytes) | u32 crc32c(payload) | payload
// The length has its own CRC so a flipped bit there is detected, never mistaken for a record
// running past the end of the file. LSNs are implicit: contiguous within and across segments.
inline constexpr std::uint32_t kWalMaxRecordBytes = 1u << 30;
inline constexpr std::uint32_t kWalMaxMetaBytes = 1u << 20;
inline constexpr std::size_t kWalRecordOverhead = 12;

struct WalWriterOptions {
    std::uint64_t segment_bytes = 64ull << 20;  // should_roll() once a segment reaches this
};

class WalWriter {
public:
    // Starts a fresh segment whose first record will be next_lsn, with the caller's meta (the
    // version vector at the start of the segment). Call after recovery, with the next_lsn of a
    // read_wal() that truncated the torn tail (truncate_torn_tail or repair): a torn tail left in
    // place would sit before the new segment and read as corruption next time. Creates dir if
    // needed; syncs the new segment's header and the directory, so the segment survives a crash.
    static Expected<WalWriter, std::string> open(Env& env, std::string dir, std::uint64_t next_lsn,
                                                 std::string_view meta,
                                                 WalWriterOptions options = {});

    WalWriter(WalWriter&&) = default;
    WalWriter& operator=(WalWriter&&) = default;
    // Does no I/O: call flush()/sync() first; buffered records are lost otherwise.
    ~WalWriter() = default;

    // Buffers one record and returns its LSN. Fails for a payload above kWalMaxRecordBytes, and
    // once the writer is broken (see flush()).
    Expected<std::uint64_t, std::string> append(std::string_view payload);
    // Writes the buffer with one append: afterwards a crash of the process loses nothing. A failed
    // write or sync breaks the writer for good (every later call returns that error): the file
    // may hold part of a record, which recovery truncates as a torn tail, and writing valid
    // records after it would turn it into corruption.
    Expected<void, std::string> flush();
    // flush() and fdatasync on this thread (shutdown; fsync=always without a worker).
    Expected<void, std::string> sync();

    bool should_roll() const;
    // Flushes and syncs the current segment and starts a new one at next_lsn() with meta.
    Expected<void, std::string> roll(std::string_view meta);

    // For an fsync worker: syncing it makes every record up to flushed_lsn() (read before the
    // sync is handed over) durable.
    std::shared_ptr<WritableFile> current_file() const { return file_; }
    std::uint64_t next_lsn() const { return next_lsn_; }
    // The last LSN handed to the OS by flush(); next_lsn() - 1 after a flush.
    std::uint64_t flushed_lsn() const { return flushed_next_lsn_ - 1; }
    std::uint64_t segment_first_lsn() const { return segment_first_lsn_; }
    const std::string& segment_path() const { return segment_path_; }
    // The current segment's size including records not yet flushed.
    std::uint64_t segment_bytes() const;
    std::size_t buffered_bytes() const { return buffer_.size(); }
    bool broken() const { return broken_.has_value(); }

private:
    WalWriter(Env& env, std::string dir, WalWriterOptions options)
        : env_(&env), dir_(std::move(dir)), options_(options) {}
    Expected<void, std::string> start_segment(std::string_view meta);
    Expected<void, std::string> fail(std::string error);

    Env* env_;
    std::string dir_;
    WalWriterOptions options_;
    std::shared_ptr<WritableFile> file_;
    std::string segment_path_;
    std::uint64_t segment_first_lsn_ = 0;
    std::uint64_t next_lsn_ = 0;
    std::uint64_t flushed_next_lsn_ = 0;
    std::string buffer_;
    std::optional<std::string> broken_;
};

struct WalSegment {
    std::uint64_t first_lsn = 0;
    std::string path;
    std::uint64_t size = 0;          // bytes in the file, header included
    std::uint64_t header_bytes = 0;  // where the first record starts
    std::string meta;
};

// The segments in LSN order, headers validated. A last segment whose header is still incomplete
// (being created, or torn by a crash) holds no records and is left out; any other bad header is
// an error naming the file.
Expected<std::vector<WalSegment>, std::string> list_segments(Env& env, const std::string& dir);

// Where a read stopped: resume a later read_wal() there instead of scanning from the start of
// the segment (catch-up reads the WAL in batches).
struct WalPosition {
    std::uint64_t segment_first_lsn = 0;
    std::uint64_t offset = 0;  // of the record numbered lsn
    std::uint64_t lsn = 0;
};

// An incomplete or bad record at the end of the last segment with no valid record after it: what
// a crash in the middle of a write leaves. offset 0 means the segment's header itself is torn.
struct WalTornTail {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t lsn = 0;    // the LSN the torn record would have had
    std::uint64_t bytes = 0;  // from offset to the end of the file
    std::string problem;
    bool truncated = false;  // WalReadOptions::truncate_torn_tail removed it
};

// What WalReadOptions::repair dropped at a corruption.
struct WalRepair {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t lsn = 0;
    std::uint64_t bytes_dropped = 0;  // this segment's rest plus every later segment
    std::size_t segments_removed = 0;
    std::string problem;
};

struct WalReadResult {
    std::uint64_t next_lsn = 0;  // one past the last record read; from_lsn when the WAL is empty
    WalPosition end;             // resume point (meaningful when a segment was read)
    bool stopped = false;        // visit returned false
    std::optional<WalTornTail> torn_tail;
    std::optional<WalRepair> repair;
};

struct WalReadOptions {
    // Recovery at start: cut a torn tail off (and sync) so the writer can append after it.
    // Never on a WAL a writer is appending to.
    bool truncate_torn_tail = false;
    // Operator-requested (--repair-wal): truncate at a corruption instead of failing, dropping
    // everything after it, later segments included. Implies truncate_torn_tail.
    bool repair = false;
    std::optional<WalPosition> resume;  // from a previous result's `end`
};

// Return false to stop reading after this record.
using WalVisitor = std::function<bool(std::uint64_t lsn, std::string_view payload)>;

// Calls visit for every record with lsn >= from_lsn, in order. Corruption (a bad record followed
// by valid data, a bad record in any segment but the last, a bad segment header, an LSN gap
// between segments) is an error naming the file and byte offset, unless options.repair; records
// before it may already have been visited. Asking for records older than the first segment is an
// error too (they were removed by retention).
Expected<WalReadResult, std::string> read_wal(Env& env, const std::string& dir,
                                              std::uint64_t from_lsn, const WalVisitor& visit,
                                              const WalReadOptions& options = {});

// One line for the log: "<path>: torn record at offset 4096 (lsn 17, 23 bytes): bad CRC;
// truncated".
std::string describe(const WalTornTail& tail);
std::string describe(const WalRepair& repair);

// Retention: deletes, oldest first, the segments all of whose records are < lsn; never the last
// segment. Returns the bytes removed.
Expected<std::uint64_t, std::string> remove_segments_before(Env& env, const std::string& dir,
                                                            std::uint64_t lsn);
// Bytes in all segment files.
Expected<std::uint64_t, std::string> wal_size(Env& env, const std::string& dir);

// "<dir>/00000000000000000017.wal"
std::string wal_segment_path(const std::string& dir, std::uint64_t first_lsn);

}  // namespace meridian::node
