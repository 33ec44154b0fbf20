// Three meridian-node regions on loopback (issue 4): concurrent writes from every region converge
// to the same answers everywhere without losing an acknowledged write, across kill -9 restarts,
// a region kept down past the WAL's retention (full sync), partitions made by fault proxies,
// refused peers, MERIDIAN PAUSE / RESUME and WAIT.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Small timers so that faults are noticed and healed within a second or so.
const std::string quick_links = R"(
fsync = "everysec"
heartbeat_ms = 100
peer_timeout_ms = 1000
reconnect_min_ms = 50
reconnect_max_ms = 500
)";

const std::string typed_keys = R"(
[[policy]]
match = "counter:*"
type = "counter"

[[policy]]
match = "set:*"
type = "set"
)";

const std::vector<std::string> three_regions = {"us-east", "eu-west", "ap-south"};
const Reply ok = Reply::string("OK");
constexpr int converge_ms = 15000;  // generous: nodes under ASan on a busy 2-core machine

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

long long elapsed_ms(Clock::time_point since) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

// INFO <section> as field -> value.
std::map<std::string, std::string> info(RedisClient& c, const std::string& section) {
    std::map<std::string, std::string> fields;
    std::istringstream lines(c.command({"INFO", section}).as_string());
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
        fields[line.substr(0, colon)] = line.substr(colon + 1);
    }
    return fields;
}

// The "region_<peer>:state=..,paused=..,..." line of INFO replication as field -> value.
std::map<std::string, std::string> peer_info(RedisClient& c, const std::string& peer) {
    std::map<std::string, std::string> fields;
    std::istringstream parts(info(c, "replication")["region_" + peer]);
    std::string part;
    while (std::getline(parts, part, ',')) {
        const auto eq = part.find('=');
        if (eq != std::string::npos) fields[part.substr(0, eq)] = part.substr(eq + 1);
    }
    return fields;
}

long long number(const std::map<std::string, std::string>& fields, const std::string& key) {
    auto it = fields.find(key);
    return it == fields.end() || it->second.empty() ? 0 : std::stoll(it->second);
}

bool all_connected(Cluster& cluster, const std::vector<std::string>& regions) {
    for (const auto& r : regions) {
        RedisClient c = cluster.client(r);
        if (number(info(c, "replication"), "connected_regions") !=
            static_cast<long long>(regions.size() - 1)) {
            return false;
        }
    }
    return true;
}

void require_connected(Cluster& cluster, const std::vector<std::string>& regions) {
    std::string why;
    const bool connected = eventually([&] { return all_connected(cluster, regions); }, 15000);
    if (!connected) {
        for (const auto& r : regions) {
            RedisClient c = cluster.client(r);
            why += r + ": " + c.command({"INFO", "replication"}).describe() + "\n" +
                   cluster.log_tail(r, 1500) + "\n";
        }
    }
    INFO(why);
    REQUIRE(connected);
}

// What a region answers for `keys`, as one comparable text: GET for registers and counters,
// sorted SMEMBERS for set:* keys, and the sorted entries of MERIDIAN VV.
std::string view(RedisClient& c, const std::vector<std::string>& keys) {
    std::string out;
    for (const auto& key : keys) {
        if (starts_with(key, "set:")) {
            std::vector<std::string> members;
            const Reply r = c.command({"SMEMBERS", key});
            if (!r.is_array()) return "SMEMBERS " + key + " -> " + r.describe();
            for (const Reply& m : r.as_array()) members.push_back(m.as_string());
            std::sort(members.begin(), members.end());
            out += key + " = {";
            for (const auto& m : members) out += m + " ";
            out += "}\n";
        } else {
            out += key + " = " + c.command({"GET", key}).describe() + "\n";
        }
    }
    const Reply vv = c.command({"MERIDIAN", "VV"});
    std::vector<std::string> entries;
    std::istringstream words(vv.as_string());
    for (std::string w; words >> w;) entries.push_back(w);
    std::sort(entries.begin(), entries.end());
    out += "vv =";
    for (const auto& e : entries) out += " " + e;
    return out + (vv.is_string() ? "" : " " + vv.describe());
}

// Waits until every region shows the same view of `keys` (and the same version vector).
// Returns the common view; FAILs with every region's view otherwise.
std::string converge(Cluster& cluster, const std::vector<std::string>& regions,
                     const std::vector<std::string>& keys, int timeout_ms = converge_ms) {
    std::map<std::string, std::string> views;
    const bool same = eventually(
        [&] {
            for (const auto& r : regions) {
                RedisClient c = cluster.client(r);
                views[r] = view(c, keys);
            }
            return std::all_of(views.begin(), views.end(),
                               [&](const auto& v) { return v.second == views.begin()->second; });
        },
        timeout_ms);
    if (!same) {
        std::string all;
        for (const auto& [r, v] : views) {
            RedisClient c = cluster.client(r);
            all += "--- " + r + ":\n" + v + "\n" + info(c, "replication")["version_vector"] + "\n" +
                   c.command({"INFO", "replication"}).as_string() + cluster.log_tail(r, 2000) +
                   "\n";
        }
        FAIL("the regions did not converge within " << timeout_ms << " ms:\n" << all);
    }
    return views.begin()->second;
}

// The members of a set as one region sees them.
std::set<std::string> members(RedisClient& c, const std::string& key) {
    std::set<std::string> out;
    for (const Reply& m : c.command({"SMEMBERS", key}).as_array()) out.insert(m.as_string());
    return out;
}

long long counter(RedisClient& c, const std::string& key) {
    const Reply r = c.command({"GET", key});
    return r.is_string() ? std::stoll(r.as_string()) : 0;
}

// What one region's writer knows about its writes. Only the writer thread touches it until it
// is joined, except `rounds`.
struct RegionLoad {
    std::string region;
    long long acked_sum = 0;              // acknowledged INCRBY/DECRBY amounts
    long long unknown_amount = 0;         // an increment that got no answer
    std::set<std::string> added;          // acknowledged SADDs of fresh members
    std::set<std::string> removed;        // acknowledged SREMs (each of a member this region added)
    std::string unknown_member;           // an SADD or SREM that got no answer
    std::vector<std::string> set_values;  // acknowledged SETs of reg:last, in order
    std::string unknown_set;              // a SET that got no answer
    std::string anomaly;                  // a reply that contradicts this region's own writes
    std::string stopped_by;
    std::atomic<long long> rounds{0};
};

// Writes to counter:total, set:all and reg:last until `stop` or the first failed request.
// Members are unique per region and round, so every add is of a fresh element; a region removes
// only members it added itself and has seen, so the remove observes the add everywhere.
void load(RedisClient client, const std::atomic<bool>& stop, RegionLoad& log) {
    for (long long i = 0; !stop; ++i) {
        const long long amount = (i % 4 == 3) ? -(i % 7 + 1) : (i % 9 + 1);
        const Reply n = client.command({amount < 0 ? "DECRBY" : "INCRBY", "counter:total",
                                        std::to_string(amount < 0 ? -amount : amount)});
        if (!n.is_integer()) {
            log.unknown_amount = amount;
            log.stopped_by = n.describe();
            return;
        }
        log.acked_sum += amount;

        const std::string member = log.region + "-" + std::to_string(i);
        const Reply added = client.command({"SADD", "set:all", member});
        if (!added.is_integer()) {
            log.unknown_member = member;
            log.stopped_by = added.describe();
            return;
        }
        if (added.as_integer() != 1) log.anomaly = "SADD " + member + " -> " + added.describe();
        log.added.insert(member);

        if (i % 3 == 2) {
            const std::string old = log.region + "-" + std::to_string(i - 1);
            const Reply removed = client.command({"SREM", "set:all", old});
            if (!removed.is_integer()) {
                log.unknown_member = old;
                log.stopped_by = removed.describe();
                return;
            }
            if (removed.as_integer() != 1)
                log.anomaly = "SREM " + old + " -> " + removed.describe();
            log.removed.insert(old);
        }

        const Reply set = client.command({"SET", "reg:last", member});
        if (set != ok) {
            log.unknown_set = member;
            log.stopped_by = set.describe();
            return;
        }
        log.set_values.push_back(member);
        ++log.rounds;
    }
}

// Writers, one per region, each on its own thread and connection.
class Load {
public:
    Load(Cluster& cluster, const std::vector<std::string>& regions) : logs_(regions.size()) {
        for (std::size_t i = 0; i < regions.size(); ++i) {
            logs_[i].region = regions[i];
            threads_.emplace_back(load, cluster.client(regions[i]), std::cref(stop_),
                                  std::ref(logs_[i]));
        }
    }
    ~Load() { stop(); }

    long long rounds(const std::string& region) const {
        for (const auto& l : logs_)
            if (l.region == region) return l.rounds;
        return 0;
    }
    // Waits until every region named has done `n` more rounds than when called.
    bool advance(const std::vector<std::string>& regions, long long n, int timeout_ms) const {
        std::map<std::string, long long> start;
        for (const auto& r : regions) start[r] = rounds(r);
        return eventually(
            [&] {
                return std::all_of(regions.begin(), regions.end(),
                                   [&](const auto& r) { return rounds(r) >= start[r] + n; });
            },
            timeout_ms);
    }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    const std::vector<RegionLoad>& logs() const { return logs_; }

private:
    std::atomic<bool> stop_{false};
    std::vector<RegionLoad> logs_;
    std::vector<std::thread> threads_;
};

// Checks a converged region's counter:total, set:all and reg:last against what the writers
// know (the load must be stopped).
void check_against_load(RedisClient& c, const Load& load) {
    long long acked = 0, low = 0, high = 0;
    std::set<std::string> must_have, must_not_have, may_have;
    std::set<std::string> final_values;
    for (const RegionLoad& l : load.logs()) {
        INFO("region " << l.region << ": " << l.rounds << " rounds, stopped by '" << l.stopped_by
                       << "'");
        CHECK(l.anomaly.empty());
        acked += l.acked_sum;
        low += std::min(0LL, l.unknown_amount);
        high += std::max(0LL, l.unknown_amount);
        for (const auto& m : l.added) {
            if (l.removed.count(m))
                must_not_have.insert(m);
            else if (m == l.unknown_member)
                may_have.insert(m);  // an unanswered SREM of it
            else
                must_have.insert(m);
        }
        if (!l.unknown_member.empty() && !l.added.count(l.unknown_member))
            may_have.insert(l.unknown_member);  // an unanswered SADD
        // The register's winner is some region's last write (each region's writes carry
        // increasing clocks): its last acknowledged SET or the unanswered one after it.
        if (!l.set_values.empty()) final_values.insert(l.set_values.back());
        if (!l.unknown_set.empty()) final_values.insert(l.unknown_set);
    }
    const long long total = counter(c, "counter:total");
    INFO("counter:total = " << total << ", acknowledged sum " << acked << ", unanswered in [" << low
                            << ", " << high << "]");
    CHECK(total >= acked + low);
    CHECK(total <= acked + high);

    const std::set<std::string> seen = members(c, "set:all");
    for (const auto& m : must_have) {
        INFO("acknowledged and never removed: " << m);
        CHECK(seen.count(m) == 1);
    }
    for (const auto& m : seen) {
        INFO("present: " << m);
        CHECK(must_not_have.count(m) == 0);
        CHECK((must_have.count(m) == 1 || may_have.count(m) == 1));
    }

    const Reply last = c.command({"GET", "reg:last"});
    INFO("reg:last = " << last);
    REQUIRE(last.is_string());
    CHECK(final_values.count(last.as_string()) == 1);
}

const std::vector<std::string> load_keys = {"counter:total", "set:all", "reg:last"};

// Replaces the first occurrence of `from` in a file.
void edit_file(const std::string& path, const std::string& from, const std::string& to) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = text.find(from);
    INFO(path << " should contain " << from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    std::ofstream out(path, std::ios::trunc);
    out << text;
    REQUIRE(out.flush());
}

}  // namespace

TEST_CASE("concurrent writes from three regions converge to every acknowledged write") {
    Cluster cluster(three_regions, quick_links + typed_keys);
    cluster.start_all();
    require_connected(cluster, three_regions);

    Load load(cluster, three_regions);
    const bool ran = load.advance(three_regions, 150, 30000);
    load.stop();
    REQUIRE(ran);
    for (const RegionLoad& l : load.logs()) {
        INFO(l.region << " stopped by " << l.stopped_by);
        REQUIRE(l.stopped_by.empty());  // nothing failed: every write was acknowledged
    }

    converge(cluster, three_regions, load_keys);
    for (const auto& region : three_regions) {
        INFO("region " << region);
        RedisClient c = cluster.client(region);
        check_against_load(c, load);
    }
    // With nothing unanswered the counter is exactly the sum.
    long long sum = 0;
    for (const RegionLoad& l : load.logs()) sum += l.acked_sum;
    RedisClient c = cluster.client("ap-south");
    CHECK(counter(c, "counter:total") == sum);
}

TEST_CASE("a region killed with kill -9 mid-load restarts with its epoch and catches up") {
    Cluster cluster(three_regions, quick_links + typed_keys);
    cluster.start_all();
    require_connected(cluster, three_regions);
    std::string epoch_before;
    {
        RedisClient c = cluster.client("ap-south");
        epoch_before = info(c, "server")["epoch"];
    }

    Load load(cluster, three_regions);
    REQUIRE(load.advance(three_regions, 40, 30000));
    cluster.kill9("ap-south");
    // The others write on while it is down, and after it is back.
    REQUIRE(load.advance({"us-east", "eu-west"}, 60, 30000));
    cluster.start("ap-south");
    REQUIRE(load.advance({"us-east", "eu-west"}, 40, 30000));
    load.stop();

    converge(cluster, three_regions, load_keys);
    for (const auto& region : three_regions) {
        INFO("region " << region);
        RedisClient c = cluster.client(region);
        check_against_load(c, load);
    }
    RedisClient ap = cluster.client("ap-south");
    CHECK(info(ap, "server")["epoch"] == epoch_before);
    // It takes local writes again, and they reach the others.
    REQUIRE(ap.command({"SADD", "set:all", "after-restart"}) == Reply::integer(1));
    converge(cluster, three_regions, load_keys);
}

TEST_CASE("a region down while the others write past wal_retention_bytes rejoins by full sync") {
    Cluster cluster(three_regions, quick_links + R"(
wal_segment_bytes = 4096
wal_retention_bytes = 8192
snapshot_every_records = 50
)" + typed_keys);
    cluster.start_all();
    require_connected(cluster, three_regions);
    {
        RedisClient c = cluster.client("ap-south");
        REQUIRE(c.command({"SET", "reg:early", "from-ap"}) == ok);
        REQUIRE(c.command({"SADD", "set:all", "ap-early"}) == Reply::integer(1));
    }
    converge(cluster, three_regions, {"reg:early", "set:all"});
    cluster.kill9("ap-south");

    // Each survivor writes far more than it retains; wait until its WAL no longer reaches back
    // to where ap-south stopped.
    std::map<std::string, long long> last_lsn_seen_by_ap;
    for (const std::string region : {"us-east", "eu-west"}) {
        RedisClient c = cluster.client(region);
        last_lsn_seen_by_ap[region] = number(info(c, "persistence"), "wal_appended_lsn");
    }
    const std::string payload(200, 'p');
    std::map<std::string, RedisClient> writers;
    for (const std::string region : {"us-east", "eu-west"})
        writers.emplace(region, cluster.client(region));
    long long increments = 0;
    // Snapshots (which let the WAL go) are taken by a once-a-second timer: write for as long as
    // it takes, up to a deadline, rather than a fixed number of rounds.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int round = 0; std::chrono::steady_clock::now() < deadline; ++round) {
        for (auto& [region, c] : writers) {
            const std::string n = std::to_string(round);
            const auto replies = c.pipeline({{"SET", "reg:" + region + ":" + n, payload + n},
                                             {"INCR", "counter:total"},
                                             {"SADD", "set:all", region + "-" + n}});
            for (const Reply& r : replies) REQUIRE_FALSE(r.is_error());
            ++increments;
        }
        if (round >= 50 && round % 10 == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            bool trimmed = true;
            for (auto& [region, c] : writers) {
                trimmed = trimmed && number(info(c, "persistence"), "wal_first_lsn") >
                                         last_lsn_seen_by_ap[region] + 1;
            }
            if (trimmed) break;
        }
    }
    for (const std::string region : {"us-east", "eu-west"}) {
        RedisClient c = cluster.client(region);
        auto persistence = info(c, "persistence");
        INFO(region << " wal_first_lsn " << persistence["wal_first_lsn"] << ", lsn at the kill "
                    << last_lsn_seen_by_ap[region] << ", wal_bytes " << persistence["wal_bytes"]);
        REQUIRE(number(persistence, "wal_first_lsn") > last_lsn_seen_by_ap[region] + 1);
    }

    cluster.start("ap-south");
    std::vector<std::string> keys = {"reg:early", "set:all", "counter:total", "reg:us-east:0",
                                     "reg:eu-west:0"};
    const std::string common = converge(cluster, three_regions, keys, 30000);
    RedisClient ap = cluster.client("ap-south");
    CHECK(counter(ap, "counter:total") == increments);
    CHECK(members(ap, "set:all").size() == static_cast<std::size_t>(increments + 1));
    CHECK(ap.command({"GET", "reg:early"}) == Reply::string("from-ap"));
    long long full_syncs = 0;
    for (const std::string peer : {"us-east", "eu-west"})
        full_syncs += number(peer_info(ap, peer), "full_syncs_received");
    INFO(ap.command({"INFO", "replication"}).as_string());
    CHECK(full_syncs >= 1);
}

TEST_CASE("an isolated region writes on, and after the partition heals everything converges") {
    Cluster cluster(three_regions, quick_links + typed_keys, /*with_proxies=*/true);
    cluster.start_all();
    require_connected(cluster, three_regions);

    REQUIRE(starts_with(cluster.proxy("us-east", "ap-south", "blackhole both"), "OK"));
    REQUIRE(starts_with(cluster.proxy("eu-west", "ap-south", "blackhole both"), "OK"));
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    RedisClient ap = cluster.client("ap-south");
    REQUIRE(us.command({"INCRBY", "counter:p", "5"}) == Reply::integer(5));
    REQUIRE(us.command({"SADD", "set:p", "from-us"}) == Reply::integer(1));
    REQUIRE(us.command({"SET", "reg:us", "1"}) == ok);
    REQUIRE(ap.command({"INCRBY", "counter:p", "7"}) == Reply::integer(7));
    REQUIRE(ap.command({"SADD", "set:p", "from-ap"}) == Reply::integer(1));
    REQUIRE(ap.command({"SET", "reg:ap", "1"}) == ok);
    REQUIRE(eventually([&] { return counter(eu, "counter:p") == 5; }, 10000));
    REQUIRE(eu.command({"DECRBY", "counter:p", "2"}) == Reply::integer(3));

    // The partition holds: nothing crosses to or from ap-south.
    CHECK_FALSE(eventually(
        [&] {
            return ap.command({"GET", "reg:us"}).is_string() ||
                   us.command({"GET", "reg:ap"}).is_string() ||
                   eu.command({"GET", "reg:ap"}).is_string();
        },
        1500));
    CHECK(counter(ap, "counter:p") == 7);

    REQUIRE(starts_with(cluster.proxy("us-east", "ap-south", "blackhole off"), "OK"));
    REQUIRE(starts_with(cluster.proxy("eu-west", "ap-south", "blackhole off"), "OK"));
    converge(cluster, three_regions, {"counter:p", "set:p", "reg:us", "reg:ap"});
    CHECK(counter(ap, "counter:p") == 10);
    CHECK(members(us, "set:p") == std::set<std::string>{"from-ap", "from-us"});
    CHECK(eu.command({"GET", "reg:ap"}) == Reply::string("1"));
    require_connected(cluster, three_regions);
}

TEST_CASE("two regions cut from each other converge through the third") {
    Cluster cluster(three_regions, quick_links + typed_keys, /*with_proxies=*/true);
    cluster.start_all();
    require_connected(cluster, three_regions);

    REQUIRE(starts_with(cluster.proxy("us-east", "eu-west", "blackhole both"), "OK"));
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    REQUIRE(us.command({"INCRBY", "counter:r", "11"}) == Reply::integer(11));
    REQUIRE(us.command({"SADD", "set:r", "us"}) == Reply::integer(1));
    REQUIRE(us.command({"SET", "reg:us", "hello"}) == ok);
    REQUIRE(eu.command({"INCRBY", "counter:r", "4"}).is_integer());
    REQUIRE(eu.command({"SADD", "set:r", "eu"}) == Reply::integer(1));
    REQUIRE(eu.command({"SET", "reg:eu", "hallo"}) == ok);

    // Still cut: the records travel us -> ap -> eu and back.
    const std::string common =
        converge(cluster, three_regions, {"counter:r", "set:r", "reg:us", "reg:eu"});
    INFO(common);
    CHECK(counter(eu, "counter:r") == 15);
    CHECK(eu.command({"GET", "reg:us"}) == Reply::string("hello"));
    CHECK(us.command({"GET", "reg:eu"}) == Reply::string("hallo"));
    CHECK(members(us, "set:r") == std::set<std::string>{"eu", "us"});
    // The direct link really is down (noticed after peer_timeout_ms).
    std::string state;
    CHECK(eventually(
        [&] {
            state = peer_info(us, "eu-west")["state"];
            return state != "connected";
        },
        5000));
    INFO("us-east's view of eu-west: state=" << state);
    CHECK(members(eu, "set:r") == std::set<std::string>{"eu", "us"});

    REQUIRE(starts_with(cluster.proxy("us-east", "eu-west", "blackhole off"), "OK"));
    require_connected(cluster, three_regions);
}

TEST_CASE(
    "frames flipped, replayed or spliced on the path are refused, links recover, and the "
    "regions hold exactly the acknowledged writes") {
    Cluster cluster(three_regions, quick_links + typed_keys, /*with_proxies=*/true);
    cluster.start_all();
    require_connected(cluster, three_regions);
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    std::vector<std::string> keys;
    long long increments = 0;

    // Writes at `writer` until `receiver` has refused one more frame from `sender` (the
    // proxies between us-east and eu-west are forward: us-east -> eu-west), then waits for the
    // link to come back.
    auto write_until_refused = [&](RedisClient& writer, RedisClient& receiver,
                                   const std::string& sender, const std::string& what,
                                   const std::function<void()>& tamper) {
        const long long before = number(peer_info(receiver, sender), "frames_refused");
        // The proxy carries an order out on whichever of its connections reaches a frame
        // boundary first; one that a reconnect is tearing down takes it to nowhere. So an order
        // carried out without a refusal following is given again (a frame that were accepted
        // instead would never be refused, however often it is sent); one still pending is not.
        auto tampered = [&] {
            const std::string status = cluster.proxy("us-east", "eu-west", "status");
            const auto at = status.find("tampered=");
            return at == std::string::npos ? -1 : std::atoll(status.c_str() + at + 9);
        };
        int orders = 0;
        long long carried_out = -1;
        auto order_at = std::chrono::steady_clock::now();
        const bool refused = eventually(
            [&] {
                const std::string key = "reg:" + what + ":" + std::to_string(keys.size());
                REQUIRE(writer.command({"SET", key, "value of " + key}) == ok);
                REQUIRE(writer.command({"INCRBY", "counter:t", "1"}).is_integer());
                keys.push_back(key);
                ++increments;
                if (number(peer_info(receiver, sender), "frames_refused") > before) return true;
                if (orders == 0 ||
                    (orders < 3 && tampered() > carried_out &&
                     std::chrono::steady_clock::now() - order_at > std::chrono::seconds(4))) {
                    carried_out = tampered();
                    tamper();
                    ++orders;
                    order_at = std::chrono::steady_clock::now();
                }
                return false;
            },
            15000);
        auto seen = peer_info(receiver, sender);
        INFO(what << ": " << receiver.command({"INFO", "replication"}).as_string());
        REQUIRE(refused);
        CHECK(seen["last_error"].find("failed authentication") != std::string::npos);
        require_connected(cluster, three_regions);
    };
    // The latest small frame the proxy between a and b saw going forward, as hex.
    auto capture = [&](const std::string& a, const std::string& b) {
        const std::string answer = cluster.proxy(a, b, "tamper capture forward");
        REQUIRE(starts_with(answer, "OK frame="));
        return answer.substr(std::string("OK frame=").size());
    };

    write_until_refused(us, eu, "us-east", "flip", [&] {
        REQUIRE(starts_with(cluster.proxy("us-east", "eu-west", "tamper flip forward"), "OK"));
    });
    write_until_refused(eu, us, "eu-west", "flip-back", [&] {
        REQUIRE(starts_with(cluster.proxy("us-east", "eu-west", "tamper flip backward"), "OK"));
    });

    // A replay: a frame this very link carried a moment ago, sent again.
    REQUIRE(us.command({"SET", "before-replay", "1"}) == ok);
    keys.push_back("before-replay");
    std::this_thread::sleep_for(milliseconds(300));  // heartbeats and acks cross the new link
    write_until_refused(us, eu, "us-east", "replay", [&] {
        const std::string replayed = capture("us-east", "eu-west");
        REQUIRE(starts_with(
            cluster.proxy("us-east", "eu-west", "tamper inject forward " + replayed), "OK"));
    });

    // A splice: a frame of the us-east -> ap-south link, put into the us-east -> eu-west one.
    write_until_refused(us, eu, "us-east", "splice", [&] {
        const std::string spliced = capture("us-east", "ap-south");
        REQUIRE(starts_with(cluster.proxy("us-east", "eu-west", "tamper inject forward " + spliced),
                            "OK"));
    });

    // Nothing of a refused frame was applied, and nothing acknowledged was lost: every region
    // holds exactly the written values, and no other key.
    keys.push_back("counter:t");
    converge(cluster, three_regions, keys);
    for (const std::string& region : three_regions) {
        RedisClient c = cluster.client(region);
        INFO(region);
        CHECK(counter(c, "counter:t") == increments);
        CHECK(c.command({"DBSIZE"}) == Reply::integer(static_cast<long long>(keys.size())));
        for (const std::string& key : keys) {
            if (key == "counter:t") continue;
            const Reply expected = Reply::string(key == "before-replay" ? "1" : "value of " + key);
            if (c.command({"GET", key}) != expected) FAIL(region << " has " << key << " wrong");
        }
    }
}

TEST_CASE("a peer with a wrong secret is refused and no data crosses") {
    Cluster cluster(three_regions, quick_links + typed_keys);
    edit_file(cluster.config_path("ap-south"), "secret = \"meridian-test-secret\"",
              "secret = \"not-the-secret\"");
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    RedisClient ap = cluster.client("ap-south");

    const bool refused = eventually(
        [&] {
            auto seen_by_us = peer_info(us, "ap-south");
            auto seen_by_ap = peer_info(ap, "us-east");
            return number(seen_by_us, "refused_handshakes") +
                           number(seen_by_ap, "refused_handshakes") >
                       0 &&
                   !(seen_by_us["last_error"].empty() && seen_by_ap["last_error"].empty());
        },
        10000);
    INFO("us-east:\n"
         << us.command({"INFO", "replication"}).as_string() << "ap-south:\n"
         << ap.command({"INFO", "replication"}).as_string());
    CHECK(refused);

    REQUIRE(us.command({"SET", "from-us", "1"}) == ok);
    REQUIRE(ap.command({"SET", "from-ap", "1"}) == ok);
    CHECK(eventually([&] { return eu.command({"GET", "from-us"}).is_string(); }, 10000));
    CHECK_FALSE(eventually(
        [&] {
            return ap.command({"GET", "from-us"}).is_string() ||
                   us.command({"GET", "from-ap"}).is_string() ||
                   eu.command({"GET", "from-ap"}).is_string();
        },
        1500));
    CHECK(number(info(ap, "replication"), "connected_regions") == 0);
}

TEST_CASE("a peer with different policies is refused and no data crosses") {
    Cluster cluster(three_regions, quick_links + typed_keys);
    edit_file(cluster.config_path("ap-south"), "match = \"set:*\"\ntype = \"set\"",
              "match = \"set:*\"\ntype = \"lww\"");
    cluster.start_all();
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");
    RedisClient ap = cluster.client("ap-south");

    std::string errors;
    const bool refused = eventually(
        [&] {
            auto seen_by_us = peer_info(us, "ap-south");
            auto seen_by_ap = peer_info(ap, "us-east");
            errors = seen_by_us["last_error"] + " | " + seen_by_ap["last_error"];
            return number(seen_by_us, "refused_handshakes") +
                       number(seen_by_ap, "refused_handshakes") >
                   0;
        },
        10000);
    INFO("us-east:\n"
         << us.command({"INFO", "replication"}).as_string() << "ap-south:\n"
         << ap.command({"INFO", "replication"}).as_string());
    CHECK(refused);
    CHECK((errors.find("polic") != std::string::npos ||
           errors.find("fingerprint") != std::string::npos));

    REQUIRE(us.command({"SET", "from-us", "1"}) == ok);
    REQUIRE(ap.command({"SET", "from-ap", "1"}) == ok);
    CHECK(eventually([&] { return eu.command({"GET", "from-us"}).is_string(); }, 10000));
    CHECK_FALSE(eventually(
        [&] {
            return ap.command({"GET", "from-us"}).is_string() ||
                   us.command({"GET", "from-ap"}).is_string();
        },
        1500));
}

TEST_CASE("MERIDIAN PAUSE stops shipping to a region and RESUME catches it up") {
    const std::vector<std::string> two = {"us-east", "eu-west"};
    Cluster cluster(two, quick_links + typed_keys);
    cluster.start_all();
    require_connected(cluster, two);
    RedisClient us = cluster.client("us-east");
    RedisClient eu = cluster.client("eu-west");

    CHECK(us.command({"MERIDIAN", "PAUSE", "eu-west"}) == ok);
    CHECK(us.command({"MERIDIAN", "PAUSE", "nowhere"}).is_error());
    CHECK(peer_info(us, "eu-west")["paused"] == "1");
    REQUIRE(us.command({"SET", "paused", "write"}) == ok);
    REQUIRE(us.command({"INCRBY", "counter:p", "3"}) == Reply::integer(3));
    // The other direction still flows.
    REQUIRE(eu.command({"SET", "from-eu", "x"}) == ok);
    CHECK(eventually([&] { return us.command({"GET", "from-eu"}) == Reply::string("x"); }, 10000));
    CHECK_FALSE(eventually([&] { return eu.command({"GET", "paused"}).is_string(); }, 1500));
    CHECK(eu.command({"GET", "counter:p"}) == Reply::nil());

    CHECK(us.command({"MERIDIAN", "RESUME", "eu-west"}) == ok);
    CHECK(peer_info(us, "eu-west")["paused"] == "0");
    converge(cluster, two, {"paused", "counter:p", "from-eu"});
    CHECK(eu.command({"GET", "paused"}) == Reply::string("write"));
}

TEST_CASE("WAIT 2 answers 2 with both peers up, and fewer after the timeout when one is cut") {
    Cluster cluster(three_regions, quick_links + typed_keys, /*with_proxies=*/true);
    cluster.start_all();
    require_connected(cluster, three_regions);
    RedisClient us = cluster.client("us-east", 5000);
    RedisClient eu = cluster.client("eu-west");

    REQUIRE(us.command({"SET", "w", "1"}) == ok);
    auto start = Clock::now();
    CHECK(us.command({"WAIT", "2", "1000"}) == Reply::integer(2));
    CHECK(elapsed_ms(start) < 1000);

    // Paused at both peers: nothing reaches ap-south, directly or relayed.
    REQUIRE(us.command({"MERIDIAN", "PAUSE", "ap-south"}) == ok);
    REQUIRE(eu.command({"MERIDIAN", "PAUSE", "ap-south"}) == ok);
    REQUIRE(us.command({"SET", "w", "2"}) == ok);
    start = Clock::now();
    CHECK(us.command({"WAIT", "2", "1000"}) == Reply::integer(1));
    CHECK(elapsed_ms(start) >= 950);
    REQUIRE(us.command({"MERIDIAN", "RESUME", "ap-south"}) == ok);
    REQUIRE(eu.command({"MERIDIAN", "RESUME", "ap-south"}) == ok);
    CHECK(us.command({"WAIT", "2", "3000"}) == Reply::integer(2));

    // Blackholed: the same.
    REQUIRE(starts_with(cluster.proxy("us-east", "ap-south", "blackhole both"), "OK"));
    REQUIRE(starts_with(cluster.proxy("eu-west", "ap-south", "blackhole both"), "OK"));
    REQUIRE(us.command({"SET", "w", "3"}) == ok);
    start = Clock::now();
    CHECK(us.command({"WAIT", "2", "1000"}) == Reply::integer(1));
    CHECK(elapsed_ms(start) >= 950);
    CHECK(us.command({"WAIT", "1", "1000"}) == Reply::integer(1));
    REQUIRE(starts_with(cluster.proxy("us-east", "ap-south", "blackhole off"), "OK"));
    REQUIRE(starts_with(cluster.proxy("eu-west", "ap-south", "blackhole off"), "OK"));
    CHECK(us.command({"WAIT", "2", "5000"}) == Reply::integer(2));
}
