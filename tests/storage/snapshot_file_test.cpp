#include "storage/snapshot_file.hpp"

#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/fault_env.hpp"

namespace {

using meridian::Expected;
using meridian::node::Env;
using meridian::node::list_snapshots;
using meridian::node::read_snapshot;
using meridian::node::SnapshotSummary;
using meridian::node::SnapshotWriter;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::flip_byte;
using meridian::node::testing::size_of;
using meridian::node::testing::TempDir;

// Some chunks compress well, some barely; one is empty.
std::vector<std::string> sample_chunks() {
    std::string noisy;
    std::uint32_t x = 12345;
    for (int i = 0; i < 300'000; ++i) {
        x = x * 1103515245u + 12345u;
        noisy.push_back(static_cast<char>(x >> 16));
    }
    return {"first chunk", std::string(1 << 20, 'z'), "", noisy, "last"};
}

std::string write_snapshot(Env& env, const std::string& dir, std::uint64_t lsn,
                           const std::string& meta, const std::vector<std::string>& chunks) {
    auto writer = SnapshotWriter::open(env, dir, lsn, meta);
    REQUIRE(writer.has_value());
    for (const std::string& chunk : chunks) REQUIRE(writer->add_chunk(chunk).has_value());
    auto path = writer->finish();
    REQUIRE(path.has_value());
    return *path;
}

struct Loaded {
    std::string meta;
    std::vector<std::string> chunks;
    Expected<SnapshotSummary, std::string> result;
};

Loaded load(Env& env, const std::string& path) {
    std::string meta;
    std::vector<std::string> chunks;
    auto result = read_snapshot(
        env, path,
        [&](std::string_view m) -> Expected<void, std::string> {
            meta = m;
            return {};
        },
        [&](std::string_view raw) -> Expected<void, std::string> {
            chunks.emplace_back(raw);
            return {};
        });
    return {std::move(meta), std::move(chunks), std::move(result)};
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

void set_u32(const std::string& path, std::uint64_t offset, std::uint32_t value) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    for (int i = 0; i < 4; ++i) f.put(static_cast<char>(value >> (8 * i)));
    REQUIRE(f.good());
}

// Header of a snapshot with this meta: magic, lsn, meta length, meta, CRC.
std::uint64_t header_bytes(const std::string& meta) {
    return 8 + 8 + 4 + meta.size() + 4;
}

}  // namespace

TEST_CASE("a snapshot round trips its meta and chunks through compression") {
    TempDir tmp;
    const std::string dir = tmp / "snapshot";
    auto& env = meridian::node::default_env();
    const std::vector<std::string> chunks = sample_chunks();
    const std::string path = write_snapshot(env, dir, 42, "lsn 42, vv {1:7}", chunks);
    CHECK(path == meridian::node::snapshot_path(dir, 42));
    CHECK(names_in(dir) == std::vector<std::string>{"00000000000000000042.snap"});
    // The zeros compress: the file is far smaller than what it holds.
    CHECK(size_of(path) < 600'000);

    const Loaded loaded = load(env, path);
    REQUIRE(loaded.result.has_value());
    CHECK(loaded.meta == "lsn 42, vv {1:7}");
    CHECK(loaded.chunks == chunks);
    CHECK(loaded.result->chunks == chunks.size());
    std::uint64_t raw = 0;
    for (const auto& c : chunks) raw += c.size();
    CHECK(loaded.result->raw_bytes == raw);

    auto listed = list_snapshots(env, dir);
    REQUIRE(listed.has_value());
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().lsn == 42);
    CHECK(listed->front().path == path);
    CHECK(listed->front().size == size_of(path));
}

TEST_CASE("any chunks round trip, whatever their contents and sizes") {
    rc::prop("round trip", [](const std::vector<std::string>& chunks, const std::string& meta) {
        TempDir tmp;
        FaultEnv env;
        env.skip_disk_syncs();
        const std::string path = write_snapshot(env, tmp / "snapshot", 7, meta, chunks);
        const Loaded loaded = load(env, path);
        RC_ASSERT(loaded.result.has_value());
        RC_ASSERT(loaded.meta == meta);
        RC_ASSERT(loaded.chunks == chunks);
    });
}

TEST_CASE("a snapshot cut short anywhere is rejected") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    const std::string full =
        write_snapshot(env, tmp / "full", 9, "meta", {"alpha alpha alpha", "beta", ""});
    const std::string bytes = env.read_file(full).value();
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        INFO("cut to " << cut << " of " << bytes.size() << " bytes");
        const std::string path = tmp / "00000000000000000009.snap";
        std::filesystem::copy_file(full, path, std::filesystem::copy_options::overwrite_existing);
        std::filesystem::resize_file(path, cut);
        const Loaded loaded = load(env, path);
        REQUIRE_FALSE(loaded.result.has_value());
        INFO(loaded.result.error());
        CHECK_THAT(loaded.result.error(), Catch::StartsWith(path + ": "));
        CHECK_THAT(loaded.result.error(), Catch::Contains("truncated"));
    }
}

TEST_CASE("a snapshot whose footer is missing is rejected") {
    TempDir tmp;
    auto& env = meridian::node::default_env();
    const std::string path = write_snapshot(env, tmp.path(), 3, "m", {"one", "two"});
    std::filesystem::resize_file(path, size_of(path) - 16);
    const Loaded loaded = load(env, path);
    REQUIRE_FALSE(loaded.result.has_value());
    CHECK_THAT(loaded.result.error(), Catch::Contains("missing footer"));
    // Every chunk was delivered before the problem showed: the caller must discard them.
    CHECK(loaded.chunks == std::vector<std::string>{"one", "two"});
}

TEST_CASE("a flipped byte anywhere in a snapshot is detected") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    const std::string full =
        write_snapshot(env, tmp / "full", 9, "meta", {"alpha alpha alpha", "beta", ""});
    const std::uint64_t size = size_of(full);
    for (std::uint64_t at = 0; at < size; ++at) {
        for (const unsigned char mask : {0x01, 0x80}) {
            INFO("flipped byte " << at << " of " << size << " with mask " << int(mask));
            const std::string path = tmp / "00000000000000000009.snap";
            std::filesystem::copy_file(full, path,
                                       std::filesystem::copy_options::overwrite_existing);
            flip_byte(path, at, mask);
            const Loaded loaded = load(env, path);
            REQUIRE_FALSE(loaded.result.has_value());
            CHECK_THAT(loaded.result.error(), Catch::StartsWith(path + ": "));
        }
    }
    const std::string path = tmp / "00000000000000000009.snap";
    std::filesystem::copy_file(full, path, std::filesystem::copy_options::overwrite_existing);
    flip_byte(path, header_bytes("meta") + 12);  // the first chunk's compressed bytes
    CHECK_THAT(load(env, path).result.error(), Catch::Contains("CRC mismatch in chunk 0"));
}

TEST_CASE("a chunk that does not decompress to its raw length is rejected") {
    TempDir tmp;
    auto& env = meridian::node::default_env();
    const std::string chunk = "some text some text some text";
    const std::string path = write_snapshot(env, tmp.path(), 1, "", {chunk});
    // raw_length is not under the chunk's CRC; decompression is what checks it.
    set_u32(path, header_bytes(""), static_cast<std::uint32_t>(chunk.size() + 1));
    const Loaded loaded = load(env, path);
    REQUIRE_FALSE(loaded.result.has_value());
    CHECK_THAT(loaded.result.error(), Catch::Contains("chunk 0 does not decompress"));
    CHECK(loaded.chunks.empty());
}

TEST_CASE("a corrupt raw length is refused before anything is allocated for it") {
    TempDir tmp;
    FaultEnv env;
    const std::string path = write_snapshot(env, tmp.path(), 1, "", {"tiny"});
    for (const std::uint32_t raw : {(256u << 20) + 1, 200u << 20, 0xFFFFFFFEu}) {
        INFO("raw length " << raw);
        set_u32(path, header_bytes(""), raw);
        const Loaded loaded = load(env, path);
        REQUIRE_FALSE(loaded.result.has_value());
        INFO(loaded.result.error());
        CHECK_THAT(loaded.result.error(),
                   Catch::Contains(raw > (256u << 20) ? "above the 256 MiB limit" : "implausible"));
    }
    set_u32(path, header_bytes("") + 4, 0x7FFFFFFF);  // a compressed length past the end
    set_u32(path, header_bytes(""), 4);
    CHECK_THAT(load(env, path).result.error(), Catch::Contains("implausible"));
    CHECK(env.largest_read() <= size_of(path));
}

TEST_CASE("the header's lsn must agree with the file name") {
    TempDir tmp;
    auto& env = meridian::node::default_env();
    const std::string path = write_snapshot(env, tmp.path(), 10, "", {"x"});
    const std::string renamed = meridian::node::snapshot_path(tmp.path(), 11);
    std::filesystem::rename(path, renamed);
    CHECK_THAT(load(env, renamed).result.error(), Catch::Contains("header says lsn 10"));
}

TEST_CASE("a callback's error stops the read and is reported with the chunk") {
    TempDir tmp;
    auto& env = meridian::node::default_env();
    const std::string path = write_snapshot(env, tmp.path(), 5, "m", {"a", "b", "c"});
    int seen = 0;
    auto result = read_snapshot(
        env, path, [](std::string_view) -> Expected<void, std::string> { return {}; },
        [&](std::string_view raw) -> Expected<void, std::string> {
            ++seen;
            if (raw == "b") return meridian::unexpected(std::string("cannot decode"));
            return {};
        });
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error() == path + ": chunk 1: cannot decode");
    CHECK(seen == 2);
}

TEST_CASE("an unfinished snapshot leaves nothing behind") {
    TempDir tmp;
    const std::string dir = tmp / "snapshot";
    auto& env = meridian::node::default_env();
    {
        auto writer = SnapshotWriter::open(env, dir, 8, "m");
        REQUIRE(writer.has_value());
        REQUIRE(writer->add_chunk("data").has_value());
        CHECK(names_in(dir) == std::vector<std::string>{"00000000000000000008.tmp"});
        SnapshotWriter moved = std::move(*writer);
        REQUIRE(moved.add_chunk("more").has_value());
        CHECK(moved.chunk_count() == 2);
    }
    CHECK(names_in(dir).empty());
    CHECK(list_snapshots(env, dir).value().empty());
}

TEST_CASE("stale tmp files are not listed and can be removed") {
    TempDir tmp;
    const std::string dir = tmp.path();
    auto& env = meridian::node::default_env();
    write_snapshot(env, dir, 4, "", {"x"});
    // What a crash in the middle of writing leaves.
    {
        auto file = env.open_append(dir + "/00000000000000000009.tmp");
        REQUIRE(file.has_value());
        REQUIRE((*file)->append("MRDNSNP1 half a snapshot").has_value());
    }
    auto listed = list_snapshots(env, dir);
    REQUIRE(listed.has_value());
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().lsn == 4);

    // A writer for the same lsn starts over instead of appending to the leftover.
    write_snapshot(env, dir, 9, "fresh", {"y"});
    CHECK(load(env, meridian::node::snapshot_path(dir, 9)).meta == "fresh");

    {
        auto file = env.open_append(dir + "/00000000000000000012.tmp");
        REQUIRE(file.has_value());
    }
    auto removed = meridian::node::remove_stale_snapshot_tmp(env, dir);
    REQUIRE(removed.has_value());
    CHECK(*removed == 1);
    CHECK(names_in(dir) ==
          std::vector<std::string>{"00000000000000000004.snap", "00000000000000000009.snap"});
}

TEST_CASE("old snapshots are removed and the newest kept") {
    TempDir tmp;
    const std::string dir = tmp.path();
    FaultEnv env;
    env.skip_disk_syncs();
    for (const std::uint64_t lsn : {10u, 30u, 5u, 20u}) {
        write_snapshot(env, dir, lsn, std::to_string(lsn), {"state"});
    }
    auto listed = list_snapshots(env, dir);
    REQUIRE(listed.has_value());
    std::vector<std::uint64_t> lsns;
    for (const auto& s : *listed) lsns.push_back(s.lsn);
    CHECK(lsns == std::vector<std::uint64_t>{30, 20, 10, 5});

    CHECK_FALSE(meridian::node::remove_old_snapshots(env, dir, 0).has_value());
    auto removed = meridian::node::remove_old_snapshots(env, dir, 2);
    REQUIRE(removed.has_value());
    CHECK(*removed == 2);
    CHECK(names_in(dir) ==
          std::vector<std::string>{"00000000000000000020.snap", "00000000000000000030.snap"});
}

TEST_CASE("a snapshot survives a crash once finished, and not before") {
    TempDir tmp;
    const std::string dir = tmp / "snapshot";
    FaultEnv env;
    write_snapshot(env, dir, 1, "kept", {"state one"});
    {
        auto writer = SnapshotWriter::open(env, dir, 2, "lost");
        REQUIRE(writer.has_value());
        REQUIRE(writer->add_chunk("state two").has_value());
        env.crash();
    }
    auto listed = list_snapshots(env, dir);
    REQUIRE(listed.has_value());
    REQUIRE(listed->size() == 1);
    const Loaded loaded = load(env, listed->front().path);
    REQUIRE(loaded.result.has_value());
    CHECK(loaded.chunks == std::vector<std::string>{"state one"});

    // A failed fsync fails finish(), and the destroyed writer removes its .tmp.
    {
        auto writer = SnapshotWriter::open(env, dir, 3, "");
        REQUIRE(writer.has_value());
        env.fail_next_sync();
        CHECK_FALSE(writer->finish().has_value());
    }
    CHECK(names_in(dir) == std::vector<std::string>{"00000000000000000001.snap"});
}
