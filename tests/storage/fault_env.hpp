// Test helpers for storage code: FaultEnv wraps a real Env (files in a TempDir) to fail the next
// append or sync, and to "crash": every file loses what was not synced, files created or renamed
// since their directory's last sync vanish or move back. Thread-safe (an fsync worker may sync
// while the test thread appends).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/env.hpp"

namespace meridian::node::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "meridian-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// XORs one byte of a file in place (mask 0 is refused: it would change nothing).
inline void flip_byte(const std::string& path, std::uint64_t offset, unsigned char mask = 0x20) {
    if (mask == 0) throw std::invalid_argument("flip_byte: mask 0");
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    if (!f.get(c)) throw std::runtime_error("flip_byte: offset past the end of " + path);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ static_cast<char>(mask)));
    if (!f) throw std::runtime_error("flip_byte: write failed on " + path);
}

inline std::uint64_t size_of(const std::string& path) {
    return static_cast<std::uint64_t>(std::filesystem::file_size(path));
}

class FaultEnv final : public Env {
public:
    explicit FaultEnv(Env& base = default_env()) : base_(base) {}

    // The next append writes only the first `bytes_written` bytes, then fails (a short write
    // followed by ENOSPC or EIO).
    void fail_next_append(std::size_t bytes_written = 0) {
        std::lock_guard lock(mutex_);
        append_failure_ = bytes_written;
    }
    void fail_next_sync() {
        std::lock_guard lock(mutex_);
        fail_sync_ = true;
    }
    // Syncs are still recorded (crash() honours them) but not sent to the disk: fsync is most of
    // a storage test's time, and crash() is the only power loss a test sees.
    void skip_disk_syncs() {
        std::lock_guard lock(mutex_);
        disk_syncs_ = false;
    }

    // Power loss: what was not synced is gone. Open WritableFiles must not be used afterwards.
    void crash() {
        std::lock_guard lock(mutex_);
        for (auto it = pending_renames_.rbegin(); it != pending_renames_.rend(); ++it) {
            std::error_code ec;
            std::filesystem::rename(it->second, it->first, ec);
            if (auto node = files_.extract(it->second)) {
                node.key() = it->first;
                files_.insert(std::move(node));
            }
        }
        pending_renames_.clear();
        for (const std::string& path : unsynced_creations_) {
            std::error_code ec;
            std::filesystem::remove(path, ec);
            files_.erase(path);
        }
        unsynced_creations_.clear();
        for (const auto& [path, synced] : files_) {
            std::error_code ec;
            if (std::filesystem::exists(path, ec) &&
                std::filesystem::file_size(path, ec) > synced) {
                std::filesystem::resize_file(path, synced, ec);
            }
        }
    }

    std::uint64_t synced_size(const std::string& path) const {
        std::lock_guard lock(mutex_);
        const auto it = files_.find(path);
        return it == files_.end() ? 0 : it->second;
    }
    // The largest read this env was asked for: a reader that trusts a corrupt length asks big.
    std::size_t largest_read() const {
        std::lock_guard lock(mutex_);
        return largest_read_;
    }
    int appends() const {
        std::lock_guard lock(mutex_);
        return appends_;
    }

    Expected<std::unique_ptr<WritableFile>, std::string> open_append(
        const std::string& path) override {
        const bool existed = static_cast<bool>(base_.file_size(path));
        auto file = base_.open_append(path);
        if (!file) return file;
        std::lock_guard lock(mutex_);
        if (!files_.count(path)) {
            // A file that existed before this env saw it counts as synced.
            files_[path] = existed ? (*file)->size() : 0;
            if (!existed) unsynced_creations_.insert(path);
        }
        return std::unique_ptr<WritableFile>(std::make_unique<File>(*this, path, std::move(*file)));
    }
    Expected<std::string, std::string> read_file(const std::string& path) override {
        auto bytes = base_.read_file(path);
        if (bytes) note_read(bytes->size());
        return bytes;
    }
    Expected<std::string, std::string> read_range(const std::string& path, std::uint64_t offset,
                                                  std::size_t size) override {
        note_read(size);
        return base_.read_range(path, offset, size);
    }
    Expected<std::vector<std::string>, std::string> list_dir(const std::string& dir) override {
        return base_.list_dir(dir);
    }
    IoStatus create_dirs(const std::string& dir) override { return base_.create_dirs(dir); }
    IoStatus remove_file(const std::string& path) override {
        auto r = base_.remove_file(path);
        if (r) {
            std::lock_guard lock(mutex_);
            files_.erase(path);
            unsynced_creations_.erase(path);
        }
        return r;
    }
    IoStatus rename_file(const std::string& from, const std::string& to) override {
        auto r = base_.rename_file(from, to);
        if (!r) return r;
        std::lock_guard lock(mutex_);
        auto node = files_.extract(from);
        files_.erase(to);  // the file it replaces is gone, and so is what was synced of it
        if (node) {
            node.key() = to;
            files_.insert(std::move(node));
        }
        if (unsynced_creations_.erase(from)) {
            unsynced_creations_.insert(to);
        } else {
            pending_renames_.emplace_back(from, to);
        }
        return r;
    }
    IoStatus truncate_file(const std::string& path, std::uint64_t size) override {
        auto r = base_.truncate_file(path, size);
        if (r) {
            std::lock_guard lock(mutex_);
            if (auto it = files_.find(path); it != files_.end()) {
                it->second = std::min(it->second, size);
            }
        }
        return r;
    }
    IoStatus sync_dir(const std::string& dir) override {
        if (disk_syncs()) {
            if (auto r = base_.sync_dir(dir); !r) return r;
        }
        std::lock_guard lock(mutex_);
        const auto trim = [](std::string p) {
            while (p.size() > 1 && p.back() == '/') p.pop_back();
            return p;
        };
        const auto in_dir = [&](const std::string& path) { return parent_dir(path) == trim(dir); };
        std::erase_if(unsynced_creations_, in_dir);
        std::erase_if(pending_renames_, [&](const auto& rename) { return in_dir(rename.second); });
        return {};
    }
    Expected<std::uint64_t, std::string> file_size(const std::string& path) override {
        return base_.file_size(path);
    }

private:
    class File final : public WritableFile {
    public:
        File(FaultEnv& env, std::string path, std::unique_ptr<WritableFile> base)
            : env_(env), path_(std::move(path)), base_(std::move(base)) {}

        IoStatus append(std::string_view data) override {
            std::optional<std::size_t> failure;
            {
                std::lock_guard lock(env_.mutex_);
                ++env_.appends_;
                failure = std::exchange(env_.append_failure_, std::nullopt);
            }
            if (failure) {
                if (auto r = base_->append(data.substr(0, std::min(*failure, data.size()))); !r) {
                    return r;
                }
                return unexpected("write " + path_ + ": No space left on device (injected)");
            }
            return base_->append(data);
        }
        IoStatus sync() override {
            {
                std::lock_guard lock(env_.mutex_);
                if (std::exchange(env_.fail_sync_, false)) {
                    return unexpected("fdatasync " + path_ + ": Input/output error (injected)");
                }
            }
            // Only what was appended before the sync started is known to be durable.
            const std::uint64_t covered = base_->size();
            if (env_.disk_syncs()) {
                if (auto r = base_->sync(); !r) return r;
            }
            std::lock_guard lock(env_.mutex_);
            if (auto it = env_.files_.find(path_); it != env_.files_.end()) {
                it->second = std::max(it->second, covered);
            }
            return {};
        }
        std::uint64_t size() const override { return base_->size(); }

    private:
        FaultEnv& env_;
        std::string path_;
        std::unique_ptr<WritableFile> base_;
    };

    bool disk_syncs() const {
        std::lock_guard lock(mutex_);
        return disk_syncs_;
    }

    void note_read(std::size_t size) {
        std::lock_guard lock(mutex_);
        largest_read_ = std::max(largest_read_, size);
    }

    Env& base_;
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t> files_;  // path -> bytes known to be on disk
    std::set<std::string> unsynced_creations_;
    std::vector<std::pair<std::string, std::string>> pending_renames_;  // from, to
    std::optional<std::size_t> append_failure_;
    bool fail_sync_ = false;
    bool disk_syncs_ = true;
    std::size_t largest_read_ = 0;
    int appends_ = 0;
};

}  // namespace meridian::node::testing
