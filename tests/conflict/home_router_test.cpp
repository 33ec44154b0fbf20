#include "conflict/home_router.hpp"

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>

using meridian::conflict::hash_tag;
using meridian::conflict::home_of;
using meridian::conflict::HomeRule;
using meridian::conflict::Policy;
using meridian::conflict::RegionDirectory;
using meridian::crdt::ValueType;

namespace {

RegionDirectory regions() {
    RegionDirectory d;
    (void)d.add(1, "us-east");
    (void)d.add(2, "eu-west");
    return d;
}

Policy home_routed(HomeRule home) {
    Policy p;
    p.match = "acct:*";
    p.type = ValueType::counter;
    p.home_routed = true;
    p.home = home;
    return p;
}

const Policy tagged = home_routed({HomeRule::Kind::tag, 0});

}  // namespace

TEST_CASE("a hash tag is what lies between the first '{' and the next '}'") {
    CHECK(hash_tag("acct:{eu-west}:42") == "eu-west");
    CHECK(hash_tag("{a}{b}") == "a");
    CHECK(hash_tag("{{a}}") == "{a");
    CHECK(hash_tag("a}b{c}") == "c");
    CHECK(hash_tag("{x}") == "x");
}

TEST_CASE("a key without a closed, non-empty tag has no hash tag") {
    CHECK_FALSE(hash_tag("acct:42"));
    CHECK_FALSE(hash_tag("acct:{42"));
    CHECK_FALSE(hash_tag("acct:}42{"));
    CHECK_FALSE(hash_tag("{}"));
    CHECK_FALSE(hash_tag("x{}y{z}"));  // as Redis: only the first '{' counts
    CHECK_FALSE(hash_tag(""));
}

TEST_CASE("any text between braces is found as the hash tag") {
    rc::prop("prefix{tag}suffix",
             [](const std::string& prefix, const std::string& tag, const std::string& suffix) {
                 RC_PRE(prefix.find('{') == std::string::npos);
                 RC_PRE(tag.find('}') == std::string::npos && !tag.empty());
                 RC_ASSERT(hash_tag(prefix + "{" + tag + "}" + suffix) == tag);
             });
}

TEST_CASE("a fixed home is the same region for every key") {
    const Policy fixed = home_routed({HomeRule::Kind::fixed, 2});
    for (std::string_view key : {"acct:1", "acct:{us-east}:1", ""}) {
        auto home = home_of(fixed, key, regions());
        REQUIRE(home);
        CHECK(*home == 2);
    }
}

TEST_CASE("a tag home is the region its hash tag names") {
    auto eu = home_of(tagged, "acct:{eu-west}:42", regions());
    REQUIRE(eu);
    CHECK(*eu == 2);
    auto us = home_of(tagged, "{us-east}", regions());
    REQUIRE(us);
    CHECK(*us == 1);
}

TEST_CASE("a tag-homed key without a hash tag is refused with a one-line error") {
    auto home = home_of(tagged, "acct:42", regions());
    REQUIRE_FALSE(home);
    CHECK(home.error() == "key acct:42 has no {region} hash tag");
}

TEST_CASE("a hash tag naming no region is refused with a one-line error") {
    auto home = home_of(tagged, "acct:{mars}:1", regions());
    REQUIRE_FALSE(home);
    CHECK(home.error() == "hash tag {mars} of key acct:{mars}:1 names no region");
}

TEST_CASE("region names in hash tags are case-sensitive") {
    CHECK_FALSE(home_of(tagged, "acct:{EU-WEST}:1", regions()));
}

TEST_CASE("a key's control bytes are escaped and a long key cut short in errors") {
    auto home = home_of(tagged, std::string_view("a\r\nb\0", 5), regions());
    REQUIRE_FALSE(home);
    CHECK(home.error() == "key a\\x0d\\x0ab\\x00 has no {region} hash tag");

    const std::string long_key(500, 'k');
    auto cut = home_of(tagged, long_key, regions());
    REQUIRE_FALSE(cut);
    CHECK(cut.error() == "key " + std::string(64, 'k') + "... has no {region} hash tag");
}

TEST_CASE("a policy that is not home-routed has no home") {
    Policy local;
    local.match = "balance:*";
    auto home = home_of(local, "balance:1", regions());
    REQUIRE_FALSE(home);
    CHECK(home.error() == "key balance:1 is not home-routed");
}

TEST_CASE("a fixed home missing from the directory is refused") {
    auto home = home_of(home_routed({HomeRule::Kind::fixed, 9}), "acct:1", regions());
    REQUIRE_FALSE(home);
    CHECK(home.error() == "home region 9 of key acct:1 is not a region");
}
