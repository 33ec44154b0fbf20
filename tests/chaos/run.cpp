#include "run.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "checker.hpp"
#include "nemesis.hpp"
#include "recorder.hpp"
#include "workload.hpp"

namespace meridian::chaos {

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> region_names = {"us-east", "eu-west", "ap-south"};
constexpr int peer_timeout_ms = 1000;
constexpr int client_timeout_ms = 1500;
constexpr int kHomeLeaseMs = 1000;

std::string cluster_toml(const RunOptions& o) {
    // Short timeouts so faults are noticed within a run, small WAL segments and retention so
    // segment rolls, snapshots, log collection and full-state syncs all happen under fire.
    return "fsync = \"" + o.fsync +
           "\"\n"
           "heartbeat_ms = 200\n"
           "peer_timeout_ms = " +
           std::to_string(peer_timeout_ms) +
           "\n"
           "reconnect_min_ms = 20\n"
           "reconnect_max_ms = 500\n"
           "relay_delay_ms = 100\n"
           "forward_timeout_ms = 500\n"
           "home_lease_ms = " +
           std::to_string(kHomeLeaseMs) +
           "\n"
           "rights_timeout_ms = 300\n"
           "snapshot_every_records = 5000\n"
           "snapshot_every_seconds = 5\n"
           "wal_segment_bytes = 262144\n"
           "wal_retention_bytes = 1048576\n\n" +
           WorkloadKeys::policy_toml();
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// ---- reading a region's state ----------------------------------------------------------------

struct RegionRead {
    FinalState state;
    std::string vv;     // MERIDIAN VV, entries sorted
    std::string error;  // why the read failed, if it did
};

std::string sorted_words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> words{std::istream_iterator<std::string>(in), {}};
    std::sort(words.begin(), words.end());
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

RegionRead read_region(test::Cluster& cluster, const std::string& region,
                       const std::vector<std::string>& numbers, const WorkloadKeys& keys) {
    RegionRead read;
    if (!cluster.running(region)) {
        read.error = "not running";
        return read;
    }
    test::RedisClient client = cluster.client(region, 5000);
    read.state.read_ms = wall_ms();
    std::vector<std::vector<std::string>> commands;
    for (const auto& key : numbers) commands.push_back({"GET", key});
    for (const auto& key : keys.sets) commands.push_back({"SMEMBERS", key});
    for (const auto& key : keys.registers) commands.push_back({"GET", key});
    for (const auto& key : keys.hashes) commands.push_back({"HGETALL", key});
    commands.push_back({"KEYS", "*"});
    commands.push_back({"MERIDIAN", "VV"});
    const std::vector<test::Reply> replies = client.pipeline(commands);
    std::size_t i = 0;
    auto fail = [&](const std::string& what, const test::Reply& reply) {
        if (read.error.empty()) read.error = what + " answered " + reply.describe();
    };
    for (const auto& key : numbers) {
        const test::Reply& r = replies[i++];
        if (r.is_nil()) {
            read.state.numbers[key] = 0;
        } else if (r.is_string()) {
            try {
                read.state.numbers[key] = std::stoll(r.as_string());
            } catch (const std::exception&) {
                fail("GET " + key, r);
            }
        } else {
            fail("GET " + key, r);
        }
    }
    for (const auto& key : keys.sets) {
        const test::Reply& r = replies[i++];
        if (!r.is_array()) {
            fail("SMEMBERS " + key, r);
            continue;
        }
        auto& members = read.state.sets[key];
        for (const auto& m : r.as_array()) members.push_back(m.as_string());
        std::sort(members.begin(), members.end());
    }
    for (const auto& key : keys.registers) {
        const test::Reply& r = replies[i++];
        if (r.is_nil()) {
            read.state.registers[key] = std::nullopt;
        } else if (r.is_string()) {
            read.state.registers[key] = r.as_string();
        } else {
            fail("GET " + key, r);
        }
    }
    for (const auto& key : keys.hashes) {
        const test::Reply& r = replies[i++];
        if (!r.is_array() || r.as_array().size() % 2 != 0) {
            fail("HGETALL " + key, r);
            continue;
        }
        for (const auto& field : WorkloadKeys::number_fields)
            read.state.numbers[field_number(key, field)] = 0;
        for (const auto& field : WorkloadKeys::text_fields)
            read.state.registers[field_number(key, field)] = std::nullopt;
        // A field the workload never wrote is kept too (as text): the checker reports it.
        const auto& pairs = r.as_array();
        for (std::size_t p = 0; p < pairs.size(); p += 2) {
            const std::string name = field_number(key, pairs[p].as_string());
            const std::string& value = pairs[p + 1].as_string();
            if (!read.state.numbers.contains(name)) {
                read.state.registers[name] = value;
                continue;
            }
            try {
                read.state.numbers[name] = std::stoll(value);
            } catch (const std::exception&) {
                fail("HGETALL " + key, r);
            }
        }
    }
    const test::Reply& all_keys = replies[i++];
    if (!all_keys.is_array()) fail("KEYS *", all_keys);
    for (const auto& k : all_keys.as_array()) {
        const bool expires = WorkloadKeys::policy_of(k.as_string()).expires;
        (expires ? read.state.expiring : read.state.keys).push_back(k.as_string());
    }
    std::sort(read.state.keys.begin(), read.state.keys.end());
    std::sort(read.state.expiring.begin(), read.state.expiring.end());
    const test::Reply& vv = replies[i++];
    if (!vv.is_string()) fail("MERIDIAN VV", vv);
    read.vv = sorted_words(vv.as_string());
    return read;
}

std::string show(const std::optional<std::string>& v) {
    return v ? "\"" + *v + "\"" : "nil";
}

std::string show(const std::vector<std::string>& members) {
    std::string out = "{";
    for (std::size_t i = 0; i < members.size() && i < 8; ++i) out += (i ? " " : "") + members[i];
    if (members.size() > 8) out += " ... (" + std::to_string(members.size()) + ")";
    return out + "}";
}

// Where two regions' reads differ, a line per key (at most `limit`); empty when they agree.
std::vector<std::string> differences(const std::string& a_name, const RegionRead& a,
                                     const std::string& b_name, const RegionRead& b,
                                     std::size_t limit = 10) {
    std::vector<std::string> out;
    auto note = [&](const std::string& what, const std::string& va, const std::string& vb) {
        if (out.size() < limit)
            out.push_back(what + ": " + a_name + " " + va + ", " + b_name + " " + vb);
    };
    for (const auto& [key, v] : a.state.numbers) {
        // A hash field only one region shows (HGETALL) is absent from the other's numbers.
        const auto other = b.state.numbers.find(key);
        if (other == b.state.numbers.end())
            note(key, std::to_string(v), "absent");
        else if (v != other->second)
            note(key, std::to_string(v), std::to_string(other->second));
    }
    for (const auto& [key, v] : b.state.numbers)
        if (!a.state.numbers.contains(key)) note(key, "absent", std::to_string(v));
    for (const auto& [key, v] : a.state.sets) {
        const auto& other = b.state.sets.at(key);
        if (v != other) {
            std::vector<std::string> only_a, only_b;
            std::set_difference(v.begin(), v.end(), other.begin(), other.end(),
                                std::back_inserter(only_a));
            std::set_difference(other.begin(), other.end(), v.begin(), v.end(),
                                std::back_inserter(only_b));
            note(key, "alone holds " + show(only_a), "alone holds " + show(only_b));
        }
    }
    for (const auto& [key, v] : a.state.registers) {
        const auto other = b.state.registers.find(key);
        if (other == b.state.registers.end())
            note(key, show(v), "absent");
        else if (v != other->second)
            note(key, show(v), show(other->second));
    }
    for (const auto& [key, v] : b.state.registers)
        if (!a.state.registers.contains(key)) note(key, "absent", show(v));
    if (a.state.keys != b.state.keys) note("KEYS *", show(a.state.keys), show(b.state.keys));
    if (a.vv != b.vv) note("MERIDIAN VV", "\"" + a.vv + "\"", "\"" + b.vv + "\"");
    return out;
}

struct Converged {
    bool ok = false;
    RegionRead read;
    std::vector<std::string> problems;  // when not ok: what differed at the deadline
};

Converged await_convergence(test::Cluster& cluster, const std::vector<std::string>& numbers,
                            const WorkloadKeys& keys, int timeout_s) {
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    Converged result;
    for (;;) {
        std::vector<RegionRead> reads;
        for (const auto& region : region_names)
            reads.push_back(read_region(cluster, region, numbers, keys));
        std::vector<std::string> problems;
        for (std::size_t i = 0; i < reads.size(); ++i)
            if (!reads[i].error.empty())
                problems.push_back(region_names[i] + ": " + reads[i].error);
        if (problems.empty()) {
            for (std::size_t i = 1; i < reads.size(); ++i) {
                auto diff = differences(region_names[0], reads[0], region_names[i], reads[i]);
                problems.insert(problems.end(), diff.begin(), diff.end());
            }
        }
        if (problems.empty()) {
            result.ok = true;
            result.read = std::move(reads[0]);
            return result;
        }
        if (Clock::now() >= deadline) {
            result.problems = std::move(problems);
            return result;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

// Every region sees both peers connected (INFO replication), or the deadline passes.
bool await_mesh(test::Cluster& cluster, int timeout_ms) {
    return test::eventually(
        [&] {
            for (const auto& region : region_names) {
                auto client = cluster.client(region, 1000);
                const std::string info = client.command({"INFO", "replication"}).as_string();
                std::size_t connected = 0;
                for (std::size_t at = info.find("state=connected"); at != std::string::npos;
                     at = info.find("state=connected", at + 1))
                    ++connected;
                if (connected + 1 < region_names.size()) return false;
            }
            return true;
        },
        timeout_ms);
}

// Whether the node forwards home-routed writes (issue 5): with the home stopped, a write at
// another region must answer -TRYAGAIN. A node that executes it locally, or refuses it, does not.
bool probe_home_routing(test::Cluster& cluster, History& history,
                        std::vector<std::string>& probe_keys) {
    const std::string home = region_names.back();
    const std::string key = "acct:{" + home + "}:probe";
    probe_keys.push_back(key);
    Recorder writer("probe", region_names.front(), cluster.client_port(region_names.front()), 3000);
    cluster.pause(home);
    writer.add(key, 1);
    cluster.resume(home);
    bool forwards = false;
    for (Op& op : writer.history()) {
        // TRYAGAIN once the link is known down; TIMEOUT if the write was forwarded before that.
        forwards = op.error.starts_with("TRYAGAIN") || op.error.starts_with("TIMEOUT");
        std::printf("home routing probe: INCRBY %s at %s with %s stopped answered %s\n",
                    key.c_str(), op.region.c_str(), home.c_str(),
                    op.outcome == Outcome::ok ? "ok" : ("\"" + op.error + "\"").c_str());
        history.push_back(std::move(op));
    }
    return forwards;
}

std::vector<std::string> sanitizer_reports(test::Cluster& cluster) {
    std::vector<std::string> out;
    for (const auto& region : region_names) {
        std::ifstream in(cluster.log_path(region));
        std::string line;
        while (std::getline(in, line)) {
            if (line.find("AddressSanitizer") != std::string::npos ||
                line.find("LeakSanitizer") != std::string::npos ||
                line.find("runtime error:") != std::string::npos) {
                out.push_back(region + " log: " + line + "\n" + cluster.log_tail(region, 3000));
                break;
            }
        }
    }
    return out;
}

std::string summarize(const RunOptions& o, double ran_s,
                      const std::vector<const History*>& histories,
                      const std::map<std::string, int>& faults, bool with_home, double converge_s,
                      const std::vector<std::string>& violations, std::size_t violation_count,
                      const std::string& kept) {
    std::ostringstream out;
    std::map<std::string, std::map<Outcome, std::uint64_t>> by_kind;
    std::map<Outcome, std::uint64_t> totals;
    std::map<std::string, std::uint64_t> errors;
    std::uint64_t ops = 0;
    for (const History* h : histories) {
        for (const Op& op : *h) {
            ++ops;
            ++by_kind[std::string(name_of(op.kind))][op.outcome];
            ++totals[op.outcome];
            if (!op.error.empty()) ++errors[op.error.substr(0, 70)];
        }
    }
    out << "chaos: seed " << o.seed << ", duration " << o.duration_s << " s (whole run "
        << static_cast<int>(ran_s) << " s), fsync " << o.fsync << ", " << region_names.size()
        << " regions, " << o.clients_per_region * region_names.size()
        << " clients, home-routed keys " << (with_home ? "on" : "off") << "\n";
    out << "operations: " << ops << " (ok " << totals[Outcome::ok] << ", failed "
        << totals[Outcome::failed] << ", unknown " << totals[Outcome::unknown] << ")\n";
    for (auto& [kind, outcomes] : by_kind) {
        out << "  " << kind << ": ok " << outcomes[Outcome::ok] << ", failed "
            << outcomes[Outcome::failed] << ", unknown " << outcomes[Outcome::unknown] << "\n";
    }
    std::vector<std::pair<std::uint64_t, std::string>> common;
    for (const auto& [text, n] : errors) common.emplace_back(n, text);
    std::sort(common.rbegin(), common.rend());
    if (!common.empty()) out << "most common errors:\n";
    for (std::size_t i = 0; i < common.size() && i < 6; ++i)
        out << "  " << common[i].first << " x " << common[i].second << "\n";
    int fault_total = 0;
    std::string fault_list;
    for (const auto& [name, n] : faults) {
        fault_total += n;
        fault_list += (fault_list.empty() ? "" : ", ") + name + " " + std::to_string(n);
    }
    out << "faults injected: " << fault_total << (fault_list.empty() ? "" : " (" + fault_list + ")")
        << "\n";
    if (converge_s >= 0)
        out << "converged " << std::fixed << std::setprecision(1) << converge_s
            << " s after healing\n";
    out << "violations: " << (violation_count == 0 ? "none" : std::to_string(violation_count))
        << "\n";
    for (const auto& v : violations) out << "  - " << v << "\n";
    if (violations.size() < violation_count)
        out << "  ... and " << violation_count - violations.size() << " more\n";
    if (!kept.empty()) out << "data directories and node logs kept under " << kept << "\n";
    out << "reproduce: meridian-chaos --seed " << o.seed << " --duration " << o.duration_s
        << " --fsync " << o.fsync << " --clients " << o.clients_per_region << " --rate "
        << o.ops_per_second << " --home " << (with_home ? "on" : "off") << "\n";
    return out.str();
}

}  // namespace

RunResult run_chaos(const RunOptions& o) {
    const auto began = Clock::now();
    RunResult result;
    std::printf("chaos: starting 3 regions behind fault proxies (seed %llu, fsync %s)\n",
                static_cast<unsigned long long>(o.seed), o.fsync.c_str());
    std::fflush(stdout);
    test::Cluster cluster(region_names, cluster_toml(o), /*with_proxies=*/true);
    cluster.start_all();
    if (!await_mesh(cluster, 20000))
        result.violations.push_back("the regions did not all connect within 20 s");

    History setup;
    std::vector<std::string> numbers;
    const bool with_home =
        o.home == "on" || (o.home == "auto" && probe_home_routing(cluster, setup, numbers));
    const WorkloadKeys keys = WorkloadKeys::make(region_names, with_home);
    for (const auto& key : keys.numbers()) numbers.push_back(key);

    AddedElements added;
    std::vector<std::unique_ptr<Worker>> workers;
    for (const auto& region : region_names) {
        for (int i = 0; i < o.clients_per_region; ++i) {
            WorkerOptions w;
            w.client = region + "/" + std::to_string(i);
            w.region = region;
            w.port = cluster.client_port(region);
            w.seed = o.seed * 1000003 + workers.size() + 1;
            w.timeout_ms = client_timeout_ms;
            w.ops_per_second = o.ops_per_second;
            workers.push_back(std::make_unique<Worker>(w, keys, added));
        }
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (auto& worker : workers) threads.emplace_back([&stop, w = worker.get()] { w->run(stop); });

    NemesisOptions nemesis_options;
    nemesis_options.seed = o.seed;
    nemesis_options.peer_timeout_ms = peer_timeout_ms;
    nemesis_options.client_timeout_ms = client_timeout_ms;
    nemesis_options.home_lease_ms = kHomeLeaseMs;
    nemesis_options.verbose = o.verbose;
    Nemesis nemesis(cluster, keys, nemesis_options);
    nemesis.log("clients running: " + std::to_string(workers.size()) + "; faults begin");
    nemesis.run_until(Clock::now() +
                      std::chrono::milliseconds(static_cast<long long>(o.duration_s * 1000)));
    stop = true;
    for (auto& t : threads) t.join();
    nemesis.log("clients stopped; healing");
    nemesis.heal();
    const auto healed = Clock::now();
    CheckOptions check_options;
    check_options.healed_ms = wall_ms();
    check_options.failovers = nemesis.failovers();

    std::vector<const History*> histories = {&setup, &nemesis.history()};
    for (auto& worker : workers) histories.push_back(&worker->recorder().history());
    std::vector<std::string>& violations = result.violations;
    violations.insert(violations.end(), nemesis.violations().begin(), nemesis.violations().end());
    std::size_t violation_count = violations.size();

    double converge_s = -1;
    const Converged converged = await_convergence(cluster, numbers, keys, o.converge_timeout_s);
    if (!converged.ok) {
        std::string text = "the regions did not converge within " +
                           std::to_string(o.converge_timeout_s) + " s of healing:";
        for (const auto& p : converged.problems) text += "\n      " + p;
        violations.push_back(text);
        ++violation_count;
    } else {
        converge_s = seconds_since(healed);
        nemesis.log("converged");
        const CheckResult checked =
            check(histories, converged.read.state, &WorkloadKeys::policy_of, check_options);
        violations.insert(violations.end(), checked.violations.begin(), checked.violations.end());
        violation_count += checked.violation_count;
        if (checked.undone_by_failover > 0)
            nemesis.log(
                "acknowledged home or bounded-counter writes a failover may have undone (checked "
                "as unknown): " +
                std::to_string(checked.undone_by_failover));

        // What every region acknowledged is on its disk: a clean restart reads the same.
        for (const auto& region : region_names) {
            const int status = cluster.terminate(region);
            if (status != 0) {
                violations.push_back("region " + region + " exited with status " +
                                     std::to_string(status) + " after SIGTERM; log tail:\n" +
                                     cluster.log_tail(region, 3000));
                ++violation_count;
            }
        }
        for (const auto& region : region_names) {
            if (auto started = cluster.try_start(region); !started) {
                violations.push_back("region " + region +
                                     " did not start after a clean shutdown: " + started.error());
                ++violation_count;
            }
        }
        for (const auto& region : region_names) {
            const RegionRead again = read_region(cluster, region, numbers, keys);
            std::vector<std::string> diff =
                again.error.empty() ? differences("before", converged.read, "after", again)
                                    : std::vector<std::string>{again.error};
            // The version vector may legitimately move on (a restart appends nothing, but be
            // lenient there): the data must be identical.
            std::erase_if(diff, [](const std::string& d) { return d.starts_with("MERIDIAN VV"); });
            if (!diff.empty()) {
                std::string text = "region " + region + " reads differently after a clean restart:";
                for (const auto& d : diff) text += "\n      " + d;
                violations.push_back(text);
                ++violation_count;
            }
        }
        nemesis.log("clean restart of every region read back the same state");
    }
    for (auto& report : sanitizer_reports(cluster)) {
        violations.push_back("sanitizer report in a node: " + report);
        ++violation_count;
    }
    std::string kept;
    if (violation_count > 0) {
        ::setenv("MERIDIAN_KEEP_TEST_DATA", "1", 1);  // keep the logs and data for a post-mortem
        kept = cluster.root();
    }
    result.summary = summarize(o, seconds_since(began), histories, nemesis.injected(), with_home,
                               converge_s, violations, violation_count, kept);
    result.violation_count = violation_count;
    return result;
}

}  // namespace meridian::chaos
