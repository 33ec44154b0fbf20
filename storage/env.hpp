// Env: every file access of the node (WAL, snapshots) goes through this interface, so tests can
// swap in fault injection (LevelDB style). default_env() is the POSIX one and is thread-safe.
// A WritableFile has one owner thread that append()s; sync() may run on a worker thread at the
// same time. The owner never closes a file a sync may still use: files are held by shared_ptr.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"

namespace meridian::node {

// Error strings name the operation, the path and strerror: "open data/wal/x.wal: Permission
// denied".
using IoStatus = Expected<void, std::string>;

class WritableFile {
public:
    virtual ~WritableFile() = default;
    // Writes all of data at the end of the file (write(2), no user-space buffering). After a
    // failure part of data may be in the file.
    virtual IoStatus append(std::string_view data) = 0;
    // fdatasync: everything appended before the call is on disk when it returns.
    virtual IoStatus sync() = 0;
    // Bytes in the file, counting what this handle appended. Owner thread, or any thread while
    // no append() runs.
    virtual std::uint64_t size() const = 0;
};

class Env {
public:
    virtual ~Env() = default;

    // Opens for appending, creating the file if it is missing.
    virtual Expected<std::unique_ptr<WritableFile>, std::string> open_append(
        const std::string& path) = 0;
    virtual Expected<std::string, std::string> read_file(const std::string& path) = 0;
    // Up to size bytes from offset; fewer only when the file ends first.
    virtual Expected<std::string, std::string> read_range(const std::string& path,
                                                          std::uint64_t offset,
                                                          std::size_t size) = 0;
    // Names (not paths) of the directory's entries, sorted, without "." and "..". A directory
    // that does not exist lists as empty (a first start has no wal/ yet).
    virtual Expected<std::vector<std::string>, std::string> list_dir(const std::string& dir) = 0;
    virtual IoStatus create_dirs(const std::string& dir) = 0;
    virtual IoStatus remove_file(const std::string& path) = 0;
    // Atomically replaces `to` if it exists (rename(2)).
    virtual IoStatus rename_file(const std::string& from, const std::string& to) = 0;
    virtual IoStatus truncate_file(const std::string& path, std::uint64_t size) = 0;
    // Makes the directory's entries (created, renamed files) durable.
    virtual IoStatus sync_dir(const std::string& dir) = 0;
    virtual Expected<std::uint64_t, std::string> file_size(const std::string& path) = 0;
};

Env& default_env();

// "dir/name", without doubling a trailing slash.
std::string join_path(const std::string& dir, std::string_view name);
// The directory holding path ("." for a bare name), for sync_dir after creating or renaming.
std::string parent_dir(const std::string& path);

}  // namespace meridian::node
