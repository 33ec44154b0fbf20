// libFuzzer target for the WAL reader. The input becomes a segment file in an in-memory Env; the
// first byte chooses whether it gets a valid header in front, and whether a valid segment
// precedes it or follows it. Checks: reading never crashes nor asks for more bytes than a file
// holds; read-only and repairing reads visit the same records, contiguous from the first lsn;
// after a repair the WAL reads clean, reads the same in resumed batches, and takes new records.
//
// Not built by CMake. Build and run, from the repository root:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//       tests/fuzz/wal_reader_fuzz.cpp storage/wal.cpp storage/env.cpp -o wal_reader_fuzz
//   ./wal_reader_fuzz -max_total_time=60
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/wal.hpp"

namespace {

using meridian::Expected;
using meridian::unexpected;
using meridian::node::IoStatus;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "wal_reader_fuzz: %s\n", what);
    std::abort();
}

// Files as strings; directories are implied by the paths. Enough Env for the WAL.
class MemEnv final : public meridian::node::Env {
public:
    std::map<std::string, std::string> files;
    std::size_t largest_overread = 0;  // bytes asked for beyond a file's end

    class File final : public meridian::node::WritableFile {
    public:
        File(MemEnv& env, std::string path) : env_(env), path_(std::move(path)) {}
        IoStatus append(std::string_view data) override {
            env_.files[path_].append(data);
            return {};
        }
        IoStatus sync() override { return {}; }
        std::uint64_t size() const override { return env_.files[path_].size(); }

    private:
        MemEnv& env_;
        std::string path_;
    };

    Expected<std::unique_ptr<meridian::node::WritableFile>, std::string> open_append(
        const std::string& path) override {
        files[path];
        return std::unique_ptr<meridian::node::WritableFile>(std::make_unique<File>(*this, path));
    }
    Expected<std::string, std::string> read_file(const std::string& path) override {
        const auto it = files.find(path);
        if (it == files.end()) return unexpected("open " + path + ": No such file or directory");
        return it->second;
    }
    Expected<std::string, std::string> read_range(const std::string& path, std::uint64_t offset,
                                                  std::size_t size) override {
        const auto it = files.find(path);
        if (it == files.end()) return unexpected("open " + path + ": No such file or directory");
        const std::string& bytes = it->second;
        if (offset + size > bytes.size()) {
            largest_overread =
                std::max<std::size_t>(largest_overread, offset + size - bytes.size());
        }
        if (offset >= bytes.size()) return std::string();
        return bytes.substr(offset, size);
    }
    Expected<std::vector<std::string>, std::string> list_dir(const std::string& dir) override {
        std::vector<std::string> names;
        for (const auto& [path, bytes] : files) {
            if (path.size() > dir.size() + 1 && path.starts_with(dir + "/")) {
                names.push_back(path.substr(dir.size() + 1));
            }
        }
        return names;
    }
    IoStatus create_dirs(const std::string&) override { return {}; }
    IoStatus remove_file(const std::string& path) override {
        if (!files.erase(path)) return unexpected("remove " + path + ": No such file");
        return {};
    }
    IoStatus rename_file(const std::string& from, const std::string& to) override {
        auto node = files.extract(from);
        if (!node) return unexpected("rename " + from + ": No such file");
        files[to] = std::move(node.mapped());
        return {};
    }
    IoStatus truncate_file(const std::string& path, std::uint64_t size) override {
        const auto it = files.find(path);
        if (it == files.end()) return unexpected("truncate " + path + ": No such file");
        it->second.resize(size);
        return {};
    }
    IoStatus sync_dir(const std::string&) override { return {}; }
    Expected<std::uint64_t, std::string> file_size(const std::string& path) override {
        const auto it = files.find(path);
        if (it == files.end()) return unexpected("stat " + path + ": No such file or directory");
        return static_cast<std::uint64_t>(it->second.size());
    }
};

const std::string dir = "wal";

// A segment made by the real writer, for the input's neighbours and for a valid header.
std::string valid_segment(std::uint64_t first_lsn, int records, std::string_view meta) {
    MemEnv scratch;
    auto writer = meridian::node::WalWriter::open(scratch, dir, first_lsn, meta);
    if (!writer) die("writer open failed");
    for (int i = 0; i < records; ++i) {
        if (!writer->append("record " + std::to_string(first_lsn + i))) die("append failed");
    }
    if (!writer->flush()) die("flush failed");
    return scratch.files.at(meridian::node::wal_segment_path(dir, first_lsn));
}

using Records = std::vector<std::pair<std::uint64_t, std::string>>;

struct Read {
    Records records;
    Expected<meridian::node::WalReadResult, std::string> result;
};

Read read(MemEnv& env, const meridian::node::WalReadOptions& options) {
    Records records;
    auto result = meridian::node::read_wal(
        env, dir, 1,
        [&](std::uint64_t lsn, std::string_view payload) {
            records.emplace_back(lsn, std::string(payload));
            return true;
        },
        options);
    return {std::move(records), std::move(result)};
}

void check_contiguous(const Records& records) {
    for (std::size_t i = 1; i < records.size(); ++i) {
        if (records[i].first != records[i - 1].first + 1) die("lsns are not contiguous");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t flags = data[0];
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

    MemEnv env;
    // bit 1: a valid segment 1..3 comes first, so the input is segment 4.
    const std::uint64_t first_lsn = (flags & 2) ? 4 : 1;
    if (flags & 2) env.files[meridian::node::wal_segment_path(dir, 1)] = valid_segment(1, 3, "a");
    // bit 0: the input is records after a valid header rather than a whole file.
    std::string segment;
    if (flags & 1) segment = valid_segment(first_lsn, 0, "meta");
    segment.append(body);
    env.files[meridian::node::wal_segment_path(dir, first_lsn)] = segment;
    // bit 2: a valid segment named by the next byte follows, so the input is not the last.
    if ((flags & 4) && !body.empty()) {
        const std::uint64_t next = first_lsn + static_cast<std::uint8_t>(body[0]) % 8;
        if (next > first_lsn) {
            env.files[meridian::node::wal_segment_path(dir, next)] = valid_segment(next, 2, "b");
        }
    }
    const auto original = env.files;

    const Read plain = read(env, {});
    check_contiguous(plain.records);
    if (env.files != original) die("a read-only read changed the files");
    if (!plain.records.empty() && plain.records.front().first != 1) die("first lsn is not 1");

    meridian::node::WalReadOptions repair;
    repair.repair = true;
    const Read repaired = read(env, repair);
    if (!repaired.result) die("a repairing read failed");
    if (repaired.records != plain.records) die("repair visited other records than a plain read");
    if (plain.result &&
        (repaired.result->repair || !plain.result->torn_tail != !repaired.result->torn_tail)) {
        die("a clean read and a repairing read disagree");
    }
    if (!repaired.records.empty() &&
        repaired.result->next_lsn != repaired.records.back().first + 1) {
        die("next_lsn is not one past the last record");
    }

    const Read after = read(env, {});
    if (!after.result) die("the WAL does not read clean after a repair");
    if (after.result->torn_tail || after.result->repair) die("a repaired WAL still needs repair");
    if (after.records != repaired.records) die("a repaired WAL reads differently");

    // Resumed batches of three read the same records.
    Records batched;
    meridian::node::WalReadOptions resume;
    std::uint64_t from = 1;
    for (int calls = 0;; ++calls) {
        if (calls > 100000) die("resumed reads do not make progress");
        int taken = 0;
        auto result = meridian::node::read_wal(
            env, dir, from,
            [&](std::uint64_t lsn, std::string_view payload) {
                batched.emplace_back(lsn, std::string(payload));
                return ++taken < 3;
            },
            resume);
        if (!result) die("a resumed read failed");
        from = result->next_lsn;
        resume.resume = result->end;
        if (!result->stopped) break;
    }
    if (batched != after.records) die("resumed batches read differently");

    // The writer carries on where the repaired WAL ends.
    const std::uint64_t next = after.result->next_lsn;
    auto writer = meridian::node::WalWriter::open(env, dir, next, "after");
    if (!writer) die("the writer cannot open after a repair");
    auto lsn = writer->append("new record");
    if (!lsn || *lsn != next || !writer->flush()) die("the writer cannot append after a repair");
    const Read final_read = read(env, {});
    if (!final_read.result || final_read.records.size() != after.records.size() + 1 ||
        final_read.records.back().second != "new record") {
        die("a record appended after a repair does not read back");
    }

    // Every length is checked against the file before it is used to read (or allocate).
    if (env.largest_overread > 0) die("the reader asked for bytes past the end of a file");
    return 0;
}
