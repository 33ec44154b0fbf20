#include "storage/wal.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "storage/crc32c.hpp"
#include "storage/little_endian.hpp"

namespace meridian::node {

namespace {

constexpr std::string_view kMagic = "MRDNWAL1";
constexpr std::size_t kHeaderFixed = 8 + 8 + 4;  // magic, first_lsn, meta_length
constexpr std::size_t kDigits = 20;
constexpr std::string_view kSuffix = ".wal";
// Bytes read at a time; a record larger than this is read whole.
constexpr std::size_t kReadWindow = 1u << 20;

std::string encode_header(std::uint64_t first_lsn, std::string_view meta) {
    std::string out(kMagic);
    put_u64(out, first_lsn);
    put_u32(out, static_cast<std::uint32_t>(meta.size()));
    out.append(meta);
    put_u32(out, crc32c(out));
    return out;
}

void encode_record(std::string& out, std::string_view payload) {
    std::string length;
    put_u32(length, static_cast<std::uint32_t>(payload.size()));
    out.append(length);
    put_u32(out, crc32c(length));
    put_u32(out, crc32c(payload));
    out.append(payload);
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
    if (name.size() != kDigits + kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
    std::uint64_t lsn = 0;
    const char* end = name.data() + kDigits;
    const auto [ptr, ec] = std::from_chars(name.data(), end, lsn);
    if (ec != std::errc() || ptr != end || lsn == 0) return std::nullopt;
    return lsn;
}

struct SegmentFile {
    std::uint64_t first_lsn;
    std::string path;
    std::uint64_t size;
};

// Segment files by name, in LSN order; headers not yet looked at.
Expected<std::vector<SegmentFile>, std::string> list_segment_files(Env& env,
                                                                   const std::string& dir) {
    auto names = env.list_dir(dir);
    if (!names) return unexpected(names.error());
    std::vector<SegmentFile> files;
    for (const std::string& name : *names) {
        const auto lsn = parse_segment_name(name);
        if (!lsn) continue;
        std::string path = join_path(dir, name);
        auto size = env.file_size(path);
        if (!size) return unexpected(size.error());
        files.push_back({*lsn, std::move(path), *size});
    }
    std::sort(files.begin(), files.end(),
              [](const SegmentFile& a, const SegmentFile& b) { return a.first_lsn < b.first_lsn; });
    return files;
}

struct HeaderProbe {
    enum class State { ok, incomplete, bad } state = State::bad;
    std::string problem;
    std::uint64_t first_lsn = 0;
    std::uint64_t header_bytes = 0;
    std::string meta;
};

Expected<HeaderProbe, std::string> probe_header(Env& env, const SegmentFile& file) {
    HeaderProbe probe;
    if (file.size < kHeaderFixed) {
        probe.state = HeaderProbe::State::incomplete;
        probe.problem = "file ends inside the segment header";
        return probe;
    }
    auto fixed = env.read_range(file.path, 0, kHeaderFixed);
    if (!fixed) return unexpected(fixed.error());
    if (fixed->size() < kHeaderFixed) return unexpected(file.path + ": file shrank while reading");
    if (std::string_view(*fixed).substr(0, kMagic.size()) != kMagic) {
        probe.problem = "bad magic";
        return probe;
    }
    const std::uint64_t first_lsn = get_u64(fixed->data() + 8);
    const std::uint32_t meta_length = get_u32(fixed->data() + 16);
    if (meta_length > kWalMaxMetaBytes) {
        probe.problem = "meta length " + std::to_string(meta_length) + " above the limit";
        return probe;
    }
    const std::uint64_t header_bytes = kHeaderFixed + meta_length + 4;
    if (file.size < header_bytes) {
        probe.state = HeaderProbe::State::incomplete;
        probe.problem = "file ends inside the segment header";
        return probe;
    }
    auto rest = env.read_range(file.path, kHeaderFixed, meta_length + 4);
    if (!rest) return unexpected(rest.error());
    if (rest->size() < meta_length + 4u)
        return unexpected(file.path + ": file shrank while reading");
    std::string covered = std::move(*fixed);
    covered.append(*rest, 0, meta_length);
    if (crc32c(covered) != get_u32(rest->data() + meta_length)) {
        probe.problem = "bad header CRC";
        return probe;
    }
    if (first_lsn != file.first_lsn) {
        probe.problem = "header says first lsn " + std::to_string(first_lsn) +
                        " but the file name says " + std::to_string(file.first_lsn);
        return probe;
    }
    probe.state = HeaderProbe::State::ok;
    probe.first_lsn = first_lsn;
    probe.header_bytes = header_bytes;
    probe.meta = rest->substr(0, meta_length);
    return probe;
}

// A sliding read buffer over one file, so reading a segment costs its size once and a reader
// that stops early reads little more than it used.
class FileWindow {
public:
    FileWindow(Env& env, const std::string& path, std::uint64_t size)
        : env_(env), path_(path), size_(size) {}

    std::uint64_t size() const { return size_; }

    // [offset, offset + n), which the caller has checked lies inside the file. Valid until the
    // next call.
    Expected<std::string_view, std::string> view(std::uint64_t offset, std::size_t n) {
        if (offset < buffer_offset_ || offset + n > buffer_offset_ + buffer_.size()) {
            const std::size_t want = static_cast<std::size_t>(
                std::min<std::uint64_t>(std::max(n, kReadWindow), size_ - offset));
            auto bytes = env_.read_range(path_, offset, want);
            if (!bytes) return unexpected(bytes.error());
            if (bytes->size() < n) return unexpected(path_ + ": file shrank while reading");
            buffer_ = std::move(*bytes);
            buffer_offset_ = offset;
        }
        return std::string_view(buffer_).substr(offset - buffer_offset_, n);
    }

private:
    Env& env_;
    const std::string& path_;
    std::uint64_t size_;
    std::string buffer_;
    std::uint64_t buffer_offset_ = 0;
};

struct RecordProbe {
    bool ok = false;
    std::uint32_t length = 0;
    std::string_view payload;  // valid until the window moves
    std::string problem;
};

// Checks the record at offset without trusting its length: the length must pass its own CRC,
// the limit and the bytes that remain before anything is read by it.
Expected<RecordProbe, std::string> probe_record(FileWindow& window, std::uint64_t offset) {
    RecordProbe probe;
    const std::uint64_t left = window.size() - offset;
    if (left < kWalRecordOverhead) {
        probe.problem = "incomplete record header";
        return probe;
    }
    auto frame = window.view(offset, kWalRecordOverhead);
    if (!frame) return unexpected(frame.error());
    const std::uint32_t length = get_u32(frame->data());
    const std::uint32_t length_crc = get_u32(frame->data() + 4);
    const std::uint32_t payload_crc = get_u32(frame->data() + 8);
    if (crc32c(frame->substr(0, 4)) != length_crc) {
        probe.problem = "bad length check";
        return probe;
    }
    if (length > kWalMaxRecordBytes) {
        probe.problem = "length " + std::to_string(length) + " above the 1 GiB limit";
        return probe;
    }
    if (length > left - kWalRecordOverhead) {
        probe.problem = "length " + std::to_string(length) + " runs past the end of the file";
        return probe;
    }
    auto payload = window.view(offset + kWalRecordOverhead, length);
    if (!payload) return unexpected(payload.error());
    if (crc32c(*payload) != payload_crc) {
        probe.problem = "bad CRC";
        return probe;
    }
    probe.ok = true;
    probe.length = length;
    probe.payload = *payload;
    return probe;
}

// The first offset >= from holding a record whose length check and payload CRC both pass.
Expected<std::optional<std::uint64_t>, std::string> find_valid_record(FileWindow& window,
                                                                      std::uint64_t from) {
    for (std::uint64_t at = from; at + kWalRecordOverhead <= window.size(); ++at) {
        auto probe = probe_record(window, at);
        if (!probe) return unexpected(probe.error());
        if (probe->ok) return std::optional<std::uint64_t>(at);
    }
    return std::optional<std::uint64_t>();
}

// Truncating (or removing, at offset 0) and syncing, so a crash cannot bring the bytes back
// behind segments written later.
Expected<void, std::string> cut_segment(Env& env, const std::string& path, std::uint64_t offset) {
    if (offset == 0) return env.remove_file(path);
    if (auto r = env.truncate_file(path, offset); !r) return r;
    auto file = env.open_append(path);
    if (!file) return unexpected(file.error());
    return (*file)->sync();
}

}  // namespace

std::string wal_segment_path(const std::string& dir, std::uint64_t first_lsn) {
    std::string digits = std::to_string(first_lsn);
    digits.insert(0, kDigits - std::min(kDigits, digits.size()), '0');
    return join_path(dir, digits + std::string(kSuffix));
}

// ---- writer ----

Expected<WalWriter, std::string> WalWriter::open(Env& env, std::string dir, std::uint64_t next_lsn,
                                                 std::string_view meta, WalWriterOptions options) {
    if (next_lsn == 0) return unexpected(std::string("wal: lsns start at 1"));
    if (auto r = env.create_dirs(dir); !r) return unexpected(r.error());
    // The wal directory itself may be new: make its entry durable too.
    if (auto r = env.sync_dir(parent_dir(dir)); !r) return unexpected(r.error());
    WalWriter writer(env, std::move(dir), options);
    writer.next_lsn_ = next_lsn;
    writer.flushed_next_lsn_ = next_lsn;
    if (auto r = writer.start_segment(meta); !r) return unexpected(r.error());
    return writer;
}

Expected<void, std::string> WalWriter::start_segment(std::string_view meta) {
    if (meta.size() > kWalMaxMetaBytes) {
        return unexpected("wal: segment meta of " + std::to_string(meta.size()) +
                          " bytes exceeds the limit");
    }
    const std::string path = wal_segment_path(dir_, next_lsn_);
    auto files = list_segment_files(*env_, dir_);
    if (!files) return unexpected(files.error());
    for (const SegmentFile& file : *files) {
        if (file.first_lsn > next_lsn_) {
            return unexpected(file.path + ": segment starts after the writer's next lsn " +
                              std::to_string(next_lsn_) + "; open the writer after recovery");
        }
        if (file.first_lsn != next_lsn_) continue;
        // Same name: only a segment without records (a run that wrote none, or whose only
        // record was a torn tail) may be replaced; anything else means next_lsn is wrong.
        auto header = probe_header(*env_, file);
        if (!header) return unexpected(header.error());
        if (header->state != HeaderProbe::State::ok || header->header_bytes != file.size) {
            return unexpected(file.path +
                              ": segment already exists and is not empty; open the "
                              "writer at the lsn after the last record");
        }
        if (auto r = env_->remove_file(file.path); !r) return r;
    }
    auto opened = env_->open_append(path);
    if (!opened) return unexpected(opened.error());
    std::shared_ptr<WritableFile> file = std::move(*opened);
    if (auto r = file->append(encode_header(next_lsn_, meta)); !r) return r;
    if (auto r = file->sync(); !r) return r;
    if (auto r = env_->sync_dir(dir_); !r) return r;
    file_ = std::move(file);
    segment_path_ = path;
    segment_first_lsn_ = next_lsn_;
    return {};
}

Expected<void, std::string> WalWriter::fail(std::string error) {
    broken_ = error;
    return unexpected(std::move(error));
}

Expected<std::uint64_t, std::string> WalWriter::append(std::string_view payload) {
    if (broken_) return unexpected(*broken_);
    if (payload.size() > kWalMaxRecordBytes) {
        return unexpected("wal: record of " + std::to_string(payload.size()) +
                          " bytes exceeds the 1 GiB limit");
    }
    encode_record(buffer_, payload);
    return next_lsn_++;
}

Expected<void, std::string> WalWriter::flush() {
    if (broken_) return unexpected(*broken_);
    if (buffer_.empty()) return {};
    if (auto r = file_->append(buffer_); !r) return fail(r.error());
    flushed_next_lsn_ = next_lsn_;
    buffer_.clear();
    // One huge record should not pin its buffer for the life of the process.
    if (buffer_.capacity() > (16u << 20)) buffer_.shrink_to_fit();
    return {};
}

Expected<void, std::string> WalWriter::sync() {
    if (auto r = flush(); !r) return r;
    if (auto r = file_->sync(); !r) return fail(r.error());
    return {};
}

std::uint64_t WalWriter::segment_bytes() const {
    return (file_ ? file_->size() : 0) + buffer_.size();
}

bool WalWriter::should_roll() const {
    return next_lsn_ > segment_first_lsn_ && segment_bytes() >= options_.segment_bytes;
}

Expected<void, std::string> WalWriter::roll(std::string_view meta) {
    if (auto r = sync(); !r) return r;
    // With no records in the current segment the new one has the same name and replaces it.
    if (auto r = start_segment(meta); !r) return fail(r.error());
    return {};
}

// ---- reading ----

Expected<std::vector<WalSegment>, std::string> list_segments(Env& env, const std::string& dir) {
    auto files = list_segment_files(env, dir);
    if (!files) return unexpected(files.error());
    std::vector<WalSegment> segments;
    for (std::size_t i = 0; i < files->size(); ++i) {
        const SegmentFile& file = (*files)[i];
        auto header = probe_header(env, file);
        if (!header) return unexpected(header.error());
        if (header->state == HeaderProbe::State::incomplete && i + 1 == files->size()) break;
        if (header->state != HeaderProbe::State::ok) {
            return unexpected(file.path + ": bad segment header (" + header->problem + ")");
        }
        segments.push_back(
            {file.first_lsn, file.path, file.size, header->header_bytes, std::move(header->meta)});
    }
    return segments;
}

namespace {

// One read_wal() call: walks the segments from a start position and applies the corruption
// policy where a record or header fails its checks.
class WalScan {
public:
    WalScan(Env& env, std::vector<SegmentFile> files, const WalReadOptions& options)
        : env_(env), files_(std::move(files)), options_(options) {}

    Expected<WalReadResult, std::string> run(std::size_t start, std::optional<WalPosition> resume,
                                             std::uint64_t from_lsn, const WalVisitor& visit) {
        std::uint64_t lsn = resume ? resume->lsn : files_[start].first_lsn;
        for (std::size_t i = start; i < files_.size(); ++i) {
            const SegmentFile& file = files_[i];
            const bool last = i + 1 == files_.size();
            const bool resumed_here = i == start && resume;
            if (!resumed_here && file.first_lsn != lsn) {
                const std::string problem =
                    "segment starts at lsn " + std::to_string(file.first_lsn) +
                    " but the records before it end at lsn " + std::to_string(lsn - 1);
                if (!options_.repair) {
                    return unexpected(file.path + ": " + problem +
                                      "; records are missing; start with --repair-wal to drop "
                                      "this segment and everything after it");
                }
                return repair(i, 0, lsn, problem);
            }
            auto header = probe_header(env_, file);
            if (!header) return unexpected(header.error());
            FileWindow window(env_, file.path, file.size);
            if (header->state != HeaderProbe::State::ok) {
                return bad_spot(i, window, 0, lsn, "bad segment header (" + header->problem + ")");
            }
            std::uint64_t offset = header->header_bytes;
            // Offset 0 resumes at the first record (the header was not complete last time).
            if (resumed_here && resume->offset != 0) {
                if (resume->offset < header->header_bytes || resume->offset > file.size) {
                    return unexpected(file.path + ": resume offset " +
                                      std::to_string(resume->offset) + " is outside the segment");
                }
                offset = resume->offset;
            }
            while (offset < file.size) {
                auto probe = probe_record(window, offset);
                if (!probe) return unexpected(probe.error());
                if (!probe->ok) return bad_spot(i, window, offset, lsn, probe->problem);
                const std::uint64_t next = offset + kWalRecordOverhead + probe->length;
                if (lsn >= from_lsn && !visit(lsn, probe->payload)) {
                    result_.stopped = true;
                    return finish({file.first_lsn, next, lsn + 1});
                }
                offset = next;
                ++lsn;
            }
            result_.end = {file.first_lsn, offset, lsn};
            if (last) return finish(result_.end);
        }
        return finish(result_.end);
    }

private:
    WalReadResult finish(WalPosition end) {
        result_.end = end;
        result_.next_lsn = end.lsn;
        return std::move(result_);
    }

    // A record (or, at offset 0, the header) of files_[i] failed its checks.
    Expected<WalReadResult, std::string> bad_spot(std::size_t i, FileWindow& window,
                                                  std::uint64_t offset, std::uint64_t lsn,
                                                  const std::string& problem) {
        const SegmentFile& file = files_[i];
        const bool last = i + 1 == files_.size();
        std::string why = "later segments follow";
        if (last) {
            auto valid = find_valid_record(window, offset == 0 ? 0 : offset + 1);
            if (!valid) return unexpected(valid.error());
            if (!*valid) return torn_tail(file, offset, lsn, problem);
            why = "valid records follow at offset " + std::to_string(**valid);
        }
        if (options_.repair) return repair(i, offset, lsn, problem);
        const std::string where =
            offset == 0 ? " at offset 0" : " in record at offset " + std::to_string(offset);
        const std::string action =
            offset == 0 ? "to drop this segment and everything after it" : "to truncate here";
        return unexpected(file.path + ": " + problem + where + " (lsn " + std::to_string(lsn) +
                          "); " + why + ", so this is corruption, not a torn write; " +
                          "start with --repair-wal " + action);
    }

    Expected<WalReadResult, std::string> torn_tail(const SegmentFile& file, std::uint64_t offset,
                                                   std::uint64_t lsn, const std::string& problem) {
        WalTornTail tail{file.path, offset, lsn, file.size - offset, problem, false};
        if (options_.truncate_torn_tail || options_.repair) {
            if (auto r = cut_segment(env_, file.path, offset); !r) return unexpected(r.error());
            if (offset == 0) {
                if (auto r = env_.sync_dir(parent_dir(file.path)); !r) {
                    return unexpected(r.error());
                }
            }
            tail.truncated = true;
        }
        result_.torn_tail = std::move(tail);
        return finish({file.first_lsn, offset, lsn});
    }

    // Drops files_[i] from offset on and every later segment, newest first, so an interrupted
    // repair leaves a WAL that a second repair finishes.
    Expected<WalReadResult, std::string> repair(std::size_t i, std::uint64_t offset,
                                                std::uint64_t lsn, const std::string& problem) {
        const SegmentFile& file = files_[i];
        WalRepair repair{file.path, offset, lsn, file.size - offset, 0, problem};
        for (std::size_t j = files_.size() - 1; j > i; --j) {
            if (auto r = env_.remove_file(files_[j].path); !r) return unexpected(r.error());
            repair.bytes_dropped += files_[j].size;
            ++repair.segments_removed;
        }
        if (auto r = cut_segment(env_, file.path, offset); !r) return unexpected(r.error());
        if (offset == 0) ++repair.segments_removed;
        if (auto r = env_.sync_dir(parent_dir(file.path)); !r) return unexpected(r.error());
        result_.repair = std::move(repair);
        // After a dropped segment, the resume point is the end of the one before it.
        return finish({offset == 0 ? result_.end.segment_first_lsn : file.first_lsn,
                       offset == 0 ? result_.end.offset : offset, lsn});
    }

    Env& env_;
    std::vector<SegmentFile> files_;
    const WalReadOptions& options_;
    WalReadResult result_;
};

}  // namespace

Expected<WalReadResult, std::string> read_wal(Env& env, const std::string& dir,
                                              std::uint64_t from_lsn, const WalVisitor& visit,
                                              const WalReadOptions& options) {
    from_lsn = std::max<std::uint64_t>(from_lsn, 1);
    auto files = list_segment_files(env, dir);
    if (!files) return unexpected(files.error());
    if (files->empty()) {
        WalReadResult empty;
        empty.next_lsn = from_lsn;
        return empty;
    }
    std::optional<WalPosition> resume;
    std::size_t start = 0;
    if (options.resume && options.resume->lsn <= from_lsn) {
        const auto it = std::find_if(files->begin(), files->end(), [&](const SegmentFile& f) {
            return f.first_lsn == options.resume->segment_first_lsn;
        });
        if (it != files->end() && options.resume->lsn >= it->first_lsn) {
            resume = options.resume;
            start = static_cast<std::size_t>(it - files->begin());
        }
    }
    if (!resume) {
        if (from_lsn < files->front().first_lsn) {
            return unexpected(dir + ": the WAL starts at lsn " +
                              std::to_string(files->front().first_lsn) + "; records from lsn " +
                              std::to_string(from_lsn) + " were removed");
        }
        // The last segment starting at or before from_lsn holds it (or the WAL ends before it).
        while (start + 1 < files->size() && (*files)[start + 1].first_lsn <= from_lsn) ++start;
    }
    WalScan scan(env, std::move(*files), options);
    return scan.run(start, resume, from_lsn, visit);
}

std::string describe(const WalTornTail& tail) {
    return tail.path + ": torn record at offset " + std::to_string(tail.offset) + " (lsn " +
           std::to_string(tail.lsn) + ", " + std::to_string(tail.bytes) +
           " bytes): " + tail.problem + (tail.truncated ? "; truncated" : "");
}

std::string describe(const WalRepair& repair) {
    return repair.path + ": " + repair.problem + " at offset " + std::to_string(repair.offset) +
           " (lsn " + std::to_string(repair.lsn) + "); repaired by dropping " +
           std::to_string(repair.bytes_dropped) + " bytes (" +
           std::to_string(repair.segments_removed) + " segment files removed)";
}

// ---- retention ----

Expected<std::uint64_t, std::string> remove_segments_before(Env& env, const std::string& dir,
                                                            std::uint64_t lsn) {
    auto files = list_segment_files(env, dir);
    if (!files) return unexpected(files.error());
    std::uint64_t removed = 0;
    // Segment i holds [first_lsn(i), first_lsn(i + 1)); oldest first keeps the WAL contiguous.
    for (std::size_t i = 0; i + 1 < files->size(); ++i) {
        if ((*files)[i + 1].first_lsn > lsn) break;
        if (auto r = env.remove_file((*files)[i].path); !r) return unexpected(r.error());
        removed += (*files)[i].size;
    }
    return removed;
}

Expected<std::uint64_t, std::string> wal_size(Env& env, const std::string& dir) {
    auto files = list_segment_files(env, dir);
    if (!files) return unexpected(files.error());
    std::uint64_t total = 0;
    for (const SegmentFile& file : *files) total += file.size;
    return total;
}

}  // namespace meridian::node
