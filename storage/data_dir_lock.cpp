#include "storage/data_dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace meridian::node {

namespace {

[[maybe_unused]] std::string strerror_result(int rc, const char* buf) {
    return rc == 0 ? std::string(buf) : "unknown error";
}
[[maybe_unused]] std::string strerror_result(const char* text, const char*) {
    return text;
}

std::string errno_text(int err) {
    char buf[256] = {};
    return strerror_result(strerror_r(err, buf, sizeof buf), buf);
}

// The holder writes its pid right after taking the lock, so a racing reader may see nothing yet.
std::string holder_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string pid;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid.push_back(buf[i]);
    return pid.empty() ? "unknown" : pid;
}

}  // namespace

Expected<DataDirLock, std::string> DataDirLock::acquire(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return unexpected("create data directory " + dir + ": " + ec.message());
    std::string path = (std::filesystem::path(dir) / "node.lock").string();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return unexpected("open " + path + ": " + errno_text(errno));
    // flock belongs to the open file description, so a second open in this same process is
    // refused too (fcntl locks would silently succeed there).
    int rc;
    do {
        rc = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        const int err = errno;
        std::string message;
        if (err == EWOULDBLOCK) {
            message = "data directory " + dir + " is in use by another meridian-node (pid " +
                      holder_pid(fd) + ")";
        } else {
            message = "lock " + path + ": " + errno_text(err);
        }
        ::close(fd);
        return unexpected(std::move(message));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) < 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int err = errno;
        ::close(fd);
        return unexpected("write " + path + ": " + errno_text(err));
    }
    return DataDirLock(std::move(path), fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

DataDirLock::~DataDirLock() {
    release();
}

// The file stays: unlinking it would let a later acquirer lock a fresh inode while a racing one
// still holds the old, and both would run. Closing drops the flock.
void DataDirLock::release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

}  // namespace meridian::node
