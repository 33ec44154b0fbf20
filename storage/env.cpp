#include "storage/env.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace meridian::node {

namespace {

// strerror is not thread-safe; strerror_r has a GNU and an XSI flavour, told apart by overload.
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

Unexpected<std::string> os_error(std::string_view op, const std::string& path, int err = errno) {
    return unexpected(std::string(op) + " " + path + ": " + errno_text(err));
}

// Closes on every path out of a function.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

int open_retrying(const char* path, int flags, mode_t mode = 0) {
    int fd;
    do {
        fd = ::open(path, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

class PosixWritableFile final : public WritableFile {
public:
    PosixWritableFile(std::string path, int fd, std::uint64_t size)
        : path_(std::move(path)), fd_(fd), size_(size) {}
    ~PosixWritableFile() override { ::close(fd_); }

    IoStatus append(std::string_view data) override {
        while (!data.empty()) {
            const ssize_t n = ::write(fd_, data.data(), data.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                return os_error("write", path_);
            }
            size_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return {};
    }

    IoStatus sync() override {
        int rc;
        do {
            rc = ::fdatasync(fd_);
        } while (rc < 0 && errno == EINTR);
        if (rc < 0) return os_error("fdatasync", path_);
        return {};
    }

    std::uint64_t size() const override { return size_.load(std::memory_order_relaxed); }

private:
    const std::string path_;
    const int fd_;
    // Atomic because a sync worker may ask while the owner appends.
    std::atomic<std::uint64_t> size_;
};

class PosixEnv final : public Env {
public:
    Expected<std::unique_ptr<WritableFile>, std::string> open_append(
        const std::string& path) override {
        const int fd = open_retrying(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0) return os_error("open", path);
        struct stat st {};
        if (::fstat(fd, &st) < 0) {
            const int err = errno;
            ::close(fd);
            return os_error("stat", path, err);
        }
        return std::unique_ptr<WritableFile>(
            std::make_unique<PosixWritableFile>(path, fd, static_cast<std::uint64_t>(st.st_size)));
    }

    Expected<std::string, std::string> read_file(const std::string& path) override {
        auto size = file_size(path);
        if (!size) return unexpected(size.error());
        return read_range(path, 0, static_cast<std::size_t>(*size));
    }

    Expected<std::string, std::string> read_range(const std::string& path, std::uint64_t offset,
                                                  std::size_t size) override {
        Fd fd(open_retrying(path.c_str(), O_RDONLY));
        if (fd.get() < 0) return os_error("open", path);
        struct stat st {};
        if (::fstat(fd.get(), &st) < 0) return os_error("stat", path);
        // Never allocate more than the file can deliver, whatever the caller asked for.
        const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
        const std::uint64_t available = offset < file_bytes ? file_bytes - offset : 0;
        std::string out(static_cast<std::size_t>(std::min<std::uint64_t>(size, available)), '\0');
        std::size_t done = 0;
        while (done < out.size()) {
            const ssize_t n = ::pread(fd.get(), out.data() + done, out.size() - done,
                                      static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return os_error("read", path);
            }
            if (n == 0) break;  // the file shrank since fstat
            done += static_cast<std::size_t>(n);
        }
        out.resize(done);
        return out;
    }

    Expected<std::vector<std::string>, std::string> list_dir(const std::string& dir) override {
        DIR* d = ::opendir(dir.c_str());
        if (d == nullptr) {
            if (errno == ENOENT) return std::vector<std::string>{};
            return os_error("opendir", dir);
        }
        std::vector<std::string> names;
        errno = 0;
        while (const dirent* entry = ::readdir(d)) {
            const std::string_view name = entry->d_name;
            if (name != "." && name != "..") names.emplace_back(name);
            errno = 0;
        }
        const int err = errno;
        ::closedir(d);
        if (err != 0) return os_error("readdir", dir, err);
        std::sort(names.begin(), names.end());
        return names;
    }

    IoStatus create_dirs(const std::string& dir) override {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) return unexpected("create directory " + dir + ": " + ec.message());
        return {};
    }

    IoStatus remove_file(const std::string& path) override {
        if (::unlink(path.c_str()) < 0) return os_error("remove", path);
        return {};
    }

    IoStatus rename_file(const std::string& from, const std::string& to) override {
        if (::rename(from.c_str(), to.c_str()) < 0) return os_error("rename " + from + " to", to);
        return {};
    }

    IoStatus truncate_file(const std::string& path, std::uint64_t size) override {
        int rc;
        do {
            rc = ::truncate(path.c_str(), static_cast<off_t>(size));
        } while (rc < 0 && errno == EINTR);
        if (rc < 0) return os_error("truncate", path);
        return {};
    }

    IoStatus sync_dir(const std::string& dir) override {
        Fd fd(open_retrying(dir.c_str(), O_RDONLY | O_DIRECTORY));
        if (fd.get() < 0) return os_error("open directory", dir);
        int rc;
        do {
            rc = ::fsync(fd.get());
        } while (rc < 0 && errno == EINTR);
        if (rc < 0) return os_error("fsync directory", dir);
        return {};
    }

    Expected<std::uint64_t, std::string> file_size(const std::string& path) override {
        struct stat st {};
        if (::stat(path.c_str(), &st) < 0) return os_error("stat", path);
        return static_cast<std::uint64_t>(st.st_size);
    }
};

}  // namespace

Env& default_env() {
    static PosixEnv env;
    return env;
}

std::string join_path(const std::string& dir, std::string_view name) {
    if (dir.empty()) return std::string(name);
    std::string out = dir;
    if (out.back() != '/') out.push_back('/');
    out.append(name);
    return out;
}

std::string parent_dir(const std::string& path) {
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    const std::string parent = std::filesystem::path(trimmed).parent_path().string();
    return parent.empty() ? "." : parent;
}

}  // namespace meridian::node
