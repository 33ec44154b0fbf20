#include "figures.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>

#include "load.hpp"

namespace meridian::bench {

std::string fmt(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

void emit(const std::string& figure, const Fields& fields) {
    std::ostringstream line;
    line << "BENCH figure=" << figure;
    for (const auto& [k, v] : fields) line << " " << k << "=" << v;
    std::cout << line.str() << std::endl;
}

void progress(const std::string& text) {
    std::cerr << "[bench] " << text << std::endl;
}

double ratio(double a, double b) {
    return b > 0 ? a / b : 0;
}

std::string ratio_text(double a, double b) {
    return b > 0 ? fmt(a / b, 2) : "n/a";
}

void check_errors(const std::string& what, const LoadResult& r) {
    if (r.errors > 0) {
        throw BenchError(what + ": " + std::to_string(r.errors) +
                         " error replies, first: " + r.first_error);
    }
    if (r.ops == 0) throw BenchError(what + ": no operation completed");
}

namespace {

struct ThroughputSamples {
    std::vector<double> ops, p50, p99;
};

// ---------------------------------------------------------------------------------------------

void throughput_mode(const Settings& s, Results& out, bool replicated, Table& table,
                     std::vector<double>& ratios_p1, std::vector<double>& ratios_p16) {
    const std::string mode = replicated ? "3 regions / master+2 replicas" : "alone";
    progress("throughput: starting systems (" + mode + ")");
    MeridianCluster meridian(s.bins, {replicated ? 3 : 1, -1, false, ""});
    RedisCluster redis(s.bins, {replicated ? 2 : 0, -1, false});

    std::vector<Op> ops = {Op::set, Op::incrby, Op::sadd};
    std::vector<Keys> key_kinds = {Keys::uniform, Keys::zipf};
    if (!replicated || s.smoke) key_kinds = {Keys::uniform};
    for (Op op : ops) {
        for (Keys keys : key_kinds) {
            for (int pipeline : {1, 16}) {
                std::map<std::string, ThroughputSamples> samples;
                alternate(s.repeats, meridian, redis, [&](System& sys, int rep) {
                    LoadSpec spec;
                    spec.op = op;
                    spec.keys = keys;
                    spec.keyspace = s.keyspace;
                    spec.clients = s.clients;
                    spec.pipeline = pipeline;
                    spec.seconds = s.seconds;
                    spec.seed = static_cast<std::uint64_t>(rep + 1);
                    LoadResult r = run_load(sys.writer_port(), spec);
                    check_errors(sys.name() + " " + op_name(op), r);
                    auto& smp = samples[sys.name()];
                    smp.ops.push_back(r.ops_per_sec);
                    smp.p50.push_back(r.p50_us);
                    smp.p99.push_back(r.p99_us);
                    emit("throughput", {{"system", sys.name()},
                                        {"mode", replicated ? "replicated" : "alone"},
                                        {"op", op_name(op)},
                                        {"keys", keys_name(keys)},
                                        {"pipeline", std::to_string(pipeline)},
                                        {"rep", std::to_string(rep)},
                                        {"ops_per_sec", fmt(r.ops_per_sec)},
                                        {"p50_us", fmt(r.p50_us)},
                                        {"p99_us", fmt(r.p99_us)}});
                });
                auto& m = samples["meridian"];
                auto& rd = samples["redis"];
                const double m_ops = median(m.ops), r_ops = median(rd.ops);
                table.rows.push_back({mode, op_name(op), keys_name(keys), std::to_string(pipeline),
                                      fmt(m_ops), fmt(r_ops), ratio_text(m_ops, r_ops),
                                      fmt(median(m.p50)) + " / " + fmt(median(m.p99)),
                                      fmt(median(rd.p50)) + " / " + fmt(median(rd.p99))});
                if (replicated)
                    (pipeline == 1 ? ratios_p1 : ratios_p16).push_back(ratio(m_ops, r_ops));
                if (replicated && op == Op::set && keys == Keys::uniform && pipeline == 1) {
                    out.max_load["meridian"] = m_ops;
                    out.max_load["redis"] = r_ops;
                }
            }
        }
    }
}

}  // namespace

void figure_throughput(const Settings& s, Results& out) {
    Table table;
    table.title = "Local write throughput and latency";
    table.note = std::to_string(s.clients) + " clients on one connection each, " +
                 fmt(s.seconds, 1) + " s per run, medians of " + std::to_string(s.repeats) +
                 " alternating runs; " + std::to_string(s.keyspace) +
                 " keys (Zipf s = 0.99). Writes go to region 1 / the master. Latency is per "
                 "command; a pipelined command counts its whole batch's round trip.";
    table.header = {"setup",
                    "command",
                    "keys",
                    "pipeline",
                    "Meridian ops/s",
                    "Redis ops/s",
                    "ratio M/R",
                    "Meridian p50 / p99 us",
                    "Redis p50 / p99 us"};
    std::vector<double> p1, p16, ignored1, ignored16;
    throughput_mode(s, out, true, table, p1, p16);
    throughput_mode(s, out, false, table, ignored1, ignored16);
    out.tables.push_back(table);
    const double min_p1 = p1.empty() ? 0 : *std::min_element(p1.begin(), p1.end());
    const double min_p16 = p16.empty() ? 0 : *std::min_element(p16.begin(), p16.end());
    out.targets.push_back({"throughput-p1",
                           "write throughput with replication >= Redis with 2 replicas, "
                           "no pipelining",
                           "ratio " + fmt(min_p1, 2) + " (lowest over commands and key mixes)",
                           min_p1 >= 1.0});
    out.targets.push_back({"throughput-p16",
                           "write throughput with replication >= Redis with 2 replicas, "
                           "pipeline 16",
                           "ratio " + fmt(min_p16, 2) + " (lowest over commands and key mixes)",
                           min_p16 >= 1.0});
}

// ---------------------------------------------------------------------------------------------

namespace {

double measure_max_load(const Settings& s, System& sys) {
    LoadSpec spec;
    spec.keyspace = s.keyspace;
    spec.clients = s.clients;
    spec.seconds = s.seconds;
    LoadResult r = run_load(sys.writer_port(), spec);
    check_errors(sys.name() + " max load", r);
    return r.ops_per_sec;
}

}  // namespace

void figure_lag(const Settings& s, Results& out) {
    Table table;
    table.title = "Replication lag";
    table.note =
        "A probe SETs a fresh value at region 1 / the master every 10 ms while " +
        std::to_string(s.clients) +
        " clients apply rate-limited SETs at the given share of that system's own flat-out "
        "SET rate (3 regions / 2 replicas, no pipelining); a second client polls GET at "
        "region 2 / replica 1 until the value shows. Lag = write sent -> value read, so it "
        "includes one client round trip and the polling interval (tight for 2 ms, then "
        "0.1 ms). Percentiles over all probes of all repeats.";
    table.header = {"path", "load", "Meridian p50 / p99 / max ms", "Redis p50 / p99 / max ms",
                    "p99 ratio M/R"};
    for (bool delayed : {false, true}) {
        if (delayed && !s.lag_delayed) break;
        const std::string path = delayed ? "50 ms one-way relay" : "loopback";
        progress("lag: starting systems (" + path + ")");
        MeridianCluster meridian(s.bins, {3, -1, delayed, ""});
        RedisCluster redis(s.bins, {2, -1, delayed});
        if (delayed) {
            for (System* sys : {static_cast<System*>(&meridian), static_cast<System*>(&redis)}) {
                for (std::size_t i = 0; i < sys->replica_count(); ++i) {
                    sys->relay(i)->control("delay 50");
                }
            }
        }
        for (System* sys : {static_cast<System*>(&meridian), static_cast<System*>(&redis)}) {
            if (!out.max_load.count(sys->name())) {
                out.max_load[sys->name()] = measure_max_load(s, *sys);
                emit("max_load",
                     {{"system", sys->name()}, {"ops_per_sec", fmt(out.max_load[sys->name()])}});
            }
        }
        const int probes = delayed ? s.lag_probes_delayed : s.lag_probes;
        for (int level : {25, 50, 90}) {
            std::map<std::string, std::vector<double>> pooled;
            alternate(s.repeats, meridian, redis, [&](System& sys, int rep) {
                sys.wait_replicated(30000);
                LoadSpec spec;
                spec.keyspace = s.keyspace;
                spec.clients = s.clients;
                spec.rate = out.max_load[sys.name()] * level / 100.0;
                // Long enough to cover every probe; the probes end the run early if faster.
                spec.seconds = 0.3 + probes * (delayed ? 0.07 : 0.012);
                spec.seed = static_cast<std::uint64_t>(rep + 11);
                LoadResult load;
                std::thread background([&] { load = run_load(sys.writer_port(), spec); });
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                LagResult lag;
                std::string failure;
                try {
                    lag = probe_lag(sys.writer_port(), sys.replica_port(0), probes, 10);
                } catch (const BenchError& e) {
                    failure = e.what();
                }
                background.join();
                if (!failure.empty()) throw BenchError(failure);
                check_errors(sys.name() + " lag background load", load);
                if (lag.timeouts > 0) {
                    throw BenchError(sys.name() + ": " + std::to_string(lag.timeouts) +
                                     " lag probes never became visible");
                }
                auto& p = pooled[sys.name()];
                p.insert(p.end(), lag.samples_ms.begin(), lag.samples_ms.end());
                emit("lag", {{"system", sys.name()},
                             {"path", delayed ? "delay50" : "loopback"},
                             {"load_pct", std::to_string(level)},
                             {"rep", std::to_string(rep)},
                             {"offered_ops_per_sec", fmt(spec.rate)},
                             {"achieved_ops_per_sec", fmt(load.ops_per_sec)},
                             {"p50_ms", fmt(lag.p50_ms, 3)},
                             {"p99_ms", fmt(lag.p99_ms, 3)},
                             {"max_ms", fmt(lag.max_ms, 3)}});
            });
            auto summary = [](std::vector<double> v) {
                const double p50 = quantile(v, 0.5), p99 = quantile(v, 0.99);
                const double mx = v.empty() ? 0 : v.back();
                return std::make_pair(fmt(p50, 2) + " / " + fmt(p99, 2) + " / " + fmt(mx, 2), p99);
            };
            auto [m_text, m_p99] = summary(pooled["meridian"]);
            auto [r_text, r_p99] = summary(pooled["redis"]);
            table.rows.push_back(
                {path, std::to_string(level) + "%", m_text, r_text, ratio_text(m_p99, r_p99)});
            if (level == 50) {
                const double limit = delayed ? 55.0 : 2.0;
                out.targets.push_back({delayed ? "lag-delayed" : "lag-loopback",
                                       std::string("replication lag p99 at half load < ") +
                                           fmt(limit) + " ms " +
                                           (delayed ? "through the 50 ms relay" : "on loopback"),
                                       fmt(m_p99, 2) + " ms (Redis " + fmt(r_p99, 2) +
                                           " ms, ratio " + ratio_text(m_p99, r_p99) + ")",
                                       m_p99 < limit});
            }
        }
    }
    out.tables.push_back(table);
}

// ---------------------------------------------------------------------------------------------

void figure_bytes(const Settings& s, Results& out) {
    Table table;
    table.title = "Bytes per replicated write";
    table.note =
        "Bytes the writer sent towards its replicas, per write and per link, counted by a "
        "meridian-fault-proxy relay on each link (Meridian: writer -> region; Redis: master -> "
        "replica, the replication stream), " +
        std::to_string(s.bytes_ops) + " writes from " + std::to_string(s.clients) +
        " clients (without pipelining unless the row says so), medians of " +
        std::to_string(s.repeats) +
        " runs. Meridian's own count (INFO bytes_sent, on the wire) is shown beside it; "
        "LZ4 = bytes_sent_raw / bytes_sent.";
    table.header = {"workload",  "Meridian B/write (relay)", "Meridian B/write (INFO)",
                    "LZ4 ratio", "Redis B/write (relay)",    "ratio M/R"};
    progress("bytes: starting systems with relays");
    MeridianCluster meridian(s.bins, {3, -1, true, ""});
    RedisCluster redis(s.bins, {2, -1, true});

    struct Workload {
        std::string name;
        Op op;
        std::uint64_t keyspace;
        std::string target_id;
        double target_ratio;
        int pipeline = 1;
    };
    // Meridian joins deltas of one key inside a batch, so bursts (pipelines) coalesce more.
    const std::vector<Workload> workloads = {
        {"SET, uniform over 1M keys", Op::set, 1000000, "bytes-uniform", 0.5},
        {"SET, one hot key", Op::set, 1, "bytes-hot", 0.05},
        {"INCRBY, one hot key", Op::incrby, 1, "", 0},
        {"SET, one hot key, pipeline 16", Op::set, 1, "", 0, 16},
        {"INCRBY, one hot key, pipeline 16", Op::incrby, 1, "", 0, 16},
    };
    for (const Workload& w : workloads) {
        std::map<std::string, std::vector<double>> relay_bytes, info_bytes, lz4;
        alternate(s.repeats, meridian, redis, [&](System& sys, int rep) {
            const bool is_meridian = sys.name() == "meridian";
            auto relay_total = [&] {
                std::uint64_t sum = 0;
                for (std::size_t i = 0; i < sys.replica_count(); ++i) {
                    auto [fwd, back] = sys.relay(i)->bytes();
                    sum += is_meridian ? fwd : back;
                }
                return sum;
            };
            if (!sys.wait_replicated(60000)) throw BenchError(sys.name() + " did not catch up");
            const std::uint64_t relay0 = relay_total();
            const auto info0 = sys.reported_stream_bytes();
            LoadSpec spec;
            spec.op = w.op;
            spec.keyspace = w.keyspace;
            spec.clients = s.clients;
            spec.total_ops = s.bytes_ops;
            spec.pipeline = w.pipeline;
            spec.seed = static_cast<std::uint64_t>(rep + 21);
            LoadResult r = run_load(sys.writer_port(), spec);
            check_errors(sys.name() + " bytes load", r);
            if (!sys.wait_replicated(60000)) throw BenchError(sys.name() + " did not catch up");
            // Let the last batch's bytes pass the relay (they are counted once delivered).
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const std::uint64_t relay1 = relay_total();
            const auto info1 = sys.reported_stream_bytes();
            const double links = static_cast<double>(sys.replica_count());
            const double per_write = (relay1 - relay0) / links / static_cast<double>(r.ops);
            relay_bytes[sys.name()].push_back(per_write);
            Fields fields = {{"system", sys.name()},
                             {"workload", w.op == Op::set ? "set" : "incrby"},
                             {"keys", std::to_string(w.keyspace)},
                             {"pipeline", std::to_string(w.pipeline)},
                             {"rep", std::to_string(rep)},
                             {"writes", std::to_string(r.ops)},
                             {"relay_bytes_per_write", fmt(per_write, 2)}};
            if (is_meridian) {
                const double wire = static_cast<double>(info1.first - info0.first);
                const double raw = static_cast<double>(info1.second - info0.second);
                info_bytes[sys.name()].push_back(wire / links / static_cast<double>(r.ops));
                lz4[sys.name()].push_back(wire > 0 ? raw / wire : 0);
                fields.push_back({"info_bytes_per_write", fmt(info_bytes[sys.name()].back(), 2)});
                fields.push_back({"lz4_ratio", fmt(lz4[sys.name()].back(), 2)});
            }
            emit("bytes", fields);
        });
        const double m = median(relay_bytes["meridian"]), rd = median(relay_bytes["redis"]);
        table.rows.push_back({w.name, fmt(m, 2), fmt(median(info_bytes["meridian"]), 2),
                              fmt(median(lz4["meridian"]), 2), fmt(rd, 2), ratio_text(m, rd)});
        if (!w.target_id.empty()) {
            out.targets.push_back(
                {w.target_id,
                 "bytes per replicated write <= " + fmt(w.target_ratio, 2) + " x Redis's stream (" +
                     w.name + ")",
                 fmt(m, 2) + " vs " + fmt(rd, 2) + " B, ratio " + ratio_text(m, rd),
                 rd > 0 && m / rd <= w.target_ratio});
        }
    }
    out.tables.push_back(table);
}

// ---------------------------------------------------------------------------------------------

void figure_catchup(const Settings& s, Results& out) {
    Table table;
    table.title = "Catch-up after a paused link, and full sync";
    table.note =
        "Catch-up: the link from region 1 to region 2 is paused (MERIDIAN PAUSE at region 1, "
        "and at region 3 so that it does not relay), " +
        std::to_string(s.catchup_ops) +
        " SETs over as many keys are written at region 1 (50 clients, pipeline 16), then the "
        "link is resumed; time until region 2's version vector covers region 1's. Redis: the "
        "relay in front of replica 1 holds both directions (blackhole) during the writes, then "
        "releases them; time until the replica's offset reaches the master's. Full sync: "
        "region 3 / replica 2 starts empty after " +
        std::to_string(s.fullsync_keys) +
        " keys were written (Meridian with a 1 MiB WAL retention, so it cannot catch up from "
        "records); time from process start until it holds everything.";
    table.header = {"measurement", "Meridian", "Redis", "ratio M/R (time)"};

    // Catch-up.
    double m_seconds = 0, r_seconds = 0, m_records = 0;
    {
        progress("catch-up: Meridian");
        MeridianCluster meridian(s.bins, {3, -1, false, ""});
        auto command = [](std::uint16_t port, std::vector<std::string> argv) {
            Client c(port);
            Reply r = c.command(argv);
            if (r.is_error()) throw BenchError(argv[0] + " " + argv[1] + ": " + r.str);
        };
        command(meridian.writer_port(), {"MERIDIAN", "PAUSE", meridian.region_name(1)});
        command(meridian.replica_port(1), {"MERIDIAN", "PAUSE", meridian.region_name(1)});
        LoadSpec spec;
        spec.keys = Keys::sequential;
        spec.clients = s.clients;
        spec.pipeline = 16;
        spec.total_ops = s.catchup_ops;
        LoadResult r = run_load(meridian.writer_port(), spec);
        check_errors("meridian catch-up load", r);
        Client writer(meridian.writer_port());
        const auto peer =
            split_fields(writer.info("replication")["region_" + meridian.region_name(1)]);
        m_records =
            static_cast<double>(to_u64(peer.count("lag_records") ? peer.at("lag_records") : ""));
        const auto want = meridian.version_vector(0);
        const auto t0 = Clock::now();
        command(meridian.writer_port(), {"MERIDIAN", "RESUME", meridian.region_name(1)});
        const bool ok = wait_until(
            [&] {
                auto have = meridian.version_vector(1);
                for (const auto& [origin, seq] : want) {
                    if (origin.rfind(meridian.region_name(0), 0) == 0 && have[origin] < seq) {
                        return false;
                    }
                }
                return true;
            },
            600000, 2);
        m_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        if (!ok) throw BenchError("meridian region 2 never caught up");
        command(meridian.replica_port(1), {"MERIDIAN", "RESUME", meridian.region_name(1)});
        emit("catchup", {{"system", "meridian"},
                         {"ops", std::to_string(r.ops)},
                         {"write_ops_per_sec", fmt(r.ops_per_sec)},
                         {"records_pending", fmt(m_records)},
                         {"seconds", fmt(m_seconds, 3)},
                         {"ops_per_sec", fmt(r.ops / m_seconds)},
                         {"records_per_sec", fmt(m_records / m_seconds)}});
    }
    {
        progress("catch-up: Redis");
        RedisCluster redis(s.bins, {2, -1, true});
        redis.relay(0)->control("blackhole both");
        LoadSpec spec;
        spec.keys = Keys::sequential;
        spec.clients = s.clients;
        spec.pipeline = 16;
        spec.total_ops = s.catchup_ops;
        LoadResult r = run_load(redis.writer_port(), spec);
        check_errors("redis catch-up load", r);
        const auto t0 = Clock::now();
        redis.relay(0)->control("blackhole off");
        if (!redis.wait_replicated(600000)) throw BenchError("redis replica never caught up");
        r_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        emit("catchup", {{"system", "redis"},
                         {"ops", std::to_string(r.ops)},
                         {"seconds", fmt(r_seconds, 3)},
                         {"ops_per_sec", fmt(r.ops / r_seconds)}});
    }
    const double ops = static_cast<double>(s.catchup_ops);
    table.rows.push_back({"catch-up of " + std::to_string(s.catchup_ops) + " writes: seconds",
                          fmt(m_seconds, 3), fmt(r_seconds, 3), ratio_text(m_seconds, r_seconds)});
    table.rows.push_back(
        {"catch-up: writes applied per second", fmt(ops / m_seconds), fmt(ops / r_seconds), ""});
    table.rows.push_back(
        {"catch-up: log records shipped (after coalescing)", fmt(m_records), "n/a", ""});
    table.rows.push_back(
        {"catch-up: records applied per second", fmt(m_records / m_seconds), "n/a", ""});
    out.targets.push_back({"catchup", "catch-up >= 1,000,000 records per second",
                           fmt(m_records / m_seconds) + " records/s (" + fmt(ops / m_seconds) +
                               " writes/s; Redis " + fmt(ops / r_seconds) + " writes/s)",
                           m_records / m_seconds >= 1e6});

    // Full sync.
    double mf_seconds = 0, rf_seconds = 0;
    std::string how;
    {
        progress("full sync: Meridian");
        // Every region snapshots each second and keeps 1 MiB of WAL, so that neither can serve
        // the new region from records. The count alone would not do at region 2: it logs region
        // 1's writes in large batches, few records for many writes.
        const std::uint64_t snap = std::max<std::uint64_t>(1000, s.fullsync_keys / 8);
        MeridianCluster meridian(s.bins,
                                 {3, 2, false,
                                  "wal_retention_bytes = 1048576\nwal_segment_bytes = 262144\n"
                                  "snapshot_every_seconds = 1\nsnapshot_every_records = " +
                                      std::to_string(snap) + "\n"});
        LoadSpec spec;
        spec.keys = Keys::sequential;
        spec.clients = s.clients;
        spec.pipeline = 16;
        spec.total_ops = s.fullsync_keys;
        check_errors("meridian full-sync load", run_load(meridian.writer_port(), spec));
        if (!meridian.wait_replicated(600000)) throw BenchError("region 2 never caught up");
        // Until a snapshot has let both running regions drop the start of their WAL. A smoke
        // run's few keys never fill the 1 MiB retention: nothing to wait for.
        const auto wal_trimmed = [&](std::uint16_t port) {
            Client c(port);
            return to_u64(c.info("persistence")["wal_first_lsn"]) > 1;
        };
        if (!s.smoke) {
            wait_until(
                [&] {
                    return wal_trimmed(meridian.writer_port()) &&
                           wal_trimmed(meridian.replica_port(0));
                },
                30000, 50);
        }
        const auto t0 = Clock::now();
        meridian.start_region(2);
        if (!meridian.wait_replicated(600000)) throw BenchError("region 3 never caught up");
        mf_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        std::uint64_t full_syncs = 0;
        for (std::size_t i = 0; i < 2; ++i) {
            Client c(i == 0 ? meridian.writer_port() : meridian.replica_port(0));
            const auto peer =
                split_fields(c.info("replication")["region_" + meridian.region_name(2)]);
            full_syncs += to_u64(peer.count("full_syncs_sent") ? peer.at("full_syncs_sent") : "");
        }
        how = full_syncs > 0 ? "full sync" : "record catch-up (no full sync happened)";
        emit("fullsync", {{"system", "meridian"},
                          {"keys", std::to_string(s.fullsync_keys)},
                          {"seconds", fmt(mf_seconds, 3)},
                          {"full_syncs_sent", std::to_string(full_syncs)}});
    }
    {
        progress("full sync: Redis");
        RedisCluster redis(s.bins, {2, 1, false});
        LoadSpec spec;
        spec.keys = Keys::sequential;
        spec.clients = s.clients;
        spec.pipeline = 16;
        spec.total_ops = s.fullsync_keys;
        check_errors("redis full-sync load", run_load(redis.writer_port(), spec));
        if (!redis.wait_replicated(600000)) throw BenchError("replica 1 never caught up");
        const auto t0 = Clock::now();
        redis.start_replica(1);
        if (!redis.wait_replicated(600000)) throw BenchError("replica 2 never caught up");
        rf_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        emit("fullsync", {{"system", "redis"},
                          {"keys", std::to_string(s.fullsync_keys)},
                          {"seconds", fmt(rf_seconds, 3)}});
    }
    table.rows.push_back({"new region / replica, " + std::to_string(s.fullsync_keys) +
                              " keys: seconds (Meridian: " + how + ")",
                          fmt(mf_seconds, 3), fmt(rf_seconds, 3),
                          ratio_text(mf_seconds, rf_seconds)});
    table.rows.push_back({"full sync: keys per second",
                          fmt(static_cast<double>(s.fullsync_keys) / mf_seconds),
                          fmt(static_cast<double>(s.fullsync_keys) / rf_seconds), ""});
    out.tables.push_back(table);
}

// ---------------------------------------------------------------------------------------------

void figure_memory(const Settings& s, Results& out) {
    Table table;
    table.title = "Memory per key";
    table.note =
        std::to_string(s.memory_keys) +
        " distinct keys of each type written at region 1 / the master (8 clients, pipeline "
        "16), replicated to all three regions / both replicas; growth of INFO memory "
        "used_memory (each server's own accounting) and of the process RSS, divided by the "
        "number of keys, at the writer and at region 2 / replica 1; for Meridian also its "
        "keyspace alone (used_memory_dataset: used_memory without the in-memory log tail, "
        "log_tail_bytes, a fixed 64 MiB however many keys). Counters are written first, then "
        "LWW registers (16-byte values) into the same servers.";
    table.header = {"keys",
                    "Meridian used_memory B/key (writer / replica)",
                    "Meridian RSS B/key (writer / replica)",
                    "Redis used_memory B/key (writer / replica)",
                    "Redis RSS B/key (writer / replica)",
                    "Meridian keyspace B/key (writer)",
                    "ratio M/R (RSS, writer)"};
    progress("memory: starting systems");
    MeridianCluster meridian(s.bins, {3, -1, false, ""});
    RedisCluster redis(s.bins, {2, -1, false});
    const double n = static_cast<double>(s.memory_keys);
    for (Op op : {Op::incrby, Op::set}) {
        // used w, used r, rss w, rss r, dataset w
        std::map<std::string, std::vector<double>> per_key;
        for (System* sys : {static_cast<System*>(&meridian), static_cast<System*>(&redis)}) {
            sys->wait_replicated(60000);
            const auto w0 = memory_of(sys->writer_port());
            const auto r0 = memory_of(sys->replica_port(0));
            LoadSpec spec;
            spec.op = op;
            spec.keys = Keys::sequential;
            spec.clients = 8;
            spec.pipeline = 16;
            spec.total_ops = s.memory_keys;
            check_errors(sys->name() + " memory load", run_load(sys->writer_port(), spec));
            if (!sys->wait_replicated(600000)) throw BenchError(sys->name() + " never caught up");
            const auto w1 = memory_of(sys->writer_port());
            const auto r1 = memory_of(sys->replica_port(0));
            auto delta = [n](std::uint64_t after, std::uint64_t before) {
                return (static_cast<double>(after) - static_cast<double>(before)) / n;
            };
            per_key[sys->name()] = {delta(w1.used, w0.used), delta(r1.used, r0.used),
                                    delta(w1.rss, w0.rss), delta(r1.rss, r0.rss),
                                    delta(w1.dataset, w0.dataset)};
            const auto& v = per_key[sys->name()];
            emit("memory", {{"system", sys->name()},
                            {"type", op == Op::incrby ? "counter" : "lww"},
                            {"keys", std::to_string(s.memory_keys)},
                            {"used_per_key_writer", fmt(v[0], 1)},
                            {"used_per_key_replica", fmt(v[1], 1)},
                            {"rss_per_key_writer", fmt(v[2], 1)},
                            {"rss_per_key_replica", fmt(v[3], 1)},
                            {"keyspace_per_key_writer", fmt(v[4], 1)}});
        }
        const auto& m = per_key["meridian"];
        const auto& r = per_key["redis"];
        table.rows.push_back({op == Op::incrby ? "counter" : "LWW register",
                              fmt(m[0]) + " / " + fmt(m[1]), fmt(m[2]) + " / " + fmt(m[3]),
                              fmt(r[0]) + " / " + fmt(r[1]), fmt(r[2]) + " / " + fmt(r[3]),
                              fmt(m[4]), ratio_text(m[2], r[2])});
        const bool counters = op == Op::incrby;
        out.targets.push_back(
            {counters ? "memory-counter" : "memory-string",
             std::string("memory per ") + (counters ? "counter" : "small string") +
                 " key <= 1.5 x redis-server's",
             "RSS ratio " + ratio_text(m[2], r[2]) + " (" + fmt(m[2]) + " vs " + fmt(r[2]) +
                 (counters ? " B/key" : " B/key, 16-byte values") + "); used_memory ratio " +
                 ratio_text(m[0], r[0]) + "; Meridian's keyspace alone " + fmt(m[4]) + " B/key (" +
                 ratio_text(m[4], r[2]) + " of Redis's RSS)",
             r[2] > 0 && m[2] / r[2] <= 1.5});
    }
    out.tables.push_back(table);
}

// ---------------------------------------------------------------------------------------------

namespace {

// Fills `key` with members m0 .. m<members-1>: SADDs of 200 members each, 8 in flight.
void fill_set(System& sys, const std::string& key, std::uint64_t members) {
    constexpr std::uint64_t kPerCommand = 200;
    constexpr std::uint64_t kInFlight = 8;
    Client c(sys.writer_port());
    std::uint64_t sent = 0, next = 0;
    auto read_one = [&] {
        Reply r = c.read_reply();
        if (r.is_error()) throw BenchError(sys.name() + " set fill: " + r.str);
        --sent;
    };
    while (next < members) {
        std::vector<std::string> argv = {"SADD", key};
        for (std::uint64_t i = 0; i < kPerCommand && next < members; ++i, ++next)
            argv.push_back("m" + std::to_string(next));
        c.append(argv);
        if (++sent == kInFlight) read_one();
    }
    while (sent > 0) read_one();
    const Reply card = c.command({"SCARD", key});
    if (card.integer != static_cast<long long>(members))
        throw BenchError(sys.name() + " set fill: SCARD " + std::to_string(card.integer) +
                         ", expected " + std::to_string(members));
}

}  // namespace

void figure_large_set(const Settings& s, Results& out) {
    if (s.large_set_sizes.empty()) return;
    Table table;
    table.title = "SADD into one large set";
    table.note = std::to_string(s.clients) +
                 " clients SADD random members to ONE set key that already holds N members "
                 "(members drawn from 2N, so about half are re-adds), 3 regions / master + 2 "
                 "replicas, " +
                 fmt(s.seconds, 1) + " s per run, medians of " + std::to_string(s.repeats) +
                 " alternating runs. The cost of an add should not grow with the set: the "
                 "first size is the small reference.";
    table.header = {"members N",         "pipeline",  "Meridian ops/s",
                    "Redis ops/s",       "ratio M/R", "Meridian p50 / p99 us",
                    "Redis p50 / p99 us"};
    const std::string key = key_for(Op::sadd, 0);
    double lowest = -1;
    std::map<int, std::vector<double>> meridian_by_size;  // pipeline -> ops/s per size, in order
    for (std::uint64_t members : s.large_set_sizes) {
        progress("large set: starting systems (" + std::to_string(members) + " members)");
        MeridianCluster meridian(s.bins, {3, -1, false, ""});
        RedisCluster redis(s.bins, {2, -1, false});
        for (System* sys : {static_cast<System*>(&meridian), static_cast<System*>(&redis)}) {
            const auto t0 = Clock::now();
            fill_set(*sys, key, members);
            if (!sys->wait_replicated(600000)) throw BenchError(sys->name() + " never caught up");
            emit("large_set_fill",
                 {{"system", sys->name()},
                  {"members", std::to_string(members)},
                  {"seconds", fmt(std::chrono::duration<double>(Clock::now() - t0).count(), 2)}});
        }
        for (int pipeline : {1, 16}) {
            std::map<std::string, ThroughputSamples> samples;
            alternate(s.repeats, meridian, redis, [&](System& sys, int rep) {
                LoadSpec spec;
                spec.op = Op::sadd;
                spec.keys = Keys::uniform;
                spec.keyspace = 1;  // the one key, set:0
                spec.members = 2 * members;
                spec.clients = s.clients;
                spec.pipeline = pipeline;
                spec.seconds = s.seconds;
                spec.seed = static_cast<std::uint64_t>(rep + 1);
                LoadResult r = run_load(sys.writer_port(), spec);
                check_errors(sys.name() + " large-set SADD", r);
                auto& smp = samples[sys.name()];
                smp.ops.push_back(r.ops_per_sec);
                smp.p50.push_back(r.p50_us);
                smp.p99.push_back(r.p99_us);
                emit("large_set", {{"system", sys.name()},
                                   {"members", std::to_string(members)},
                                   {"pipeline", std::to_string(pipeline)},
                                   {"rep", std::to_string(rep)},
                                   {"ops_per_sec", fmt(r.ops_per_sec)},
                                   {"p50_us", fmt(r.p50_us)},
                                   {"p99_us", fmt(r.p99_us)}});
                // Not timed: the replicas must keep up, or the next run pays for this one.
                if (!sys.wait_replicated(600000))
                    throw BenchError(sys.name() + " never caught up after the SADDs");
            });
            auto& m = samples["meridian"];
            auto& rd = samples["redis"];
            const double m_ops = median(m.ops), r_ops = median(rd.ops);
            table.rows.push_back({std::to_string(members), std::to_string(pipeline), fmt(m_ops),
                                  fmt(r_ops), ratio_text(m_ops, r_ops),
                                  fmt(median(m.p50)) + " / " + fmt(median(m.p99)),
                                  fmt(median(rd.p50)) + " / " + fmt(median(rd.p99))});
            const double rt = ratio(m_ops, r_ops);
            const bool reference =
                members == s.large_set_sizes.front() && s.large_set_sizes.size() > 1;
            if (!reference && (lowest < 0 || rt < lowest)) lowest = rt;
            meridian_by_size[pipeline].push_back(m_ops);
        }
    }
    out.tables.push_back(table);
    out.targets.push_back(
        {"large-set",
         "SADD into one set of 100k / 1M members with replication >= Redis "
         "with 2 replicas, pipeline 1 and 16",
         "ratio " + fmt(std::max(lowest, 0.0), 2) + " (lowest over set sizes and pipelines)",
         lowest >= 1.0});
    // Meridian against itself: the largest set's rate over the smallest's (0.85: same within the
    // run-to-run noise of this shared machine).
    std::string growth;
    bool flat = true;
    for (const auto& [pipeline, rates] : meridian_by_size) {
        const double g = ratio(rates.back(), rates.front());
        growth += (growth.empty() ? "" : ", ") + std::string("pipeline ") +
                  std::to_string(pipeline) + " " + fmt(g, 2);
        flat = flat && g >= 0.85;
    }
    out.targets.push_back({"large-set-growth",
                           "SADD into a set of " + std::to_string(s.large_set_sizes.back()) +
                               " members costs what it costs in one of " +
                               std::to_string(s.large_set_sizes.front()) +
                               " (Meridian ops/s, largest / smallest >= 0.85)",
                           growth, flat});
}

}  // namespace meridian::bench
