#include "storage/wal_archive.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <string_view>

#include "storage/file_copy.hpp"
#include "storage/sha256.hpp"

namespace meridian::node {

namespace {

constexpr std::size_t kLsnDigits = 20;
constexpr std::string_view kSegmentSuffix = ".wal";
constexpr std::string_view kSidecarSuffix = ".sha256";
constexpr std::size_t kShaDigits = 64;
// A sidecar is one short line; anything much longer is not one.
constexpr std::uint64_t kMaxSidecarBytes = 4096;

// The same names wal.cpp's reader takes as segments, so the archive reads as a WAL directory.
std::optional<std::uint64_t> segment_lsn(std::string_view name) {
    if (name.size() != kLsnDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) {
        return std::nullopt;
    }
    std::uint64_t lsn = 0;
    const char* end = name.data() + kLsnDigits;
    const auto [ptr, ec] = std::from_chars(name.data(), end, lsn);
    if (ec != std::errc() || ptr != end || lsn == 0) return std::nullopt;
    return lsn;
}

std::string_view base_name(std::string_view path) {
    const std::size_t slash = path.rfind('/');
    return slash == path.npos ? path : path.substr(slash + 1);
}

std::string sidecar_text(std::string_view sha256, std::string_view name) {
    return std::string(sha256) + "  " + std::string(name) + "\n";
}

bool is_lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The digest in a sidecar for `name`: "<hex>  <name>\n" (or sha256sum's binary-mode "<hex> *").
Expected<std::string, std::string> read_sidecar(Env& env, const std::string& path,
                                                std::string_view name) {
    auto size = env.file_size(path);
    if (!size) return unexpected(size.error());
    if (*size > kMaxSidecarBytes) {
        return unexpected(path + ": malformed checksum file (" + std::to_string(*size) +
                          " bytes, expected one line)");
    }
    auto text = env.read_file(path);
    if (!text) return unexpected(text.error());
    const std::string_view line = *text;
    const bool shaped = line.size() == kShaDigits + 2 + name.size() + 1 && line.back() == '\n' &&
                        is_lower_hex(line.substr(0, kShaDigits)) && line[kShaDigits] == ' ' &&
                        (line[kShaDigits + 1] == ' ' || line[kShaDigits + 1] == '*');
    if (!shaped) {
        return unexpected(path + ": malformed checksum file (expected \"<64 hex digits>  " +
                          std::string(name) + "\")");
    }
    if (line.substr(kShaDigits + 2, name.size()) != name) {
        return unexpected(path + ": checksum file names another file (expected " +
                          std::string(name) + ")");
    }
    return std::string(line.substr(0, kShaDigits));
}

}  // namespace

Expected<ArchivedSegment, std::string> archive_segment(Env& env, const std::string& segment_path,
                                                       const std::string& archive_dir) {
    const std::string_view name = base_name(segment_path);
    const auto lsn = segment_lsn(name);
    if (!lsn) {
        return unexpected(segment_path + ": not a WAL segment (expected <20-digit lsn>.wal)");
    }
    if (auto r = env.create_dirs(archive_dir); !r) return unexpected(r.error());
    // The archive directory itself may be new: make its entry durable too.
    if (auto r = env.sync_dir(parent_dir(archive_dir)); !r) return unexpected(r.error());

    ArchivedSegment archived{*lsn, join_path(archive_dir, name), ""};
    const std::string sidecar = archived.path + std::string(kSidecarSuffix);
    if (env.file_size(sidecar)) {
        auto recorded = read_sidecar(env, sidecar, name);
        if (!recorded) return unexpected(recorded.error());
        auto source = digest_file(env, segment_path);
        if (!source) return unexpected(source.error());
        if (source->sha256 != *recorded) {
            return unexpected(archived.path + ": already archived with other contents (sha256 " +
                              *recorded + ", " + segment_path + " has " + source->sha256 +
                              "); refusing to overwrite");
        }
        // A copy that went missing or was cut short is copied again; verify_archived finds the
        // rest.
        auto copy_size = env.file_size(archived.path);
        if (copy_size && *copy_size == source->bytes) {
            archived.sha256 = std::move(*recorded);
            return archived;
        }
    }
    auto copied = copy_file_durably(env, segment_path, archived.path);
    if (!copied) return unexpected(copied.error());
    if (auto r = write_file_durably(env, sidecar, sidecar_text(copied->sha256, name)); !r) {
        return unexpected(r.error());
    }
    archived.sha256 = std::move(copied->sha256);
    return archived;
}

Expected<std::vector<ArchivedSegment>, std::string> list_archive(
    Env& env, const std::string& archive_dir, std::vector<std::string>* incomplete) {
    auto names = env.list_dir(archive_dir);
    if (!names) return unexpected(names.error());
    const std::set<std::string, std::less<>> present(names->begin(), names->end());
    std::vector<ArchivedSegment> segments;
    for (const std::string& name : *names) {
        const auto lsn = segment_lsn(name);
        if (!lsn) continue;
        std::string path = join_path(archive_dir, name);
        const std::string sidecar_name = name + std::string(kSidecarSuffix);
        if (!present.contains(sidecar_name)) {
            if (incomplete) incomplete->push_back(std::move(path));
            continue;
        }
        auto sha256 = read_sidecar(env, join_path(archive_dir, sidecar_name), name);
        if (!sha256) return unexpected(sha256.error());
        segments.push_back({*lsn, std::move(path), std::move(*sha256)});
    }
    std::sort(segments.begin(), segments.end(),
              [](const ArchivedSegment& a, const ArchivedSegment& b) {
                  return a.first_lsn < b.first_lsn;
              });
    return segments;
}

Expected<void, std::string> verify_archived(Env& env, const ArchivedSegment& segment) {
    auto digest = digest_file(env, segment.path);
    if (!digest) return unexpected(digest.error());
    if (digest->sha256 != segment.sha256) {
        return unexpected(segment.path + ": checksum mismatch (archived file is corrupted)");
    }
    return {};
}

}  // namespace meridian::node
