// Writes during a backup (issue 15): steady SETs without pipelining, timed per command, once
// with no backup running and once while MERIDIAN BACKUP runs (Redis: while BGSAVE runs), in the
// same run on the same machine. The question is whether a backup stalls writes, so the figure
// compares each system's tail during its backup with its own tail without one, and Meridian's
// tail during a backup with Redis's during BGSAVE.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "figures.hpp"
#include "load.hpp"

namespace meridian::bench {

namespace {

// "1M", "10k": the key counts as the target's text says them.
std::string count_text(std::uint64_t n) {
    if (n >= 1000000 && n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
    if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
    return std::to_string(n);
}

std::uint64_t bytes_under(const std::string& path) {
    std::uint64_t total = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) total += entry.file_size();
    }
    return total;
}

struct BackupRun {
    std::uint64_t bytes = 0;        // on disk when it finished
    std::uint64_t reported_ms = 0;  // the system's own count of the backup's time, 0 if none
};

// MERIDIAN BACKUP answers once the backup is written and every file was read back and checked.
BackupRun meridian_backup(std::uint16_t port, const std::string& dir) {
    Client c(port, 600000);
    const Reply r = c.command({"MERIDIAN", "BACKUP", dir});
    if (r.is_error() || r.str.rfind("OK backup verified", 0) != 0) {
        throw BenchError("MERIDIAN BACKUP " + dir + ": " + r.str);
    }
    BackupRun run;
    run.bytes = bytes_under(dir);
    run.reported_ms = to_u64(c.info("persistence")["last_backup_duration_ms"]);
    return run;
}

// BGSAVE answers at once; the snapshot is done when INFO says no background save is running.
BackupRun redis_bgsave(std::uint16_t port) {
    Client c(port, 600000);
    const Reply r = c.command({"BGSAVE"});
    if (r.is_error()) throw BenchError("BGSAVE: " + r.str);
    if (!wait_until([&] { return c.info("persistence")["rdb_bgsave_in_progress"] == "0"; }, 600000,
                    5)) {
        throw BenchError("BGSAVE did not finish");
    }
    auto info = c.info("persistence");
    if (info["rdb_last_bgsave_status"] != "ok") {
        throw BenchError("BGSAVE failed: rdb_last_bgsave_status " + info["rdb_last_bgsave_status"]);
    }
    const Reply dir = c.command({"CONFIG", "GET", "dir"});
    const Reply file = c.command({"CONFIG", "GET", "dbfilename"});
    if (dir.elements.size() != 2 || file.elements.size() != 2) {
        throw BenchError("CONFIG GET dir / dbfilename: unexpected reply");
    }
    BackupRun run;
    run.bytes = std::filesystem::file_size(dir.elements[1].str + "/" + file.elements[1].str);
    run.reported_ms = to_u64(info["rdb_last_bgsave_time_sec"]) * 1000;
    return run;
}

// Snapshots or forks the system starts by itself: none should run inside a measured window.
std::uint64_t background_saves(System& sys) {
    Client c(sys.writer_port());
    if (sys.name() == "meridian") return to_u64(c.info("persistence")["snapshots_taken"]);
    return to_u64(c.info("stats")["total_forks"]);
}

bool persistence_quiet(System& sys) {
    Client c(sys.writer_port());
    auto info = c.info("persistence");
    if (sys.name() == "meridian") {
        return info["snapshot_in_progress"] == "0" && info["backup_in_progress"] == "0";
    }
    return info["rdb_bgsave_in_progress"] == "0" && info["aof_rewrite_in_progress"] == "0";
}

// Latencies of the commands sent in [from, to).
std::vector<double> sent_between(const std::vector<TimedCommand>& timeline, Clock::time_point from,
                                 Clock::time_point to) {
    std::vector<double> out;
    for (const TimedCommand& c : timeline) {
        if (c.sent >= from && c.sent < to) out.push_back(c.latency_us);
    }
    return out;
}

// One system's samples, pooled over its runs.
struct Pooled {
    std::vector<double> idle_us, during_us;
    double idle_seconds = 0, during_seconds = 0;
    std::vector<double> backup_seconds, backup_bytes;
};

struct Percentiles {
    double p50 = 0, p99 = 0, p999 = 0;
    std::string text() const { return fmt(p50) + " / " + fmt(p99) + " / " + fmt(p999); }
};

Percentiles percentiles(std::vector<double> v) {
    return {quantile(v, 0.50), quantile(v, 0.99), quantile(v, 0.999)};
}

// Stops the load thread and waits for it, also when the backup in between throws.
class LoadThread {
public:
    LoadThread(std::uint16_t port, LoadSpec spec) : spec_(std::move(spec)) {
        spec_.stop = &stop_;
        thread_ = std::thread([this, port] {
            try {
                result_ = run_load(port, spec_);
            } catch (const std::exception& e) {
                failure_ = e.what();
            }
        });
    }
    ~LoadThread() { stop_and_wait(); }
    LoadThread(const LoadThread&) = delete;
    LoadThread& operator=(const LoadThread&) = delete;

    const LoadResult& join() {
        stop_and_wait();
        if (!failure_.empty()) throw BenchError(failure_);
        return result_;
    }

private:
    void stop_and_wait() noexcept {
        stop_.store(true);
        if (thread_.joinable()) thread_.join();
    }

    LoadSpec spec_;
    std::atomic<bool> stop_{false};
    LoadResult result_;
    std::string failure_;
    std::thread thread_;
};

}  // namespace

void figure_backup(const Settings& s, Results& out) {
    const std::string keys = count_text(s.backup_keys);
    const double warmup_seconds = s.smoke ? 0.1 : 0.5;
    Table table;
    table.title = "Writes during a backup";
    table.note =
        std::to_string(s.backup_keys) +
        " keys (SET, 16-byte values) are loaded into 3 regions / a master with 2 replicas; " +
        std::to_string(s.backup_clients) +
        " clients then SET random keys among them without pipelining. Per run: " +
        fmt(warmup_seconds, 1) + " s of warm-up, " + fmt(s.backup_idle_seconds, 1) +
        " s without a backup (idle), then a backup at region 1 / the master: MERIDIAN BACKUP "
        "into an empty directory (answers once every file is written, fsynced, read back and "
        "checked) and BGSAVE (done when INFO persistence says rdb_bgsave_in_progress:0, polled "
        "every 5 ms). \"During\" counts the SETs sent from the backup command until it was "
        "done. Percentiles pool the commands of " +
        std::to_string(s.repeats) +
        " runs per system (the systems alternate which goes first); backup duration and size "
        "are medians. Meridian's periodic snapshots and Redis's automatic AOF rewrites are off, "
        "so the backup is the only snapshot in either window.";
    table.header = {"system",
                    "backup",
                    "idle p50 / p99 / p99.9 us",
                    "idle SET/s",
                    "during p50 / p99 / p99.9 us",
                    "during SET/s",
                    "backup s",
                    "backup MB",
                    "p99 during / idle"};

    progress("backup: starting systems");
    MeridianCluster meridian(s.bins, {3, -1, false,
                                      "snapshot_every_records = 1000000000000\n"
                                      "snapshot_every_seconds = 1000000\n"});
    RedisCluster redis(s.bins, {2, -1, false});
    for (std::uint16_t port : {redis.writer_port(), redis.replica_port(0), redis.replica_port(1)}) {
        Client c(port);
        const Reply r = c.command({"CONFIG", "SET", "auto-aof-rewrite-percentage", "0"});
        if (r.is_error()) throw BenchError("CONFIG SET auto-aof-rewrite-percentage: " + r.str);
    }
    for (System* sys : {static_cast<System*>(&meridian), static_cast<System*>(&redis)}) {
        progress("backup: loading " + keys + " keys into " + sys->name());
        LoadSpec spec;
        spec.keys = Keys::sequential;
        spec.clients = 8;
        spec.pipeline = 16;
        spec.total_ops = s.backup_keys;
        check_errors(sys->name() + " backup load", run_load(sys->writer_port(), spec));
        if (!sys->wait_replicated(600000)) throw BenchError(sys->name() + " never caught up");
    }

    ScratchDir backups;
    std::map<std::string, Pooled> pooled;
    alternate(s.repeats, meridian, redis, [&](System& sys, int rep) {
        const bool is_meridian = sys.name() == "meridian";
        if (!sys.wait_replicated(600000)) throw BenchError(sys.name() + " never caught up");
        if (!wait_until([&] { return persistence_quiet(sys); }, 600000, 20)) {
            throw BenchError(sys.name() + ": a snapshot or rewrite never finished");
        }
        const std::uint64_t saves_before = background_saves(sys);
        const std::string dir = backups.path() + "/" + sys.name() + "-" + std::to_string(rep);

        LoadSpec spec;
        spec.op = Op::set;
        spec.keys = Keys::uniform;
        spec.keyspace = s.backup_keys;
        spec.clients = s.backup_clients;
        spec.pipeline = 1;
        spec.seconds = 600;  // a bound: the load stops once the backup is done
        spec.timeline = true;
        spec.seed = static_cast<std::uint64_t>(rep + 31);
        LoadThread load(sys.writer_port(), spec);
        std::this_thread::sleep_for(std::chrono::duration<double>(warmup_seconds));
        const auto idle_from = Clock::now();
        std::this_thread::sleep_for(std::chrono::duration<double>(s.backup_idle_seconds));
        const auto sent = Clock::now();
        const BackupRun backup =
            is_meridian ? meridian_backup(sys.writer_port(), dir) : redis_bgsave(sys.writer_port());
        const auto done = Clock::now();
        const LoadResult& r = load.join();
        check_errors(sys.name() + " writes during backup", r);
        // The backup itself is one fork for Redis; anything more was not ours.
        const std::uint64_t others = background_saves(sys) - saves_before - (is_meridian ? 0 : 1);
        if (others > 0) {
            progress("backup: " + sys.name() + " ran " + std::to_string(others) +
                     " snapshot(s) of its own during the run");
        }

        Pooled& p = pooled[sys.name()];
        std::vector<double> idle = sent_between(r.timeline, idle_from, sent);
        std::vector<double> during = sent_between(r.timeline, sent, done);
        const double idle_seconds = std::chrono::duration<double>(sent - idle_from).count();
        const double during_seconds = std::chrono::duration<double>(done - sent).count();
        const Percentiles pi = percentiles(idle), pd = percentiles(during);
        const double during_max =
            during.empty() ? 0 : *std::max_element(during.begin(), during.end());
        p.idle_us.insert(p.idle_us.end(), idle.begin(), idle.end());
        p.during_us.insert(p.during_us.end(), during.begin(), during.end());
        p.idle_seconds += idle_seconds;
        p.during_seconds += during_seconds;
        p.backup_seconds.push_back(during_seconds);
        p.backup_bytes.push_back(static_cast<double>(backup.bytes));
        emit(
            "backup",
            {{"system", sys.name()},
             {"keys", std::to_string(s.backup_keys)},
             {"rep", std::to_string(rep)},
             {"idle_ops_per_sec", fmt(ratio(static_cast<double>(idle.size()), idle_seconds))},
             {"idle_p50_us", fmt(pi.p50)},
             {"idle_p99_us", fmt(pi.p99)},
             {"idle_p999_us", fmt(pi.p999)},
             {"during_ops_per_sec", fmt(ratio(static_cast<double>(during.size()), during_seconds))},
             {"during_p50_us", fmt(pd.p50)},
             {"during_p99_us", fmt(pd.p99)},
             {"during_p999_us", fmt(pd.p999)},
             {"during_max_us", fmt(during_max)},
             {"backup_seconds", fmt(during_seconds, 3)},
             {"reported_ms", std::to_string(backup.reported_ms)},
             {"backup_bytes", std::to_string(backup.bytes)},
             {"other_snapshots", std::to_string(others)}});
        if (is_meridian) std::filesystem::remove_all(dir);
        // Not timed: the replicas must keep up, or the next run pays for this one.
        if (!sys.wait_replicated(600000)) throw BenchError(sys.name() + " never caught up");
    });

    struct Row {
        Percentiles idle, during;
        double idle_ops = 0, during_ops = 0, seconds = 0, megabytes = 0;
    };
    std::map<std::string, Row> rows;
    for (const char* name : {"meridian", "redis"}) {
        Pooled& p = pooled[name];
        rows[name] = {percentiles(p.idle_us),
                      percentiles(p.during_us),
                      ratio(static_cast<double>(p.idle_us.size()), p.idle_seconds),
                      ratio(static_cast<double>(p.during_us.size()), p.during_seconds),
                      median(p.backup_seconds),
                      median(p.backup_bytes) / 1e6};
    }
    const Row& m = rows["meridian"];
    const Row& rd = rows["redis"];
    auto add_row = [&](const std::string& system, const std::string& how, const Row& row) {
        table.rows.push_back({system, how, row.idle.text(), fmt(row.idle_ops), row.during.text(),
                              fmt(row.during_ops), fmt(row.seconds, 2), fmt(row.megabytes, 1),
                              ratio_text(row.during.p99, row.idle.p99)});
    };
    add_row("Meridian", "MERIDIAN BACKUP (verified)", m);
    add_row("Redis", "BGSAVE", rd);
    table.rows.push_back(
        {"ratio M/R", "",
         ratio_text(m.idle.p50, rd.idle.p50) + " / " + ratio_text(m.idle.p99, rd.idle.p99) + " / " +
             ratio_text(m.idle.p999, rd.idle.p999),
         ratio_text(m.idle_ops, rd.idle_ops),
         ratio_text(m.during.p50, rd.during.p50) + " / " + ratio_text(m.during.p99, rd.during.p99) +
             " / " + ratio_text(m.during.p999, rd.during.p999),
         ratio_text(m.during_ops, rd.during_ops), ratio_text(m.seconds, rd.seconds),
         ratio_text(m.megabytes, rd.megabytes), ""});
    out.tables.push_back(table);
    out.targets.push_back(
        {"backup-p99",
         "p99 SET latency during a backup of " + keys +
             " keys <= Redis's during BGSAVE (ratio <= 1.0)",
         fmt(m.during.p99) + " vs " + fmt(rd.during.p99) + " us, ratio " +
             ratio_text(m.during.p99, rd.during.p99) + "; p99 during / idle: Meridian " +
             ratio_text(m.during.p99, m.idle.p99) + ", Redis " +
             ratio_text(rd.during.p99, rd.idle.p99),
         rd.during.p99 > 0 && m.during.p99 > 0 && m.during.p99 / rd.during.p99 <= 1.0});
}

}  // namespace meridian::bench
