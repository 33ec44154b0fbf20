#include "storage/conflict_log.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "storage/fault_env.hpp"

namespace {

using meridian::crdt::Hlc;
using meridian::crdt::ReplicaId;
using meridian::crdt::WriteStamp;
using meridian::node::ConflictEntry;
using meridian::node::ConflictLog;
using meridian::node::default_env;
using meridian::node::parse_conflict_log;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::flip_byte;
using meridian::node::testing::size_of;
using meridian::node::testing::TempDir;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

ConflictEntry lost(std::uint64_t n, std::optional<std::string> value = "v") {
    return ConflictEntry{Hlc::from_parts(1000 + n, 0),
                         "key" + std::to_string(n),
                         std::move(value),
                         0,
                         WriteStamp{Hlc::from_parts(n, 0), us},
                         WriteStamp{Hlc::from_parts(n, 1), eu}};
}

ConflictLog open_log(const std::string& path, ConflictLog::Options options = {}) {
    auto log = ConflictLog::open(default_env(), path, options);
    REQUIRE(log);
    return std::move(*log);
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("conflict log: entries survive a reopen, oldest first, values truncated") {
    TempDir dir;
    const std::string path = dir / "conflicts.log";
    {
        ConflictLog log = open_log(path, {.capacity = 10, .value_bytes = 4});
        REQUIRE(log.record(lost(1, "abcdefgh")));
        REQUIRE(log.record(lost(2, std::nullopt)));  // a delete lost
        CHECK(log.entries()[0].value == "abcd");
        CHECK(log.entries()[0].value_size == 8);
    }
    ConflictLog log = open_log(path, {.capacity = 10, .value_bytes = 4});
    CHECK(log.problem().empty());
    REQUIRE(log.entries().size() == 2);
    CHECK(log.entries()[0].key == "key1");
    CHECK(log.entries()[0].value == "abcd");
    CHECK(log.entries()[0].loser == WriteStamp{Hlc::from_parts(1, 0), us});
    CHECK(log.entries()[1].value == std::nullopt);
    REQUIRE(log.record(lost(3)));
    CHECK(open_log(path).entries().size() == 3);
}

TEST_CASE("conflict log: it keeps the newest entries and a bounded file") {
    TempDir dir;
    const std::string path = dir / "conflicts.log";
    ConflictLog log = open_log(path, {.capacity = 5});
    for (std::uint64_t n = 1; n <= 23; ++n) REQUIRE(log.record(lost(n)));
    REQUIRE(log.entries().size() == 5);
    CHECK(log.entries().front().key == "key19");
    const auto on_disk = parse_conflict_log(read_all(path));
    CHECK_FALSE(on_disk.problem);
    CHECK(on_disk.entries.size() <= 10);
    const ConflictLog reopened = open_log(path, {.capacity = 5});
    REQUIRE(reopened.entries().size() == 5);
    CHECK(reopened.entries().back().key == "key23");
}

TEST_CASE("conflict log: detection times increase from entry to entry") {
    TempDir dir;
    ConflictLog log = open_log(dir / "conflicts.log");
    REQUIRE(log.record(lost(5)));
    REQUIRE(log.record(lost(2)));  // detected earlier by its own clock: raised past the last
    CHECK(log.entries()[1].detected > log.entries()[0].detected);
}

TEST_CASE("conflict log: a torn last entry is dropped and appends follow the whole ones") {
    TempDir dir;
    const std::string path = dir / "conflicts.log";
    {
        ConflictLog log = open_log(path);
        REQUIRE(log.record(lost(1)));
        REQUIRE(log.record(lost(2)));
    }
    std::filesystem::resize_file(path, size_of(path) - 3);
    {
        ConflictLog log = open_log(path);
        CHECK(log.problem().empty());
        REQUIRE(log.entries().size() == 1);
        REQUIRE(log.record(lost(3)));
    }
    const ConflictLog log = open_log(path);
    REQUIRE(log.entries().size() == 2);
    CHECK(log.entries()[1].key == "key3");
}

TEST_CASE("conflict log: a corrupt file is set aside, reported, and the feed starts empty") {
    TempDir dir;
    const std::string path = dir / "conflicts.log";
    {
        ConflictLog log = open_log(path);
        for (std::uint64_t n = 1; n <= 3; ++n) REQUIRE(log.record(lost(n)));
    }
    const std::uint64_t size = size_of(path);
    SECTION("a flipped payload byte") {
        flip_byte(path, size - 2);
    }
    SECTION("a flipped length byte") {
        flip_byte(path, 8);
    }
    SECTION("another file's header") {
        flip_byte(path, 0);
    }
    ConflictLog log = open_log(path);
    CHECK_THAT(log.problem(), Catch::Contains("set aside"));
    CHECK(log.entries().empty());
    CHECK(std::filesystem::exists(path + ".bad"));
    REQUIRE(log.record(lost(9)));
    const ConflictLog reopened = open_log(path);
    CHECK(reopened.problem().empty());
    CHECK(reopened.entries().size() == 1);
}

TEST_CASE("conflict log: a failed append is reported, kept in memory, and rewritten next time") {
    TempDir dir;
    FaultEnv env;
    const std::string path = dir / "conflicts.log";
    auto log = ConflictLog::open(env, path, {});
    REQUIRE(log);
    REQUIRE(log->record(lost(1)));
    env.fail_next_append(5);
    CHECK_FALSE(log->record(lost(2)));
    CHECK_FALSE(log->problem().empty());
    CHECK(log->entries().size() == 2);
    REQUIRE(log->record(lost(3)));
    const ConflictLog reopened = open_log(path);
    CHECK(reopened.problem().empty());
    CHECK(reopened.entries().size() == 3);
}

TEST_CASE("conflict log: capacity 0 keeps nothing and writes no file") {
    TempDir dir;
    const std::string path = dir / "conflicts.log";
    ConflictLog log = open_log(path, {.capacity = 0});
    REQUIRE(log.record(lost(1)));
    CHECK(log.entries().empty());
    CHECK_FALSE(std::filesystem::exists(path));
}
