#include "storage/conflict_log.hpp"

#include <algorithm>
#include <utility>

#include "crdt/serialization.hpp"
#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

namespace meridian::node {

template <class Archive>
void serialize(Archive& ar, ConflictEntry& e) {
    ar(e.detected, e.key, e.value, e.value_size, e.loser.time, e.loser.writer, e.winner.time,
       e.winner.writer);
}

namespace {

constexpr std::size_t kFrame = 12;  // length, its CRC, the payload's CRC
constexpr std::uint32_t kMaxEntryBytes = 1u << 30;

}  // namespace

std::string frame_conflict_entry(const ConflictEntry& entry) {
    const std::string payload = crdt::encode(entry);
    std::string out;
    out.reserve(kFrame + payload.size());
    put_u32(out, static_cast<std::uint32_t>(payload.size()));
    put_u32(out, crc32c(out));
    put_u32(out, crc32c(payload));
    out += payload;
    return out;
}

ParsedConflictLog parse_conflict_log(std::string_view bytes) {
    ParsedConflictLog parsed;
    if (bytes.size() < kConflictLogMagic.size()) {
        parsed.torn = !bytes.empty();  // a header cut short: nothing was ever logged
        return parsed;
    }
    if (bytes.substr(0, kConflictLogMagic.size()) != kConflictLogMagic) {
        parsed.problem = "not a conflict log (wrong header)";
        return parsed;
    }
    std::size_t at = kConflictLogMagic.size();
    parsed.valid_bytes = at;
    while (at < bytes.size()) {
        const std::size_t left = bytes.size() - at;
        if (left < 8) {
            parsed.torn = true;
            break;
        }
        const char* p = bytes.data() + at;
        const std::uint32_t length = get_u32(p);
        if (crc32c(bytes.substr(at, 4)) != get_u32(p + 4) || length > kMaxEntryBytes) {
            parsed.problem = "entry at byte " + std::to_string(at) + ": its length is corrupt";
            break;
        }
        if (left < kFrame || left - kFrame < length) {
            parsed.torn = true;
            break;
        }
        const std::string_view payload = bytes.substr(at + kFrame, length);
        if (crc32c(payload) != get_u32(p + 8)) {
            parsed.problem = "entry at byte " + std::to_string(at) + ": checksum mismatch";
            break;
        }
        auto entry = crdt::decode<ConflictEntry>(payload);
        if (!entry) {
            parsed.problem = "entry at byte " + std::to_string(at) + ": " + entry.error();
            break;
        }
        parsed.entries.push_back(std::move(*entry));
        at += kFrame + length;
        parsed.valid_bytes = at;
    }
    return parsed;
}

Expected<ConflictLog, std::string> ConflictLog::open(Env& env, std::string path, Options options) {
    ConflictLog log(env, std::move(path), options);
    if (options.capacity == 0) return log;
    if (env.file_size(log.path_)) {
        auto bytes = env.read_file(log.path_);
        if (!bytes) return unexpected(bytes.error());
        ParsedConflictLog parsed = parse_conflict_log(*bytes);
        if (parsed.problem) {
            const std::string aside = log.path_ + ".bad";
            log.problem_ = log.path_ + ": " + *parsed.problem + "; set aside as " + aside +
                           ", the feed starts empty";
            if (auto moved = env.rename_file(log.path_, aside); !moved)
                return unexpected(moved.error());
            parsed.entries.clear();
        } else if (parsed.torn) {
            // A crash mid-append: drop the partial entry so new ones follow the last whole one.
            if (auto cut = env.truncate_file(log.path_, parsed.valid_bytes); !cut)
                return unexpected(cut.error());
        }
        const std::size_t keep = std::min(parsed.entries.size(), options.capacity);
        log.entries_.assign(std::make_move_iterator(parsed.entries.end() - keep),
                            std::make_move_iterator(parsed.entries.end()));
        if (!parsed.problem && parsed.valid_bytes > 0) {
            log.entries_in_file_ = parsed.entries.size();
            auto file = env.open_append(log.path_);
            if (!file) return unexpected(file.error());
            log.file_ = std::move(*file);
            return log;
        }
    }
    if (auto fresh = log.rewrite(); !fresh) return unexpected(fresh.error());
    return log;
}

IoStatus ConflictLog::record(ConflictEntry entry) {
    if (options_.capacity == 0) return {};
    if (!entries_.empty() && entry.detected <= entries_.back().detected)
        entry.detected = crdt::Hlc::from_packed(entries_.back().detected.packed() + 1);
    if (entry.value) {
        entry.value_size = entry.value->size();
        if (entry.value->size() > options_.value_bytes) entry.value->resize(options_.value_bytes);
    }
    entries_.push_back(std::move(entry));
    if (entries_.size() > options_.capacity) entries_.pop_front();
    if (!file_ || entries_in_file_ >= 2 * options_.capacity) return rewrite();
    if (auto appended = file_->append(frame_conflict_entry(entries_.back())); !appended) {
        file_.reset();  // the file may end in part of an entry: rewrite it next time
        problem_ = appended.error();
        return appended;
    }
    ++entries_in_file_;
    return {};
}

IoStatus ConflictLog::rewrite() {
    std::string bytes(kConflictLogMagic);
    for (const ConflictEntry& e : entries_) bytes += frame_conflict_entry(e);
    const std::string tmp = path_ + ".tmp";
    const auto fail = [&](std::string error) -> IoStatus {
        file_.reset();
        problem_ = error;
        return unexpected(std::move(error));
    };
    (void)env_->remove_file(tmp);
    auto file = env_->open_append(tmp);
    if (!file) return fail(file.error());
    if (auto s = (*file)->append(bytes); !s) return fail(s.error());
    if (auto s = (*file)->sync(); !s) return fail(s.error());
    if (auto s = env_->rename_file(tmp, path_); !s) return fail(s.error());
    if (auto s = env_->sync_dir(parent_dir(path_)); !s) return fail(s.error());
    file_ = std::move(*file);  // the renamed file: appends land in it
    entries_in_file_ = entries_.size();
    return {};
}

}  // namespace meridian::node
