#include "storage/wal_archive.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "storage/fault_env.hpp"
#include "storage/sha256.hpp"
#include "storage/wal.hpp"

namespace {

using meridian::node::archive_segment;
using meridian::node::ArchivedSegment;
using meridian::node::Env;
using meridian::node::list_archive;
using meridian::node::list_segments;
using meridian::node::read_wal;
using meridian::node::sha256_hex;
using meridian::node::verify_archived;
using meridian::node::WalSegment;
using meridian::node::WalWriter;
using meridian::node::WalWriterOptions;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::flip_byte;
using meridian::node::testing::TempDir;

namespace fs = std::filesystem;
using Record = std::pair<std::uint64_t, std::string>;

std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string name_of(const std::string& path) {
    return fs::path(path).filename().string();
}

// A WAL of `count` records over several small segments, synced; returns the records.
std::vector<Record> write_wal(Env& env, const std::string& dir, std::size_t count) {
    auto writer = WalWriter::open(env, dir, 1, "meta@1", WalWriterOptions{600});
    REQUIRE(writer.has_value());
    std::vector<Record> records;
    for (std::size_t i = 0; i < count; ++i) {
        if (writer->should_roll()) {
            REQUIRE(writer->roll("meta@" + std::to_string(writer->next_lsn())).has_value());
        }
        std::string payload(20 + i * 7 % 90, static_cast<char>('a' + i % 26));
        auto lsn = writer->append(payload);
        REQUIRE(lsn.has_value());
        records.emplace_back(*lsn, std::move(payload));
    }
    REQUIRE(writer->sync().has_value());
    return records;
}

std::vector<WalSegment> segments_of(Env& env, const std::string& dir) {
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() >= 3);
    return std::move(*segments);
}

std::vector<Record> read_all(Env& env, const std::string& dir) {
    std::vector<Record> records;
    auto result = read_wal(env, dir, 1, [&](std::uint64_t lsn, std::string_view payload) {
        records.emplace_back(lsn, std::string(payload));
        return true;
    });
    REQUIRE(result.has_value());
    CHECK_FALSE(result->torn_tail.has_value());
    return records;
}

}  // namespace

TEST_CASE("archived segments are exact copies with sha256sum sidecars, listed in lsn order") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 40);
    const std::string archive = tmp / "archive/nested";  // created on first use
    std::vector<ArchivedSegment> archived;
    for (const WalSegment& segment : segments_of(env, tmp / "wal")) {
        auto a = archive_segment(env, segment.path, archive);
        REQUIRE(a.has_value());
        CHECK(a->first_lsn == segment.first_lsn);
        CHECK(a->path == archive + "/" + name_of(segment.path));
        CHECK(contents(a->path) == contents(segment.path));
        CHECK(a->sha256 == sha256_hex(contents(segment.path)));
        CHECK(contents(a->path + ".sha256") == a->sha256 + "  " + name_of(a->path) + "\n");
        CHECK(verify_archived(env, *a).has_value());
        archived.push_back(*a);
    }
    std::vector<std::string> incomplete;
    auto listed = list_archive(env, archive, &incomplete);
    REQUIRE(listed.has_value());
    CHECK(*listed == archived);
    CHECK(incomplete.empty());
    for (const auto& entry : fs::directory_iterator(archive)) {
        CHECK(entry.path().extension() != ".tmp");
    }
}

TEST_CASE("sha256sum -c accepts the archive directory") {
    if (std::system("command -v sha256sum >/dev/null 2>&1") != 0) {
        WARN("sha256sum is not installed; skipped");
        return;
    }
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    for (const WalSegment& segment : segments_of(env, tmp / "wal")) {
        REQUIRE(archive_segment(env, segment.path, tmp / "archive").has_value());
    }
    const std::string command = "cd '" + (tmp / "archive") + "' && sha256sum --quiet -c *.sha256";
    CHECK(std::system(command.c_str()) == 0);
}

TEST_CASE("read_wal reads the archive directory back as the WAL it came from") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    const std::vector<Record> records = write_wal(env, tmp / "wal", 60);
    for (const WalSegment& segment : segments_of(env, tmp / "wal")) {
        REQUIRE(archive_segment(env, segment.path, tmp / "archive").has_value());
    }
    // Sidecars and leftover tmp files are not segment names: the reader skips them.
    write(tmp / "archive/00000000000000000001.wal.tmp", "junk from a crashed copy");
    CHECK(read_all(env, tmp / "archive") == records);
}

TEST_CASE("archiving a segment again leaves the archived copy alone") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    const std::string segment = segments_of(env, tmp / "wal").front().path;
    auto first = archive_segment(env, segment, tmp / "archive");
    REQUIRE(first.has_value());
    const int appends = env.appends();
    auto again = archive_segment(env, segment, tmp / "archive");
    REQUIRE(again.has_value());
    CHECK(*again == *first);
    CHECK(env.appends() == appends);
}

TEST_CASE("a segment archived under the same name with other contents is never overwritten") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    const std::string segment = segments_of(env, tmp / "wal").front().path;
    auto first = archive_segment(env, segment, tmp / "archive");
    REQUIRE(first.has_value());
    const std::string archived_bytes = contents(first->path);
    // The same lsns written again with other contents, as after a WAL repair.
    flip_byte(segment, 40);
    auto again = archive_segment(env, segment, tmp / "archive");
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().find(first->path + ": already archived with other contents") == 0);
    CHECK(contents(first->path) == archived_bytes);
}

TEST_CASE("a corrupted archived copy fails verification, naming the file") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    auto archived = archive_segment(env, segments_of(env, tmp / "wal")[1].path, tmp / "archive");
    REQUIRE(archived.has_value());
    REQUIRE(verify_archived(env, *archived).has_value());
    flip_byte(archived->path, 30);
    auto verified = verify_archived(env, *archived);
    REQUIRE_FALSE(verified.has_value());
    CHECK(verified.error() == archived->path + ": checksum mismatch (archived file is corrupted)");

    fs::remove(archived->path);
    verified = verify_archived(env, *archived);
    REQUIRE_FALSE(verified.has_value());
    CHECK(verified.error().find(archived->path) != std::string::npos);
}

TEST_CASE(
    "a copy whose sidecar was never written is not listed, and archiving again completes it") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    const std::vector<WalSegment> segments = segments_of(env, tmp / "wal");
    REQUIRE(archive_segment(env, segments[0].path, tmp / "archive").has_value());
    // What a crash between the copy and its sidecar leaves.
    fs::copy_file(segments[1].path, tmp / ("archive/" + name_of(segments[1].path)));

    std::vector<std::string> incomplete;
    auto listed = list_archive(env, tmp / "archive", &incomplete);
    REQUIRE(listed.has_value());
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().first_lsn == segments[0].first_lsn);
    CHECK(incomplete == std::vector<std::string>{tmp / ("archive/" + name_of(segments[1].path))});

    REQUIRE(archive_segment(env, segments[1].path, tmp / "archive").has_value());
    listed = list_archive(env, tmp / "archive");
    REQUIRE(listed.has_value());
    CHECK(listed->size() == 2);
}

TEST_CASE("a malformed sidecar, or one naming another file, is an error naming it") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    auto archived = archive_segment(env, segments_of(env, tmp / "wal")[0].path, tmp / "archive");
    REQUIRE(archived.has_value());
    const std::string sidecar = archived->path + ".sha256";
    const std::string name = name_of(archived->path);
    const std::string good = contents(sidecar);

    for (const std::string& bad :
         {std::string(), archived->sha256 + "  " + name, archived->sha256 + " " + name + "\n",
          archived->sha256.substr(1) + "   " + name + "\n",
          std::string(64, 'X') + "  " + name + "\n", good + good, std::string(10'000, 'a')}) {
        write(sidecar, bad);
        auto listed = list_archive(env, tmp / "archive");
        REQUIRE_FALSE(listed.has_value());
        CHECK(listed.error().find(sidecar + ": malformed checksum file") == 0);
        // Archiving again does not paper over it either.
        auto again = archive_segment(env, segments_of(env, tmp / "wal")[0].path, tmp / "archive");
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error().find(sidecar) == 0);
    }

    std::string other = good;
    other[other.size() - 6] = '9';  // ...0009.wal for ...0001.wal: the same length, another name
    write(sidecar, other);
    auto listed = list_archive(env, tmp / "archive");
    REQUIRE_FALSE(listed.has_value());
    CHECK(listed.error() == sidecar + ": checksum file names another file (expected " + name + ")");

    write(sidecar, archived->sha256 + " *" + name + "\n");  // sha256sum --binary
    listed = list_archive(env, tmp / "archive");
    REQUIRE(listed.has_value());
    CHECK(listed->size() == 1);
}

TEST_CASE("a failed copy leaves neither the segment nor a sidecar in the archive") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    const std::string segment = segments_of(env, tmp / "wal")[0].path;
    env.fail_next_append(10);
    REQUIRE_FALSE(archive_segment(env, segment, tmp / "archive").has_value());
    auto names = env.list_dir(tmp / "archive");
    REQUIRE(names.has_value());
    CHECK(names->empty());
    REQUIRE(archive_segment(env, segment, tmp / "archive").has_value());
}

TEST_CASE("an archived segment and its sidecar survive a crash once archiving returns") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write_wal(env, tmp / "wal", 20);
    const std::string segment = segments_of(env, tmp / "wal")[0].path;
    auto archived = archive_segment(env, segment, tmp / "archive");
    REQUIRE(archived.has_value());
    env.crash();
    auto listed = list_archive(env, tmp / "archive");
    REQUIRE(listed.has_value());
    REQUIRE(listed->size() == 1);
    CHECK(verify_archived(env, listed->front()).has_value());
}

TEST_CASE("only WAL segment names are archived") {
    TempDir tmp;
    FaultEnv env;
    write(tmp / "notes.txt", "hello");
    auto archived = archive_segment(env, tmp / "notes.txt", tmp / "archive");
    REQUIRE_FALSE(archived.has_value());
    CHECK(archived.error() ==
          (tmp / "notes.txt") + ": not a WAL segment (expected <20-digit lsn>.wal)");
    CHECK_FALSE(fs::exists(tmp / "archive"));
}

TEST_CASE("a missing archive directory lists as empty") {
    TempDir tmp;
    FaultEnv env;
    auto listed = list_archive(env, tmp / "nowhere");
    REQUIRE(listed.has_value());
    CHECK(listed->empty());
}
