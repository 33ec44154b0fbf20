// Home-region failover on three real regions: kill -9 a key's home, fail it over with MERIDIAN
// FAILOVER, keep withdrawing from the other regions, bring the old home back; an isolated home
// that loses its lease; a failover without a majority; a damaged homes file.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
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
forward_timeout_ms = 3000
home_lease_ms = 1000

[[policy]]
match = "acct:*"
type = "counter"
route = "home"
home = "{tag}"
min = 0
)";

const std::string key = "acct:{us-east}:1";

long long balance_at(Cluster& cluster, const std::string& region) {
    RedisClient c = cluster.client(region);
    const Reply r = c.command({"GET", key});
    return r.is_string() ? std::stoll(r.as_string()) : (r.is_nil() ? 0 : -1000000);
}

bool all_read(Cluster& cluster, long long expected) {
    for (const auto& region : three_regions)
        if (!cluster.running(region) || balance_at(cluster, region) != expected) return false;
    return true;
}

// MERIDIAN HOMES at `region`: home -> {owner, epoch, here}; nothing if it does not answer one.
struct HomeRow {
    std::string owner;
    long long epoch = -1;
    std::string here;
};
std::map<std::string, HomeRow> homes(Cluster& cluster, const std::string& region) {
    std::map<std::string, HomeRow> rows;
    const Reply r = cluster.client(region).command({"MERIDIAN", "HOMES"});
    if (!r.is_array()) {
        UNSCOPED_INFO("MERIDIAN HOMES at " << region << ": " << r.describe());
        return rows;
    }
    for (const Reply& row : r.as_array()) {
        const auto& f = row.as_array();
        if (f.size() == 8)
            rows[f[1].as_string()] = HomeRow{f[3].as_string(), f[5].as_integer(), f[7].as_string()};
    }
    return rows;
}

struct Outcome {
    long long acknowledged = 0;
    long long refused = 0;
    std::vector<std::string> other;
};

// `attempts` withdrawals of `amount` from each region in `regions` at once.
std::vector<Outcome> withdraw(Cluster& cluster, const std::vector<std::string>& regions,
                              int attempts, long long amount) {
    std::vector<Outcome> outcomes(regions.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < regions.size(); ++i)
        threads.emplace_back([&, i] {
            RedisClient c = cluster.client(regions[i], 10000);
            for (int n = 0; n < attempts; ++n) {
                const Reply r = c.command({"DECRBY", key, std::to_string(amount)});
                if (r.is_integer())
                    ++outcomes[i].acknowledged;
                else if (r.error_message().starts_with("ERR insufficient balance"))
                    ++outcomes[i].refused;
                else
                    outcomes[i].other.push_back(r.describe());
            }
        });
    for (auto& t : threads) t.join();
    return outcomes;
}

// Deposits `amount` at the home, us-east, and waits until every region reads it.
void fund(Cluster& cluster, RedisClient& us, long long amount) {
    REQUIRE(eventually(
        [&] {
            return us.command({"INCRBY", key, std::to_string(amount)}).is_integer();
        },
        5000));
    REQUIRE(eventually([&] { return all_read(cluster, amount); }, 10000));
}

// Cuts the home, us-east, off from both other regions, or heals both links.
void cut_off_home(Cluster& cluster) {
    cluster.partition("us-east", "eu-west");
    cluster.partition("us-east", "ap-south");
}
void heal_home(Cluster& cluster) {
    cluster.heal("us-east", "eu-west");
    cluster.heal("us-east", "ap-south");
}

}  // namespace

TEST_CASE(
    "kill -9 a home then fail it over and keep withdrawing elsewhere and restart the old home: the "
    "balance is exact and never below its floor") {
    Cluster cluster(three_regions, config);
    start_connected(cluster);
    RedisClient us = cluster.client("us-east", 10000);
    REQUIRE(eventually([&] { return us.command({"INCRBY", key, "100"}).is_integer(); }, 5000));
    // Withdrawals at the home, each WAITed for a peer region: the failover must keep them.
    for (int i = 0; i < 10; ++i) {
        REQUIRE(us.command({"DECRBY", key, "1"}).is_integer());
        const Reply held = us.command({"WAIT", "1", "2000"});  // how many regions hold it: 1 or 2
        REQUIRE((held.is_integer() && held.as_integer() >= 1));
    }
    REQUIRE(eventually([&] { return all_read(cluster, 90); }, 10000));

    cluster.kill9("us-east");
    RedisClient eu = cluster.client("eu-west", 10000);
    REQUIRE(eventually([&] { return connected(cluster, "eu-west", 1); }, 10000));
    CHECK(eu.command({"DECRBY", key, "1"}).error_message().starts_with("TRYAGAIN"));

    // Run at a region that is neither the old nor the new owner.
    RedisClient ap = cluster.client("ap-south", 15000);
    const Reply moved = ap.command({"MERIDIAN", "FAILOVER", "us-east", "eu-west"});
    INFO(moved.describe());
    REQUIRE(moved.is_string());
    CHECK(moved.as_string().starts_with("OK region eu-west owns 1 home(s) (us-east) at epoch 1"));
    for (const std::string region : {"eu-west", "ap-south"}) {
        INFO(region);
        CHECK(
            eventually([&] { return homes(cluster, region)["us-east"].owner == "eu-west"; }, 5000));
        CHECK(homes(cluster, region)["us-east"].epoch == 1);
    }
    CHECK(eventually([&] { return homes(cluster, "eu-west")["us-east"].here == "serving"; }, 5000));

    // The other regions keep withdrawing, more than the balance holds: 2 x 20 x 5 asked of 90.
    const std::vector<Outcome> outcomes = withdraw(cluster, {"eu-west", "ap-south"}, 20, 5);
    long long acknowledged = 0;
    for (const Outcome& o : outcomes) {
        for (const std::string& e : o.other) INFO("unexpected reply: " << e);
        CHECK(o.other.empty());
        CHECK(o.acknowledged + o.refused == 20);
        acknowledged += o.acknowledged;
    }
    CHECK(acknowledged == 18);  // exactly the balance: the new owner started from all 10 WAITed
    const long long expected = 90 - 5 * acknowledged;
    CHECK(expected == 0);

    // The old home returns: it learns it was failed over, forwards its writes to the new owner,
    // and every region converges on the exact balance.
    cluster.start("us-east");
    REQUIRE(eventually([&] { return connected(cluster, "us-east", 2); }, 15000));
    CHECK(
        eventually([&] { return homes(cluster, "us-east")["us-east"].owner == "eu-west"; }, 5000));
    CHECK(homes(cluster, "us-east")["us-east"].here == "elsewhere");
    CHECK(eventually([&] { return all_read(cluster, expected); }, 15000));
    RedisClient back = cluster.client("us-east", 10000);
    CHECK(back.command({"INCRBY", key, "7"}) == Reply::integer(expected + 7));
    CHECK(
        back.command({"DECRBY", key, "8"}).error_message().starts_with("ERR insufficient balance"));
    CHECK(eventually([&] { return all_read(cluster, expected + 7); }, 15000));

    // Every region counts the failover; the new owner's choice survives its own restart.
    for (const auto& region : three_regions) {
        RedisClient c = cluster.client(region);
        INFO(region);
        CHECK(info_number(c, "failovers") >= 1);
    }
    CHECK(info_number(ap, "failovers_run") == 1);
    cluster.kill9("eu-west");
    cluster.start("eu-west");
    CHECK(homes(cluster, "eu-west")["us-east"].owner == "eu-west");
    CHECK(homes(cluster, "eu-west")["us-east"].epoch == 1);
}

TEST_CASE(
    "a home cut off from every other region stops taking writes once its lease runs out and the "
    "majority fails it over: the healed old home is fenced") {
    Cluster cluster(three_regions, config);
    start_connected(cluster);
    RedisClient us = cluster.client("us-east", 10000);
    fund(cluster, us, 50);

    cut_off_home(cluster);
    // Within a lease (1000 ms) the isolated home refuses its own key's writes.
    CHECK(
        eventually([&] { return homes(cluster, "us-east")["us-east"].here == "no_lease"; }, 3000));
    const Reply refused = us.command({"DECRBY", key, "1"});
    INFO(refused.describe());
    CHECK(refused.error_message().starts_with("TRYAGAIN home us-east has no lease"));
    CHECK(info_number(us, "fenced_writes") >= 1);

    RedisClient eu = cluster.client("eu-west", 15000);
    const Reply moved = eu.command({"MERIDIAN", "FAILOVER", "us-east", "eu-west"});
    INFO(moved.describe());
    REQUIRE(moved.is_string());
    CHECK(eu.command({"DECRBY", key, "10"}) == Reply::integer(40));

    // Still cut off, the old home knows nothing of it and still does not write.
    CHECK(homes(cluster, "us-east")["us-east"].owner == "us-east");
    CHECK(us.command({"DECRBY", key, "1"}).error_message().starts_with("TRYAGAIN"));

    heal_home(cluster);
    CHECK(
        eventually([&] { return homes(cluster, "us-east")["us-east"].owner == "eu-west"; }, 5000));
    CHECK(eventually(
        [&] {
            return us.command({"DECRBY", key, "1"}) == Reply::integer(39);
        },
        10000));
    CHECK(eventually([&] { return all_read(cluster, 39); }, 10000));
}

TEST_CASE(
    "a withdrawal the cut-off home applied in its last lease and never shipped does not take the "
    "balance below its floor once the new owner has written") {
    // A longer lease, so that the cut-off home surely still serves right after the cut.
    std::string long_lease = config;
    long_lease.replace(long_lease.find("home_lease_ms = 1000"), 20, "home_lease_ms = 3000");
    Cluster cluster(three_regions, long_lease);
    start_connected(cluster);
    RedisClient us = cluster.client("us-east", 10000);
    fund(cluster, us, 100);

    cut_off_home(cluster);
    // Still within its lease, the home takes a withdrawal that no other region receives. A
    // client that WAITs learns that no region holds it.
    const Reply late = us.command({"DECRBY", key, "80"});
    INFO(late.describe());
    REQUIRE(late == Reply::integer(20));
    CHECK(us.command({"WAIT", "1", "300"}) == Reply::integer(0));

    RedisClient eu = cluster.client("eu-west", 15000);
    const Reply moved = eu.command({"MERIDIAN", "FAILOVER", "us-east", "eu-west"});
    INFO(moved.describe());
    REQUIRE(moved.is_string());
    // The new owner started from 100 and may take 90 of it.
    CHECK(eu.command({"DECRBY", key, "90"}) == Reply::integer(10));
    CHECK(
        eu.command({"DECRBY", key, "11"}).error_message().starts_with("ERR insufficient balance"));

    // Healed, the old home's withdrawal reaches everyone (its log kept it) but no longer counts:
    // the new owner's first write sealed the balance. Without the seal every region would read
    // 100 - 80 - 90 = -70.
    heal_home(cluster);
    CHECK(
        eventually([&] { return homes(cluster, "us-east")["us-east"].owner == "eu-west"; }, 5000));
    CHECK(eventually([&] { return all_read(cluster, 10); }, 10000));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // anything still in flight
    for (const auto& region : three_regions) {
        INFO(region);
        CHECK(balance_at(cluster, region) == 10);
    }
    // The new owner counts the write its seal undid; the others do not.
    CHECK(info_number(eu, "counter_writes_undone") == 1);
    CHECK(info_number(us, "counter_writes_undone") == 0);
    RedisClient ap = cluster.client("ap-south");
    CHECK(info_number(ap, "counter_writes_undone") == 0);
    // The old home, fenced, forwards; the new owner keeps the floor.
    CHECK(us.command({"DECRBY", key, "10"}) == Reply::integer(0));
    CHECK(us.command({"DECRBY", key, "1"}).error_message().starts_with("ERR insufficient balance"));
    CHECK(eventually([&] { return all_read(cluster, 0); }, 10000));
}

TEST_CASE(
    "a failover without a majority is refused and moves nothing and bad arguments get clear "
    "errors") {
    Cluster cluster(three_regions, config);
    start_connected(cluster);
    RedisClient eu = cluster.client("eu-west", 15000);
    CHECK(eu.command({"MERIDIAN", "FAILOVER", "mars", "eu-west"}).error_message() ==
          "ERR no region named 'mars'");
    CHECK(eu.command({"MERIDIAN", "FAILOVER", "eu-west", "eu-west"}).error_message() ==
          "ERR a failover moves homes to another region");

    cluster.kill9("us-east");
    cluster.kill9("ap-south");
    REQUIRE(eventually([&] { return connected(cluster, "eu-west", 0); }, 10000));
    const Reply refused = eu.command({"MERIDIAN", "FAILOVER", "us-east", "eu-west"});
    INFO(refused.describe());
    CHECK(refused.error_message().starts_with(
        "ERR failover not committed: 1 of 3 regions accepted, it needs 2"));
    CHECK(refused.error_message().find("ap-south: unreachable") != std::string::npos);
    CHECK(homes(cluster, "eu-west")["us-east"].owner == "us-east");
    CHECK(homes(cluster, "eu-west")["us-east"].epoch == 0);
    CHECK(info_number(eu, "failovers_failed") == 1);

    // With ap-south back there is a majority (us-east is still dead).
    cluster.start("ap-south");
    REQUIRE(eventually([&] { return connected(cluster, "eu-west", 1); }, 10000));
    const Reply moved = eu.command({"MERIDIAN", "FAILOVER", "us-east", "eu-west"});
    INFO(moved.describe());
    CHECK(moved.is_string());
    CHECK(
        eventually([&] { return homes(cluster, "ap-south")["us-east"].owner == "eu-west"; }, 5000));
}

TEST_CASE("a damaged homes file stops the node with an error naming it") {
    Cluster cluster({"us-east"}, "");
    cluster.start("us-east");
    cluster.terminate("us-east");
    std::ofstream(cluster.data_dir("us-east") + "/homes") << "MRDNHOM1 garbage";
    auto started = cluster.try_start("us-east");
    REQUIRE_FALSE(started);
    INFO(started.error());
    CHECK(started.error().find("/homes: ") != std::string::npos);
    CHECK(started.error().find("failover votes") != std::string::npos);
}

TEST_CASE(
    "with failover_after_ms the lowest live region takes a dead home over by itself and the old "
    "home returns fenced") {
    Cluster cluster(three_regions, "failover_after_ms = 1500\n" + config);
    start_connected(cluster);
    RedisClient ap = cluster.client("ap-south", 10000);
    REQUIRE(eventually([&] { return ap.command({"INCRBY", key, "20"}).is_integer(); }, 5000));
    REQUIRE(eventually([&] { return all_read(cluster, 20); }, 10000));

    cluster.kill9("us-east");
    // eu-west (id 2) is the lowest region left: after 1.5 s without us-east, and its lease.
    CHECK(
        eventually([&] { return homes(cluster, "eu-west")["us-east"].here == "serving"; }, 10000));
    CHECK(homes(cluster, "ap-south")["us-east"].owner == "eu-west");
    CHECK(ap.command({"DECRBY", key, "5"}) == Reply::integer(15));
    RedisClient eu = cluster.client("eu-west");
    CHECK(info_number(eu, "failovers_run") == 1);

    cluster.start("us-east");
    CHECK(
        eventually([&] { return homes(cluster, "us-east")["us-east"].owner == "eu-west"; }, 10000));
    RedisClient us = cluster.client("us-east", 10000);
    CHECK(eventually(
        [&] {
            return us.command({"DECRBY", key, "5"}) == Reply::integer(10);
        },
        10000));
    CHECK(eventually([&] { return all_read(cluster, 10); }, 10000));
    // Nobody lost anybody since: no second failover happened.
    CHECK(homes(cluster, "ap-south")["us-east"].epoch == 1);
}
