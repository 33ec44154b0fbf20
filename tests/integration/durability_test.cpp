// What survives a crash of one meridian-node (issue 3): kill -9 under load with fsync = always
// loses no acknowledged write, SIGTERM shuts down cleanly, a data directory serves one node at a
// time, and a damaged WAL is refused (or repaired on request) while a torn tail is cut.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace {

namespace fs = std::filesystem;
using namespace meridian::test;

const std::string counters_and_sets = R"(
fsync = "always"

[[policy]]
match = "counter:*"
type = "counter"

[[policy]]
match = "set:*"
type = "set"
)";

const Reply ok = Reply::string("OK");

// What one writer thread knows about its writes when the node died under it.
struct WriterLog {
    long long own_acked = 0;     // acknowledged INCRBY amounts on the writer's own counter
    long long own_unknown = 0;   // an INCRBY there that got no answer
    long long shared_acked = 0;  // the same for the counter every writer shares
    long long shared_unknown = 0;
    long long last_acked_set = -1;     // the last SET value acknowledged
    long long unknown_set = -1;        // a SET that got no answer
    std::string stopped_by;            // the reply that ended the loop
    std::atomic<long long> rounds{0};  // read by the test thread while the writer runs
};

// Alternates INCRBY on the shared and on its own counter, each followed by a SET of a rising
// number, until `stop` or the first reply that is not an acknowledgement. No Catch2 calls here.
void write_until_failure(RedisClient client, int id, const std::atomic<bool>& stop,
                         WriterLog& log) {
    const std::string own_counter = "counter:w" + std::to_string(id);
    const std::string own_register = "reg:w" + std::to_string(id);
    for (long long i = 0; !stop; ++i) {
        const long long amount = 1 + (i * 7 + id) % 5;
        const bool shared = i % 2 == 0;
        Reply r = client.command(
            {"INCRBY", shared ? "counter:shared" : own_counter, std::to_string(amount)});
        if (!r.is_integer()) {
            (shared ? log.shared_unknown : log.own_unknown) = amount;
            log.stopped_by = r.describe();
            return;
        }
        (shared ? log.shared_acked : log.own_acked) += amount;
        r = client.command({"SET", own_register, std::to_string(i)});
        if (r != ok) {
            log.unknown_set = i;
            log.stopped_by = r.describe();
            return;
        }
        log.last_acked_set = i;
        ++log.rounds;
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    REQUIRE(out.flush());
}

std::uint64_t little_endian(const std::string& bytes, std::size_t at, int width) {
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) {
        v = (v << 8) | static_cast<unsigned char>(bytes.at(at + static_cast<std::size_t>(i)));
    }
    return v;
}

// Where each record of a WAL segment starts, and its payload length (storage/wal.hpp's format:
// "MRDNWAL1" | u64 first_lsn | u32 meta_length | meta | u32 crc, then records of
// u32 length | u32 crc(length) | u32 crc(payload) | payload).
struct RecordSpan {
    std::size_t offset;
    std::size_t payload_bytes;
};

std::vector<RecordSpan> record_spans(const std::string& segment) {
    REQUIRE(segment.size() >= 24);
    REQUIRE(segment.compare(0, 8, "MRDNWAL1") == 0);
    const std::size_t meta = little_endian(segment, 16, 4);
    std::size_t at = 8 + 8 + 4 + meta + 4;
    std::vector<RecordSpan> spans;
    while (at + 12 <= segment.size()) {
        const std::size_t length = little_endian(segment, at, 4);
        if (at + 12 + length > segment.size()) break;
        spans.push_back({at, length});
        at += 12 + length;
    }
    return spans;
}

// The WAL segment files of a data directory, oldest first.
std::vector<std::string> wal_segments(const std::string& data_dir) {
    std::vector<std::string> paths;
    for (const auto& entry : fs::directory_iterator(data_dir + "/wal")) {
        if (entry.path().extension() == ".wal") paths.push_back(entry.path().string());
    }
    std::sort(paths.begin(), paths.end());
    return paths;
}

// The segment holding the most records, with its record spans.
std::pair<std::string, std::vector<RecordSpan>> fullest_segment(const std::string& data_dir) {
    std::pair<std::string, std::vector<RecordSpan>> best;
    for (const std::string& path : wal_segments(data_dir)) {
        auto spans = record_spans(read_file(path));
        if (spans.size() > best.second.size()) best = {path, std::move(spans)};
    }
    return best;
}

std::string key_name(int i) {
    return "k" + std::to_string(i);
}

std::string value_of(int i) {
    return "value-" + std::to_string(i) + "-" + std::string(40, static_cast<char>('a' + i % 26));
}

// SETs k0..k<n-1>, one request each, so each is one WAL record.
void write_keys(RedisClient& c, int n) {
    for (int i = 0; i < n; ++i) REQUIRE(c.command({"SET", key_name(i), value_of(i)}) == ok);
}

}  // namespace

TEST_CASE("kill -9 under concurrent load with fsync always loses no acknowledged write") {
    Cluster cluster({"solo"}, counters_and_sets);
    cluster.start("solo");
    constexpr int writers = 4;
    std::atomic<bool> stop{false};
    std::vector<WriterLog> logs(writers);
    std::vector<std::thread> threads;
    for (int id = 0; id < writers; ++id) {
        threads.emplace_back(write_until_failure, cluster.client("solo"), id, std::cref(stop),
                             std::ref(logs[id]));
    }
    // Let every writer get some acknowledged writes in, then pull the plug mid-stream.
    const bool loaded = eventually(
        [&] {
            long long done = 0;
            for (const auto& l : logs) done += l.rounds;
            return done >= 200;
        },
        20000);
    cluster.kill9("solo");
    stop = true;
    for (auto& t : threads) t.join();
    REQUIRE(loaded);

    cluster.start("solo");
    RedisClient c = cluster.client("solo");
    long long shared_acked = 0;
    long long shared_unknown = 0;
    for (int id = 0; id < writers; ++id) {
        const WriterLog& log = logs[id];
        INFO("writer " << id << ": " << log.rounds << " rounds, stopped by " << log.stopped_by);
        shared_acked += log.shared_acked;
        shared_unknown += log.shared_unknown;

        const Reply own = c.command({"GET", "counter:w" + std::to_string(id)});
        const long long own_value = own.is_nil() ? 0 : std::stoll(own.as_string());
        INFO("counter:w" << id << " = " << own << ", acknowledged " << log.own_acked
                         << ", unanswered " << log.own_unknown);
        CHECK(own_value >= log.own_acked);
        CHECK(own_value <= log.own_acked + log.own_unknown);

        const Reply reg = c.command({"GET", "reg:w" + std::to_string(id)});
        INFO("reg:w" << id << " = " << reg << ", last acknowledged " << log.last_acked_set
                     << ", unanswered " << log.unknown_set);
        if (log.last_acked_set < 0) {
            CHECK((reg.is_nil() || reg == Reply::string(std::to_string(log.unknown_set))));
        } else {
            REQUIRE(reg.is_string());
            const long long value = std::stoll(reg.as_string());
            CHECK((value == log.last_acked_set || value == log.unknown_set));
        }
    }
    const Reply shared = c.command({"GET", "counter:shared"});
    REQUIRE(shared.is_string());
    const long long shared_value = std::stoll(shared.as_string());
    INFO("counter:shared = " << shared_value << ", acknowledged " << shared_acked << ", unanswered "
                             << shared_unknown);
    CHECK(shared_value >= shared_acked);
    CHECK(shared_value <= shared_acked + shared_unknown);
}

TEST_CASE("SIGTERM exits 0, marks a clean shutdown, and a restart serves the same data") {
    Cluster cluster({"solo"}, counters_and_sets);
    cluster.start("solo");
    {
        RedisClient c = cluster.client("solo");
        REQUIRE(c.command({"SET", "reg", "kept"}) == ok);
        REQUIRE(c.command({"SET", "gone", "soon"}) == ok);
        REQUIRE(c.command({"DEL", "gone"}) == Reply::integer(1));
        REQUIRE(c.command({"INCRBY", "counter:c", "40"}) == Reply::integer(40));
        REQUIRE(c.command({"DECR", "counter:c"}) == Reply::integer(39));
        REQUIRE(c.command({"SADD", "set:s", "a", "b", "c"}) == Reply::integer(3));
        REQUIRE(c.command({"SREM", "set:s", "b"}) == Reply::integer(1));
    }
    const int status = cluster.terminate("solo");
    INFO(cluster.log_tail("solo"));
    CHECK(status == 0);
    CHECK(fs::exists(cluster.data_dir("solo") + "/clean_shutdown"));

    cluster.start("solo");
    RedisClient c = cluster.client("solo");
    CHECK(c.command({"GET", "reg"}) == Reply::string("kept"));
    CHECK(c.command({"GET", "gone"}) == Reply::nil());
    CHECK(c.command({"GET", "counter:c"}) == Reply::string("39"));
    CHECK(c.command({"SMEMBERS", "set:s"}).as_array().size() == 2);
    CHECK(c.command({"SISMEMBER", "set:s", "b"}) == Reply::integer(0));
    CHECK(c.command({"DBSIZE"}) == Reply::integer(3));
    // It takes writes after the restart too.
    CHECK(c.command({"INCR", "counter:c"}) == Reply::integer(40));
}

TEST_CASE("a second node on a data directory in use exits 1 naming the directory") {
    Cluster cluster({"solo"}, counters_and_sets);
    cluster.start("solo");
    const auto port = [] { return "127.0.0.1:" + std::to_string(free_port()); };
    auto [status, output] =
        run_node({"--config", cluster.config_path("solo"), "--region", "solo", "--client-listen",
                  port(), "--peer-listen", port(), "--admin-listen", port()},
                 15000);
    INFO(output);
    CHECK(status == 1);
    CHECK(output.find(cluster.data_dir("solo")) != std::string::npos);
    CHECK(output.find("in use") != std::string::npos);
    // The first node is untouched.
    RedisClient c = cluster.client("solo");
    CHECK(c.command({"SET", "k", "v"}) == ok);
}

TEST_CASE(
    "a WAL byte flipped before the tail stops the start with file and offset, and "
    "--repair-wal starts") {
    Cluster cluster({"solo"}, counters_and_sets);
    cluster.start("solo");
    constexpr int keys = 200;
    {
        RedisClient c = cluster.client("solo");
        write_keys(c, keys);
    }
    // kill -9 rather than SIGTERM: no shutdown snapshot may stand in for the damaged records.
    cluster.kill9("solo");

    auto [segment, spans] = fullest_segment(cluster.data_dir("solo"));
    INFO("segment " << segment << " with " << spans.size() << " records");
    REQUIRE(spans.size() >= keys);
    const RecordSpan victim = spans[spans.size() / 2];
    std::string bytes = read_file(segment);
    bytes[victim.offset + 12 + victim.payload_bytes / 2] ^= 0x20;
    write_file(segment, bytes);

    auto [status, output] =
        run_node({"--config", cluster.config_path("solo"), "--region", "solo"}, 20000);
    INFO("start after the damage:\n" << output);
    CHECK(status == 1);
    CHECK(output.find(fs::path(segment).filename().string()) != std::string::npos);
    CHECK(output.find("offset " + std::to_string(victim.offset)) != std::string::npos);
    CHECK(output.find("--repair-wal") != std::string::npos);

    cluster.start("solo", {"--repair-wal"});
    RedisClient c = cluster.client("solo");
    CHECK(c.command({"GET", key_name(0)}) == Reply::string(value_of(0)));
    CHECK(c.command({"GET", key_name(keys / 4)}) == Reply::string(value_of(keys / 4)));
    CHECK(c.command({"GET", key_name(keys - 1)}) == Reply::nil());  // dropped by the repair
    CHECK(c.command({"SET", "after-repair", "ok"}) == ok);
    CHECK(cluster.log_tail("solo", 20000).find("repair") != std::string::npos);
}

TEST_CASE("a WAL cut in the middle of its last record starts with a warning and keeps the rest") {
    Cluster cluster({"solo"}, counters_and_sets);
    cluster.start("solo");
    constexpr int keys = 100;
    {
        RedisClient c = cluster.client("solo");
        write_keys(c, keys);
    }
    cluster.kill9("solo");

    const auto segments = wal_segments(cluster.data_dir("solo"));
    REQUIRE_FALSE(segments.empty());
    const std::string last = segments.back();
    const auto spans = record_spans(read_file(last));
    REQUIRE_FALSE(spans.empty());
    const RecordSpan tail = spans.back();
    fs::resize_file(last, tail.offset + 12 + tail.payload_bytes / 2);

    cluster.start("solo");
    const std::string log = cluster.log_tail("solo", 20000);
    INFO(log);
    CHECK(log.find("torn") != std::string::npos);
    CHECK(log.find(fs::path(last).filename().string()) != std::string::npos);
    RedisClient c = cluster.client("solo");
    for (int i = 0; i < keys - 1; ++i) {
        INFO("key " << key_name(i));
        REQUIRE(c.command({"GET", key_name(i)}) == Reply::string(value_of(i)));
    }
    // The last SET was the torn record: it is gone, and the node writes on after it.
    CHECK(c.command({"GET", key_name(keys - 1)}) == Reply::nil());
    CHECK(c.command({"SET", "after", "torn"}) == ok);
    cluster.kill9("solo");
    cluster.start("solo");
    RedisClient again = cluster.client("solo");
    CHECK(again.command({"GET", "after"}) == Reply::string("torn"));
    CHECK(again.command({"GET", key_name(0)}) == Reply::string(value_of(0)));
}
