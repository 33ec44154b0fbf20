// Backups and point-in-time restore (issue 15), with real nodes: MERIDIAN BACKUP under load,
// WAL archiving, `meridian-node restore` to a time between two known writes checked against the
// history the test recorded, refusals of damaged, foreign and unfinished backups, and a backup
// cut short by kill -9.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace {

namespace fs = std::filesystem;
using namespace meridian::test;

const std::string policies = R"(
wal_segment_bytes = 16384
archive_timeout_ms = 200

[[policy]]
match = "counter:*"
type = "counter"

[[policy]]
match = "set:*"
type = "set"
)";

std::uint64_t unix_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

// "field:value" from INFO persistence, as a number; -1 if absent.
long long persistence(Cluster& cluster, const std::string& region, const std::string& field) {
    const std::string info = cluster.client(region).command({"INFO", "persistence"}).as_string();
    const auto at = info.find("\r\n" + field + ":");
    if (at == std::string::npos) return -1;
    return std::atoll(info.c_str() + at + field.size() + 3);
}

std::size_t lines(const std::string& text) {
    std::size_t n = 0;
    for (char c : text) n += c == '\n' ? 1 : 0;
    return n;
}

void flip_byte(const std::string& path, std::uintmax_t offset) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    file.get(c);
    file.seekp(static_cast<std::streamoff>(offset));
    file.put(static_cast<char>(c ^ 0x20));
}

std::string only_file_in(const std::string& dir) {
    for (const auto& entry : fs::directory_iterator(dir)) return entry.path().string();
    return "";
}

// The restored cluster: one region reading the restored directory, under the new cluster name.
struct RestoredRegion {
    Cluster cluster{{"us-east"}, "cluster = \"meridian-test-restored\"\n" + policies};
    void start(const std::string& data_dir) { cluster.start("us-east", {"--data-dir", data_dir}); }
    RedisClient client() { return cluster.client("us-east"); }
};

TEST_CASE("a backup taken under load and the WAL archive restore to a time between two known writes") {
    Cluster cluster({"us-east", "eu-west"}, policies);
    const std::string archive = cluster.root() + "/archive-us-east";
    cluster.start("us-east", {"--archive-dir", archive});
    cluster.start("eu-west");

    // The writer's history: every acknowledged SET and INCR, in order.
    std::map<std::string, std::string> last_value;
    long long counter = 0;
    std::atomic<bool> stop{false};
    std::atomic<long long> written{0};
    std::thread writer([&, client = cluster.client("us-east")]() mutable {
        for (long long i = 0; !stop; ++i) {
            const std::string key = "k:" + std::to_string(i % 300);
            const std::string value = "v" + std::to_string(i);
            if (client.command({"SET", key, value}) != Reply::string("OK")) break;
            last_value[key] = value;
            if (!client.command({"INCR", "counter:c"}).is_integer()) break;
            ++counter;
            ++written;
        }
    });
    REQUIRE(eventually([&] { return written >= 300; }, 20000));
    const std::string backup = cluster.root() + "/backup";
    const Reply backed_up = cluster.client("us-east", 60000).command({"MERIDIAN", "BACKUP", backup});
    INFO(backed_up.describe() << "\n" << cluster.log_tail("us-east"));
    REQUIRE(backed_up.is_string());
    CHECK(backed_up.as_string().rfind("OK backup verified", 0) == 0);
    const long long at_backup = written;
    REQUIRE(eventually([&] { return written >= at_backup + 300; }, 20000));  // keeps writing after it
    stop = true;
    writer.join();
    REQUIRE(fs::exists(backup + "/MANIFEST"));

    // The two known writes, with the restore time between them.
    RedisClient client = cluster.client("us-east");
    REQUIRE(client.command({"SET", "mark:before", "A"}) == Reply::string("OK"));
    const std::string vv_before = client.command({"MERIDIAN", "VV"}).as_string();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::uint64_t restore_to = unix_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(client.command({"SET", "mark:after", "B"}) == Reply::string("OK"));
    for (int i = 0; i < 50; ++i) REQUIRE(client.command({"SET", "k:" + std::to_string(i), "late"}) == Reply::string("OK"));
    REQUIRE(client.command({"INCRBY", "counter:c", "1000"}).is_integer());

    // archive_timeout_ms closes the segment holding the late writes; then it is archived.
    const long long appended = persistence(cluster, "us-east", "wal_appended_lsn");
    REQUIRE(eventually([&] { return persistence(cluster, "us-east", "archived_lsn") >= appended; }, 15000));
    CHECK(persistence(cluster, "us-east", "archive_failures") == 0);
    CHECK(persistence(cluster, "us-east", "backups_completed") == 1);

    // --check verifies and replays the same and writes nothing.
    auto [checked, check_output] = run_node({"restore", "--check", "--config", cluster.config_path("us-east"), "--from",
                                             backup, "--archive", archive, "--to", std::to_string(restore_to)},
                                            60000);
    INFO(check_output);
    CHECK(checked == 0);
    CHECK(check_output.rfind("checked: would restore region us-east", 0) == 0);

    RestoredRegion restored;
    const std::string data_dir = cluster.root() + "/restored";
    auto [status, output] = run_node({"restore", "--config", cluster.config_path("us-east"), "--from", backup,
                                      "--archive", archive, "--to", std::to_string(restore_to), "--data-dir",
                                      data_dir},
                                     60000);
    INFO(output);
    REQUIRE(status == 0);
    CHECK(output.find("as cluster meridian-test-restored") != std::string::npos);

    // It belongs to the new cluster: the original cluster file cannot run it.
    auto [refused, why] = run_node({"--config", cluster.config_path("us-east"), "--region", "us-east",
                                    "--data-dir", data_dir, "--client-listen", "127.0.0.1:" + std::to_string(free_port()),
                                    "--peer-listen", "127.0.0.1:" + std::to_string(free_port()), "--admin-listen",
                                    "127.0.0.1:" + std::to_string(free_port())});
    CHECK(refused != 0);
    CHECK(why.find("restored from a backup of cluster \"meridian-test\" as cluster \"meridian-test-restored\"") !=
          std::string::npos);

    restored.start(data_dir);
    RedisClient check = restored.client();
    CHECK(check.command({"GET", "mark:before"}) == Reply::string("A"));
    CHECK(check.command({"GET", "mark:after"}).is_nil());
    CHECK(check.command({"GET", "counter:c"}) == Reply::string(std::to_string(counter)));
    for (const auto& [key, value] : last_value) {
        INFO(key);
        CHECK(check.command({"GET", key}) == Reply::string(value));
    }
    CHECK(check.command({"DBSIZE"}) == Reply::integer(static_cast<long long>(last_value.size()) + 2));

    // The same point named by the version vector the region had there.
    const std::string by_vv = cluster.root() + "/restored-by-vv";
    auto [vv_status, vv_output] = run_node({"restore", "--config", cluster.config_path("us-east"), "--from", backup,
                                            "--archive", archive, "--to-vv", vv_before, "--data-dir", by_vv,
                                            "--as-cluster", "meridian-test-restored"},
                                           60000);
    INFO(vv_output);
    REQUIRE(vv_status == 0);
    restored.cluster.terminate("us-east");
    restored.start(by_vv);
    RedisClient by_vv_client = restored.client();
    CHECK(by_vv_client.command({"GET", "mark:before"}) == Reply::string("A"));
    CHECK(by_vv_client.command({"GET", "mark:after"}).is_nil());
    CHECK(by_vv_client.command({"DBSIZE"}) == Reply::integer(static_cast<long long>(last_value.size()) + 2));

    // The live cluster is untouched by all of this.
    CHECK(cluster.client("us-east").command({"GET", "mark:after"}) == Reply::string("B"));
    CHECK(cluster.client("us-east").command({"GET", "k:0"}) == Reply::string("late"));

    // Until the restored values are written back as new writes, which every region then gets.
    auto [brought_back, said] = run_program(
        "/bin/bash", {MERIDIAN_SOURCE_DIR "/scripts/restore-keys.sh", "--from",
                      std::to_string(restored.cluster.client_port("us-east")), "--to",
                      std::to_string(cluster.client_port("us-east"))},
        120000);
    INFO(said);
    CHECK(brought_back == 0);
    for (const std::string region : {"us-east", "eu-west"}) {
        RedisClient live = cluster.client(region);
        CHECK(eventually([&] { return live.command({"GET", "counter:c"}) == Reply::string(std::to_string(counter)); },
                         10000));
        for (int i = 0; i < 50; ++i) {
            const std::string key = "k:" + std::to_string(i);
            CHECK(live.command({"GET", key}) == Reply::string(last_value[key]));
        }
        CHECK(live.command({"GET", "mark:after"}) == Reply::string("B"));  // not in the restored state: kept
    }
}

TEST_CASE("damaged, truncated, foreign and unfinished backups are refused with one line and exit 2") {
    Cluster cluster({"us-east"}, policies);
    cluster.start("us-east");
    RedisClient client = cluster.client("us-east");
    for (int i = 0; i < 200; ++i) REQUIRE(client.command({"SADD", "set:s", std::to_string(i)}).is_integer());
    const std::string backup = cluster.root() + "/backup";
    REQUIRE(client.command({"MERIDIAN", "BACKUP", backup}).is_string());
    // A backup never overwrites: the same directory again is refused.
    const Reply again = client.command({"MERIDIAN", "BACKUP", backup});
    REQUIRE(again.is_error());
    CHECK(again.error_message().find("not empty") != std::string::npos);
    // The same from the command line, as a cron job would: relative paths are the caller's.
    auto [backed_up, said] = run_program(node_binary(), {"backup", "--config", cluster.config_path("us-east"),
                                                         "--region", "us-east", "--to", cluster.root() + "/cli"},
                                         30000);
    CHECK(backed_up == 0);
    CHECK(said.rfind("OK backup verified", 0) == 0);
    CHECK(fs::exists(cluster.root() + "/cli/MANIFEST"));
    auto [not_twice, why] = run_program(node_binary(), {"backup", "--config", cluster.config_path("us-east"),
                                                        "--region", "us-east", "--to", cluster.root() + "/cli"});
    CHECK(not_twice == 2);
    CHECK(why.find("not empty") != std::string::npos);

    const std::string config = cluster.config_path("us-east");
    int variant = 0;
    // Copies the backup, damages the copy, restores it: refused, and no data dir appears.
    auto refused = [&](const std::function<void(const std::string&)>& damage, const std::string& expected,
                       std::vector<std::string> extra = {}, const std::string& cluster_file = "") {
        const std::string copy = cluster.root() + "/copy" + std::to_string(++variant);
        fs::copy(backup, copy, fs::copy_options::recursive);
        damage(copy);
        const std::string data_dir = cluster.root() + "/restored" + std::to_string(variant);
        std::vector<std::string> args = {"restore", "--config", cluster_file.empty() ? config : cluster_file,
                                         "--from",  copy,       "--data-dir",
                                         data_dir};
        args.insert(args.end(), extra.begin(), extra.end());
        auto [status, output] = run_node(args, 30000);
        INFO(expected << "\n" << output);
        CHECK(status == 2);
        CHECK(lines(output) == 1);
        CHECK(output.find(expected) != std::string::npos);
        CHECK(!fs::exists(data_dir));
        CHECK(!fs::exists(data_dir + ".restoring"));
    };
    refused([](const std::string& b) { flip_byte(only_file_in(b + "/snapshot"), 100); }, "SHA-256 mismatch");
    refused([](const std::string& b) { fs::resize_file(only_file_in(b + "/snapshot"), 50); }, "truncated");
    refused([](const std::string& b) { fs::resize_file(b + "/MANIFEST", fs::file_size(b + "/MANIFEST") / 2); },
            "truncated");
    refused([](const std::string& b) { flip_byte(b + "/MANIFEST", 40); }, "corrupted");
    refused([](const std::string& b) { fs::remove(b + "/MANIFEST"); }, "never finished");
    refused([](const std::string&) {}, "earliest restorable point", {"--to", "2020-01-01T00:00:00Z"});
    refused([](const std::string&) {}, "give RFC 3339", {"--to", "yesterday"});

    // Another cluster's file, or the same cluster with other policies.
    std::string text;
    {
        std::ifstream in(config);
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto rewritten = [&](const std::string& name, const std::string& from, const std::string& to) {
        std::string changed = text;
        REQUIRE(changed.find(from) != std::string::npos);
        changed.replace(changed.find(from), from.size(), to);
        const std::string path = cluster.root() + "/" + name;
        std::ofstream(path) << changed;
        return path;
    };
    refused([](const std::string&) {}, "is a backup of cluster \"meridian-test\"", {},
            rewritten("foreign.toml", "cluster = \"meridian-test\"", "cluster = \"elsewhere\""));
    refused([](const std::string&) {}, "data fingerprint differs", {},
            rewritten("other-policy.toml", "match = \"set:*\"", "match = \"sets:*\""));

    // An existing data directory is never overwritten, even by a good backup.
    const std::string occupied = cluster.root() + "/occupied";
    fs::create_directories(occupied);
    std::ofstream(occupied + "/keep") << "precious";
    auto [status, output] = run_node({"restore", "--config", config, "--from", backup, "--data-dir", occupied});
    CHECK(status == 2);
    CHECK(output.find("not empty") != std::string::npos);
    std::ifstream kept(occupied + "/keep");
    std::string contents;
    kept >> contents;
    CHECK(contents == "precious");
}

TEST_CASE("kill -9 in the middle of a backup leaves the earlier backup usable") {
    Cluster cluster({"us-east"}, policies);
    cluster.start("us-east");
    RedisClient client = cluster.client("us-east", 30000);
    std::vector<std::vector<std::string>> batch;
    const int keys = 50000;
    for (int i = 0; i < keys; ++i) {
        batch.push_back({"SET", "key:" + std::to_string(i), std::string(100, 'x')});
        if (batch.size() == 1000) {
            for (const Reply& r : client.pipeline(batch)) REQUIRE(r == Reply::string("OK"));
            batch.clear();
        }
    }
    const std::string first = cluster.root() + "/first";
    REQUIRE(client.command({"MERIDIAN", "BACKUP", first}).is_string());

    const std::string second = cluster.root() + "/second";
    std::thread backing_up([&, c = cluster.client("us-east", 30000)]() mutable {
        c.command({"MERIDIAN", "BACKUP", second});  // no answer: the node dies under it
    });
    REQUIRE(eventually([&] { return fs::exists(second + "/snapshot"); }, 10000));
    cluster.kill9("us-east");
    backing_up.join();
    INFO("the backup finished before the kill; the test needs a slower one");
    REQUIRE(!fs::exists(second + "/MANIFEST"));

    auto [unfinished, why] = run_node({"restore", "--config", cluster.config_path("us-east"), "--from", second,
                                       "--data-dir", cluster.root() + "/from-second"});
    CHECK(unfinished == 2);
    CHECK(why.find("never finished") != std::string::npos);

    const std::string data_dir = cluster.root() + "/from-first";
    auto [status, output] = run_node({"restore", "--config", cluster.config_path("us-east"), "--from", first,
                                      "--data-dir", data_dir},
                                     60000);
    INFO(output);
    REQUIRE(status == 0);
    RestoredRegion restored;
    restored.start(data_dir);
    CHECK(restored.client().command({"DBSIZE"}) == Reply::integer(keys));
    CHECK(restored.client().command({"GET", "key:4242"}) == Reply::string(std::string(100, 'x')));

    // And the region itself comes back whole.
    cluster.start("us-east");
    CHECK(cluster.client("us-east").command({"DBSIZE"}) == Reply::integer(keys));
}

}  // namespace
