// The restore command's inputs: times and version vectors as operators type them.
#include "node/restore.hpp"

#include <catch2/catch.hpp>

#include "conflict/region_directory.hpp"

namespace {

using meridian::node::format_unix_ms;
using meridian::node::parse_restore_time;
using meridian::node::parse_version_vector;

TEST_CASE("restore times are RFC 3339 with a zone, or Unix milliseconds") {
    CHECK(parse_restore_time("1796407635204").value() == 1796407635204);
    CHECK(parse_restore_time("1970-01-01T00:00:00Z").value() == 0);
    CHECK(parse_restore_time("2026-12-04T17:38:15.123Z").value() == 1796405895123);
    CHECK(parse_restore_time("2026-12-04T17:38:15.1Z").value() == 1796405895100);
    CHECK(parse_restore_time("2026-12-04 18:38:15.123+01:00").value() == 1796405895123);
    CHECK(parse_restore_time("2026-12-04T16:38:15.123-01:00").value() == 1796405895123);
    CHECK(format_unix_ms(1796405895123) == "2026-12-04T17:38:15.123Z");
    CHECK(parse_restore_time(format_unix_ms(1796405895007)).value() == 1796405895007);
    for (const char* bad : {"", "yesterday", "2026-12-04T17:38:15", "2026-13-04T17:38:15Z",
                            "2026-12-04T17:38:15.Z", "2026-12-04T17:38:15Zjunk", "2026-12-04T17:38:15+1:00",
                            "-5", "99999999999999999999999"}) {
        INFO(bad);
        CHECK_FALSE(parse_restore_time(bad).has_value());
    }
    CHECK(parse_restore_time("2026-12-04T17:38:15").error().find("zone") != std::string::npos);
}

TEST_CASE("restore version vectors take MERIDIAN VV's form and the numeric one") {
    meridian::conflict::RegionDirectory regions;
    REQUIRE(regions.add(1, "us-east").has_value());
    REQUIRE(regions.add(2, "eu-west").has_value());
    const auto named = parse_version_vector("us-east.0:17 eu-west.1:9", regions);
    REQUIRE(named.has_value());
    CHECK(named->to_string() == "{1.0:17, 2.1:9}");
    const auto numeric = parse_version_vector(named->to_string(), regions);
    REQUIRE(numeric.has_value());
    CHECK(*numeric == *named);
    for (const char* bad : {"", "{}", "mars.0:1", "us-east:17", "us-east.0", "us-east.x:1", "1.0:-1",
                            "70000.0:1", "1.70000:1"}) {
        INFO(bad);
        CHECK_FALSE(parse_version_vector(bad, regions).has_value());
    }
}

}  // namespace
