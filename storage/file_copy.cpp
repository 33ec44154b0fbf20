#include "storage/file_copy.hpp"

#include <functional>
#include <memory>

namespace meridian::node {

namespace {

constexpr std::size_t kCopyPiece = 1u << 20;

// Writes `to + ".tmp"` through fill(), then syncs, renames and syncs the directory; removes the
// tmp file when anything before the rename fails.
Expected<void, std::string> replace_durably(
    Env& env, const std::string& to,
    const std::function<Expected<void, std::string>(WritableFile&)>& fill) {
    const std::string tmp = to + ".tmp";
    // open_append would append to a tmp file left by a crash: start from nothing.
    if (env.file_size(tmp)) {
        if (auto r = env.remove_file(tmp); !r) return r;
    }
    auto opened = env.open_append(tmp);
    if (!opened) return unexpected(opened.error());
    std::unique_ptr<WritableFile> file = std::move(*opened);
    auto written = fill(*file);
    if (written) written = file->sync();
    file.reset();
    if (written) written = env.rename_file(tmp, to);
    if (!written) {
        (void)env.remove_file(tmp);  // the error that matters is the one already in hand
        return written;
    }
    return env.sync_dir(parent_dir(to));
}

}  // namespace

Expected<FileDigest, std::string> copy_file_durably(Env& env, const std::string& from,
                                                    const std::string& to) {
    Sha256 hash;
    FileDigest digest;
    auto copied = replace_durably(env, to, [&](WritableFile& file) -> Expected<void, std::string> {
        for (;;) {
            auto piece = env.read_range(from, digest.bytes, kCopyPiece);
            if (!piece) return unexpected(piece.error());
            if (auto r = file.append(*piece); !r) return r;
            hash.update(*piece);
            digest.bytes += piece->size();
            if (piece->size() < kCopyPiece) return {};
        }
    });
    if (!copied) return unexpected(copied.error());
    digest.sha256 = hash.hex();
    return digest;
}

Expected<void, std::string> write_file_durably(Env& env, const std::string& path,
                                               std::string_view contents) {
    return replace_durably(env, path, [&](WritableFile& file) { return file.append(contents); });
}

}  // namespace meridian::node
