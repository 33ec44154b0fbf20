#include "node/cluster_config.hpp"

#include <rapidcheck/catch.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

using meridian::conflict::HomeRule;
using meridian::crdt::ValueType;
using meridian::node::ClusterConfig;
using meridian::node::FsyncMode;
using meridian::node::load_cluster_config;
using meridian::node::parse_cluster_config;

namespace {

const std::string head = "cluster = \"demo\"\nsecret = \"change-me\"\n";

// A [[regions]] entry numbered n, with distinct addresses per n.
std::string region(int n, std::string_view name, std::string_view extra = "") {
    const std::string k = std::to_string(n);
    return "\n[[regions]]\nid = " + k + "\nname = \"" + std::string(name) +
           "\"\nclient_listen = \"127.0.0.1:700" + k + "\"\npeer_listen = \"127.0.0.1:800" + k +
           "\"\n" + std::string(extra);
}

const std::string regions = region(1, "us-east") + region(2, "eu-west");

std::string policy(std::string_view body) {
    return "\n[[policy]]\n" + std::string(body) + "\n";
}

ClusterConfig parse_ok(const std::string& text, std::string_view source = "cluster.toml") {
    INFO("config:\n" << text);
    auto config = parse_cluster_config(text, source);
    if (!config) FAIL("unexpected error: " << config.error());
    return std::move(*config);
}

std::string error_of(const std::string& text, std::string_view source = "cluster.toml") {
    INFO("config:\n" << text);
    auto config = parse_cluster_config(text, source);
    REQUIRE_FALSE(config);
    CHECK(config.error().find('\n') == std::string::npos);
    return config.error();
}

// A scratch folder removed at the end of the test.
struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("meridian-config-test-" + std::to_string(::getpid()) + "-" +
                std::to_string(++counter));
        std::filesystem::create_directories(path);
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::string write(const std::string& name, const std::string& content) const {
        std::ofstream(path / name, std::ios::binary) << content;
        return (path / name).string();
    }
};

}  // namespace

// --- what a good file gives ------------------------------------------------------------------

TEST_CASE("the contract's example cluster file parses into every field") {
    const std::string text = R"(
cluster = "demo"
secret = "change-me"          # or secret_file = "..."
fsync = "everysec"            # always | everysec | no
default_policy = "lww"

[[regions]]
id = 1
name = "us-east"
client_listen = "127.0.0.1:7001"   # RESP
peer_listen   = "127.0.0.1:8001"   # replication
admin_listen  = "127.0.0.1:9001"   # HTTP: /metrics /status
data_dir      = "data/us-east"

[[regions]]
id = 2
name = "eu-west"
client_listen = "127.0.0.1:7002"
peer_listen   = "127.0.0.1:8002"

[[policy]]
match = "balance:*"
type  = "counter"

[[policy]]
match = "acct:*"
type  = "counter"
route = "home"
home  = "{tag}"
min   = 0
)";
    const ClusterConfig c = parse_ok(text);
    CHECK(c.source == "cluster.toml");
    CHECK(c.cluster == "demo");
    CHECK(c.secret == "change-me");
    CHECK(c.fsync == FsyncMode::everysec);
    REQUIRE(c.regions.size() == 2);
    CHECK(c.regions[0].id == 1);
    CHECK(c.regions[0].name == "us-east");
    CHECK(c.regions[0].client_listen == "127.0.0.1:7001");
    CHECK(c.regions[0].peer_listen == "127.0.0.1:8001");
    CHECK(c.regions[0].admin_listen == "127.0.0.1:9001");
    CHECK(c.regions[0].data_dir == "data/us-east");
    CHECK(c.regions[1].admin_listen.empty());
    CHECK(c.regions[1].data_dir == "data/eu-west");
    CHECK(c.directory.id_of("eu-west") == 2);
    CHECK(c.directory.name_of(1) == "us-east");
    CHECK_FALSE(c.tls.enabled());

    REQUIRE(c.policies.rules().size() == 2);
    CHECK(c.policies.lookup("balance:7").type == ValueType::counter);
    CHECK_FALSE(c.policies.lookup("balance:7").home_routed);
    CHECK_FALSE(c.policies.lookup("balance:7").min);
    const auto& acct = c.policies.lookup("acct:{eu-west}:1");
    CHECK(acct.match == "acct:*");
    CHECK(acct.home_routed);
    CHECK(acct.home.kind == HomeRule::Kind::tag);
    CHECK(acct.min == 0);
    CHECK(c.policies.lookup("other").type == ValueType::lww);
    CHECK(c.policies.fallback().match.empty());
}

TEST_CASE("tunables keep their defaults when absent") {
    const ClusterConfig c = parse_ok(head + regions);
    const ClusterConfig defaults;
    CHECK(c.wal_retention_bytes == 1ull << 30);
    CHECK(c.wal_segment_bytes == defaults.wal_segment_bytes);
    CHECK(c.snapshot_every_records == defaults.snapshot_every_records);
    CHECK(c.snapshot_every_seconds == defaults.snapshot_every_seconds);
    CHECK(c.max_clients == defaults.max_clients);
    CHECK(c.max_bulk_bytes == defaults.max_bulk_bytes);
    CHECK(c.max_args == defaults.max_args);
    CHECK(c.requirepass.empty());
    CHECK(c.client_timeout_ms == 0);
    CHECK(c.forward_timeout_ms == 1000);
    CHECK(c.rights_timeout_ms == 500);
    CHECK(c.batch_bytes == 256u << 10);
    CHECK(c.heartbeat_ms == 500);
    CHECK(c.peer_timeout_ms == 3000);
    CHECK(c.relay_delay_ms == 200);
    CHECK(c.reconnect_min_ms == 50);
    CHECK(c.reconnect_max_ms == 5000);
    CHECK(c.log_level == "info");
    CHECK(c.fsync == FsyncMode::everysec);
}

TEST_CASE("tunables are read when present") {
    const ClusterConfig c = parse_ok(head + R"(
wal_retention_bytes = 5000000000
wal_segment_bytes = 1048576
snapshot_every_records = 7
snapshot_every_seconds = 8
max_clients = 9
max_bulk_bytes = 10
max_args = 11
requirepass = "pw"
client_timeout_ms = 0
forward_timeout_ms = 12
rights_timeout_ms = 13
batch_bytes = 14
heartbeat_ms = 15
peer_timeout_ms = 16
relay_delay_ms = 0
reconnect_min_ms = 17
reconnect_max_ms = 18
log_level = "debug"
)" + regions);
    CHECK(c.wal_retention_bytes == 5000000000ull);
    CHECK(c.wal_segment_bytes == 1048576);
    CHECK(c.snapshot_every_records == 7);
    CHECK(c.snapshot_every_seconds == 8);
    CHECK(c.max_clients == 9);
    CHECK(c.max_bulk_bytes == 10);
    CHECK(c.max_args == 11);
    CHECK(c.requirepass == "pw");
    CHECK(c.client_timeout_ms == 0);
    CHECK(c.forward_timeout_ms == 12);
    CHECK(c.rights_timeout_ms == 13);
    CHECK(c.batch_bytes == 14);
    CHECK(c.heartbeat_ms == 15);
    CHECK(c.peer_timeout_ms == 16);
    CHECK(c.relay_delay_ms == 0);
    CHECK(c.reconnect_min_ms == 17);
    CHECK(c.reconnect_max_ms == 18);
    CHECK(c.log_level == "debug");
}

TEST_CASE("regions are found by name and by id") {
    const ClusterConfig c = parse_ok(head + regions);
    REQUIRE(c.find_region("eu-west"));
    CHECK(c.find_region("eu-west")->id == 2);
    REQUIRE(c.find_region(1));
    CHECK(c.find_region(1)->name == "us-east");
    CHECK_FALSE(c.find_region("mars"));
    CHECK_FALSE(c.find_region(3));
}

// --- TOML syntax and shape -------------------------------------------------------------------

TEST_CASE("a TOML syntax error names the file, line and column") {
    const auto error = error_of("cluster = \"demo\"\nsecret = \n", "conf/cluster.toml");
    CHECK_THAT(error, Catch::StartsWith("conf/cluster.toml:2:") &&
                          Catch::Contains(": TOML parse error: "));
}

TEST_CASE("a duplicate TOML key is a parse error") {
    CHECK_THAT(error_of(head + "cluster = \"again\"\n" + regions),
               Catch::StartsWith("cluster.toml:3:") && Catch::Contains("TOML parse error"));
}

TEST_CASE("an unknown top-level key is refused, with a suggestion when close") {
    CHECK(error_of(head + "fsynk = \"no\"\n" + regions) ==
          "cluster.toml: unknown key \"fsynk\" (did you mean \"fsync\"?)");
    CHECK(error_of(head + "colour = \"blue\"\n" + regions) ==
          "cluster.toml: unknown key \"colour\"");
}

TEST_CASE("the first unknown key in file order is the one reported") {
    CHECK(error_of(head + "zzz = 1\naaa = 2\n" + regions) == "cluster.toml: unknown key \"zzz\"");
}

TEST_CASE("an unknown key in [[regions]] is refused") {
    CHECK(error_of(head + region(1, "us-east", "nmae = \"x\"\n")) ==
          "cluster.toml: [[regions]] #1: unknown key \"nmae\" (did you mean \"name\"?)");
    CHECK(error_of(head + region(1, "us-east", "peer_listn = \"x\"\n")) ==
          "cluster.toml: [[regions]] #1: unknown key \"peer_listn\" (did you mean "
          "\"peer_listen\"?)");
}

TEST_CASE("an unknown key in [[policy]] is refused") {
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"lww\"\nrout = \"home\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\"): unknown key \"rout\" (did you mean "
          "\"route\"?)");
}

TEST_CASE("an unknown key in [tls] is refused") {
    CHECK(error_of(head + "[tls]\ncert = \"c\"\nkey = \"k\"\nca = \"a\"\ncrl = \"x\"\n" +
                   regions) == "cluster.toml: [tls]: unknown key \"crl\"");
}

TEST_CASE("a value of the wrong type is refused, naming both types") {
    CHECK(error_of("cluster = 5\nsecret = \"s\"\n" + regions) ==
          "cluster.toml: cluster must be a string, not an integer");
    CHECK(error_of(head + "heartbeat_ms = 1.5\n" + regions) ==
          "cluster.toml: heartbeat_ms must be an integer, not a floating-point number");
    CHECK(error_of(head + "fsync = true\n" + regions) ==
          "cluster.toml: fsync must be a string, not a boolean");
    CHECK(error_of(head + "\n[[regions]]\nid = \"1\"\n") ==
          "cluster.toml: [[regions]] #1: id must be an integer, not a string");
    CHECK(error_of(head + regions + policy("match = [\"a\"]\ntype = \"lww\"")) ==
          "cluster.toml: [[policy]] #1: match must be a string, not an array");
    CHECK(error_of(head + "regions = 5\n") ==
          "cluster.toml: regions must be an array of tables ([[regions]]), not an integer");
    CHECK(error_of(head + "[regions]\nid = 1\n") ==
          "cluster.toml: regions must be an array of tables ([[regions]]), not a table");
    CHECK(error_of(head + "policy = \"x\"\n" + regions) ==
          "cluster.toml: policy must be an array of tables ([[policy]]), not a string");
    CHECK(error_of(head + "tls = \"on\"\n" + regions) ==
          "cluster.toml: tls must be a table ([tls]), not a string");
}

// --- globals ---------------------------------------------------------------------------------

TEST_CASE("a file without a cluster name is refused") {
    CHECK(error_of("secret = \"s\"\n" + regions) ==
          "cluster.toml: missing cluster (the cluster's name)");
    CHECK(error_of("cluster = \"\"\nsecret = \"s\"\n" + regions) ==
          "cluster.toml: cluster is empty");
}

TEST_CASE("a file without regions is refused") {
    CHECK(error_of(head) == "cluster.toml: missing regions (at least one [[regions]] entry)");
    CHECK(error_of(head + "regions = []\n") ==
          "cluster.toml: missing regions (at least one [[regions]] entry)");
}

TEST_CASE("exactly one of secret and secret_file is required") {
    CHECK(error_of("cluster = \"demo\"\n" + regions) ==
          "cluster.toml: missing secret (set secret or secret_file)");
    CHECK(error_of(head + "secret_file = \"s.txt\"\n" + regions) ==
          "cluster.toml: set secret or secret_file, not both");
    CHECK(error_of("cluster = \"demo\"\nsecret = \"\"\n" + regions) ==
          "cluster.toml: secret is empty");
}

TEST_CASE("secret_file is read beside the cluster file with its trailing newline trimmed") {
    ScratchDir dir;
    dir.write("secret.txt", "s3cret\r\n");
    const std::string path =
        dir.write("cluster.toml", "cluster = \"demo\"\nsecret_file = \"secret.txt\"\n" + regions);
    auto config = load_cluster_config(path);
    REQUIRE(config);
    CHECK(config->secret == "s3cret");
    CHECK(config->source == path);
}

TEST_CASE("an absolute secret_file is read where it says") {
    ScratchDir dir;
    const std::string secret = dir.write("secret", "abc\n");
    auto config = parse_cluster_config(
        "cluster = \"demo\"\nsecret_file = \"" + secret + "\"\n" + regions, "elsewhere/c.toml");
    REQUIRE(config);
    CHECK(config->secret == "abc");
}

TEST_CASE("a missing, non-regular or empty secret_file is refused") {
    ScratchDir dir;
    const std::string missing = (dir.path / "nope").string();
    CHECK(error_of("cluster = \"demo\"\nsecret_file = \"" + missing + "\"\n" + regions) ==
          "cluster.toml: secret_file \"" + missing + "\" does not exist");
    CHECK(error_of("cluster = \"demo\"\nsecret_file = \"" + dir.path.string() + "\"\n" + regions) ==
          "cluster.toml: secret_file \"" + dir.path.string() + "\" is not a regular file");
    const std::string empty = dir.write("empty", "\n");
    CHECK(error_of("cluster = \"demo\"\nsecret_file = \"" + empty + "\"\n" + regions) ==
          "cluster.toml: secret_file \"" + empty + "\" is empty");
}

TEST_CASE("an unreadable secret_file is refused") {
    // A regular file whose read fails even for root (tests may run as root,
    // where permission bits do not stop a read): offset 0 of /proc/self/mem
    // is never mapped.
    CHECK(error_of("cluster = \"demo\"\nsecret_file = \"/proc/self/mem\"\n" + regions) ==
          "cluster.toml: secret_file \"/proc/self/mem\" cannot read (Input/output error)");
}

TEST_CASE("an oversized secret_file is refused") {
    ScratchDir dir;
    const std::string secret = dir.write("secret", std::string(70000, 'x'));
    CHECK(error_of("cluster = \"demo\"\nsecret_file = \"" + secret + "\"\n" + regions) ==
          "cluster.toml: secret_file \"" + secret + "\" is larger than 65536 bytes");
}

TEST_CASE("fsync is one of always, everysec and no") {
    CHECK(parse_ok(head + "fsync = \"always\"\n" + regions).fsync == FsyncMode::always);
    CHECK(parse_ok(head + "fsync = \"everysec\"\n" + regions).fsync == FsyncMode::everysec);
    CHECK(parse_ok(head + "fsync = \"no\"\n" + regions).fsync == FsyncMode::no);
    CHECK(error_of(head + "fsync = \"sometimes\"\n" + regions) ==
          "cluster.toml: fsync must be \"always\", \"everysec\" or \"no\", not \"sometimes\"");
}

TEST_CASE("default_policy is one of the policy types") {
    CHECK(parse_ok(head + "default_policy = \"set\"\n" + regions).policies.lookup("k").type ==
          ValueType::set);
    CHECK(parse_ok(head + "default_policy = \"counter\"\n" + regions).policies.fallback().type ==
          ValueType::counter);
    const auto bounded = parse_ok(head + "default_policy = \"bounded_counter\"\n" + regions);
    CHECK(bounded.policies.fallback().type == ValueType::bounded_counter);
    CHECK(bounded.policies.fallback().min == 0);
    CHECK(error_of(head + "default_policy = \"mvr\"\n" + regions) ==
          "cluster.toml: default_policy must be one of lww, counter, set, bounded_counter, hash, "
          "not \"mvr\"");
}

TEST_CASE("tunables must be positive where zero makes no sense") {
    for (std::string_view key :
         {"wal_retention_bytes", "wal_segment_bytes", "snapshot_every_records",
          "snapshot_every_seconds", "max_clients", "max_bulk_bytes", "max_args", "batch_bytes",
          "forward_timeout_ms", "rights_timeout_ms", "heartbeat_ms", "peer_timeout_ms",
          "reconnect_min_ms", "reconnect_max_ms"}) {
        CAPTURE(key);
        CHECK(error_of(head + std::string(key) + " = 0\n" + regions) ==
              "cluster.toml: " + std::string(key) + " must be positive, got 0");
    }
}

TEST_CASE("client_timeout_ms and relay_delay_ms may be zero but not negative") {
    const auto c = parse_ok(head + "client_timeout_ms = 0\nrelay_delay_ms = 0\n" + regions);
    CHECK(c.client_timeout_ms == 0);
    CHECK(c.relay_delay_ms == 0);
    CHECK(error_of(head + "client_timeout_ms = -1\n" + regions) ==
          "cluster.toml: client_timeout_ms must be at least 0, got -1");
}

TEST_CASE("a tunable beyond its type's range is refused") {
    CHECK(error_of(head + "max_clients = 4294967296\n" + regions) ==
          "cluster.toml: max_clients must be at most 4294967295, got 4294967296");
    CHECK(error_of(head + "batch_bytes = -5\n" + regions) ==
          "cluster.toml: batch_bytes must be positive, got -5");
}

TEST_CASE("tunables that bound each other must agree") {
    CHECK(error_of(head + "reconnect_min_ms = 100\nreconnect_max_ms = 99\n" + regions) ==
          "cluster.toml: reconnect_max_ms (99) is below reconnect_min_ms (100)");
    CHECK(error_of(head + "heartbeat_ms = 1000\npeer_timeout_ms = 1000\n" + regions) ==
          "cluster.toml: peer_timeout_ms (1000) must exceed heartbeat_ms (1000), or idle links "
          "would time out between heartbeats");
}

TEST_CASE("log_level is one of spdlog's levels") {
    CHECK(parse_ok(head + "log_level = \"warn\"\n" + regions).log_level == "warn");
    CHECK(error_of(head + "log_level = \"loud\"\n" + regions) ==
          "cluster.toml: log_level must be one of trace, debug, info, warn, error, critical, off, "
          "not \"loud\"");
}

// --- [tls] -----------------------------------------------------------------------------------

TEST_CASE("tls needs cert, key and ca together") {
    CHECK(error_of(head + "[tls]\ncert = \"c.pem\"\n" + regions) ==
          "cluster.toml: [tls]: cert, key and ca go together (missing key, ca)");
    CHECK(error_of(head + "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n" + regions) ==
          "cluster.toml: [tls]: cert, key and ca go together (missing ca)");
    CHECK(error_of(head + "[tls]\ncert = \"\"\nkey = \"k\"\nca = \"a\"\n" + regions) ==
          "cluster.toml: [tls]: cert is empty");
}

TEST_CASE("tls paths are taken beside the cluster file") {
    const auto c = parse_ok(
        head + "[tls]\ncert = \"c.pem\"\nkey = \"/etc/k.pem\"\nca = \"sub/ca.pem\"\n" + regions,
        "conf/cluster.toml");
    CHECK(c.tls.enabled());
    CHECK(c.tls.cert_file == "conf/c.pem");
    CHECK(c.tls.key_file == "/etc/k.pem");
    CHECK(c.tls.ca_file == "conf/sub/ca.pem");
    CHECK_FALSE(parse_ok(head + "[tls]\n" + regions).tls.enabled());
}

// --- [[regions]] -----------------------------------------------------------------------------

TEST_CASE("a region id must be within 1..65535") {
    for (std::string_view id : {"0", "65536", "-1"}) {
        CAPTURE(id);
        CHECK(error_of(head + "\n[[regions]]\nid = " + std::string(id) +
                       "\nname = \"x\"\nclient_listen = \"h:1\"\npeer_listen = \"h:2\"\n") ==
              "cluster.toml: [[regions]] #1: id " + std::string(id) + " is outside 1..65535");
    }
    CHECK(parse_ok(head + region(1, "a") +
                   "\n[[regions]]\nid = 65535\nname = \"b\"\nclient_listen = \"h:1\"\n"
                   "peer_listen = \"h:2\"\n")
              .regions[1]
              .id == 65535);
}

TEST_CASE("a region needs an id and a name") {
    CHECK(error_of(head + region(1, "a") + "\n[[regions]]\nname = \"b\"\n") ==
          "cluster.toml: [[regions]] #2: missing id (a number 1..65535)");
    CHECK(error_of(head + "\n[[regions]]\nid = 1\n") ==
          "cluster.toml: [[regions]] #1: missing name");
}

TEST_CASE("a region name is non-empty and made of letters, digits, '-' and '_'") {
    CHECK(error_of(head + region(1, "")) == "cluster.toml: [[regions]] #1: name is empty");
    CHECK(error_of(head + region(1, "us east")) ==
          "cluster.toml: [[regions]] #1: name \"us east\" may hold only letters, digits, '-' and "
          "'_'");
    CHECK(error_of(head + region(1, "{tag}")) ==
          "cluster.toml: [[regions]] #1: name \"{tag}\" may hold only letters, digits, '-' and "
          "'_'");
    CHECK(error_of(head + region(1, std::string(65, 'a'))) ==
          "cluster.toml: [[regions]] #1: name is longer than 64 characters");
    CHECK(parse_ok(head + region(1, "Us_East-2")).regions[0].name == "Us_East-2");
}

TEST_CASE("a duplicate region id is refused, naming the region that has it") {
    CHECK(error_of(head + region(1, "us-east") + region(2, "eu-west") +
                   "\n[[regions]]\nid = 2\nname = \"ap-south\"\nclient_listen = \"h:1\"\n"
                   "peer_listen = \"h:2\"\n") ==
          "cluster.toml: [[regions]] #3: duplicate id 2 (also used by eu-west)");
}

TEST_CASE("a duplicate region name is refused") {
    CHECK(error_of(head + region(1, "us-east") + region(2, "us-east")) ==
          "cluster.toml: [[regions]] #2: duplicate name \"us-east\" (also used by [[regions]] #1)");
}

TEST_CASE("client_listen and peer_listen are required") {
    CHECK(error_of(head + "\n[[regions]]\nid = 1\nname = \"a\"\npeer_listen = \"h:2\"\n") ==
          "cluster.toml: [[regions]] #1: missing client_listen (host:port)");
    CHECK(error_of(head + "\n[[regions]]\nid = 1\nname = \"a\"\nclient_listen = \"h:2\"\n") ==
          "cluster.toml: [[regions]] #1: missing peer_listen (host:port)");
}

TEST_CASE("a listen address is host:port with a port in 1..65535") {
    struct Case {
        std::string_view address, problem;
    };
    const Case cases[] = {
        {"127.0.0.1", "has no :port"},
        {":7001", "has no host before the port"},
        {"h:0", "has port 0, outside 1..65535"},
        {"h:65536", "has port 65536, outside 1..65535"},
        {"h:99999999999999999999", "has port 99999999999999999999, outside 1..65535"},
        {"h:00000", "has port 00000, outside 1..65535"},
        {"h:", "has a port that is not a number"},
        {"h:70a", "has a port that is not a number"},
        {"h:-1", "has a port that is not a number"},
        {"::1:7001", "has an IPv6 host outside [brackets]"},
        {"[::1:7001", "has a malformed [IPv6] host"},
        {"[]:7001", "has a malformed [IPv6] host"},
        {"bad host:7001", "has a host with characters a host name cannot hold"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.address);
        CHECK(error_of(head +
                       region(1, "a", "admin_listen = \"" + std::string(c.address) + "\"\n")) ==
              "cluster.toml: [[regions]] #1: admin_listen \"" + std::string(c.address) + "\" " +
                  std::string(c.problem));
    }
}

TEST_CASE("listen addresses are kept in canonical form") {
    const auto c = parse_ok(head +
                            "\n[[regions]]\nid = 1\nname = \"a\"\nclient_listen = \"[::1]:07001\"\n"
                            "peer_listen = \"node-1.example.com:8001\"\n");
    CHECK(c.regions[0].client_listen == "[::1]:7001");
    CHECK(c.regions[0].peer_listen == "node-1.example.com:8001");
}

TEST_CASE("two regions may not listen on the same address") {
    CHECK(error_of(head + region(1, "us-east") +
                   "\n[[regions]]\nid = 2\nname = \"eu-west\"\nclient_listen = \"127.0.0.1:7002\"\n"
                   "peer_listen = \"127.0.0.1:7001\"\n") ==
          "cluster.toml: [[regions]] #2: peer_listen \"127.0.0.1:7001\" is already the "
          "client_listen of us-east");
    CHECK(error_of(head + region(1, "us-east", "admin_listen = \"LOCALHOST:9000\"\n") +
                   region(2, "eu-west", "admin_listen = \"localhost:09000\"\n")) ==
          "cluster.toml: [[regions]] #2: admin_listen \"localhost:9000\" is already the "
          "admin_listen of us-east");
}

TEST_CASE("one region may not use one address twice") {
    CHECK(error_of(head + "\n[[regions]]\nid = 1\nname = \"a\"\nclient_listen = \"h:1\"\n"
                          "peer_listen = \"h:1\"\n") ==
          "cluster.toml: [[regions]] #1: peer_listen \"h:1\" is already the client_listen of a");
}

TEST_CASE("data_dir defaults to data/<name> and may be set") {
    const auto c =
        parse_ok(head + region(1, "a", "data_dir = \"/var/lib/meridian\"\n") + region(2, "b"));
    CHECK(c.regions[0].data_dir == "/var/lib/meridian");
    CHECK(c.regions[1].data_dir == "data/b");
    CHECK(error_of(head + region(1, "a", "data_dir = \"\"\n")) ==
          "cluster.toml: [[regions]] #1: data_dir is empty");
}

// --- [[policy]] ------------------------------------------------------------------------------

TEST_CASE("a policy needs a match that is a valid glob") {
    CHECK(error_of(head + regions + policy("type = \"counter\"")) ==
          "cluster.toml: [[policy]] #1: missing match (the glob of the keys it governs)");
    CHECK(error_of(head + regions + policy("match = \"\"\ntype = \"counter\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"\"): match is empty");
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"lww\"") +
                   policy("match = \"acct:[0-9\"\ntype = \"counter\"")) ==
          "cluster.toml: [[policy]] #2 (match = \"acct:[0-9\"): match is not a valid glob: "
          "unterminated '[' at offset 5");
    CHECK(error_of(head + regions + policy("match = 'x\\'\ntype = \"lww\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"x\\\\\"): match is not a valid glob: trailing "
          "backslash (write \\\\ for a literal one)");
}

TEST_CASE("a policy needs a known type") {
    CHECK(error_of(head + regions + policy("match = \"a:*\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\"): missing type (one of lww, counter, set, "
          "bounded_counter, hash)");
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"counters\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\"): unknown type \"counters\" (one of lww, "
          "counter, set, bounded_counter, hash)");
    for (auto [name, type] :
         {std::pair{"lww", ValueType::lww}, std::pair{"counter", ValueType::counter},
          std::pair{"set", ValueType::set}, std::pair{"hash", ValueType::hash}}) {
        CAPTURE(name);
        const auto c = parse_ok(head + regions +
                                policy("match = \"a:*\"\ntype = \"" + std::string(name) + "\""));
        CHECK(c.policies.lookup("a:1").type == type);
    }
}

TEST_CASE("route is local by default, or home") {
    const auto c = parse_ok(head + regions + policy("match = \"a:*\"\ntype = \"set\"") +
                            policy("match = \"b:*\"\ntype = \"set\"\nroute = \"local\""));
    CHECK_FALSE(c.policies.lookup("a:1").home_routed);
    CHECK_FALSE(c.policies.lookup("b:1").home_routed);
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"set\"\nroute = \"away\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\"): route must be \"local\" or \"home\", not "
          "\"away\"");
}

TEST_CASE("route = home needs a home, and a home needs route = home") {
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"lww\"\nroute = \"home\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\"): route = \"home\" needs home (a region "
          "name or \"{tag}\")");
    CHECK(
        error_of(head + regions + policy("match = \"a:*\"\ntype = \"lww\"\nhome = \"us-east\"")) ==
        "cluster.toml: [[policy]] #1 (match = \"a:*\"): home is set but route is not \"home\"");
}

TEST_CASE("a home names a region or is {tag}") {
    const auto c = parse_ok(head + regions +
                            policy("match = \"a:*\"\ntype = \"lww\"\nroute = \"home\"\nhome = "
                                   "\"eu-west\"") +
                            policy("match = \"b:*\"\ntype = \"set\"\nroute = \"home\"\nhome = "
                                   "\"{tag}\""));
    const auto& fixed = c.policies.lookup("a:1");
    CHECK(fixed.home_routed);
    CHECK(fixed.home == HomeRule{HomeRule::Kind::fixed, 2});
    CHECK(c.policies.lookup("b:1").home == HomeRule{HomeRule::Kind::tag, 0});
}

TEST_CASE("a home that is not a region is refused, listing the regions") {
    CHECK(error_of(head + regions + policy("match = \"balance:*\"\ntype = \"counter\"") +
                   policy("match = \"acct:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = "
                          "\"mars\"")) ==
          "cluster.toml: [[policy]] #2 (match = \"acct:*\"): home \"mars\" is not a region "
          "(regions: us-east, eu-west)");
}

TEST_CASE("min is allowed for bounded_counter, defaulting to 0") {
    const auto c = parse_ok(head + regions + policy("match = \"a:*\"\ntype = \"bounded_counter\"") +
                            policy("match = \"b:*\"\ntype = \"bounded_counter\"\nmin = -100"));
    CHECK(c.policies.lookup("a:1").min == 0);
    CHECK(c.policies.lookup("b:1").min == -100);
}

TEST_CASE("min is allowed for a home-routed counter, and no floor without it") {
    const auto c = parse_ok(
        head + regions +
        policy("match = \"a:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = \"{tag}\"\nmin = 0") +
        policy("match = \"b:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = \"us-east\""));
    CHECK(c.policies.lookup("a:1").min == 0);
    CHECK_FALSE(c.policies.lookup("b:1").min);
}

TEST_CASE("min is refused for other policies") {
    const std::string problem =
        ": min is only allowed for bounded_counter, or counter with route = \"home\"";
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"counter\"\nmin = 0")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\")" + problem);
    CHECK(error_of(head + regions +
                   policy("match = \"a:*\"\ntype = \"lww\"\nroute = \"home\"\nhome = "
                          "\"{tag}\"\nmin = 0")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\")" + problem);
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"set\"\nmin = -1")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\")" + problem);
}

TEST_CASE("a floor above 0 is refused") {
    CHECK(
        error_of(head + regions + policy("match = \"a:*\"\ntype = \"bounded_counter\"\nmin = 5")) ==
        "cluster.toml: [[policy]] #1 (match = \"a:*\"): min 5 is above 0, where a new key "
        "starts; a floor must be 0 or below");
    CHECK(error_of(head + regions +
                   policy("match = \"a:*\"\ntype = \"bounded_counter\"\nmin = 1.5")) ==
          "cluster.toml: [[policy]] #1 (match = \"a:*\"): min must be an integer, not a "
          "floating-point number");
}

TEST_CASE("a policy repeating an earlier match is refused as unreachable") {
    CHECK(error_of(head + regions + policy("match = \"a:*\"\ntype = \"lww\"") +
                   policy("match = \"a:*\"\ntype = \"set\"")) ==
          "cluster.toml: [[policy]] #2 (match = \"a:*\"): match repeats [[policy]] #1, so this "
          "rule could never apply");
}

TEST_CASE("a match with control characters is escaped in messages") {
    CHECK(error_of(head + regions + policy("match = \"a\\nb\\\"\"\ntype = \"x\"")) ==
          "cluster.toml: [[policy]] #1 (match = \"a\\u000ab\\\"\"): unknown type \"x\" (one of "
          "lww, counter, set, bounded_counter, hash)");
}

// --- fingerprint -----------------------------------------------------------------------------

TEST_CASE("the fingerprint ignores addresses, data directories, secrets and tunables") {
    const auto a = parse_ok(head + regions + policy("match = \"a:*\"\ntype = \"counter\""));
    const auto b = parse_ok(
        "cluster = \"demo\"\nsecret = \"other\"\nfsync = \"always\"\nheartbeat_ms = 100\n"
        "requirepass = \"pw\"\n[tls]\ncert = \"c\"\nkey = \"k\"\nca = \"a\"\n" +
        region(1, "us-east", "admin_listen = \"10.0.0.1:9\"\ndata_dir = \"/x\"\n") +
        "\n[[regions]]\nid = 2\nname = \"eu-west\"\nclient_listen = \"10.1.1.1:1\"\n"
        "peer_listen = \"10.1.1.1:2\"\n" +
        policy("match = \"a:*\"\ntype = \"counter\""));
    CHECK(a.fingerprint() == b.fingerprint());
    CHECK(a.fingerprint() ==
          meridian::conflict::policy_fingerprint(a.cluster, a.directory, a.policies));
}

TEST_CASE("the fingerprint changes with the policies, the regions and the cluster name") {
    const auto base = parse_ok(head + regions + policy("match = \"a:*\"\ntype = \"counter\""));
    const std::string variants[] = {
        head + regions + policy("match = \"a:*\"\ntype = \"set\""),
        head + regions + policy("match = \"b:*\"\ntype = \"counter\""),
        head + regions +
            policy("match = \"a:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = "
                   "\"us-east\""),
        head + "default_policy = \"set\"\n" + regions +
            policy("match = \"a:*\"\ntype = \"counter\""),
        head + region(1, "us-east") + region(3, "eu-west") +
            policy("match = \"a:*\"\ntype = \"counter\""),
        "cluster = \"demo2\"\nsecret = \"change-me\"\n" + regions +
            policy("match = \"a:*\"\ntype = \"counter\""),
    };
    for (const std::string& text : variants) {
        CAPTURE(text);
        CHECK(parse_ok(text).fingerprint() != base.fingerprint());
    }
}

// --- files and robustness --------------------------------------------------------------------

TEST_CASE("a cluster file that cannot be read is refused naming its path") {
    ScratchDir dir;
    const std::string path = (dir.path / "missing.toml").string();
    auto config = load_cluster_config(path);
    REQUIRE_FALSE(config);
    CHECK(config.error() == path + ": cannot read (No such file or directory)");
}

TEST_CASE("errors from a loaded file name the path it was loaded from") {
    ScratchDir dir;
    const std::string path = dir.write("c.toml", head);
    auto config = load_cluster_config(path);
    REQUIRE_FALSE(config);
    CHECK(config.error() == path + ": missing regions (at least one [[regions]] entry)");
}

TEST_CASE("arbitrary text gives a config or a one-line error, never a crash") {
    rc::prop("parse is total", [](const std::string& junk) {
        const std::string text = *rc::gen::element(junk, head + junk, head + regions + junk);
        auto config = parse_cluster_config(text, "fuzz.toml");
        if (!config) {
            RC_ASSERT(config.error().rfind("fuzz.toml", 0) == 0);
            RC_ASSERT(config.error().find('\n') == std::string::npos);
        }
    });
}
