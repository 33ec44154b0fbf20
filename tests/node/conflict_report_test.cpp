#include "node/conflict_report.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "storage/fault_env.hpp"

namespace {

using meridian::crdt::Hlc;
using meridian::crdt::WriteStamp;
using meridian::node::ConflictEntry;
using meridian::node::ConflictLog;
using meridian::node::parse_conflict_query;
using meridian::node::parse_conflict_query_string;
using meridian::node::select_conflicts;
using meridian::node::testing::TempDir;

ConflictLog feed_of(const TempDir& dir, const std::vector<std::string>& keys) {
    auto log = ConflictLog::open(meridian::node::default_env(), dir / "conflicts.log", {});
    REQUIRE(log);
    std::uint64_t n = 0;
    for (const std::string& key : keys) {
        ++n;
        REQUIRE(log->record(ConflictEntry{Hlc::from_parts(100 + n, 0), key, "v", 0,
                                          WriteStamp{Hlc::from_parts(n, 0), {1, 0}},
                                          WriteStamp{Hlc::from_parts(n, 1), {2, 0}}}));
    }
    return std::move(*log);
}

std::vector<std::string> keys_of(const std::vector<const ConflictEntry*>& entries) {
    std::vector<std::string> keys;
    for (const ConflictEntry* e : entries) keys.push_back(e->key);
    return keys;
}

}  // namespace

TEST_CASE("conflict query: options from MERIDIAN CONFLICTS and from a URL read the same") {
    const std::vector<std::string> args = {"count", "3", "MATCH", "a*", "Since", "77"};
    const auto from_command = parse_conflict_query(args);
    REQUIRE(from_command);
    CHECK(from_command->count == 3);
    CHECK(from_command->match == "a*");
    CHECK(from_command->since == Hlc::from_packed(77));
    const auto from_url = parse_conflict_query_string("count=3&match=a%2a&since=77");
    REQUIRE(from_url);
    CHECK(from_url->count == from_command->count);
    CHECK(from_url->match == from_command->match);
    CHECK(from_url->since == from_command->since);
    CHECK(parse_conflict_query_string("")->count == 10);
    CHECK(parse_conflict_query_string("match=a+b")->match == "a b");

    CHECK_FALSE(parse_conflict_query(std::vector<std::string>{"COUNT"}));
    CHECK_FALSE(parse_conflict_query(std::vector<std::string>{"COUNT", "0"}));
    CHECK_FALSE(parse_conflict_query(std::vector<std::string>{"COUNT", "-1"}));
    CHECK_FALSE(parse_conflict_query(std::vector<std::string>{"SINCE", "soon"}));
    CHECK_FALSE(parse_conflict_query(std::vector<std::string>{"LIMIT", "1"}));
    CHECK_FALSE(parse_conflict_query_string("match=%zz"));
    CHECK_FALSE(parse_conflict_query_string("match=%4"));
}

TEST_CASE("conflict query: the newest entries without SINCE, the next ones after it") {
    TempDir dir;
    const ConflictLog log = feed_of(dir, {"a1", "b1", "a2", "b2", "a3"});
    const auto query = [&](std::string text) {
        return keys_of(select_conflicts(log, *parse_conflict_query_string(text)));
    };
    using Keys = std::vector<std::string>;
    CHECK(query("") == Keys{"a1", "b1", "a2", "b2", "a3"});
    CHECK(query("count=2") == Keys{"b2", "a3"});
    CHECK(query("count=2&match=a*") == Keys{"a2", "a3"});
    const std::string after_b1 = std::to_string(log.entries()[1].detected.packed());
    CHECK(query("count=2&since=" + after_b1) == Keys{"a2", "b2"});
    CHECK(query("match=b*&since=" + after_b1) == Keys{"b2"});
    CHECK(query("since=" + std::to_string(log.entries().back().detected.packed())).empty());
}
