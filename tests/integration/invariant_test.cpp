// Balances that must not overdraw, on three real regions: concurrent withdrawals from every
// region, more than the balance holds, under a bounded counter and under home routing; and a
// home region killed while other keys keep working.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> three_regions = {"us-east", "eu-west", "ap-south"};

const std::string balances = R"(
fsync = "everysec"
heartbeat_ms = 100
peer_timeout_ms = 1000
reconnect_min_ms = 50
reconnect_max_ms = 500
rights_timeout_ms = 1000
forward_timeout_ms = 5000

[[policy]]
match = "bounded:*"
type = "bounded_counter"
min = 0

[[policy]]
match = "home:*"
type = "counter"
route = "home"
home = "{tag}"
min = 0

[[policy]]
match = "counter:*"
type = "counter"
)";

long long balance_of(RedisClient& c, const std::string& key) {
    const Reply r = c.command({"GET", key});
    return r.is_string() ? std::stoll(r.as_string()) : 0;
}

bool all_read(Cluster& cluster, const std::string& key, long long expected) {
    for (const auto& region : three_regions) {
        RedisClient c = cluster.client(region);
        if (balance_of(c, key) != expected) return false;
    }
    return true;
}

bool all_connected(Cluster& cluster) {
    for (const auto& region : three_regions) {
        RedisClient c = cluster.client(region);
        if (c.command({"INFO", "replication"}).as_string().find("connected_regions:2") ==
            std::string::npos)
            return false;
    }
    return true;
}

// What one region's withdrawing client was told.
struct Withdrawals {
    long long acknowledged = 0;  // withdrawals answered with the new balance
    long long refused = 0;       // -ERR insufficient balance
    std::vector<std::string> other_errors;
};

// Every region withdraws `amount` `attempts` times at once while a sampler reads the balance
// at every region; returns each region's outcome and the lowest balance any read saw.
std::pair<std::vector<Withdrawals>, long long> withdraw_everywhere(Cluster& cluster,
                                                                   const std::string& key,
                                                                   int attempts, long long amount) {
    std::vector<Withdrawals> outcomes(three_regions.size());
    std::atomic<bool> done{false};
    std::atomic<long long> lowest{0};
    std::thread sampler([&] {
        std::vector<RedisClient> readers;
        for (const auto& region : three_regions) readers.push_back(cluster.client(region));
        while (!done) {
            for (RedisClient& reader : readers) {
                const long long seen = balance_of(reader, key);
                long long low = lowest.load();
                while (seen < low && !lowest.compare_exchange_weak(low, seen)) {
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });
    std::vector<std::thread> writers;
    for (std::size_t i = 0; i < three_regions.size(); ++i) {
        writers.emplace_back([&, i] {
            RedisClient c = cluster.client(three_regions[i], 10000);
            for (int n = 0; n < attempts; ++n) {
                const Reply r = c.command({"DECRBY", key, std::to_string(amount)});
                if (r.is_integer()) {
                    ++outcomes[i].acknowledged;
                } else if (r.error_message().starts_with("ERR insufficient balance")) {
                    ++outcomes[i].refused;
                } else {
                    outcomes[i].other_errors.push_back(r.describe());
                }
            }
        });
    }
    for (auto& w : writers) w.join();
    done = true;
    sampler.join();
    return {outcomes, lowest.load()};
}

void check_floor_held(Cluster& cluster, const std::string& key, long long deposited, int attempts,
                      long long amount) {
    const auto [outcomes, lowest] = withdraw_everywhere(cluster, key, attempts, amount);
    long long acknowledged = 0;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        INFO(three_regions[i] << ": " << outcomes[i].acknowledged << " withdrawn, "
                              << outcomes[i].refused << " refused");
        CHECK(outcomes[i].other_errors.empty());
        for (const auto& e : outcomes[i].other_errors) INFO("unexpected reply: " << e);
        CHECK(outcomes[i].acknowledged + outcomes[i].refused == attempts);
        acknowledged += outcomes[i].acknowledged;
    }
    // More was asked for than the balance held: some were refused, and what was paid out is
    // at most the deposit.
    const long long implied = deposited - acknowledged * amount;
    INFO("acknowledged withdrawals " << acknowledged << ", implied balance " << implied
                                     << ", lowest read " << lowest);
    CHECK(acknowledged > 0);
    CHECK(implied >= 0);
    CHECK(lowest >= 0);
    // Every region ends at exactly what the acknowledged operations imply.
    CHECK(eventually([&] { return all_read(cluster, key, implied); }, 15000));
}

}  // namespace

TEST_CASE(
    "three regions withdrawing more than a bounded balance holds never take it below its floor") {
    Cluster cluster(three_regions, balances);
    cluster.start_all();
    REQUIRE(eventually([&] { return all_connected(cluster); }, 15000));
    const std::string key = "bounded:shared";
    // Deposits at two regions, so rights start in two places.
    REQUIRE(cluster.client("us-east").command({"INCRBY", key, "200"}) == Reply::integer(200));
    REQUIRE(cluster.client("eu-west").command({"INCRBY", key, "100"}).is_integer());
    REQUIRE(eventually([&] { return all_read(cluster, key, 300); }, 15000));

    // 3 regions x 30 x 5 = 450 asked of 300.
    check_floor_held(cluster, key, 300, 30, 5);

    // ap-south deposited nothing: whatever it withdrew, it borrowed.
    RedisClient ap = cluster.client("ap-south");
    const std::string stats = ap.command({"INFO", "stats"}).as_string();
    INFO(stats);
    CHECK(stats.find("rights_transfers_requested:0\r") == std::string::npos);
}

TEST_CASE(
    "three regions withdrawing more than a home-routed balance holds never take it below its "
    "floor") {
    Cluster cluster(three_regions, balances);
    cluster.start_all();
    REQUIRE(eventually([&] { return all_connected(cluster); }, 15000));
    const std::string key = "home:{eu-west}:shared";
    REQUIRE(cluster.client("ap-south").command({"INCRBY", key, "300"}) == Reply::integer(300));
    REQUIRE(eventually([&] { return all_read(cluster, key, 300); }, 15000));

    check_floor_held(cluster, key, 300, 30, 5);

    // The home ran every write: the non-home regions forwarded theirs.
    RedisClient us = cluster.client("us-east");
    CHECK(us.command({"INFO", "stats"}).as_string().find("forwarded_writes:0\r") ==
          std::string::npos);
}

TEST_CASE(
    "with its home region killed, a key's writes fail fast with TRYAGAIN while other keys keep "
    "working") {
    Cluster cluster(three_regions, balances);
    cluster.start_all();
    REQUIRE(eventually([&] { return all_connected(cluster); }, 15000));
    REQUIRE(cluster.client("eu-west").command({"INCRBY", "home:{us-east}:a", "10"}).is_integer());
    REQUIRE(eventually([&] { return all_read(cluster, "home:{us-east}:a", 10); }, 15000));

    cluster.kill9("us-east");
    RedisClient eu = cluster.client("eu-west", 10000);
    // Once eu-west has noticed (peer_timeout_ms = 1000), it answers without waiting for the
    // home: well inside forward_timeout_ms (5000), which is what a write to a live but slow
    // home would wait.
    REQUIRE(eventually(
        [&] {
            return eu.command({"INFO", "replication"}).as_string().find("connected_regions:1") !=
                   std::string::npos;
        },
        10000));
    const auto sent = Clock::now();
    const Reply refused = eu.command({"DECRBY", "home:{us-east}:a", "1"});
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent).count();
    INFO(refused.describe() << " after " << took << " ms");
    CHECK(refused.error_message().starts_with("TRYAGAIN"));
    CHECK(took < 2500);
    CHECK(balance_of(eu, "home:{us-east}:a") == 10);  // nothing applied

    // Keys homed elsewhere, and keys with no home, keep working at local latency.
    CHECK(eu.command({"INCRBY", "home:{eu-west}:b", "3"}) == Reply::integer(3));
    RedisClient ap = cluster.client("ap-south", 10000);
    CHECK(ap.command({"INCRBY", "home:{eu-west}:b", "4"}) == Reply::integer(7));
    CHECK(ap.command({"INCRBY", "counter:c", "5"}) == Reply::integer(5));
    CHECK(ap.command({"INCRBY", "bounded:d", "6"}) == Reply::integer(6));

    // The home comes back: its keys take writes again, and nothing refused was applied.
    cluster.start("us-east");
    CHECK(eventually(
        [&] {
            return eu.command({"DECRBY", "home:{us-east}:a", "1"}).is_integer();
        },
        15000));
    CHECK(eventually([&] { return all_read(cluster, "home:{us-east}:a", 9); }, 15000));
}
