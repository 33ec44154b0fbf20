// Hashes against real meridian-node processes (issue 14): fields replicate; during a partition an
// HSET concurrent with an HDEL or DEL survives it, concurrent HINCRBYs all count, concurrent
// HSETs of one field converge on the later; a hash survives kill -9 and expires with a TTL.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;

const std::string config = R"(
fsync = "always"
heartbeat_ms = 100
peer_timeout_ms = 1000
reconnect_min_ms = 50
reconnect_max_ms = 500

[[policy]]
match = "user:*"
type = "hash"
)";

const Reply ok = Reply::string("OK");

Reply strings(std::vector<std::string> items) {
    Reply::Array out;
    for (auto& s : items) out.push_back(Reply::string(std::move(s)));
    return Reply::array(std::move(out));
}

}  // namespace

TEST_CASE("hash fields written at one region replicate and read the same at the other") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");

    REQUIRE(us.command({"HSET", "user:1", "name", "ada", "city", "london", "visits", "1"}) ==
            Reply::integer(3));
    REQUIRE(us.command({"HINCRBY", "user:1", "visits", "4"}) == Reply::integer(5));
    REQUIRE(us.command({"HDEL", "user:1", "city"}) == Reply::integer(1));
    const Reply expected = strings({"name", "ada", "visits", "5"});
    REQUIRE(eventually([&] { return eu.command({"HGETALL", "user:1"}) == expected; }, 5000));
    CHECK(eu.command({"HLEN", "user:1"}) == Reply::integer(2));
    CHECK(eu.command({"HGET", "user:1", "city"}).is_nil());
    CHECK(eu.command({"TYPE", "user:1"}) == Reply::string("hash"));
    CHECK(eu.command({"GET", "user:1"}).is_error());  // WRONGTYPE
    CHECK(eu.command({"HSET", "plain", "f", "v"}).is_error());  // not a hash policy
}

TEST_CASE("during a partition an hset survives a concurrent hdel and del, and hincrbys all count") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    REQUIRE(us.command({"HSET", "user:1", "name", "ada", "n", "10", "gone", "x"}) == Reply::integer(3));
    REQUIRE(us.command({"HSET", "user:2", "a", "1"}) == Reply::integer(1));
    REQUIRE(eventually([&] { return eu.command({"HLEN", "user:2"}) == Reply::integer(1); }, 5000));
    REQUIRE(eu.command({"HLEN", "user:1"}) == Reply::integer(3));

    cluster.partition("us-east", "eu-west");
    // user:1: eu deletes the whole hash while us sets a field and increments another.
    REQUIRE(eu.command({"DEL", "user:1"}) == Reply::integer(1));
    REQUIRE(us.command({"HSET", "user:1", "name", "grace"}) == Reply::integer(0));
    REQUIRE(us.command({"HINCRBY", "user:1", "n", "5"}) == Reply::integer(15));
    // user:2: both increment one field, us removes another that eu re-sets.
    REQUIRE(us.command({"HINCRBY", "user:2", "hits", "3"}) == Reply::integer(3));
    REQUIRE(eu.command({"HINCRBY", "user:2", "hits", "4"}) == Reply::integer(4));
    REQUIRE(us.command({"HDEL", "user:2", "a"}) == Reply::integer(1));
    REQUIRE(eu.command({"HSET", "user:2", "a", "2"}) == Reply::integer(0));
    // Concurrent HSETs of one field: the later HLC wins.
    REQUIRE(us.command({"HSET", "user:2", "who", "us"}) == Reply::integer(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(eu.command({"HSET", "user:2", "who", "eu"}) == Reply::integer(1));
    cluster.heal("us-east", "eu-west");

    // user:1: the DEL removed what eu had seen ("gone", the old name, the old 10); the HSET and
    // the increment it had not seen survive: n shows only the 5 added after the DEL's view.
    const Reply one = strings({"n", "5", "name", "grace"});
    const Reply two = strings({"a", "2", "hits", "7", "who", "eu"});
    REQUIRE(eventually([&] {
        return us.command({"HGETALL", "user:1"}) == one && eu.command({"HGETALL", "user:1"}) == one &&
               us.command({"HGETALL", "user:2"}) == two && eu.command({"HGETALL", "user:2"}) == two;
    }, 10000));
}

TEST_CASE("an acknowledged hash survives kill -9, and a hash with a TTL expires at every region") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    REQUIRE(us.command({"HSET", "user:1", "name", "ada"}) == Reply::integer(1));
    REQUIRE(us.command({"HINCRBY", "user:1", "n", "2"}) == Reply::integer(2));
    REQUIRE(us.command({"HSET", "user:tmp", "f", "v"}) == Reply::integer(1));
    REQUIRE(us.command({"PEXPIRE", "user:tmp", "800"}) == Reply::integer(1));
    cluster.kill9("us-east");
    cluster.start("us-east");
    RedisClient after = cluster.client("us-east");
    CHECK(after.command({"HGETALL", "user:1"}) == strings({"n", "2", "name", "ada"}));
    RedisClient eu = cluster.client("eu-west");
    REQUIRE(eventually([&] { return eu.command({"HGET", "user:1", "name"}) == Reply::string("ada"); }, 5000));
    REQUIRE(eventually([&] { return eu.command({"EXISTS", "user:tmp"}) == Reply::integer(0); }, 5000));
    REQUIRE(eventually([&] { return after.command({"HLEN", "user:tmp"}) == Reply::integer(0); }, 2000));
    // A write after expiry starts a new hash, without the old fields.
    CHECK(after.command({"HSET", "user:tmp", "g", "w"}) == Reply::integer(1));
    CHECK(after.command({"HGETALL", "user:tmp"}) == strings({"g", "w"}));
    CHECK(after.command({"TTL", "user:tmp"}) == Reply::integer(-1));
}
