// Key expiry against real meridian-node processes (issue 14): TTLs replicate and a key
// disappears at every region; counters and sets expire too; concurrent TTL writes during a
// partition converge on the later one; the TTL survives kill -9; the writer region reclaims.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

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
match = "cnt:*"
type = "counter"

[[policy]]
match = "set:*"
type = "set"

[[policy]]
match = "bal:*"
type = "bounded_counter"
min = 0
)";

const Reply ok = Reply::string("OK");

long long integer_of(RedisClient& c, std::vector<std::string> command) {
    const Reply r = c.command(std::move(command));
    REQUIRE(r.is_integer());
    return r.as_integer();
}

}  // namespace

TEST_CASE("a TTL replicates and the key disappears at every region, its writer reclaims it") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");

    REQUIRE(us.command({"SET", "session:1", "alice", "PX", "1500"}) == ok);
    REQUIRE(us.command({"SET", "keep", "forever"}) == ok);
    REQUIRE(eventually([&] { return eu.command({"GET", "keep"}) == Reply::string("forever"); }, 5000));
    REQUIRE(eu.command({"GET", "session:1"}) == Reply::string("alice"));  // written before "keep"
    const long long left = integer_of(eu, {"PTTL", "session:1"});
    CHECK(left > 0);
    CHECK(left <= 1500);
    CHECK(integer_of(eu, {"TTL", "keep"}) == -1);
    CHECK(integer_of(eu, {"TTL", "missing"}) == -2);

    // Gone at both regions once the deadline passed (clocks on one machine: no skew).
    REQUIRE(eventually([&] { return us.command({"GET", "session:1"}).is_nil(); }, 5000));
    REQUIRE(eventually([&] { return eu.command({"GET", "session:1"}).is_nil(); }, 2000));
    CHECK(integer_of(eu, {"EXISTS", "session:1"}) == 0);
    CHECK(integer_of(eu, {"TTL", "session:1"}) == -2);
    CHECK(eu.command({"KEYS", "*"}) == Reply::array({Reply::string("keep")}));
    CHECK(us.command({"GET", "keep"}) == Reply::string("forever"));

    // us-east wrote the TTL and reclaims the key (by a replicated delete); eu-west leaves it to
    // us-east, so each expired key is reclaimed once.
    REQUIRE(eventually([&] { return info_number(us, "expired_keys") == 1; }, 5000));
    REQUIRE(eventually([&] { return integer_of(eu, {"DBSIZE"}) == 1; }, 5000));
    CHECK(info_number(eu, "expired_keys") == 0);
}

TEST_CASE("EXPIRE, PERSIST and a write after expiry on strings, counters and sets") {
    Cluster cluster({"solo"}, config);
    cluster.start_all();
    RedisClient c = cluster.client("solo");

    REQUIRE(integer_of(c, {"INCRBY", "cnt:1", "5"}) == 5);
    REQUIRE(integer_of(c, {"SADD", "set:1", "a", "b"}) == 2);
    REQUIRE(c.command({"SET", "str", "v"}) == ok);
    CHECK(integer_of(c, {"EXPIRE", "cnt:1", "100"}) == 1);
    CHECK(integer_of(c, {"PEXPIRE", "set:1", "300"}) == 1);
    CHECK(integer_of(c, {"EXPIRE", "missing", "100"}) == 0);
    CHECK(integer_of(c, {"EXPIRE", "cnt:1", "200", "NX"}) == 0);
    CHECK(integer_of(c, {"EXPIRE", "cnt:1", "200", "GT"}) == 1);
    CHECK(integer_of(c, {"TTL", "cnt:1"}) == 200);
    CHECK(integer_of(c, {"INCR", "cnt:1"}) == 6);  // INCR keeps the TTL, as in Redis
    CHECK(integer_of(c, {"TTL", "cnt:1"}) == 200);
    CHECK(integer_of(c, {"PERSIST", "cnt:1"}) == 1);
    CHECK(integer_of(c, {"PERSIST", "cnt:1"}) == 0);
    CHECK(integer_of(c, {"TTL", "cnt:1"}) == -1);

    // SET clears a TTL, KEEPTTL and APPEND keep it, EXPIRE in the past deletes.
    CHECK(integer_of(c, {"EXPIRE", "str", "100"}) == 1);
    REQUIRE(c.command({"SET", "str", "w", "KEEPTTL"}) == ok);
    CHECK(integer_of(c, {"TTL", "str"}) == 100);
    CHECK(integer_of(c, {"APPEND", "str", "x"}) == 2);
    CHECK(integer_of(c, {"TTL", "str"}) == 100);
    REQUIRE(c.command({"SET", "str", "y"}) == ok);
    CHECK(integer_of(c, {"TTL", "str"}) == -1);
    CHECK(integer_of(c, {"EXPIREAT", "str", "1"}) == 1);
    CHECK(c.command({"GET", "str"}).is_nil());

    // The set expires; SADD afterwards starts a new set with no TTL.
    REQUIRE(eventually([&] { return integer_of(c, {"EXISTS", "set:1"}) == 0; }, 5000));
    CHECK(integer_of(c, {"SADD", "set:1", "c"}) == 1);
    CHECK(c.command({"SMEMBERS", "set:1"}) == Reply::array({Reply::string("c")}));
    CHECK(integer_of(c, {"TTL", "set:1"}) == -1);

    // A bounded counter's balance never expires.
    REQUIRE(integer_of(c, {"INCRBY", "bal:1", "10"}) == 10);
    const Reply refused = c.command({"EXPIRE", "bal:1", "10"});
    REQUIRE(refused.is_error());
    CHECK(refused.error_message().find("does not expire") != std::string::npos);
    CHECK(integer_of(c, {"TTL", "bal:1"}) == -1);

    // SETEX, GETEX.
    REQUIRE(c.command({"SETEX", "s2", "50", "v"}) == ok);
    CHECK(integer_of(c, {"TTL", "s2"}) == 50);
    CHECK(c.command({"GETEX", "s2", "EX", "70"}) == Reply::string("v"));
    CHECK(integer_of(c, {"TTL", "s2"}) == 70);
    CHECK(c.command({"GETEX", "s2", "PERSIST"}) == Reply::string("v"));
    CHECK(integer_of(c, {"TTL", "s2"}) == -1);
}

TEST_CASE("concurrent TTL writes at two partitioned regions converge on the later one") {
    Cluster cluster({"us-east", "eu-west"}, config);
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    REQUIRE(us.command({"SET", "k", "v"}) == ok);
    REQUIRE(eventually([&] { return eu.command({"GET", "k"}) == Reply::string("v"); }, 5000));

    REQUIRE(us.command({"MERIDIAN", "PAUSE", "eu-west"}) == ok);
    REQUIRE(eu.command({"MERIDIAN", "PAUSE", "us-east"}) == ok);
    CHECK(integer_of(us, {"EXPIRE", "k", "1000"}) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a later HLC
    CHECK(integer_of(eu, {"EXPIRE", "k", "5000"}) == 1);
    REQUIRE(us.command({"MERIDIAN", "RESUME", "eu-west"}) == ok);
    REQUIRE(eu.command({"MERIDIAN", "RESUME", "us-east"}) == ok);

    REQUIRE(eventually([&] { return integer_of(us, {"TTL", "k"}) > 1000; }, 10000));
    const long long at_us = integer_of(us, {"EXPIRETIME", "k"});
    const long long at_eu = integer_of(eu, {"EXPIRETIME", "k"});
    CHECK(at_us == at_eu);
    CHECK(integer_of(eu, {"TTL", "k"}) > 4990);
}

TEST_CASE("an acknowledged TTL survives kill -9 and still counts down after the restart") {
    Cluster cluster({"solo"}, config);
    cluster.start_all();
    RedisClient c = cluster.client("solo");
    REQUIRE(c.command({"SET", "k", "v", "EX", "100"}) == ok);
    REQUIRE(c.command({"SET", "short", "v", "PX", "300"}) == ok);
    REQUIRE(integer_of(c, {"INCR", "cnt:x"}) == 1);
    REQUIRE(integer_of(c, {"PEXPIRE", "cnt:x", "300"}) == 1);
    const long long deadline = integer_of(c, {"PEXPIRETIME", "k"});
    cluster.kill9("solo");
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    cluster.start("solo");
    RedisClient after = cluster.client("solo");
    CHECK(integer_of(after, {"PEXPIRETIME", "k"}) == deadline);
    const long long left = integer_of(after, {"TTL", "k"});
    CHECK(left > 90);
    CHECK(left <= 100);
    CHECK(after.command({"GET", "short"}).is_nil());
    CHECK(after.command({"GET", "cnt:x"}).is_nil());
}
