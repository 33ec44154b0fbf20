// The conflict feed and conflict counts against real meridian-node processes (issue 16):
// concurrent LWW writes at two regions through a partition put exactly the losing writes in the
// feed, each at the region that made it, with INFO's counts matching; MERIDIAN CONFLICTS and
// GET /conflicts read the same entries; the feed survives kill -9 without counting twice; a
// corrupt feed file is set aside and the node carries on; set and counter conflicts are counted.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "integration/harness.hpp"
#include "integration/http_client.hpp"

namespace {

using namespace meridian::test;

const std::string config = R"(
fsync = "always"
heartbeat_ms = 100
peer_timeout_ms = 1000
reconnect_min_ms = 50
reconnect_max_ms = 500

[[policy]]
match = "tags:*"
type = "set"

[[policy]]
match = "hits:*"
type = "counter"
)";

const Reply ok = Reply::string("OK");

struct FeedEntry {
    std::string key;
    std::optional<std::string> value;
    std::string loser_region, winner_region, detected;
};

// MERIDIAN CONFLICTS with `options`, parsed.
std::vector<FeedEntry> feed(RedisClient& client,
                            std::vector<std::string> options = {"COUNT", "1000"}) {
    std::vector<std::string> argv = {"MERIDIAN", "CONFLICTS"};
    argv.insert(argv.end(), options.begin(), options.end());
    const Reply reply = client.command(argv);
    REQUIRE(reply.is_array());
    std::vector<FeedEntry> entries;
    for (const Reply& item : reply.as_array()) {
        REQUIRE(item.is_array());
        FeedEntry e;
        const auto& fields = item.as_array();
        REQUIRE(fields.size() % 2 == 0);
        for (std::size_t i = 0; i < fields.size(); i += 2) {
            const std::string name = fields[i].as_string();
            const Reply& v = fields[i + 1];
            if (name == "key") e.key = v.as_string();
            if (name == "value" && !v.is_nil()) e.value = v.as_string();
            if (name == "loser_region") e.loser_region = v.as_string();
            if (name == "winner_region") e.winner_region = v.as_string();
            if (name == "detected") e.detected = v.as_string();
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

}  // namespace

TEST_CASE("concurrent lww writes through a partition: exactly the losers are in the feed") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");

    constexpr int kContended = 12;
    for (int i = 0; i < kContended; ++i)
        REQUIRE(us.command({"SET", "k" + std::to_string(i), "base"}) == ok);
    REQUIRE(eventually([&] { return eu.command({"GET", "k11"}) == Reply::string("base"); }, 5000));

    cluster.partition("us-east", "eu-west");
    // Every contended key: us writes twice (its first write is overwritten by its own second,
    // which is no conflict), eu once; the order alternates so that each side wins some.
    for (int i = 0; i < kContended; ++i) {
        const std::string key = "k" + std::to_string(i);
        if (i % 2 == 0) REQUIRE(eu.command({"SET", key, "eu-" + key}) == ok);
        REQUIRE(us.command({"SET", key, "us-first-" + key}) == ok);
        if (i == 3) {
            REQUIRE(us.command({"DEL", key}) == Reply::integer(1));  // a delete can lose too
        } else {
            REQUIRE(us.command({"SET", key, "us-" + key}) == ok);
        }
        if (i % 2 == 1) REQUIRE(eu.command({"SET", key, "eu-" + key}) == ok);
    }
    REQUIRE(us.command({"SET", "only-us", "1"}) == ok);  // written on one side: no conflict
    REQUIRE(eu.command({"SET", "only-eu", "1"}) == ok);
    cluster.heal("us-east", "eu-west");
    REQUIRE(eventually(
        [&] {
            return eu.command({"GET", "only-us"}) == Reply::string("1") &&
                   us.command({"GET", "only-eu"}) == Reply::string("1");
        },
        10000));

    // The expected losers follow from the converged values.
    std::set<std::string> us_lost, eu_lost;
    for (int i = 0; i < kContended; ++i) {
        const std::string key = "k" + std::to_string(i);
        Reply value;
        REQUIRE(eventually(
            [&] {
                value = us.command({"GET", key});
                return value == eu.command({"GET", key});
            },
            5000));
        if (value == Reply::string("eu-" + key)) {
            us_lost.insert(key);
        } else {
            eu_lost.insert(key);
        }
    }
    INFO("us lost " << us_lost.size() << ", eu lost " << eu_lost.size());
    REQUIRE(us_lost.size() + eu_lost.size() == kContended);

    const auto check_feed = [&](RedisClient& client, const std::string& self,
                                const std::string& other, const std::set<std::string>& lost) {
        std::vector<FeedEntry> entries;
        REQUIRE(eventually(
            [&] {
                entries = feed(client);
                return entries.size() >= lost.size();
            },
            5000));
        std::set<std::string> keys;
        for (const FeedEntry& e : entries) {
            CHECK(e.loser_region == self);
            CHECK(e.winner_region == other);
            keys.insert(e.key);
            // The region's own last write lost, never its first (superseded by its own second).
            if (e.key == "k3" && self == "us-east") {
                CHECK_FALSE(e.value);
            } else {
                CHECK(e.value == (self == "us-east" ? "us-" : "eu-") + e.key);
            }
        }
        CHECK(entries.size() == lost.size());  // each loser exactly once
        CHECK(keys == lost);
        CHECK(info_number(client, "lww_overwritten") == static_cast<long long>(lost.size()));
        CHECK(info_number(client, "conflict_log_entries") == static_cast<long long>(lost.size()));
    };
    check_feed(us, "us-east", "eu-west", us_lost);
    check_feed(eu, "eu-west", "us-east", eu_lost);

    // A write that has seen the value it replaces is no conflict.
    REQUIRE(us.command({"SET", "k0", "after-heal"}) == ok);
    REQUIRE(eventually(
        [&] {
            return eu.command({"GET", "k0"}) == Reply::string("after-heal");
        },
        5000));
    CHECK(feed(eu).size() == eu_lost.size());

    // The same entries over HTTP, and the options narrow them.
    const HttpReply json = http_get(cluster.spec("us-east").admin_port, "/conflicts?count=1000");
    REQUIRE(json.status == 200);
    for (const std::string& key : us_lost)
        CHECK_THAT(json.body, Catch::Contains("\"key\":\"" + key + "\""));
    CHECK_THAT(json.body, Catch::Contains("\"lww_overwritten\":" + std::to_string(us_lost.size())));
    CHECK(http_get(cluster.spec("us-east").admin_port, "/conflicts?count=zero").status == 400);
    if (!us_lost.empty()) {
        const auto all = feed(us);
        CHECK(feed(us, {"COUNT", "1"}).size() == 1);
        CHECK(feed(us, {"COUNT", "1"})[0].key == all.back().key);  // the newest
        CHECK(feed(us, {"MATCH", all.front().key}).size() == 1);
        CHECK(feed(us, {"SINCE", all.front().detected}).size() == all.size() - 1);
    }
    CHECK(us.command({"MERIDIAN", "CONFLICTS", "COUNT"}).is_error());
    CHECK(us.command({"MERIDIAN", "CONFLICTS", "SINCE", "yesterday"}).is_error());
}

TEST_CASE("the conflict feed survives kill -9, and a restart counts nothing twice") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    cluster.partition("us-east", "eu-west");
    for (int i = 0; i < 5; ++i) {
        const std::string key = "key" + std::to_string(i);
        REQUIRE(us.command({"SET", key, "us"}) == ok);
        REQUIRE(eu.command({"SET", key, "eu"}) == ok);  // stamped later: eu wins, us loses
    }
    cluster.heal("us-east", "eu-west");
    std::vector<FeedEntry> before;
    REQUIRE(eventually(
        [&] {
            before = feed(us);
            return before.size() + feed(eu).size() == 5;
        },
        10000));

    cluster.kill9("us-east");
    cluster.start("us-east");
    us = cluster.client("us-east");
    const auto after = feed(us);
    REQUIRE(after.size() == before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        CHECK(after[i].key == before[i].key);
        CHECK(after[i].detected == before[i].detected);
    }
    // Replaying the WAL found the same conflicts again and logged none of them.
    CHECK(info_number(us, "lww_overwritten") == 0);
}

TEST_CASE("a corrupt conflict feed file is set aside and the node starts with an empty feed") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    cluster.partition("us-east", "eu-west");
    REQUIRE(us.command({"SET", "a", "us"}) == ok);
    REQUIRE(eu.command({"SET", "a", "eu"}) == ok);
    REQUIRE(us.command({"SET", "b", "us"}) == ok);
    REQUIRE(eu.command({"SET", "b", "eu"}) == ok);
    cluster.heal("us-east", "eu-west");
    REQUIRE(eventually([&] { return feed(us).size() + feed(eu).size() == 2; }, 10000));
    const std::string region = feed(us).empty() ? "eu-west" : "us-east";

    REQUIRE(cluster.terminate(region) == 0);
    const std::string path = cluster.data_dir(region) + "/conflicts.log";
    {
        std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(12);
        file.put('\x5a');  // inside the first entry's frame
    }
    cluster.start(region);
    RedisClient client = cluster.client(region);
    CHECK(feed(client).empty());
    CHECK_THAT(info_value(client, "conflict_log_problem").value_or(""),
               Catch::Contains("set aside"));
    CHECK(std::filesystem::exists(path + ".bad"));
    CHECK(client.command({"SET", "still", "serving"}) == ok);
}

TEST_CASE("set adds kept over a concurrent remove and merged counter deltas are counted") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    REQUIRE(us.command({"SADD", "tags:1", "red"}) == Reply::integer(1));
    REQUIRE(eventually(
        [&] {
            return eu.command({"SISMEMBER", "tags:1", "red"}) == Reply::integer(1);
        },
        5000));
    CHECK(info_number(us, "set_adds_kept") == 0);
    CHECK(info_number(eu, "set_adds_kept") == 0);

    cluster.partition("us-east", "eu-west");
    REQUIRE(eu.command({"SREM", "tags:1", "red"}) == Reply::integer(1));
    REQUIRE(us.command({"SADD", "tags:1", "red"}) == Reply::integer(0));  // re-added: a new dot
    REQUIRE(us.command({"INCR", "hits:1"}) == Reply::integer(1));
    REQUIRE(eu.command({"INCR", "hits:1"}) == Reply::integer(1));
    cluster.heal("us-east", "eu-west");
    REQUIRE(eventually(
        [&] {
            return eu.command({"GET", "hits:1"}) == Reply::string("2") &&
                   us.command({"GET", "hits:1"}) == Reply::string("2");
        },
        10000));
    REQUIRE(eventually(
        [&] {
            return eu.command({"SISMEMBER", "tags:1", "red"}) == Reply::integer(1);
        },
        5000));
    // eu received a re-add that had not seen its remove: the add won there. us received a
    // remove that had observed nothing us still holds: nothing to count.
    CHECK(info_number(eu, "set_adds_kept") == 1);
    CHECK(info_number(us, "set_adds_kept") == 0);
    CHECK(info_number(us, "counter_merges") == 1);
    CHECK(info_number(eu, "counter_merges") == 1);
    const HttpReply status = http_get(cluster.spec("eu-west").admin_port, "/status");
    CHECK_THAT(status.body, Catch::Contains("\"set_adds_kept\":1"));
    const HttpReply metrics = http_get(cluster.spec("eu-west").admin_port, "/metrics");
    CHECK_THAT(metrics.body, Catch::Contains("meridian_conflicts_total{region=\"eu-west\",policy="
                                             "\"set\",outcome=\"add_kept\"} 1"));
}
