#include "storage/wal.hpp"

#include <rapidcheck.h>
#include <rapidcheck/catch.h>
#include <sys/mman.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "storage/fault_env.hpp"

namespace {

using meridian::node::Env;
using meridian::node::kWalRecordOverhead;
using meridian::node::list_segments;
using meridian::node::read_wal;
using meridian::node::WalReadOptions;
using meridian::node::WalReadResult;
using meridian::node::WalWriter;
using meridian::node::WalWriterOptions;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::flip_byte;
using meridian::node::testing::size_of;
using meridian::node::testing::TempDir;

using Record = std::pair<std::uint64_t, std::string>;

// Deterministic, distinct per lsn, and of varying size so records straddle read windows.
std::string payload_for(std::uint64_t lsn, std::size_t size) {
    std::string out;
    for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>((lsn * 131 + i) % 251));
    return out;
}

std::string meta_for(std::uint64_t first_lsn) {
    return "vv@" + std::to_string(first_lsn);
}

struct Written {
    std::vector<Record> records;
    std::vector<std::uint64_t> record_offsets;  // within its segment, per record
    std::uint64_t next_lsn = 1;
};

// Writes payloads starting at next_lsn, rolling whenever the writer asks, and syncs.
Written write_wal(Env& env, const std::string& dir, const std::vector<std::string>& payloads,
                  std::uint64_t segment_bytes = 1024, std::uint64_t next_lsn = 1) {
    auto writer =
        WalWriter::open(env, dir, next_lsn, meta_for(next_lsn), WalWriterOptions{segment_bytes});
    REQUIRE(writer.has_value());
    Written out;
    for (const std::string& payload : payloads) {
        if (writer->should_roll()) REQUIRE(writer->roll(meta_for(writer->next_lsn())).has_value());
        out.record_offsets.push_back(writer->segment_bytes());
        auto lsn = writer->append(payload);
        REQUIRE(lsn.has_value());
        out.records.emplace_back(*lsn, payload);
        if (*lsn % 3 == 0) REQUIRE(writer->flush().has_value());
    }
    REQUIRE(writer->sync().has_value());
    out.next_lsn = writer->next_lsn();
    return out;
}

std::vector<std::string> sized_payloads(std::size_t count, std::uint64_t first_lsn = 1) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t lsn = first_lsn + i;
        out.push_back(payload_for(lsn, (lsn * 37) % 200));
    }
    return out;
}

struct Read {
    std::vector<Record> records;
    meridian::Expected<WalReadResult, std::string> result;
};

Read read_all(Env& env, const std::string& dir, std::uint64_t from = 1,
              const WalReadOptions& options = {}) {
    std::vector<Record> records;
    auto result = read_wal(
        env, dir, from,
        [&](std::uint64_t lsn, std::string_view payload) {
            records.emplace_back(lsn, std::string(payload));
            return true;
        },
        options);
    return {std::move(records), std::move(result)};
}

std::vector<Record> slice(const std::vector<Record>& records, std::size_t from,
                          std::size_t to = static_cast<std::size_t>(-1)) {
    to = std::min(to, records.size());
    return {records.begin() + static_cast<std::ptrdiff_t>(std::min(from, to)),
            records.begin() + static_cast<std::ptrdiff_t>(to)};
}

// CRC-32C bit by bit, independent of the Boost table the implementation uses.
std::uint32_t reference_crc32c(std::string_view data) {
    std::uint32_t crc = 0xFFFFFFFF;
    for (const char c : data) {
        crc ^= static_cast<unsigned char>(c);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFF;
}

std::uint32_t u32_at(const std::string& bytes, std::size_t offset) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
    return v;
}

std::string le32(std::uint32_t v) {
    std::string out;
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
}

std::string file_name(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

}  // namespace

TEST_CASE("records written across several segments read back in order") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    auto& env = meridian::node::default_env();
    const Written written = write_wal(env, dir, sized_payloads(300));

    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() >= 5);
    for (const auto& segment : *segments) {
        INFO(segment.path);
        CHECK(segment.meta == meta_for(segment.first_lsn));
        CHECK(file_name(segment.path) ==
              file_name(meridian::node::wal_segment_path(dir, segment.first_lsn)));
    }
    CHECK(segments->front().first_lsn == 1);

    const Read read = read_all(env, dir);
    REQUIRE(read.result.has_value());
    CHECK(read.records == written.records);
    CHECK(read.result->next_lsn == 301);
    CHECK_FALSE(read.result->torn_tail.has_value());
    CHECK_FALSE(read.result->stopped);

    auto total = meridian::node::wal_size(env, dir);
    REQUIRE(total.has_value());
    std::uint64_t sum = 0;
    for (const auto& segment : *segments) sum += segment.size;
    CHECK(*total == sum);
}

TEST_CASE("reading from an lsn in the middle visits only the records from there on") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    auto& env = meridian::node::default_env();
    const Written written = write_wal(env, dir, sized_payloads(120));
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() >= 3);

    std::vector<std::uint64_t> starts = {1, 2, 57, 119, 120, 121, 500};
    for (const auto& segment : *segments) {
        starts.push_back(segment.first_lsn);
        starts.push_back(segment.first_lsn - 1);
    }
    for (const std::uint64_t from : starts) {
        INFO("from lsn " << from);
        const Read read = read_all(env, dir, from);
        REQUIRE(read.result.has_value());
        CHECK(read.records == slice(written.records, from == 0 ? 0 : from - 1));
        CHECK(read.result->next_lsn == 121);
    }
}

TEST_CASE("a visitor that stops early gets a position to resume from") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    FaultEnv env;
    const Written written = write_wal(env, dir, sized_payloads(150));

    for (const std::size_t batch : {1u, 7u, 64u}) {
        INFO("batch of " << batch);
        std::vector<Record> seen;
        WalReadOptions options;
        std::uint64_t from = 1;
        for (int calls = 0; calls < 1000; ++calls) {
            std::size_t taken = 0;
            auto result = read_wal(
                env, dir, from,
                [&](std::uint64_t lsn, std::string_view payload) {
                    seen.emplace_back(lsn, std::string(payload));
                    return ++taken < batch;
                },
                options);
            REQUIRE(result.has_value());
            from = result->next_lsn;
            options.resume = result->end;
            if (!result->stopped) break;
        }
        CHECK(seen == written.records);
        CHECK(from == 151);
    }
}

TEST_CASE("a torn record at the tail is truncated and the records before it survive") {
    FaultEnv env;
    env.skip_disk_syncs();
    const std::vector<std::string> payloads = sized_payloads(40);
    std::uint64_t last_record_size = 0;
    {
        TempDir probe;
        const Written written = write_wal(env, probe / "wal", payloads, 600);
        auto segments = list_segments(env, probe / "wal");
        REQUIRE(segments.has_value());
        last_record_size = segments->back().size - written.record_offsets.back();
        REQUIRE(last_record_size == kWalRecordOverhead + payloads.back().size());
    }
    for (std::uint64_t cut = 0; cut <= last_record_size; ++cut) {
        INFO("last record cut to " << cut << " of " << last_record_size << " bytes");
        TempDir tmp;
        const std::string dir = tmp / "wal";
        const Written written = write_wal(env, dir, payloads, 600);
        const std::uint64_t record_start = written.record_offsets.back();
        auto segments = list_segments(env, dir);
        REQUIRE(segments.has_value());
        const std::string last_path = segments->back().path;
        std::filesystem::resize_file(last_path, record_start + cut);

        WalReadOptions recover;
        recover.truncate_torn_tail = true;
        const Read read = read_all(env, dir, 1, recover);
        REQUIRE(read.result.has_value());
        if (cut == 0 || cut == last_record_size) {
            // Cut at a record boundary: nothing torn.
            CHECK_FALSE(read.result->torn_tail.has_value());
            CHECK(read.records == slice(written.records, 0, cut == 0 ? 39 : 40));
            continue;
        }
        REQUIRE(read.result->torn_tail.has_value());
        const auto& tail = *read.result->torn_tail;
        CHECK(tail.path == last_path);
        CHECK(tail.offset == record_start);
        CHECK(tail.lsn == 40);
        CHECK(tail.bytes == cut);
        CHECK(tail.truncated);
        CHECK(read.records == slice(written.records, 0, 39));
        CHECK(read.result->next_lsn == 40);
        CHECK(size_of(last_path) == record_start);

        // The writer carries on from the torn record's lsn and everything reads back clean.
        const Written more = write_wal(env, dir, {"after the tear"}, 600, 40);
        CHECK(more.records.front().first == 40);
        const Read again = read_all(env, dir);
        REQUIRE(again.result.has_value());
        CHECK_FALSE(again.result->torn_tail.has_value());
        CHECK(again.records.size() == 40);
        CHECK(again.records.back().second == "after the tear");
    }
}

TEST_CASE("a segment whose header was torn while rolling is dropped as a torn tail") {
    FaultEnv env;
    env.skip_disk_syncs();
    for (std::uint64_t cut = 0; cut < 40; ++cut) {
        INFO("new segment cut to " << cut << " bytes");
        TempDir tmp;
        const std::string dir = tmp / "wal";
        {
            auto writer = WalWriter::open(env, dir, 1, meta_for(1));
            REQUIRE(writer.has_value());
            for (int i = 0; i < 5; ++i) REQUIRE(writer->append(payload_for(i, 10)).has_value());
            REQUIRE(writer->roll(meta_for(6)).has_value());
            const std::uint64_t header = writer->segment_bytes();
            REQUIRE(header > 24);
            if (cut >= header) break;
            std::filesystem::resize_file(writer->segment_path(), cut);
        }
        // A live reader (no truncation) simply ends before the half-made segment.
        auto listed = list_segments(env, dir);
        REQUIRE(listed.has_value());
        CHECK(listed->size() == 1);

        WalReadOptions recover;
        recover.truncate_torn_tail = true;
        const Read read = read_all(env, dir, 1, recover);
        REQUIRE(read.result.has_value());
        REQUIRE(read.result->torn_tail.has_value());
        CHECK(read.result->torn_tail->offset == 0);
        CHECK(read.result->torn_tail->lsn == 6);
        CHECK(read.records.size() == 5);
        CHECK_FALSE(std::filesystem::exists(meridian::node::wal_segment_path(dir, 6)));
        CHECK(WalWriter::open(env, dir, 6, meta_for(6)).has_value());
    }
}

TEST_CASE("a flipped byte followed by valid records is corruption named by file and offset") {
    FaultEnv env;
    env.skip_disk_syncs();
    // Where to flip, relative to the start of record 10 of a single-segment WAL.
    const std::vector<std::pair<const char*, std::uint64_t>> spots = {
        {"length", 1}, {"length check", 5}, {"payload check", 9}, {"payload", 20}};
    for (const auto& [what, delta] : spots) {
        INFO("flipped a byte in the " << what);
        TempDir tmp;
        const std::string dir = tmp / "wal";
        const Written written = write_wal(env, dir, sized_payloads(30), 1 << 20);
        const std::uint64_t offset = written.record_offsets[9];
        const std::string path = meridian::node::wal_segment_path(dir, 1);
        flip_byte(path, offset + delta);
        const std::uint64_t size_before = size_of(path);

        const Read read = read_all(env, dir);
        REQUIRE_FALSE(read.result.has_value());
        const std::string& error = read.result.error();
        INFO(error);
        CHECK_THAT(error, Catch::Contains(path));
        CHECK_THAT(error, Catch::Contains("offset " + std::to_string(offset) + " (lsn 10)"));
        CHECK_THAT(error, Catch::Contains("valid records follow"));
        CHECK_THAT(error, Catch::Contains("--repair-wal"));
        CHECK(read.records == slice(written.records, 0, 9));

        // Truncating a torn tail is not enough to get past corruption.
        WalReadOptions recover;
        recover.truncate_torn_tail = true;
        CHECK_FALSE(read_all(env, dir, 1, recover).result.has_value());

        WalReadOptions repair;
        repair.repair = true;
        const Read repaired = read_all(env, dir, 1, repair);
        REQUIRE(repaired.result.has_value());
        REQUIRE(repaired.result->repair.has_value());
        CHECK(repaired.result->repair->offset == offset);
        CHECK(repaired.result->repair->lsn == 10);
        CHECK(repaired.result->repair->bytes_dropped == size_before - offset);
        CHECK(repaired.result->repair->segments_removed == 0);
        CHECK(size_of(path) == offset);
        CHECK(repaired.result->next_lsn == 10);
        CHECK(repaired.records == slice(written.records, 0, 9));
        CHECK_THAT(meridian::node::describe(*repaired.result->repair), Catch::Contains("dropping"));

        const Read after = read_all(env, dir);
        REQUIRE(after.result.has_value());
        CHECK_FALSE(after.result->torn_tail.has_value());
        CHECK(after.records == slice(written.records, 0, 9));
    }
}

TEST_CASE(
    "a bad record in a segment that is not the last is corruption, and repair drops the rest") {
    FaultEnv env;
    env.skip_disk_syncs();
    TempDir tmp;
    const std::string dir = tmp / "wal";
    const Written written = write_wal(env, dir, sized_payloads(100));
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() >= 3);
    const auto& second = (*segments)[1];
    const auto& third = (*segments)[2];
    // The very last record of the second segment: nothing valid follows inside its file.
    const std::uint64_t last_lsn = third.first_lsn - 1;
    const std::uint64_t offset = written.record_offsets[last_lsn - 1];
    flip_byte(second.path, second.size - 1);

    const Read read = read_all(env, dir);
    REQUIRE_FALSE(read.result.has_value());
    INFO(read.result.error());
    CHECK_THAT(read.result.error(), Catch::Contains(second.path + ": bad CRC in record at offset " +
                                                    std::to_string(offset)));
    CHECK_THAT(read.result.error(), Catch::Contains("later segments follow"));

    std::uint64_t later_bytes = 0;
    for (std::size_t i = 2; i < segments->size(); ++i) later_bytes += (*segments)[i].size;
    WalReadOptions repair;
    repair.repair = true;
    const Read repaired = read_all(env, dir, 1, repair);
    REQUIRE(repaired.result.has_value());
    REQUIRE(repaired.result->repair.has_value());
    CHECK(repaired.result->repair->bytes_dropped == second.size - offset + later_bytes);
    CHECK(repaired.result->repair->segments_removed == segments->size() - 2);
    CHECK(repaired.records == slice(written.records, 0, last_lsn - 1));
    auto left = list_segments(env, dir);
    REQUIRE(left.has_value());
    CHECK(left->size() == 2);
    CHECK(WalWriter::open(env, dir, last_lsn, meta_for(last_lsn)).has_value());
}

TEST_CASE("a flipped byte in a segment header is corruption at offset 0") {
    FaultEnv env;
    env.skip_disk_syncs();
    for (const std::uint64_t spot : {0u, 9u, 17u, 22u}) {
        for (const bool in_last : {false, true}) {
            INFO("header byte " << spot << (in_last ? " of the last segment" : " of segment 2"));
            TempDir tmp;
            const std::string dir = tmp / "wal";
            write_wal(env, dir, sized_payloads(60));
            auto segments = list_segments(env, dir);
            REQUIRE(segments.has_value());
            REQUIRE(segments->size() >= 3);
            const auto& target = in_last ? segments->back() : (*segments)[1];
            flip_byte(target.path, spot);

            // (A last segment whose meta length now points past its end looks like a header
            // still being written, which a listing skips; read_wal sees the records after it.)
            if (!in_last) CHECK_FALSE(list_segments(env, dir).has_value());
            const Read read = read_all(env, dir);
            REQUIRE_FALSE(read.result.has_value());
            INFO(read.result.error());
            CHECK_THAT(read.result.error(), Catch::Contains(target.path + ": bad segment header"));
            CHECK_THAT(read.result.error(), Catch::Contains("at offset 0"));
            CHECK(read.records.size() == target.first_lsn - 1);

            WalReadOptions repair;
            repair.repair = true;
            const Read repaired = read_all(env, dir, 1, repair);
            REQUIRE(repaired.result.has_value());
            CHECK(repaired.result->next_lsn == target.first_lsn);
            CHECK_FALSE(std::filesystem::exists(target.path));
            CHECK(read_all(env, dir).result.has_value());
        }
    }
}

TEST_CASE("a missing segment in the middle is an lsn gap, not silently skipped") {
    FaultEnv env;
    env.skip_disk_syncs();
    TempDir tmp;
    const std::string dir = tmp / "wal";
    write_wal(env, dir, sized_payloads(100));
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() >= 4);
    std::filesystem::remove((*segments)[2].path);

    const Read read = read_all(env, dir);
    REQUIRE_FALSE(read.result.has_value());
    INFO(read.result.error());
    CHECK_THAT(read.result.error(), Catch::Contains((*segments)[3].path));
    CHECK_THAT(read.result.error(), Catch::Contains("records are missing"));

    WalReadOptions repair;
    repair.repair = true;
    const Read repaired = read_all(env, dir, 1, repair);
    REQUIRE(repaired.result.has_value());
    CHECK(repaired.result->next_lsn == (*segments)[2].first_lsn);
    CHECK(repaired.records.size() == (*segments)[2].first_lsn - 1);
}

TEST_CASE("a huge length is never trusted with an allocation") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    FaultEnv env;
    const Written written = write_wal(env, dir, sized_payloads(5));
    const std::string path = meridian::node::wal_segment_path(dir, 1);

    for (const std::uint32_t length : {0x3FFFFFF0u, 0x40000001u, 0xFFFFFFF0u}) {
        INFO("length " << length);
        // A frame claiming `length` bytes whose length check passes, then a little data.
        std::string frame = le32(length) + le32(reference_crc32c(le32(length))) + le32(0);
        frame.append(100, 'x');
        auto file = env.open_append(path);
        REQUIRE(file.has_value());
        const std::uint64_t before = (*file)->size();
        REQUIRE((*file)->append(frame).has_value());

        const Read read = read_all(env, dir);
        REQUIRE(read.result.has_value());
        REQUIRE(read.result->torn_tail.has_value());
        INFO(read.result->torn_tail->problem);
        CHECK(read.result->torn_tail->offset == before);
        CHECK_THAT(read.result->torn_tail->problem,
                   Catch::Contains(length > (1u << 30) ? "above the 1 GiB limit"
                                                       : "runs past the end of the file"));
        CHECK(read.records == written.records);
        CHECK(env.largest_read() <= size_of(path));
        std::filesystem::resize_file(path, before);
    }
}

TEST_CASE("the writer refuses a record above 1 GiB without writing anything") {
    TempDir tmp;
    auto& env = meridian::node::default_env();
    auto writer = WalWriter::open(env, tmp / "wal", 1, "");
    REQUIRE(writer.has_value());
    // Address space only: the writer must refuse before touching the bytes.
    const std::size_t size = (std::size_t{1} << 30) + 1;
    void* region =
        ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(region != MAP_FAILED);
    auto lsn = writer->append(std::string_view(static_cast<const char*>(region), size));
    ::munmap(region, size);
    REQUIRE_FALSE(lsn.has_value());
    CHECK_THAT(lsn.error(), Catch::Contains("1 GiB"));
    CHECK(writer->next_lsn() == 1);
    CHECK(writer->buffered_bytes() == 0);
    CHECK_FALSE(writer->broken());
    CHECK(writer->append("fine").value() == 1);
}

TEST_CASE("a crash loses exactly the records that were flushed but not synced") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    FaultEnv env;
    std::vector<Record> all;
    std::uint64_t durable_through = 0;
    {
        auto writer = WalWriter::open(env, dir, 1, meta_for(1), WalWriterOptions{2048});
        REQUIRE(writer.has_value());
        for (std::uint64_t i = 1; i <= 200; ++i) {
            if (writer->should_roll()) {
                // A roll syncs the segment it closes.
                REQUIRE(writer->roll(meta_for(writer->next_lsn())).has_value());
                durable_through = i - 1;
            }
            const std::string payload = payload_for(i, i % 50);
            REQUIRE(writer->append(payload).value() == i);
            REQUIRE(writer->flush().has_value());
            all.emplace_back(i, payload);
            // What an fsync worker does: sync the file it was handed, after the flush.
            if (i == 150) {
                REQUIRE(writer->current_file()->sync().has_value());
                durable_through = 150;
            }
        }
        REQUIRE(durable_through < 200);
        env.crash();
    }
    INFO("durable through lsn " << durable_through);
    const Read read = read_all(env, dir, 1, WalReadOptions{true, false, std::nullopt});
    REQUIRE(read.result.has_value());
    CHECK_FALSE(read.result->torn_tail.has_value());
    CHECK(read.records == slice(all, 0, durable_through));
    auto writer = WalWriter::open(env, dir, read.result->next_lsn, meta_for(read.result->next_lsn));
    CHECK(writer.has_value());
}

TEST_CASE("a crash right after a roll keeps the new segment and its synced records") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    FaultEnv env;
    {
        auto writer = WalWriter::open(env, dir, 1, meta_for(1));
        REQUIRE(writer.has_value());
        REQUIRE(writer->append("one").has_value());
        REQUIRE(writer->roll(meta_for(2)).has_value());
        REQUIRE(writer->append("two").has_value());
        REQUIRE(writer->sync().has_value());
        REQUIRE(writer->append("three (never synced)").has_value());
        REQUIRE(writer->flush().has_value());
        env.crash();
    }
    const Read read = read_all(env, dir);
    REQUIRE(read.result.has_value());
    CHECK(read.records == std::vector<Record>{{1, "one"}, {2, "two"}});
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() == 2);
    CHECK(segments->back().meta == meta_for(2));
}

TEST_CASE("a failed write breaks the writer and recovery truncates the partial record") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    FaultEnv env;
    {
        auto writer = WalWriter::open(env, dir, 1, meta_for(1));
        REQUIRE(writer.has_value());
        REQUIRE(writer->append("kept").has_value());
        REQUIRE(writer->flush().has_value());
        REQUIRE(writer->append("half written").has_value());
        env.fail_next_append(7);
        auto flushed = writer->flush();
        REQUIRE_FALSE(flushed.has_value());
        CHECK_THAT(flushed.error(), Catch::Contains("injected"));
        CHECK(writer->broken());
        CHECK(writer->flushed_lsn() == 1);
        // Sticky: nothing may be written after the partial record.
        CHECK_FALSE(writer->append("later").has_value());
        CHECK_FALSE(writer->flush().has_value());
        CHECK_FALSE(writer->roll("").has_value());
    }
    WalReadOptions recover;
    recover.truncate_torn_tail = true;
    const Read read = read_all(env, dir, 1, recover);
    REQUIRE(read.result.has_value());
    REQUIRE(read.result->torn_tail.has_value());
    CHECK(read.result->torn_tail->lsn == 2);
    CHECK(read.result->torn_tail->bytes == 7);
    CHECK_THAT(meridian::node::describe(*read.result->torn_tail), Catch::Contains("truncated"));
    CHECK(read.records == std::vector<Record>{{1, "kept"}});
    CHECK(WalWriter::open(env, dir, 2, meta_for(2)).has_value());
}

TEST_CASE("a failed sync breaks the writer") {
    TempDir tmp;
    FaultEnv env;
    auto writer = WalWriter::open(env, tmp / "wal", 1, "");
    REQUIRE(writer.has_value());
    REQUIRE(writer->append("x").has_value());
    env.fail_next_sync();
    auto synced = writer->sync();
    REQUIRE_FALSE(synced.has_value());
    CHECK_THAT(synced.error(), Catch::Contains("fdatasync"));
    CHECK(writer->broken());
    CHECK_FALSE(writer->append("y").has_value());
}

TEST_CASE("opening the writer on top of a segment that holds records is refused") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    auto& env = meridian::node::default_env();
    write_wal(env, dir, sized_payloads(5));
    auto same = WalWriter::open(env, dir, 1, "");
    REQUIRE_FALSE(same.has_value());
    CHECK_THAT(same.error(), Catch::Contains("not empty"));

    // A run that wrote nothing leaves an empty segment, which the next open replaces.
    { REQUIRE(WalWriter::open(env, dir, 6, "first meta").has_value()); }
    {
        auto writer = WalWriter::open(env, dir, 6, "second meta");
        REQUIRE(writer.has_value());
        REQUIRE(writer->append("six").value() == 6);
        REQUIRE(writer->sync().has_value());
    }
    auto behind = WalWriter::open(env, dir, 3, "");
    REQUIRE_FALSE(behind.has_value());
    const Read read = read_all(env, dir, 6);
    REQUIRE(read.result.has_value());
    CHECK(read.records == std::vector<Record>{{6, "six"}});
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    CHECK(segments->back().meta == "second meta");
}

TEST_CASE("retention removes exactly the segments whose records are all older") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    FaultEnv env;
    env.skip_disk_syncs();
    const Written written = write_wal(env, dir, sized_payloads(200));
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() >= 5);
    const auto& all = *segments;

    // Up to and including the first lsn of segment 2: only segment 0's records are all older...
    auto removed = meridian::node::remove_segments_before(env, dir, all[2].first_lsn - 1);
    REQUIRE(removed.has_value());
    CHECK(*removed == all[0].size);
    removed = meridian::node::remove_segments_before(env, dir, all[2].first_lsn);
    REQUIRE(removed.has_value());
    CHECK(*removed == all[1].size);

    const Read rest = read_all(env, dir, all[2].first_lsn);
    REQUIRE(rest.result.has_value());
    CHECK(rest.records == slice(written.records, all[2].first_lsn - 1));
    const Read gone = read_all(env, dir, all[2].first_lsn - 1);
    REQUIRE_FALSE(gone.result.has_value());
    CHECK_THAT(gone.result.error(), Catch::Contains("were removed"));

    // Never the last segment, however far the lsn.
    removed = meridian::node::remove_segments_before(env, dir, 1'000'000);
    REQUIRE(removed.has_value());
    auto left = list_segments(env, dir);
    REQUIRE(left.has_value());
    REQUIRE(left->size() == 1);
    CHECK(left->front().first_lsn == all.back().first_lsn);
    CHECK(meridian::node::wal_size(env, dir).value() == all.back().size);
}

TEST_CASE("an empty or missing wal directory reads as no records") {
    TempDir tmp;
    auto& env = meridian::node::default_env();
    const Read read = read_all(env, tmp / "nowhere", 42);
    REQUIRE(read.result.has_value());
    CHECK(read.result->next_lsn == 42);
    CHECK(read.records.empty());
    CHECK(list_segments(env, tmp / "nowhere").value().empty());
}

TEST_CASE("any single flipped byte is detected, and repair keeps exactly the records before it") {
    rc::prop("flip", [](std::uint8_t mask_seed, std::uint32_t spot_seed, std::uint8_t count_seed) {
        const unsigned char mask = mask_seed == 0 ? 1 : mask_seed;
        const std::size_t count = 1 + count_seed % 60;
        TempDir tmp;
        const std::string dir = tmp / "wal";
        FaultEnv env;
        env.skip_disk_syncs();
        std::vector<std::string> payloads = sized_payloads(count);
        const Written written = write_wal(env, dir, payloads, 700);
        auto segments = list_segments(env, dir);
        RC_ASSERT(segments.has_value());
        std::uint64_t total = 0;
        for (const auto& s : *segments) total += s.size;
        std::uint64_t spot = spot_seed % total;
        std::string path;
        for (const auto& s : *segments) {
            if (spot < s.size) {
                path = s.path;
                break;
            }
            spot -= s.size;
        }
        RC_LOG() << "flipped byte " << spot << " of " << path << " with mask " << int(mask) << " ("
                 << count << " records)\n";
        flip_byte(path, spot, mask);
        RC_TAG(path == segments->back().path ? "last segment" : "earlier segment");

        const Read read = read_all(env, dir);
        const bool prefix = read.records == slice(written.records, 0, read.records.size());
        RC_ASSERT(prefix);
        if (read.result.has_value()) {
            // Detected as a torn tail: only possible in the last segment.
            RC_ASSERT(read.result->torn_tail.has_value());
            RC_ASSERT(path == segments->back().path);
        } else {
            RC_ASSERT(read.result.error().find(path) != std::string::npos);
        }

        WalReadOptions repair;
        repair.repair = true;
        const Read repaired = read_all(env, dir, 1, repair);
        RC_ASSERT(repaired.result.has_value());
        RC_ASSERT(repaired.records == slice(written.records, 0, repaired.records.size()));
        RC_ASSERT(repaired.records.size() >= read.records.size());
        const Read after = read_all(env, dir);
        RC_ASSERT(after.result.has_value());
        RC_ASSERT(!after.result->torn_tail.has_value());
        RC_ASSERT(after.records == repaired.records);
    });
}

TEST_CASE("records are framed with CRC-32C over the length and over the payload") {
    TempDir tmp;
    const std::string dir = tmp / "wal";
    auto& env = meridian::node::default_env();
    CHECK(reference_crc32c("123456789") == 0xE3069283u);  // the standard check value
    write_wal(env, dir, {"123456789"});
    auto segments = list_segments(env, dir);
    REQUIRE(segments.has_value());
    const std::string bytes = env.read_file(segments->front().path).value();
    const std::size_t at = segments->front().header_bytes;
    REQUIRE(bytes.size() == at + kWalRecordOverhead + 9);
    CHECK(bytes.substr(0, 8) == "MRDNWAL1");
    CHECK(u32_at(bytes, at) == 9);
    CHECK(u32_at(bytes, at + 4) == reference_crc32c(bytes.substr(at, 4)));
    CHECK(u32_at(bytes, at + 8) == 0xE3069283u);
    CHECK(u32_at(bytes, at - 4) == reference_crc32c(bytes.substr(0, at - 4)));
}
