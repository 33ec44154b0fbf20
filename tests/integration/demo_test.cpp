// The README's demo: examples/cluster.toml loads and serves, and balance_demo's short run
// converges and prints a table whose rows show what each policy promises.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "integration/harness.hpp"
#include "node/cluster_config.hpp"

namespace {

using namespace meridian::test;

const std::string example_cluster = MERIDIAN_SOURCE_DIR "/examples/cluster.toml";
const std::string demo_binary = MERIDIAN_BIN_DIR "/balance_demo";

// One row of the demo's table, by column.
struct TableRow {
    std::vector<std::string> balances;  // us-east, eu-west, ap-south
    std::string implied, lost, below_zero, refused, p50, p99, converge;
    bool converged = true;
};

// The rows under the "policy ..." header, by label, up to the first blank line.
std::map<std::string, TableRow> parse_table(const std::string& output) {
    std::map<std::string, TableRow> rows;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line) && line.rfind("policy ", 0) != 0) {
    }
    while (std::getline(lines, line) && !line.empty()) {
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string word; words >> word;) w.push_back(word);
        if (w.size() < 11) continue;
        TableRow row;
        row.balances = {w[1], w[2], w[3]};
        row.implied = w[4], row.lost = w[5], row.below_zero = w[6], row.refused = w[7];
        row.p50 = w[8], row.p99 = w[9], row.converge = w[10];
        row.converged = line.find("NOT CONVERGED") == std::string::npos;
        rows[w[0]] = row;
    }
    return rows;
}

long long as_number(const std::string& word) {
    try {
        std::size_t used = 0;
        const long long value = std::stoll(word, &used);
        return used == word.size() ? value : -999999;
    } catch (const std::exception&) {
        return -999999;  // not a number: every check against it fails visibly
    }
}

bool all_equal(const std::vector<std::string>& values) {
    for (const auto& v : values) {
        if (v != values.front()) return false;
    }
    return !values.empty();
}

}  // namespace

TEST_CASE("examples/cluster.toml loads, and every tunable it shows is the default") {
    auto loaded = meridian::node::load_cluster_config(example_cluster);
    INFO((loaded ? std::string() : loaded.error()));
    REQUIRE(loaded);
    const meridian::node::ClusterConfig& config = *loaded;
    const meridian::node::ClusterConfig defaults;

    REQUIRE(config.regions.size() == 3);
    const std::vector<std::string> names = {"us-east", "eu-west", "ap-south"};
    for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(config.regions[i].name == names[i]);
        CHECK(config.regions[i].id == i + 1);
        CHECK(config.regions[i].client_listen == "127.0.0.1:700" + std::to_string(i + 1));
        CHECK(config.regions[i].peer_listen == "127.0.0.1:800" + std::to_string(i + 1));
        CHECK(config.regions[i].admin_listen == "127.0.0.1:900" + std::to_string(i + 1));
    }
    CHECK(config.fsync == defaults.fsync);
    CHECK_FALSE(config.tls.enabled());
    CHECK(config.wal_retention_bytes == defaults.wal_retention_bytes);
    CHECK(config.wal_segment_bytes == defaults.wal_segment_bytes);
    CHECK(config.snapshot_every_records == defaults.snapshot_every_records);
    CHECK(config.snapshot_every_seconds == defaults.snapshot_every_seconds);
    CHECK(config.max_clients == defaults.max_clients);
    CHECK(config.max_bulk_bytes == defaults.max_bulk_bytes);
    CHECK(config.max_args == defaults.max_args);
    CHECK(config.requirepass == defaults.requirepass);
    CHECK(config.client_timeout_ms == defaults.client_timeout_ms);
    CHECK(config.forward_timeout_ms == defaults.forward_timeout_ms);
    CHECK(config.rights_timeout_ms == defaults.rights_timeout_ms);
    CHECK(config.batch_bytes == defaults.batch_bytes);
    CHECK(config.heartbeat_ms == defaults.heartbeat_ms);
    CHECK(config.peer_timeout_ms == defaults.peer_timeout_ms);
    CHECK(config.relay_delay_ms == defaults.relay_delay_ms);
    CHECK(config.reconnect_min_ms == defaults.reconnect_min_ms);
    CHECK(config.reconnect_max_ms == defaults.reconnect_max_ms);
    CHECK(config.log_level == defaults.log_level);

    using meridian::crdt::ValueType;
    const auto& policies = config.policies;
    CHECK(policies.lookup("lww:acct1").type == ValueType::lww);
    CHECK(policies.lookup("counter:__rand_int__").type == ValueType::counter);
    CHECK_FALSE(policies.lookup("counter:acct1").home_routed);
    const auto& home = policies.lookup("home:{us-east}:acct1");
    CHECK(home.type == ValueType::counter);
    CHECK(home.home_routed);
    CHECK(home.min == 0);
    const auto& bounded = policies.lookup("bounded:acct1");
    CHECK(bounded.type == ValueType::bounded_counter);
    CHECK(bounded.min == 0);
    CHECK(policies.lookup("myset").type == ValueType::set);
    CHECK(policies.lookup("set:tags").type == ValueType::set);
    CHECK(policies.lookup("anything:else").type == ValueType::lww);
}

TEST_CASE("a node starts from examples/cluster.toml and serves its policies") {
    REQUIRE(is_executable(node_binary()));
    TempDir dir;
    const std::uint16_t client = free_port(), peer = free_port(), admin = free_port();
    auto node = Process::spawn(
        node_binary(),
        {"--config", example_cluster, "--region", "eu-west", "--data-dir", dir.path() + "/eu-west",
         "--client-listen", "127.0.0.1:" + std::to_string(client), "--peer-listen",
         "127.0.0.1:" + std::to_string(peer), "--admin-listen",
         "127.0.0.1:" + std::to_string(admin)},
        dir.path() + "/node.log");
    REQUIRE(node);
    RedisClient redis = RedisClient::failed("not connected");
    const bool up = eventually(
        [&] {
            if (auto c = RedisClient::connect(client, 500)) redis = std::move(*c);
            return redis.connected() && redis.command({"PING"}) == Reply::string("PONG");
        },
        10000);
    INFO(run_program("tail", {"-c", "3000", dir.path() + "/node.log"}).second);
    REQUIRE(up);
    CHECK(redis.command({"INCRBY", "counter:acct1", "5"}) == Reply::integer(5));
    CHECK(redis.command({"SADD", "myset", "a"}) == Reply::integer(1));
    CHECK(redis.command({"HINCRBY", "hash:acct1", "visits", "2"}) == Reply::integer(2));
    CHECK(redis.command({"TYPE", "hash:acct1"}) == Reply::string("hash"));
    CHECK(redis.command({"SET", "bounded:acct1", "1"}).is_error());  // WRONGTYPE
    const Reply policy = redis.command({"MERIDIAN", "POLICY", "home:{us-east}:acct1"});
    CHECK(policy.describe().find("us-east") != std::string::npos);

    node->signal(SIGTERM);
    CHECK(node->wait(15000) == 0);
}

TEST_CASE("the balance demo converges and its table shows what each policy keeps") {
    REQUIRE(is_executable(demo_binary));
    REQUIRE(is_executable(node_binary()));
    const auto [status, output] = run_program(
        demo_binary, {"--short", "--seed", "20240607", "--node", node_binary()}, 240000);
    INFO("balance_demo --short --seed 20240607 printed:\n" << output);
    REQUIRE(status == 0);
    const auto rows = parse_table(output);

    // lww: read, add, SET back from three regions at once loses updates.
    REQUIRE(rows.count("lww") == 1);
    const TableRow& lww = rows.at("lww");
    CHECK(all_equal(lww.balances));
    CHECK(as_number(lww.lost) > 0);

    // counter: every acknowledged update counts, everywhere.
    REQUIRE(rows.count("counter") == 1);
    const TableRow& counter = rows.at("counter");
    CHECK(all_equal(counter.balances));
    CHECK(counter.balances.front() == counter.implied);
    CHECK(counter.lost == "0");

    // home-routed and bounded counters never go below their floor of 0.
    for (const char* label : {"home", "bounded"}) {
        CAPTURE(label);
        REQUIRE(rows.count(label) == 1);
        const TableRow& row = rows.at(label);
        CHECK(all_equal(row.balances));
        CHECK(as_number(row.below_zero) == 0);
        CHECK(as_number(row.balances.front()) >= 0);
    }
    // A bounded counter's refusals are definite, so nothing acknowledged may be missing.
    CHECK(rows.at("bounded").balances.front() == rows.at("bounded").implied);
}
