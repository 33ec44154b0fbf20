#include "storage/checked_file.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "storage/fault_env.hpp"

using meridian::node::default_env;
using meridian::node::read_checked_file;
using meridian::node::write_checked_file;
using meridian::node::testing::flip_byte;
using meridian::node::testing::size_of;
using meridian::node::testing::TempDir;

TEST_CASE("a checked file reads back what was written, and nothing when absent") {
    TempDir dir;
    const std::string path = dir.path() + "/homes";
    auto none = read_checked_file(default_env(), path, "MRDNHOM1");
    REQUIRE(none);
    CHECK_FALSE(none->has_value());

    REQUIRE(write_checked_file(default_env(), path, "MRDNHOM1", std::string("body\0bytes", 10)));
    auto read = read_checked_file(default_env(), path, "MRDNHOM1");
    REQUIRE(read);
    CHECK(**read == std::string("body\0bytes", 10));
    REQUIRE(write_checked_file(default_env(), path, "MRDNHOM1", ""));
    CHECK(**read_checked_file(default_env(), path, "MRDNHOM1") == "");
}

TEST_CASE("a damaged checked file is an error naming the file and the damage") {
    TempDir dir;
    const std::string path = dir.path() + "/homes";
    REQUIRE(write_checked_file(default_env(), path, "MRDNHOM1", "some body"));

    auto other_kind = read_checked_file(default_env(), path, "MRDNXXX1");
    REQUIRE_FALSE(other_kind);
    CHECK(other_kind.error() == path + ": not a MRDNXXX1 file");

    flip_byte(path, size_of(path) - 2);
    auto flipped = read_checked_file(default_env(), path, "MRDNHOM1");
    REQUIRE_FALSE(flipped);
    CHECK(flipped.error() == path + ": checksum mismatch");

    REQUIRE(write_checked_file(default_env(), path, "MRDNHOM1", "some body"));
    std::ofstream(path, std::ios::app) << "tail";
    auto longer = read_checked_file(default_env(), path, "MRDNHOM1");
    REQUIRE_FALSE(longer);
    CHECK(longer.error() == path + ": 13 bytes of body, the header says 9");

    std::ofstream(path, std::ios::trunc) << "MRDNHOM1";
    CHECK_FALSE(read_checked_file(default_env(), path, "MRDNHOM1"));
}
