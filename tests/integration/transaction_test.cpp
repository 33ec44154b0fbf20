// MULTI / EXEC against real meridian-node processes (issue 14): Redis 7's replies, a
// transaction that reaches another region whole or not at all, home-routed keys inside a
// transaction, and an acknowledged transaction surviving kill -9.
#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;

const std::string policies = R"(
heartbeat_ms = 100
peer_timeout_ms = 1000
reconnect_min_ms = 50
reconnect_max_ms = 500

[[policy]]
match = "cnt:*"
type = "counter"

[[policy]]
match = "bal:*"
type = "bounded_counter"
min = 0

[[policy]]
match = "home:*"
type = "counter"
route = "home"
home = "{tag}"
)";

const Reply ok = Reply::string("OK");
const Reply queued = Reply::string("QUEUED");

bool error_starts(const Reply& r, const std::string& prefix) {
    return r.is_error() && r.error_message().compare(0, prefix.size(), prefix) == 0;
}

// MULTI, the commands, EXEC in one pipeline (what redis-py's pipeline() sends); EXEC's reply.
Reply transaction(RedisClient& c, const std::vector<std::vector<std::string>>& commands) {
    std::vector<std::vector<std::string>> all{{"MULTI"}};
    all.insert(all.end(), commands.begin(), commands.end());
    all.push_back({"EXEC"});
    const std::vector<Reply> replies = c.pipeline(all);
    REQUIRE(replies.size() == all.size());
    CHECK(replies.front() == ok);
    for (std::size_t i = 1; i + 1 < replies.size(); ++i) CHECK(replies[i] == queued);
    return replies.back();
}

}  // namespace

TEST_CASE("MULTI queues, EXEC answers every command's reply in order, errors included") {
    Cluster cluster({"solo"}, "fsync = \"everysec\"\nmax_bulk_bytes = 1048576\n" + policies);
    cluster.start("solo");
    RedisClient c = cluster.client("solo");

    const Reply exec = transaction(c, {{"SET", "a", "1"},
                                       {"INCR", "cnt:x"},
                                       {"INCRBY", "cnt:x", "4"},
                                       {"SET", "a", "2", "BADOPTION"},  // fails at EXEC only
                                       {"INCR", "a"},                   // wrong type for lww
                                       {"DECRBY", "bal:x", "1"},        // no balance to take
                                       {"GET", "a"},
                                       {"SADD", "s", "m"}});  // wrong type: s is lww
    REQUIRE(exec.is_array());
    const Reply::Array& replies = exec.as_array();
    REQUIRE(replies.size() == 8);
    CHECK(replies[0] == ok);
    CHECK(replies[1] == Reply::integer(1));
    CHECK(replies[2] == Reply::integer(5));
    CHECK(replies[3] == Reply::error("ERR syntax error"));
    CHECK(error_starts(replies[4], "WRONGTYPE"));
    CHECK(replies[5].is_error());
    CHECK(replies[6] == Reply::string("1"));
    CHECK(error_starts(replies[7], "WRONGTYPE"));
    // The commands that succeeded took effect.
    CHECK(c.command({"MGET", "a", "cnt:x"}) ==
          Reply::array({Reply::string("1"), Reply::string("5")}));

    SECTION("a command that cannot be queued aborts the whole transaction") {
        CHECK(c.command({"MULTI"}) == ok);
        CHECK(c.command({"SET", "a", "lost"}) == queued);
        CHECK(c.command({"NOSUCHCOMMAND", "x"}) ==
              Reply::error("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' "));
        CHECK(c.command({"GET"}) ==
              Reply::error("ERR wrong number of arguments for 'get' command"));
        CHECK(c.command({"WAIT", "1", "0"}) ==
              Reply::error("ERR Command not allowed inside a transaction"));
        CHECK(c.command({"EXEC"}) ==
              Reply::error("EXECABORT Transaction discarded because of previous errors."));
        CHECK(c.command({"GET", "a"}) == Reply::string("1"));
    }
    SECTION("DISCARD drops the queue; control commands outside MULTI are errors") {
        CHECK(c.command({"MULTI"}) == ok);
        CHECK(c.command({"MULTI"}) == Reply::error("ERR MULTI calls can not be nested"));
        CHECK(c.command({"SET", "a", "lost"}) == queued);
        CHECK(c.command({"WATCH", "a"}) == Reply::error("ERR WATCH inside MULTI is not allowed"));
        CHECK(c.command({"DISCARD"}) == ok);
        CHECK(c.command({"GET", "a"}) == Reply::string("1"));
        CHECK(c.command({"EXEC"}) == Reply::error("ERR EXEC without MULTI"));
        CHECK(c.command({"DISCARD"}) == Reply::error("ERR DISCARD without MULTI"));
        CHECK(error_starts(c.command({"WATCH", "a"}), "ERR WATCH is not supported"));
        CHECK(c.command({"UNWATCH"}) == ok);
    }
    SECTION("an empty transaction answers an empty array; a read-only one its reads") {
        CHECK(transaction(c, {}) == Reply::array({}));
        CHECK(transaction(c, {{"GET", "a"}, {"PING"}}) ==
              Reply::array({Reply::string("1"), Reply::string("PONG")}));
    }
    SECTION("a queue larger than the limit is refused and aborts") {
        // The cluster file above sets max_bulk_bytes = 1 MiB: a queue may hold 4 MiB.
        const std::string value(256 << 10, 'v');
        CHECK(c.command({"MULTI"}) == ok);
        int queued_count = 0;
        Reply refusal;
        for (; queued_count < 64; ++queued_count) {
            const Reply r = c.command({"SET", "big", value});
            if (r != queued) {
                refusal = r;
                break;
            }
        }
        CHECK(queued_count == 15);
        CHECK(error_starts(refusal, "ERR transaction too large"));
        CHECK(c.command({"EXEC"}) ==
              Reply::error("EXECABORT Transaction discarded because of previous errors."));
        CHECK(c.command({"EXISTS", "big"}) == Reply::integer(0));
    }
    // The connection and the node are fine afterwards.
    CHECK(c.command({"PING"}) == Reply::string("PONG"));
}

TEST_CASE("another region sees a transaction whole or not at all") {
    Cluster cluster({"us-east", "eu-west"}, "fsync = \"everysec\"\n" + policies);
    cluster.start_all();
    RedisClient writer = cluster.client("us-east");
    RedisClient reader = cluster.client("eu-west");

    // The writer moves 1 from cnt:a to cnt:b and records the round in each transaction; the
    // reader at the other region must always see the sum at 0 and b equal to the round.
    constexpr int rounds = 400;
    std::atomic<bool> done{false};
    std::vector<std::string> torn;
    int reads = 0;
    std::thread reading([&] {
        while (!done.load()) {
            const Reply r = reader.command({"MGET", "cnt:a", "cnt:b", "round"});
            if (!r.is_array()) {
                torn.push_back(r.describe());
                return;
            }
            ++reads;
            const auto& v = r.as_array();
            const long long a = v[0].is_string() ? std::stoll(v[0].as_string()) : 0;
            const long long b = v[1].is_string() ? std::stoll(v[1].as_string()) : 0;
            const long long round = v[2].is_string() ? std::stoll(v[2].as_string()) : 0;
            if (a + b != 0 || b != round) torn.push_back(r.describe());
        }
    });
    for (int i = 1; i <= rounds; ++i) {
        const Reply exec = transaction(
            writer, {{"DECR", "cnt:a"}, {"INCR", "cnt:b"}, {"SET", "round", std::to_string(i)}});
        REQUIRE(exec == Reply::array({Reply::integer(-i), Reply::integer(i), ok}));
    }
    RedisClient checker = cluster.client("eu-west");
    REQUIRE(eventually(
        [&] {
            return checker.command({"GET", "round"}) == Reply::string(std::to_string(rounds));
        },
        15000));
    done = true;
    reading.join();
    INFO("reads: " << reads << "; first torn read: " << (torn.empty() ? "none" : torn.front()));
    CHECK(torn.empty());
    CHECK(reads > 0);
    CHECK(reader.command({"MGET", "cnt:a", "cnt:b"}) ==
          Reply::array(
              {Reply::string(std::to_string(-rounds)), Reply::string(std::to_string(rounds))}));
}

TEST_CASE("a transaction on a key homed elsewhere is refused with its home, at home it runs") {
    Cluster cluster({"us-east", "eu-west"}, "fsync = \"everysec\"\n" + policies);
    cluster.start_all();
    RedisClient east = cluster.client("us-east");
    RedisClient west = cluster.client("eu-west");
    REQUIRE(eventually(
        [&] {
            return west.command({"INFO", "replication"}).as_string().find("connected_regions:1") !=
                   std::string::npos;
        },
        15000));

    const Reply refused = transaction(west, {{"SET", "plain", "1"}, {"INCR", "home:{us-east}:n"}});
    REQUIRE(refused.is_array());
    REQUIRE(refused.as_array().size() == 2);
    CHECK(refused.as_array()[0] == ok);
    CHECK(refused.as_array()[1] ==
          Reply::error("ERR 'home:{us-east}:n' has its home at region us-east: a transaction runs "
                       "at one region, so send it to that region"));
    // Outside a transaction the same write is forwarded as usual.
    CHECK(west.command({"INCR", "home:{us-east}:n"}) == Reply::integer(1));

    CHECK(transaction(east, {{"INCR", "home:{us-east}:n"}, {"INCR", "home:{us-east}:n"}}) ==
          Reply::array({Reply::integer(2), Reply::integer(3)}));
    CHECK(eventually(
        [&] {
            return west.command({"GET", "home:{us-east}:n"}) == Reply::string("3");
        },
        15000));
}

TEST_CASE("an acknowledged transaction survives kill -9 whole") {
    Cluster cluster({"solo"}, "fsync = \"always\"\n" + policies);
    cluster.start("solo");
    {
        RedisClient c = cluster.client("solo");
        for (int i = 1; i <= 50; ++i) {
            const std::string n = std::to_string(i);
            REQUIRE(transaction(c, {{"SET", "k" + n, n}, {"INCR", "cnt:total"}}) ==
                    Reply::array({ok, Reply::integer(i)}));
        }
    }
    cluster.kill9("solo");
    cluster.start("solo");
    RedisClient c = cluster.client("solo");
    CHECK(c.command({"GET", "cnt:total"}) == Reply::string("50"));
    CHECK(c.command({"GET", "k50"}) == Reply::string("50"));
    CHECK(c.command({"DBSIZE"}) == Reply::integer(51));
}
