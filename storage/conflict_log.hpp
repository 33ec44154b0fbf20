// The conflict feed's file: the latest LWW writes of this region that lost to a concurrent write
// of another region, kept beside the WAL as `<data_dir>/conflicts.log` so that the feed
// survives restarts and crashes. Bounded: it holds at most twice `capacity` entries on disk and
// `capacity` in memory.
//
// Format (little-endian):
//   header: "MRDNCFL1"
//   entry:  u32 length | u32 crc32c(length bytes) | u32 crc32c(payload) | payload
// The payload is a ConflictEntry in the compact archive. Each entry is appended with one
// write(2), so a killed process loses none; a crash of the machine may leave a torn last entry,
// which loading drops. Once the file holds 2 x capacity entries it is rewritten with the newest
// `capacity` (temporary file, fdatasync, rename), so appends stay O(1) on average.
//
// A file that does not parse (a wrong header, a checksum that fails, an entry that does not
// decode) is renamed to `conflicts.log.bad` and the feed starts empty: the feed is a diagnostic,
// and the node must not refuse to start over it. problem() says what was found.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"
#include "crdt/lww_register.hpp"
#include "storage/env.hpp"

namespace meridian::node {

// One LWW write that lost to a concurrent write.
struct ConflictEntry {
    crdt::Hlc detected;  // this region's clock when it saw the loss; increases entry to entry
    std::string key;
    std::optional<std::string> value;  // what the loser wrote (nullopt: it deleted), truncated
    std::uint64_t value_size = 0;      // the loser's whole value's length
    crdt::WriteStamp loser;
    crdt::WriteStamp winner;
    friend bool operator==(const ConflictEntry&, const ConflictEntry&) = default;
};

// What the bytes of a conflict log file hold: the entries before the first problem, and the
// problem (nullopt: none). A torn last entry is not a problem (`torn` says it was there).
struct ParsedConflictLog {
    std::vector<ConflictEntry> entries;
    std::uint64_t valid_bytes = 0;  // the header and the entries that parsed
    bool torn = false;
    std::optional<std::string> problem;
};
ParsedConflictLog parse_conflict_log(std::string_view bytes);

// The bytes of one entry, framed; and of a file's header.
std::string frame_conflict_entry(const ConflictEntry& entry);
inline constexpr std::string_view kConflictLogMagic = "MRDNCFL1";

class ConflictLog {
public:
    struct Options {
        std::size_t capacity = 10'000;  // entries kept; 0 turns the feed off (no file)
        std::size_t value_bytes = 1024;  // a losing value is kept up to this many bytes
    };

    // Loads or creates the file at `path`. Fails only when the file cannot be written at all;
    // a file that does not parse is set aside (see the file comment).
    static Expected<ConflictLog, std::string> open(Env& env, std::string path, Options options);

    ConflictLog(ConflictLog&&) = default;
    ConflictLog& operator=(ConflictLog&&) = default;

    // Keeps `entry` (its value truncated to value_bytes; `detected` raised past the previous
    // entry's if needed) and appends it to the file. On a write error the entry stays in
    // memory, the error is returned, and later records retry the file from a rewrite.
    IoStatus record(ConflictEntry entry);

    // The kept entries, oldest first.
    const std::deque<ConflictEntry>& entries() const { return entries_; }
    // What loading found wrong with the file, or the last write error; empty when neither.
    const std::string& problem() const { return problem_; }
    const Options& options() const { return options_; }

private:
    ConflictLog(Env& env, std::string path, Options options)
        : env_(&env), path_(std::move(path)), options_(options) {}
    // Writes the kept entries to a fresh file in place of the current one.
    IoStatus rewrite();

    Env* env_;
    std::string path_;
    Options options_;
    std::deque<ConflictEntry> entries_;
    std::unique_ptr<WritableFile> file_;  // null when the feed is off or after a write error
    std::size_t entries_in_file_ = 0;
    std::string problem_;
};

}  // namespace meridian::node
