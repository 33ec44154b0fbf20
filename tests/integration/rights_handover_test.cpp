// A failed-over region's bounded-counter rights, on three real regions: kill -9 the region that
// holds most of a balance, fail it over, and spend the balance elsewhere; cut a region off,
// fail it over while it still spends, and heal it: its late withdrawal is undone. Either way
// the old region refuses bounded writes once it learns, until restarted as a new epoch.
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;

const std::vector<std::string> three_regions = {"us-east", "eu-west", "ap-south"};

const std::string config = R"(
fsync = "always"
heartbeat_ms = 100
peer_timeout_ms = 1000
reconnect_min_ms = 50
reconnect_max_ms = 300
home_lease_ms = 1000
rights_timeout_ms = 1500

[[policy]]
match = "bal:*"
type = "bounded_counter"
min = 0
)";

long long value_at(Cluster& cluster, const std::string& region, const std::string& key) {
    RedisClient c = cluster.client(region);
    const Reply r = c.command({"GET", key});
    return r.is_string() ? std::stoll(r.as_string()) : (r.is_nil() ? 0 : -1000000);
}

bool all_read(Cluster& cluster, const std::string& key, long long expected) {
    for (const auto& region : three_regions)
        if (!cluster.running(region) || value_at(cluster, region, key) != expected) return false;
    return true;
}

// The handover row of MERIDIAN HOMES at `region` for retired replica `replica` ("us-east/0").
std::string handover_state(Cluster& cluster, const std::string& region,
                           const std::string& replica) {
    const Reply r = cluster.client(region).command({"MERIDIAN", "HOMES"});
    if (!r.is_array()) return "no reply: " + r.describe();
    for (const Reply& row : r.as_array()) {
        const auto& f = row.as_array();
        if (f.size() == 8 && f[0].as_string() == "retired" && f[1].as_string() == replica)
            return f[7].as_string();
    }
    return "not retired";
}

// DECRBY until it answers a number (rights may still be on their way): the new balance, or
// nullopt (with the last error shown) after 10 s.
std::optional<long long> withdraw(Cluster& cluster, const std::string& region,
                                  const std::string& key, long long amount) {
    std::optional<long long> balance;
    std::string last;
    eventually(
        [&] {
            const Reply r =
                cluster.client(region, 5000).command({"DECRBY", key, std::to_string(amount)});
            if (r.is_integer()) balance = r.as_integer();
            last = r.describe();
            return balance.has_value();
        },
        10000);
    if (!balance)
        UNSCOPED_INFO("DECRBY " << key << " " << amount << " at " << region << ": " << last);
    return balance;
}

}  // namespace

TEST_CASE(
    "kill -9 the region holding a balance's rights, fail it over: its heir spends them, nothing "
    "goes below the floor, and the old region returns as a new epoch") {
    Cluster cluster(three_regions, config);
    start_connected(cluster);
    RedisClient us = cluster.client("us-east", 10000);
    REQUIRE(us.command({"INCRBY", "bal:1", "100"}) == Reply::integer(100));
    REQUIRE(us.command({"INCRBY", "bal:2", "50"}) == Reply::integer(50));  // nobody writes it later
    REQUIRE(cluster.client("eu-west").command({"INCRBY", "bal:1", "10"}) == Reply::integer(110));
    REQUIRE(eventually(
        [&] { return all_read(cluster, "bal:1", 110) && all_read(cluster, "bal:2", 50); }, 10000));

    cluster.kill9("us-east");
    REQUIRE(eventually([&] { return connected(cluster, "ap-south", 1); }, 10000));
    // Stranded: only eu-west's 10 can be reached.
    RedisClient ap = cluster.client("ap-south", 15000);
    CHECK(ap.command({"DECRBY", "bal:1", "50"})
              .error_message()
              .starts_with("ERR insufficient balance"));

    const Reply moved = ap.command({"MERIDIAN", "FAILOVER", "us-east", "eu-west"});
    INFO(moved.describe());
    REQUIRE(moved.is_string());
    CHECK(eventually(
        [&] { return handover_state(cluster, "eu-west", "us-east/0") == "handed over"; }, 10000));
    CHECK(handover_state(cluster, "ap-south", "us-east/0") == "reported to the heir");

    // The whole balance can be spent again, and not a unit more.
    CHECK(withdraw(cluster, "ap-south", "bal:1", 105) == 5);
    CHECK(ap.command({"DECRBY", "bal:1", "6"})
              .error_message()
              .starts_with("ERR insufficient balance"));
    CHECK(withdraw(cluster, "ap-south", "bal:1", 5) == 0);
    CHECK(withdraw(cluster, "ap-south", "bal:2", 50) == 0);
    RedisClient eu = cluster.client("eu-west");
    CHECK(info_number(eu, "rights_keys_handed_over") >= 2);

    // The old region returns: it learns its epoch was retired and writes no bounded counter
    // with it; restarted, it continues as a new epoch, with the rights it creates.
    cluster.start("us-east");
    REQUIRE(eventually([&] { return connected(cluster, "us-east", 2); }, 15000));
    CHECK(eventually(
        [&] { return handover_state(cluster, "us-east", "us-east/0") == "retired here"; }, 15000));
    CHECK(eventually([&] { return all_read(cluster, "bal:1", 0) && all_read(cluster, "bal:2", 0); },
                     15000));
    CHECK(cluster.client("us-east")
              .command({"INCRBY", "bal:1", "3"})
              .error_message()
              .find("were handed over") != std::string::npos);
    cluster.terminate("us-east");
    cluster.start("us-east");
    CHECK(cluster.log_tail("us-east", 20000).find("a failover retired this region's epoch 0") !=
          std::string::npos);
    REQUIRE(eventually([&] { return connected(cluster, "us-east", 2); }, 15000));
    RedisClient back = cluster.client("us-east", 10000);
    CHECK(back.command({"DECRBY", "bal:1", "1"})
              .error_message()
              .starts_with("ERR insufficient balance"));
    CHECK(back.command({"INCRBY", "bal:1", "3"}) == Reply::integer(3));
    CHECK(eventually([&] { return all_read(cluster, "bal:1", 3); }, 15000));
}

TEST_CASE(
    "a region cut off and failed over while it still spends: its late withdrawal is undone, it "
    "refuses bounded writes once it learns, and writes again after a restart") {
    Cluster cluster(three_regions, config);
    start_connected(cluster);
    RedisClient us = cluster.client("us-east", 10000);
    REQUIRE(us.command({"INCRBY", "bal:1", "100"}) == Reply::integer(100));
    REQUIRE(eventually([&] { return all_read(cluster, "bal:1", 100); }, 10000));

    cluster.partition("us-east", "eu-west");
    cluster.partition("us-east", "ap-south");
    RedisClient ap = cluster.client("ap-south", 15000);
    const Reply moved = ap.command({"MERIDIAN", "FAILOVER", "us-east", "eu-west"});
    INFO(moved.describe());
    REQUIRE(moved.is_string());
    // Unaware, the cut-off region spends its own rights: nobody else will count this.
    CHECK(us.command({"DECRBY", "bal:1", "30"}) == Reply::integer(70));
    CHECK(eventually(
        [&] { return handover_state(cluster, "eu-west", "us-east/0") == "handed over"; }, 10000));
    CHECK(withdraw(cluster, "ap-south", "bal:1", 100) == 0);

    cluster.heal("us-east", "eu-west");
    cluster.heal("us-east", "ap-south");
    CHECK(eventually(
        [&] { return handover_state(cluster, "us-east", "us-east/0") == "retired here"; }, 15000));
    CHECK(us.command({"INCRBY", "bal:1", "1"}).error_message().find("were handed over") !=
          std::string::npos);
    // The withdrawal of 30 is undone everywhere; the floor held (without the handover's freeze,
    // -30).
    CHECK(eventually([&] { return all_read(cluster, "bal:1", 0); }, 15000));

    cluster.terminate("us-east");
    cluster.start("us-east");
    REQUIRE(eventually([&] { return connected(cluster, "us-east", 2); }, 15000));
    RedisClient back = cluster.client("us-east", 10000);
    CHECK(back.command({"INCRBY", "bal:1", "4"}) == Reply::integer(4));
    CHECK(eventually([&] { return all_read(cluster, "bal:1", 4); }, 15000));
}
