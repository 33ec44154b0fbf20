#include "conflict/region_directory.hpp"

#include <rapidcheck/catch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>

using meridian::conflict::RegionDirectory;
using meridian::conflict::RegionEntry;

TEST_CASE("a region is found by id and by name") {
    RegionDirectory d;
    REQUIRE(d.add(2, "eu-west"));
    REQUIRE(d.add(1, "us-east"));
    CHECK(d.id_of("eu-west") == 2);
    CHECK(d.id_of("us-east") == 1);
    CHECK(d.name_of(2) == "eu-west");
    CHECK(d.name_of(1) == "us-east");
    CHECK(d.size() == 2);
}

TEST_CASE("an unknown region has no id and an empty name") {
    RegionDirectory d;
    REQUIRE(d.add(7, "ap-south"));
    CHECK_FALSE(d.id_of("mars"));
    CHECK_FALSE(d.id_of(""));
    CHECK(d.name_of(8).empty());
    CHECK(d.name_of(0).empty());
}

TEST_CASE("a duplicate id, a duplicate name, id 0 and an empty name are refused") {
    RegionDirectory d;
    REQUIRE(d.add(1, "us-east"));
    auto same_id = d.add(1, "eu-west");
    REQUIRE_FALSE(same_id);
    CHECK(same_id.error() == "region id 1 is already us-east");
    auto same_name = d.add(2, "us-east");
    REQUIRE_FALSE(same_name);
    CHECK(same_name.error() == "region name us-east is already id 1");
    CHECK_FALSE(d.add(0, "zero"));
    CHECK_FALSE(d.add(3, ""));
    CHECK(d.size() == 1);
    CHECK(d.name_of(2).empty());
}

TEST_CASE("entries are sorted by id whatever the order they were added in") {
    rc::prop("entries sorted by id", [](const std::set<std::uint16_t>& raw_ids) {
        std::vector<std::uint16_t> ids;
        for (auto id : raw_ids) {
            if (id != 0) ids.push_back(id);
        }
        std::shuffle(ids.begin(), ids.end(), std::mt19937(*rc::gen::arbitrary<unsigned>()));
        RegionDirectory d;
        for (auto id : ids) RC_ASSERT(d.add(id, "r" + std::to_string(id)).has_value());
        RC_ASSERT(d.size() == ids.size());
        for (std::size_t i = 1; i < d.entries().size(); ++i) {
            RC_ASSERT(d.entries()[i - 1].id < d.entries()[i].id);
        }
        for (const RegionEntry& e : d.entries()) {
            RC_ASSERT(d.name_of(e.id) == "r" + std::to_string(e.id));
            RC_ASSERT(d.id_of(e.name) == e.id);
        }
    });
}
