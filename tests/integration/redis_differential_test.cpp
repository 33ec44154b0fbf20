// Meridian against a real redis-server (issue 14): the same seeded random sequence of commands,
// valid and invalid, goes to one region and to redis-server, and every reply is compared.
//
// Mismatches allowed on purpose, each counted and printed:
//   - WRONGTYPE: Meridian's error starts with Redis's text and then names the key's policy.
//   - A counter write answered "would overflow" where Redis answers a number: a Meridian
//     counter's per-region totals only grow and are bounded by 2^64 - 1. Redis is then given
//     Meridian's value so that the sequences stay comparable.
//   - TTL, PTTL, EXPIRETIME and PEXPIRETIME of a relative TTL (EXPIRE k 100) differ by the
//     moments the two servers ran it: within 1 s (TTL, EXPIRETIME) or 1,000 ms apart.
// What the generator does not send, because Meridian decides it differently by design
// (README, "Redis compatibility"): a command of another type on a key that does not exist (a
// Meridian key's type comes from its policy, so `SET set:1 x` is WRONGTYPE even on an empty
// key), string writes on counter keys and counter writes on lww keys (Redis lets both turn a
// string into the other), and TTLs short enough to run out during the run (their replies would
// depend on timing); times are 0 or less (delete at once) or 100 s and more.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;
using Command = std::vector<std::string>;

const std::string policies = R"(
fsync = "no"

[[policy]]
match = "cnt:*"
type = "counter"

[[policy]]
match = "set:*"
type = "set"

[[policy]]
match = "hash:*"
type = "hash"
)";

// A redis-server on a free loopback port, nothing persisted, killed with the test.
struct RedisServer {
    TempDir dir;
    std::uint16_t port = free_port();
    std::optional<Process> process;

    RedisServer() {
        auto started = start_redis_server(port, dir.path());
        if (!started) FAIL(started.error() << " (scripts/bootstrap.sh installs redis-server)");
        process.emplace(std::move(*started));
    }
};

// The key families and the values the generator draws from. Numbers near the edges of int64
// and of what a float may parse, spaces and empty strings exercise the parsers.
const std::vector<std::string> values = {"",
                                         "0",
                                         "1",
                                         "-1",
                                         "42",
                                         "007",
                                         " 5",
                                         "5 ",
                                         "1.5",
                                         "-0.25",
                                         "1e3",
                                         "3.0e-2",
                                         "abc",
                                         "x y",
                                         "9223372036854775807",
                                         "-9223372036854775808",
                                         "9223372036854775808",
                                         "inf",
                                         "nan",
                                         "0x10",
                                         "+7",
                                         "1e400",
                                         "hello world"};
const std::vector<std::string> integers = {"0",
                                           "1",
                                           "-1",
                                           "17",
                                           "-5",
                                           "100000",
                                           "9223372036854775807",
                                           "-9223372036854775808",
                                           "1.5",
                                           "abc",
                                           "",
                                           " 3",
                                           "99999999999999999999",
                                           "007",
                                           "-0",
                                           "+5",
                                           "0x1f"};

struct Generator {
    std::mt19937_64 rng;
    std::string last_expired;  // the key of the last EXPIRE-like command
    explicit Generator(std::uint64_t seed) : rng(seed) {}

    std::size_t below(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
    template <typename T>
    const T& pick(const std::vector<T>& from) {
        return from[below(from.size())];
    }

    std::string string_key() { return "s:" + std::to_string(below(5)); }
    std::string counter_key() { return "cnt:" + std::to_string(below(4)); }
    std::string set_key() { return "set:" + std::to_string(below(4)); }
    std::string hash_key() { return "hash:" + std::to_string(below(4)); }
    std::string any_key() {
        switch (below(4)) {
            case 0:
                return string_key();
            case 1:
                return counter_key();
            case 2:
                return hash_key();
            default:
                return set_key();
        }
    }
    std::string value() { return chance(70) ? pick(values) : std::to_string(below(1000)); }
    std::string member() { return "m" + std::to_string(below(6)); }
    std::string field() { return "f" + std::to_string(below(6)); }

    // A time for an expiry: seconds or milliseconds (relative or Unix), never one that runs out
    // during the run unless it is already past (`past_ok`); invalid ones too. SET is never given
    // a past Unix time: Redis keeps such a key until something touches it, so DBSIZE would
    // count it for a while where Meridian deletes it at once.
    std::string expiry_time(bool milliseconds, bool absolute, bool past_ok = true) {
        static const std::vector<std::string> invalid = {"abc", "", "1.5", "9223372036854775807",
                                                         "-9223372036854775808", "007"};
        if (chance(15)) return pick(invalid);
        if (chance(15)) return pick(std::vector<std::string>{"0", "-1", "-100"});
        if (absolute) {
            if (past_ok && chance(50)) return "1";
            return milliseconds ? "4102444800000" : "4102444800";
        }
        const std::uint64_t seconds = 100 + below(1000);
        return std::to_string(milliseconds ? seconds * 1000 : seconds);
    }

    Command set_command() {
        Command c{"SET", string_key(), value()};
        static const std::vector<std::string> options = {"NX",  "XX", "GET",  "KEEPTTL", "nx",   "get",
                                                         "BAD", "EX", "EX+", "PX+",     "EXAT+", "PXAT+"};
        for (std::size_t n = below(3); n > 0; --n) {
            const std::string& option = pick(options);
            if (option == "EX" && !chance(50)) continue;  // without a number: a syntax error
            if (option.back() == '+') {
                const std::string name = option.substr(0, option.size() - 1);
                c.push_back(name);
                c.push_back(expiry_time(name[0] == 'P', name.size() == 4, false));
            } else {
                c.push_back(option);
            }
        }
        return c;
    }

    // EXPIRE and its kin, TTL and its kin, PERSIST, SETEX, GETEX, on any key family.
    Command expiry_command() {
        const std::string k = any_key();
        switch (below(9)) {
            case 0:
            case 1: {
                static const std::vector<std::string> names = {"EXPIRE", "PEXPIRE", "EXPIREAT",
                                                               "PEXPIREAT"};
                const std::string& name = pick(names);
                Command c{name, k, expiry_time(name[0] == 'P', name.back() == 'T')};
                last_expired = k;
                static const std::vector<std::string> flags = {"NX", "XX", "GT", "LT", "gt", "BAD"};
                for (std::size_t n = chance(60) ? 0 : 1 + below(2); n > 0; --n) c.push_back(pick(flags));
                return c;
            }
            case 2:
            case 3: {
                static const std::vector<std::string> names = {"TTL", "PTTL", "EXPIRETIME",
                                                               "PEXPIRETIME"};
                // Often the key last given a TTL, so that most reads find one.
                return {pick(names), chance(60) && !last_expired.empty() ? last_expired : k};
            }
            case 4:
                return {"PERSIST", k};
            case 5:
                return {chance(50) ? "SETEX" : "PSETEX", string_key(), expiry_time(chance(50), false),
                        value()};
            default: {
                Command c{"GETEX", chance(70) ? string_key() : counter_key()};
                static const std::vector<std::string> options = {"EX+", "PX+", "EXAT+", "PXAT+",
                                                                 "PERSIST", "KEEPTTL", "NX", "EX"};
                for (std::size_t n = below(3); n > 0; --n) {
                    const std::string& option = pick(options);
                    if (option.back() == '+') {
                        const std::string name = option.substr(0, option.size() - 1);
                        c.push_back(name);
                        c.push_back(expiry_time(name[0] == 'P', name.size() == 4));
                    } else {
                        c.push_back(option);
                    }
                }
                return c;
            }
        }
    }

    Command string_command() {
        const std::string k = string_key();
        switch (below(12)) {
            case 0:
            case 1:
                return set_command();
            case 2:
                return {"GET", k};
            case 3:
                return {"SETNX", k, value()};
            case 4:
                return {"GETSET", k, value()};
            case 5:
                return {"GETDEL", k};
            case 6:
                return {"APPEND", k, value()};
            case 7:
                return {"STRLEN", k};
            case 8:
                return {"INCRBYFLOAT", k, chance(60) ? pick(values) : std::to_string(below(50))};
            case 9: {
                Command c{"MGET"};
                for (std::size_t n = 1 + below(4); n > 0; --n) c.push_back(any_key());
                return c;
            }
            default: {
                Command c{"MSET"};
                for (std::size_t n = 1 + below(3); n > 0; --n) {
                    c.push_back(string_key());
                    c.push_back(value());
                }
                if (chance(10)) c.pop_back();  // odd: wrong number of arguments
                return c;
            }
        }
    }

    Command counter_command() {
        const std::string k = counter_key();
        switch (below(8)) {
            case 0:
                return {"INCR", k};
            case 1:
                return {"DECR", k};
            case 2:
                return {"INCRBY", k, pick(integers)};
            case 3:
                return {"DECRBY", k, pick(integers)};
            case 4:
                return {"GET", k};
            case 5:
                return {"STRLEN", k};
            case 6:
                return {"GETDEL", k};
            default:
                return {"INCRBY", k, std::to_string(below(20))};
        }
    }

    Command set_family_command() {
        const std::string k = set_key();
        switch (below(6)) {
            case 0:
            case 1: {
                Command c{chance(75) ? "SADD" : "SREM", k};
                for (std::size_t n = 1 + below(3); n > 0; --n) c.push_back(member());
                return c;
            }
            case 2:
                return {"SMEMBERS", k};
            case 3:
                return {"SISMEMBER", k, member()};
            case 4:
                return {"SCARD", k};
            default:
                return {"SREM", k, member()};
        }
    }

    Command hash_command() {
        const std::string k = hash_key();
        switch (below(16)) {
            case 0:
            case 1:
            case 2: {
                Command c{chance(85) ? "HSET" : "HMSET", k};
                for (std::size_t n = 1 + below(3); n > 0; --n) {
                    c.push_back(field());
                    c.push_back(value());
                }
                if (chance(8)) c.pop_back();  // odd: wrong number of arguments
                return c;
            }
            case 3:
                return {"HSETNX", k, field(), value()};
            case 4:
                return {"HGET", k, field()};
            case 5: {
                Command c{"HMGET", k};
                for (std::size_t n = 1 + below(3); n > 0; --n) c.push_back(field());
                return c;
            }
            case 6: {
                Command c{"HDEL", k};
                for (std::size_t n = 1 + below(2); n > 0; --n) c.push_back(field());
                return c;
            }
            case 7:
                return {pick(std::vector<std::string>{"HGETALL", "HKEYS", "HVALS", "HLEN"}), k};
            case 8:
                return {chance(50) ? "HEXISTS" : "HSTRLEN", k, field()};
            case 9:
            case 10:
                return {"HINCRBY", k, field(), chance(70) ? std::to_string(below(20)) : pick(integers)};
            case 11:
                return {"HINCRBYFLOAT", k, field(), chance(60) ? pick(values) : std::to_string(below(50))};
            case 12: {
                // No cursor other than 0 that parses: Redis then answers by its encoding and its
                // random hash seed (README, "Redis compatibility").
                Command c{"HSCAN", k, pick(std::vector<std::string>{"0", "0", "-1", "abc"})};
                static const std::vector<Command> options = {
                    {"MATCH", "f1*"}, {"MATCH", "*"}, {"COUNT", "2"}, {"COUNT", "0"},
                    {"COUNT", "abc"}, {"BAD", "x"},   {"COUNT"}};
                for (std::size_t n = below(3); n > 0; --n) {
                    const Command& option = pick(options);
                    c.insert(c.end(), option.begin(), option.end());
                }
                return c;
            }
            case 13: {
                Command c{"HRANDFIELD", k};
                if (chance(80)) {
                    c.push_back(pick(std::vector<std::string>{"0", "1", "3", "-3", "10", "-10",
                                                              "abc", "9223372036854775807",
                                                              "-9223372036854775808"}));
                    if (chance(50)) c.push_back(chance(90) ? "WITHVALUES" : "BAD");
                }
                return c;
            }
            default:
                return {"HSET", k, field(), chance(50) ? std::to_string(below(100)) : value()};
        }
    }

    Command key_command() {
        switch (below(6)) {
            case 0:
            case 1: {
                Command c{chance(60) ? "DEL" : "EXISTS"};
                for (std::size_t n = 1 + below(3); n > 0; --n) c.push_back(any_key());
                return c;
            }
            case 2:
                return {"TYPE", any_key()};
            case 3:
                return {"DBSIZE"};
            case 4:
                return {"KEYS", chance(50) ? "*" : "s:*"};
            default:
                return {"PING"};
        }
    }

    // A command with the wrong number of arguments, or one no server knows.
    Command malformed() {
        static const std::vector<Command> wrong = {{"GET"},
                                                   {"GET", "s:1", "x"},
                                                   {"SET", "s:1"},
                                                   {"SETNX", "s:1"},
                                                   {"GETDEL"},
                                                   {"APPEND", "s:1"},
                                                   {"STRLEN"},
                                                   {"INCRBYFLOAT", "s:1"},
                                                   {"MGET"},
                                                   {"MSET"},
                                                   {"MSET", "s:1"},
                                                   {"INCR"},
                                                   {"INCRBY", "cnt:1"},
                                                   {"SADD", "set:1"},
                                                   {"SCARD"},
                                                   {"HSET", "hash:1", "f"},
                                                   {"HGET", "hash:1"},
                                                   {"HDEL", "hash:1"},
                                                   {"HINCRBY", "hash:1", "f"},
                                                   {"HSCAN", "hash:1"},
                                                   {"HGETALL"},
                                                   {"HSETNX", "hash:1", "f"},
                                                   {"DEL"},
                                                   {"EXISTS"},
                                                   {"TYPE"},
                                                   {"GETSET", "s:1"},
                                                   {"DBSIZE", "x"},
                                                   {"EXPIRE", "s:1"},
                                                   {"TTL"},
                                                   {"PERSIST", "s:1", "x"},
                                                   {"SETEX", "s:1", "100"},
                                                   {"GETEX"},
                                                   {"NOSUCHCMD", "a", "b"},
                                                   {"MULTI", "x"},
                                                   {"EXEC", "x"},
                                                   {"DISCARD", "x"}};
        return pick(wrong);
    }

    Command any_command() {
        const std::size_t roll = below(100);
        if (roll < 24) return string_command();
        if (roll < 40) return counter_command();
        if (roll < 53) return set_family_command();
        if (roll < 66) return hash_command();
        if (roll < 80) return expiry_command();
        if (roll < 94) return key_command();
        return malformed();
    }

    // A command of another family on `key`, which holds a value in Redis: WRONGTYPE in both.
    Command cross_type(const std::string& key) {
        const bool is_hash = key.rfind("hash:", 0) == 0;
        if (!is_hash && chance(40)) {
            static const std::vector<std::string> names = {"HGET", "HSET", "HLEN", "HGETALL",
                                                           "HINCRBY", "HDEL"};
            const std::string& name = pick(names);
            if (name == "HSET" || name == "HINCRBY") return {name, key, field(), "1"};
            if (name == "HGET" || name == "HDEL") return {name, key, field()};
            return {name, key};
        }
        if (key.rfind("set:", 0) == 0 || (is_hash && chance(50))) {
            static const std::vector<std::string> names = {"GET",  "STRLEN", "APPEND",
                                                           "INCR", "GETDEL", "INCRBYFLOAT"};
            const std::string& name = pick(names);
            if (name == "APPEND") return {name, key, "v"};
            if (name == "INCRBYFLOAT") return {name, key, "1"};
            return {name, key};
        }
        static const std::vector<std::string> names = {"SADD", "SREM", "SMEMBERS", "SISMEMBER",
                                                       "SCARD"};
        const std::string& name = pick(names);
        if (name == "SMEMBERS" || name == "SCARD") return {name, key};
        return {name, key, member()};
    }
};

std::string upper(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
}

// A flat field, value, field, value... list with its pairs sorted by field.
Reply::Array sorted_pairs(const Reply::Array& flat) {
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i + 1 < flat.size(); i += 2) starts.push_back(i);
    std::sort(starts.begin(), starts.end(),
              [&](std::size_t a, std::size_t b) { return flat[a].describe() < flat[b].describe(); });
    Reply::Array out;
    for (std::size_t i : starts) {
        out.push_back(flat[i]);
        out.push_back(flat[i + 1]);
    }
    if (flat.size() % 2 != 0) out.push_back(flat.back());
    return out;
}

// Order-free replies compared sorted; random ones by their shape.
Reply normalized(const Command& command, Reply reply) {
    const std::string name = upper(command[0]);
    // Which fields HRANDFIELD picks is random: compare how many (node_test checks which).
    if (name == "HRANDFIELD" && reply.is_array())
        return Reply::integer(static_cast<long long>(reply.as_array().size()));
    if (name == "HRANDFIELD" && reply.is_string()) return Reply::string("(a field)");
    // Field-value pairs sorted by field (Redis lists a small hash in insertion order).
    if (name == "HGETALL" && reply.is_array()) return Reply::array(sorted_pairs(reply.as_array()));
    if (name == "HSCAN" && reply.is_array() && reply.as_array().size() == 2 &&
        reply.as_array()[1].is_array()) {
        Reply::Array outer = std::move(reply).as_array();
        outer[1] = Reply::array(sorted_pairs(outer[1].as_array()));
        return Reply::array(std::move(outer));
    }
    if ((name == "SMEMBERS" || name == "KEYS" || name == "HKEYS" || name == "HVALS") && reply.is_array()) {
        Reply::Array elements = std::move(reply).as_array();
        std::sort(elements.begin(), elements.end(),
                  [](const Reply& a, const Reply& b) { return a.describe() < b.describe(); });
        return Reply::array(std::move(elements));
    }
    return reply;
}

std::string show(const Command& command) {
    std::string out;
    for (const std::string& arg : command) out += (out.empty() ? "" : " ") + ("'" + arg + "'");
    return out;
}

struct Tally {
    std::size_t compared = 0;
    std::size_t wrongtype_suffix = 0;  // allowed: Meridian's WRONGTYPE names the policy
    std::size_t counter_totals = 0;    // allowed: a region's lifetime totals passed 2^64 - 1
    std::size_t ttl_timing = 0;        // allowed: a relative TTL read a moment apart
    std::size_t ttls_read = 0;         // TTL replies of keys that have a TTL
    std::vector<std::string> mismatches;
    std::vector<std::string> resync;  // counter keys Redis is to be told Meridian's value of
};

const std::string overflow = "ERR increment or decrement would overflow";

bool is_counter_write(const std::string& name) {
    return name == "INCR" || name == "DECR" || name == "INCRBY" || name == "DECRBY";
}

// Compares one reply pair (recursing into EXEC's arrays with the queued commands).
void compare(const std::vector<Command>& commands, const Reply& redis, const Reply& meridian,
             const std::string& where, Tally& tally, bool exec = false) {
    if (exec && redis.is_array() && meridian.is_array() &&
        redis.as_array().size() == commands.size() &&
        meridian.as_array().size() == commands.size()) {
        for (std::size_t i = 0; i < commands.size(); ++i)
            compare({commands[i]}, redis.as_array()[i], meridian.as_array()[i],
                    where + " [in EXEC #" + std::to_string(i) + "]", tally);
        return;
    }
    const Command& command = commands.front();
    const Reply r = normalized(command, redis);
    const Reply m = normalized(command, meridian);
    const std::string name = upper(command[0]);
    const bool reads_ttl = name == "TTL" || name == "PTTL" || name == "EXPIRETIME" || name == "PEXPIRETIME";
    if (reads_ttl && r.is_integer() && r.as_integer() >= 0) ++tally.ttls_read;
    if (r == m) return;
    // Both servers set a relative TTL at their own moment, a few milliseconds apart.
    if (reads_ttl && r.is_integer() && m.is_integer() && r.as_integer() >= 0 && m.as_integer() >= 0) {
        const long long slack = name[0] == 'P' ? 1000 : 1;
        if (std::llabs(r.as_integer() - m.as_integer()) <= slack) {
            ++tally.ttl_timing;
            return;
        }
    }
    // A counter is one pair of increment and decrement totals per region, each an unsigned
    // 64-bit number that only grows (README, "Counters"): Redis bounds only the value.
    if (is_counter_write(upper(command[0])) && m == Reply::error(overflow) && r.is_integer()) {
        ++tally.counter_totals;
        tally.resync.push_back(command[1]);
        return;
    }
    const std::string wrongtype =
        "WRONGTYPE Operation against a key holding the wrong kind of value";
    if (r.is_error() && m.is_error() && r.error_message() == wrongtype &&
        m.error_message().rfind(wrongtype, 0) == 0) {
        ++tally.wrongtype_suffix;
        return;
    }
    tally.mismatches.push_back(where + ": " + show(command) + "\n    redis:    " + r.describe() +
                               "\n    meridian: " + m.describe());
}

// With MERIDIAN_DIFF_TRACE set, every command and both replies go to stderr: a mismatch's
// cause is usually a few steps before it, where the two stores' states parted.
void trace(const std::string& where, const Command& command, const Reply& redis,
           const Reply& meridian) {
    static const bool on = std::getenv("MERIDIAN_DIFF_TRACE") != nullptr;
    if (on)
        std::cerr << where << ": " << show(command) << " -> " << redis.describe() << " | "
                  << meridian.describe() << "\n";
}

bool adds_zero(const Command& c) {
    return (upper(c[0]) == "INCRBY" || upper(c[0]) == "DECRBY") && c.size() == 3 && c[2] == "0";
}

// After an allowed counter mismatch, Redis takes Meridian's value so later replies compare.
void resync(RedisClient& redis, RedisClient& meridian, Tally& tally) {
    for (const std::string& key : tally.resync) {
        const Reply value = meridian.command({"GET", key});
        REQUIRE(redis
                    .command(value.is_string() ? Command{"SET", key, value.as_string(), "KEEPTTL"}
                                               : Command{"DEL", key})
                    .is_string() == value.is_string());
    }
    tally.resync.clear();
}

void run_seed(std::uint64_t seed, std::size_t steps, RedisClient& redis, RedisClient& meridian,
              Tally& tally) {
    Generator gen(seed);
    // Both start empty.
    REQUIRE(redis.command({"FLUSHALL"}) == Reply::string("OK"));
    for (const Reply& key : meridian.command({"KEYS", "*"}).as_array())
        REQUIRE(meridian.command({"DEL", key.as_string()}).is_integer());

    for (std::size_t step = 0; step < steps; ++step) {
        const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
        if (gen.chance(8)) {
            // A transaction: MULTI, a few commands (sometimes one that cannot be queued),
            // then EXEC or DISCARD, all in one pipeline as client libraries send them.
            std::vector<Command> queued;
            for (std::size_t n = gen.below(5); n > 0; --n) {
                queued.push_back(gen.chance(7) ? gen.malformed() : gen.any_command());
                if (adds_zero(queued.back())) queued.back()[2] = "1";  // see below
            }
            std::vector<Command> all{{"MULTI"}};
            all.insert(all.end(), queued.begin(), queued.end());
            all.push_back({gen.chance(90) ? "EXEC" : "DISCARD"});
            const auto from_redis = redis.pipeline(all);
            const auto from_meridian = meridian.pipeline(all);
            for (std::size_t i = 0; i < all.size(); ++i)
                trace(where, all[i], from_redis[i], from_meridian[i]);
            for (std::size_t i = 0; i + 1 < all.size(); ++i) {
                compare({all[i]}, from_redis[i], from_meridian[i], where, tally);
                ++tally.compared;
            }
            compare(queued.empty() ? std::vector<Command>{all.back()} : queued, from_redis.back(),
                    from_meridian.back(), where + " " + all.back()[0], tally,
                    !queued.empty() && all.back()[0] == "EXEC");
            ++tally.compared;
            resync(redis, meridian, tally);
            continue;
        }
        Command command = gen.any_command();
        // INCRBY k 0 on a missing key: Redis stores "0", a Meridian counter exists only once
        // something was added to it. Not generated (README, "Redis compatibility").
        if (adds_zero(command) && redis.command({"EXISTS", command[1]}) == Reply::integer(0))
            command[2] = "1";
        if (gen.chance(6)) {
            const std::string key = gen.any_key();
            if (key.rfind("cnt:", 0) != 0 && redis.command({"EXISTS", key}) == Reply::integer(1))
                command = gen.cross_type(key);
        }
        const Reply from_redis = redis.command(command);
        const Reply from_meridian = meridian.command(command);
        trace(where, command, from_redis, from_meridian);
        compare({command}, from_redis, from_meridian, where, tally);
        ++tally.compared;
        resync(redis, meridian, tally);
    }
}

}  // namespace

TEST_CASE("seeded random commands answer as redis-server 7 answers them") {
    RedisServer server;
    Cluster cluster({"solo"}, policies);
    cluster.start("solo");
    auto redis = RedisClient::connect(server.port);
    REQUIRE(redis.has_value());
    RedisClient meridian = cluster.client("solo");
    REQUIRE(redis->command({"INFO", "server"}).as_string().find("redis_version:7.") !=
            std::string::npos);

    Tally tally;
    constexpr std::uint64_t seeds = 8;
    constexpr std::size_t steps = 1500;
    for (std::uint64_t seed = 1; seed <= seeds && tally.mismatches.size() < 20; ++seed)
        run_seed(seed, steps, *redis, meridian, tally);

    std::ostringstream report;
    report << "compared " << tally.compared << " replies; allowed: WRONGTYPE suffixes "
           << tally.wrongtype_suffix << ", counter totals " << tally.counter_totals
           << ", TTLs read a moment apart " << tally.ttl_timing << " (of " << tally.ttls_read
           << " TTLs read); mismatches " << tally.mismatches.size();
    for (std::size_t i = 0; i < tally.mismatches.size() && i < 20; ++i)
        report << "\n  " << tally.mismatches[i];
    WARN(report.str());
    CHECK(tally.mismatches.empty());
    CHECK(tally.compared >= seeds * steps);
    // The generator must reach the cases it exists for.
    CHECK(tally.wrongtype_suffix > 0);
    CHECK(tally.ttls_read > 0);
}
