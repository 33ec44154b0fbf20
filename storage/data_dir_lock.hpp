// DataDirLock: one meridian-node per data directory, enforced with flock on `<dir>/node.lock`,
// which also records the holder's pid for the error message. Taken once at start-up by main's
// thread; released when the object is destroyed (or the process dies, even by kill -9).
// Uses the OS directly, not Env: a lock is a held descriptor, not a file access to fault-inject.
#pragma once

#include <string>

#include "crdt/expected.hpp"

namespace meridian::node {

class DataDirLock {
public:
    // Creates dir if needed. Fails with "data directory <dir> is in use by another meridian-node
    // (pid N)" while any process, this one included, holds the lock.
    static Expected<DataDirLock, std::string> acquire(const std::string& dir);

    DataDirLock(DataDirLock&& other) noexcept;
    DataDirLock& operator=(DataDirLock&& other) noexcept;
    DataDirLock(const DataDirLock&) = delete;
    DataDirLock& operator=(const DataDirLock&) = delete;
    ~DataDirLock();

    const std::string& path() const { return path_; }

private:
    DataDirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
    void release();

    std::string path_;
    int fd_ = -1;
};

}  // namespace meridian::node
