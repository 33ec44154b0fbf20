#include "storage/snapshot_file.hpp"

#include <lz4.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

namespace meridian::node {

namespace {

constexpr std::string_view kMagic = "MRDNSNP1";
constexpr std::size_t kHeaderFixed = 8 + 8 + 4;  // magic, lsn, meta_length
constexpr std::size_t kChunkFrame = 12;
constexpr std::uint32_t kFooterMarker = 0xFFFFFFFF;
constexpr std::size_t kFooterBytes = 4 + 8 + 4;
constexpr std::size_t kDigits = 20;
constexpr std::string_view kSnapSuffix = ".snap";
constexpr std::string_view kTmpSuffix = ".tmp";
// LZ4 cannot expand more than 255 times (a match length grows by 255 per byte); anything
// claiming more is corrupt and must not get its raw_length allocated.
constexpr std::uint64_t kLz4MaxRatio = 255;

std::string lsn_name(std::uint64_t lsn, std::string_view suffix) {
    std::string digits = std::to_string(lsn);
    digits.insert(0, kDigits - std::min(kDigits, digits.size()), '0');
    return digits + std::string(suffix);
}

std::optional<std::uint64_t> parse_name(std::string_view name, std::string_view suffix) {
    if (name.size() != kDigits + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
    std::uint64_t lsn = 0;
    const char* end = name.data() + kDigits;
    const auto [ptr, ec] = std::from_chars(name.data(), end, lsn);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return lsn;
}

std::string base_name(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string encode_footer(std::uint64_t chunks) {
    std::string out;
    put_u32(out, kFooterMarker);
    put_u64(out, chunks);
    put_u32(out, crc32c(out));
    return out;
}

// Reads exactly the requested ranges of one file; every length was checked against the file's
// size before it gets here.
class SnapshotReader {
public:
    SnapshotReader(Env& env, const std::string& path, std::uint64_t size)
        : env_(env), path_(path), size_(size) {}

    std::uint64_t left(std::uint64_t offset) const { return offset < size_ ? size_ - offset : 0; }

    Expected<std::string, std::string> read(std::uint64_t offset, std::size_t n) {
        auto bytes = env_.read_range(path_, offset, n);
        if (!bytes) return unexpected(bytes.error());
        if (bytes->size() != n) return unexpected(path_ + ": file shrank while reading");
        return bytes;
    }

    Unexpected<std::string> error(std::uint64_t offset, const std::string& problem) const {
        return unexpected(path_ + ": " + problem + " at offset " + std::to_string(offset));
    }

private:
    Env& env_;
    const std::string& path_;
    std::uint64_t size_;
};

}  // namespace

std::string snapshot_path(const std::string& dir, std::uint64_t lsn) {
    return join_path(dir, lsn_name(lsn, kSnapSuffix));
}

// ---- writer ----

Expected<SnapshotWriter, std::string> SnapshotWriter::open(Env& env, std::string dir,
                                                           std::uint64_t lsn,
                                                           std::string_view meta) {
    if (meta.size() > kSnapshotMaxMetaBytes) {
        return unexpected("snapshot meta of " + std::to_string(meta.size()) +
                          " bytes exceeds the limit");
    }
    if (auto r = env.create_dirs(dir); !r) return unexpected(r.error());
    std::string tmp_path = join_path(dir, lsn_name(lsn, kTmpSuffix));
    // A stale .tmp of the same name would otherwise be appended to.
    if (env.file_size(tmp_path)) {
        if (auto r = env.remove_file(tmp_path); !r) return unexpected(r.error());
    }
    auto file = env.open_append(tmp_path);
    if (!file) return unexpected(file.error());

    SnapshotWriter writer;
    writer.env_ = &env;
    writer.dir_ = std::move(dir);
    writer.lsn_ = lsn;
    writer.tmp_path_ = std::move(tmp_path);
    writer.file_ = std::move(*file);

    std::string header(kMagic);
    put_u64(header, lsn);
    put_u32(header, static_cast<std::uint32_t>(meta.size()));
    header.append(meta);
    put_u32(header, crc32c(header));
    if (auto r = writer.file_->append(header); !r) return unexpected(r.error());
    return writer;
}

SnapshotWriter::SnapshotWriter(SnapshotWriter&& other) noexcept
    : env_(other.env_),
      dir_(std::move(other.dir_)),
      lsn_(other.lsn_),
      tmp_path_(std::move(other.tmp_path_)),
      file_(std::move(other.file_)),
      chunks_(other.chunks_) {}

SnapshotWriter& SnapshotWriter::operator=(SnapshotWriter&& other) noexcept {
    if (this != &other) {
        abandon();
        env_ = other.env_;
        dir_ = std::move(other.dir_);
        lsn_ = other.lsn_;
        tmp_path_ = std::move(other.tmp_path_);
        file_ = std::move(other.file_);
        chunks_ = other.chunks_;
    }
    return *this;
}

SnapshotWriter::~SnapshotWriter() {
    abandon();
}

void SnapshotWriter::abandon() {
    if (!file_) return;
    file_.reset();
    // Best effort: a leftover .tmp is ignored by readers and removed at the next start.
    (void)env_->remove_file(tmp_path_);
}

Expected<void, std::string> SnapshotWriter::add_chunk(std::string_view raw) {
    if (!file_) return unexpected(tmp_path_ + ": snapshot already finished");
    if (raw.size() > kSnapshotMaxChunkBytes) {
        return unexpected("snapshot chunk of " + std::to_string(raw.size()) +
                          " bytes exceeds the 256 MiB limit");
    }
    const int raw_size = static_cast<int>(raw.size());
    std::string frame(kChunkFrame + static_cast<std::size_t>(LZ4_compressBound(raw_size)), '\0');
    const int compressed = LZ4_compress_default(raw.data(), frame.data() + kChunkFrame, raw_size,
                                                static_cast<int>(frame.size() - kChunkFrame));
    if (compressed <= 0) return unexpected(tmp_path_ + ": LZ4 compression failed");
    frame.resize(kChunkFrame + static_cast<std::size_t>(compressed));
    set_u32(frame.data(), static_cast<std::uint32_t>(raw.size()));
    set_u32(frame.data() + 4, static_cast<std::uint32_t>(compressed));
    set_u32(frame.data() + 8, crc32c(std::string_view(frame).substr(kChunkFrame)));
    if (auto r = file_->append(frame); !r) return r;
    ++chunks_;
    return {};
}

Expected<std::string, std::string> SnapshotWriter::finish() {
    if (!file_) return unexpected(tmp_path_ + ": snapshot already finished");
    if (auto r = file_->append(encode_footer(chunks_)); !r) return unexpected(r.error());
    if (auto r = file_->sync(); !r) return unexpected(r.error());
    const std::string path = snapshot_path(dir_, lsn_);
    if (auto r = env_->rename_file(tmp_path_, path); !r) return unexpected(r.error());
    file_.reset();  // finished: nothing for the destructor to remove
    if (auto r = env_->sync_dir(dir_); !r) return unexpected(r.error());
    return path;
}

// ---- reading ----

Expected<std::vector<SnapshotFile>, std::string> list_snapshots(Env& env, const std::string& dir) {
    auto names = env.list_dir(dir);
    if (!names) return unexpected(names.error());
    std::vector<SnapshotFile> snapshots;
    for (const std::string& name : *names) {
        const auto lsn = parse_name(name, kSnapSuffix);
        if (!lsn) continue;
        std::string path = join_path(dir, name);
        auto size = env.file_size(path);
        if (!size) return unexpected(size.error());
        snapshots.push_back({*lsn, std::move(path), *size});
    }
    std::sort(snapshots.begin(), snapshots.end(),
              [](const SnapshotFile& a, const SnapshotFile& b) { return a.lsn > b.lsn; });
    return snapshots;
}

Expected<SnapshotSummary, std::string> read_snapshot(Env& env, const std::string& path,
                                                     const SnapshotMetaVisitor& on_meta,
                                                     const SnapshotChunkVisitor& on_chunk) {
    auto size = env.file_size(path);
    if (!size) return unexpected(size.error());
    SnapshotReader in(env, path, *size);

    if (in.left(0) < kHeaderFixed) return in.error(0, "truncated inside the header");
    auto fixed = in.read(0, kHeaderFixed);
    if (!fixed) return unexpected(fixed.error());
    if (std::string_view(*fixed).substr(0, kMagic.size()) != kMagic) {
        return in.error(0, "not a snapshot (bad magic)");
    }
    const std::uint64_t lsn = get_u64(fixed->data() + 8);
    const std::uint32_t meta_length = get_u32(fixed->data() + 16);
    if (meta_length > kSnapshotMaxMetaBytes) {
        return in.error(16, "meta length " + std::to_string(meta_length) + " above the limit");
    }
    if (in.left(kHeaderFixed) < meta_length + 4u) return in.error(0, "truncated inside the header");
    auto rest = in.read(kHeaderFixed, meta_length + 4u);
    if (!rest) return unexpected(rest.error());
    std::string covered = std::move(*fixed);
    covered.append(*rest, 0, meta_length);
    if (crc32c(covered) != get_u32(rest->data() + meta_length)) {
        return in.error(0, "CRC mismatch in the header");
    }
    if (const auto named = parse_name(base_name(path), kSnapSuffix); named && *named != lsn) {
        return in.error(8, "header says lsn " + std::to_string(lsn));
    }
    if (auto r = on_meta(std::string_view(*rest).substr(0, meta_length)); !r) {
        return unexpected(path + ": meta: " + r.error());
    }

    SnapshotSummary summary;
    std::uint64_t offset = kHeaderFixed + meta_length + 4u;
    for (;;) {
        const std::string chunk_name = "chunk " + std::to_string(summary.chunks);
        if (in.left(offset) < 4) return in.error(offset, "truncated: missing footer");
        auto first = in.read(offset, 4);
        if (!first) return unexpected(first.error());
        if (get_u32(first->data()) == kFooterMarker) break;
        if (in.left(offset) < kChunkFrame) {
            return in.error(offset, "truncated inside the frame of " + chunk_name);
        }
        auto frame = in.read(offset, kChunkFrame);
        if (!frame) return unexpected(frame.error());
        const std::uint32_t raw_length = get_u32(frame->data());
        const std::uint32_t compressed_length = get_u32(frame->data() + 4);
        const std::uint32_t crc = get_u32(frame->data() + 8);
        if (raw_length > kSnapshotMaxChunkBytes) {
            return in.error(offset, chunk_name + " raw length " + std::to_string(raw_length) +
                                        " above the 256 MiB limit");
        }
        if (compressed_length >
                static_cast<std::uint32_t>(LZ4_compressBound(static_cast<int>(raw_length))) ||
            raw_length > kLz4MaxRatio * compressed_length + kLz4MaxRatio) {
            return in.error(offset, chunk_name + " lengths are implausible (raw " +
                                        std::to_string(raw_length) + ", compressed " +
                                        std::to_string(compressed_length) + ")");
        }
        if (in.left(offset + kChunkFrame) < compressed_length) {
            return in.error(offset, "truncated inside " + chunk_name);
        }
        auto compressed = in.read(offset + kChunkFrame, compressed_length);
        if (!compressed) return unexpected(compressed.error());
        if (crc32c(*compressed) != crc) return in.error(offset, "CRC mismatch in " + chunk_name);
        std::string raw(raw_length, '\0');
        const int n =
            LZ4_decompress_safe(compressed->data(), raw.data(), static_cast<int>(compressed_length),
                                static_cast<int>(raw_length));
        if (n < 0 || static_cast<std::uint32_t>(n) != raw_length) {
            return in.error(offset, chunk_name + " does not decompress to its raw length " +
                                        std::to_string(raw_length));
        }
        if (auto r = on_chunk(raw); !r)
            return unexpected(path + ": " + chunk_name + ": " + r.error());
        ++summary.chunks;
        summary.raw_bytes += raw_length;
        offset += kChunkFrame + compressed_length;
    }

    if (in.left(offset) < kFooterBytes) return in.error(offset, "truncated inside the footer");
    auto footer = in.read(offset, kFooterBytes);
    if (!footer) return unexpected(footer.error());
    if (crc32c(std::string_view(*footer).substr(0, 12)) != get_u32(footer->data() + 12)) {
        return in.error(offset, "CRC mismatch in the footer");
    }
    const std::uint64_t chunks = get_u64(footer->data() + 4);
    if (chunks != summary.chunks) {
        return in.error(offset, "footer counts " + std::to_string(chunks) + " chunks but " +
                                    std::to_string(summary.chunks) + " were read");
    }
    if (in.left(offset + kFooterBytes) != 0) {
        return in.error(offset + kFooterBytes, "unexpected bytes after the footer");
    }
    return summary;
}

// ---- housekeeping ----

Expected<std::size_t, std::string> remove_old_snapshots(Env& env, const std::string& dir,
                                                        std::size_t keep) {
    if (keep == 0) return unexpected(std::string("remove_old_snapshots: keep at least one"));
    auto snapshots = list_snapshots(env, dir);
    if (!snapshots) return unexpected(snapshots.error());
    std::size_t removed = 0;
    for (std::size_t i = keep; i < snapshots->size(); ++i) {
        if (auto r = env.remove_file((*snapshots)[i].path); !r) return unexpected(r.error());
        ++removed;
    }
    return removed;
}

Expected<std::size_t, std::string> remove_stale_snapshot_tmp(Env& env, const std::string& dir) {
    auto names = env.list_dir(dir);
    if (!names) return unexpected(names.error());
    std::size_t removed = 0;
    for (const std::string& name : *names) {
        if (!parse_name(name, kTmpSuffix)) continue;
        if (auto r = env.remove_file(join_path(dir, name)); !r) return unexpected(r.error());
        ++removed;
    }
    return removed;
}

}  // namespace meridian::node
