#include "nemesis.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace meridian::chaos {

using Clock = std::chrono::steady_clock;

Nemesis::Nemesis(test::Cluster& cluster, const WorkloadKeys& keys, NemesisOptions options)
    : cluster_(cluster),
      keys_(keys),
      options_(options),
      rng_(options.seed),
      regions_(cluster.region_names()),
      started_(Clock::now()) {
    for (std::size_t i = 0; i < regions_.size(); ++i)
        for (std::size_t j = i + 1; j < regions_.size(); ++j)
            links_.emplace_back(regions_[i], regions_[j]);
}

void Nemesis::log(const std::string& line) const {
    if (!options_.verbose) return;
    const double t = std::chrono::duration<double>(Clock::now() - started_).count();
    std::printf("[%7.2fs] %s\n", t, line.c_str());
    std::fflush(stdout);
}

int Nemesis::between(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
}

void Nemesis::sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

const std::string& Nemesis::any_region() {
    return regions_[std::uniform_int_distribution<std::size_t>(0, regions_.size() - 1)(rng_)];
}

Nemesis::Link Nemesis::any_link() {
    return links_[std::uniform_int_distribution<std::size_t>(0, links_.size() - 1)(rng_)];
}

std::vector<Nemesis::Link> Nemesis::links_of(const std::string& region) const {
    std::vector<Link> out;
    for (const Link& link : links_)
        if (link.first == region || link.second == region) out.push_back(link);
    return out;
}

bool Nemesis::proxy(const Link& link, const std::string& command) {
    const std::string answer = cluster_.proxy(link.first, link.second, command);
    if (answer.rfind("OK", 0) == 0) return true;
    violations_.push_back("the fault proxy " + link.first + "<->" + link.second + " answered \"" +
                          answer + "\" to \"" + command + "\"");
    return false;
}

void Nemesis::block(const Link& link, const std::string& mode) {
    proxy(link, "blackhole " + mode);
}

void Nemesis::restart(const std::string& region) {
    for (int attempt = 1; attempt <= 2; ++attempt) {
        auto started = cluster_.try_start(region);
        if (started) {
            down_.erase(region);
            log("  " + region + " restarted");
            return;
        }
        violations_.push_back("region " + region + " did not restart (attempt " +
                              std::to_string(attempt) + "): " + started.error());
        log("  " + region + " did not restart: see the violations");
        sleep_ms(1000);
    }
}

void Nemesis::check_alive() {
    for (const std::string& region : regions_) {
        if (down_.contains(region) || cluster_.running(region)) continue;
        violations_.push_back("region " + region +
                              " exited although nobody killed it; log tail:\n" +
                              cluster_.log_tail(region, 3000));
        log(region + " exited on its own; restarting it");
        restart(region);
    }
}

void Nemesis::run_until(Clock::time_point deadline) {
    using Fault = void (Nemesis::*)();
    struct Entry {
        const char* name;
        Fault fault;
        int weight;
    };
    static const Entry faults[] = {
        {"delay", &Nemesis::delay, 2},        {"partition", &Nemesis::partition, 2},
        {"one-way", &Nemesis::one_way, 2},    {"isolate", &Nemesis::isolate, 2},
        {"reset", &Nemesis::reset, 1},        {"refuse", &Nemesis::refuse, 1},
        {"swizzle", &Nemesis::swizzle, 1},    {"kill", &Nemesis::kill_restart, 2},
        {"pause", &Nemesis::pause_resume, 2}, {"kill-after-ack", &Nemesis::kill_after_ack, 2},
        {"failover", &Nemesis::failover, 2},  {"isolate-failover", &Nemesis::isolate_failover, 2},
    };
    int total = 0;
    for (const Entry& e : faults) total += e.weight;
    while (Clock::now() < deadline) {
        sleep_ms(between(300, 1500));  // a quiet spell between faults
        if (Clock::now() >= deadline) break;
        int pick = between(0, total - 1);
        const Entry* chosen = &faults[0];
        for (const Entry& e : faults) {
            if (pick < e.weight) {
                chosen = &e;
                break;
            }
            pick -= e.weight;
        }
        ++injected_[chosen->name];
        (this->*chosen->fault)();
        check_alive();
    }
}

void Nemesis::heal() {
    for (const Link& link : links_) {
        proxy(link, "blackhole off");
        proxy(link, "delay 0");
        proxy(link, "refuse off");
    }
    for (const std::string& region : std::set<std::string>(paused_)) {
        cluster_.resume(region);
        paused_.erase(region);
    }
    for (const std::string& region : std::set<std::string>(down_)) restart(region);
    check_alive();
    log("healed: every link passes traffic, every node runs");
}

// ---- faults ------------------------------------------------------------------------------------

void Nemesis::delay() {
    const int ms = between(20, 150), jitter = between(0, ms), hold = between(1500, 5000);
    log("delay " + std::to_string(ms) + " ms + jitter " + std::to_string(jitter) +
        " ms on every link for " + std::to_string(hold) + " ms");
    for (const Link& link : links_)
        proxy(link, "delay " + std::to_string(ms) + " " + std::to_string(jitter));
    sleep_ms(hold);
    for (const Link& link : links_) proxy(link, "delay 0");
}

void Nemesis::partition() {
    const Link link = any_link();
    const int hold = between(1000, 6000);
    log("partition " + link.first + " <-> " + link.second + " for " + std::to_string(hold) + " ms");
    block(link, "both");
    sleep_ms(hold);
    block(link, "off");
}

void Nemesis::one_way() {
    const Link link = any_link();
    const bool forward = between(0, 1) == 0;
    const int hold = between(1000, 6000);
    // The lower region dials, so "forward" is what the lower one sends.
    log("one-way partition: " +
        (forward ? link.first + " -> " + link.second : link.second + " -> " + link.first) +
        " dropped for " + std::to_string(hold) + " ms");
    block(link, forward ? "forward" : "backward");
    sleep_ms(hold);
    block(link, "off");
}

void Nemesis::isolate() {
    const std::string region = any_region();
    const int hold = between(1500, 6000);
    log("isolate " + region + " for " + std::to_string(hold) + " ms");
    for (const Link& link : links_of(region)) block(link, "both");
    sleep_ms(hold);
    for (const Link& link : links_of(region)) block(link, "off");
}

void Nemesis::reset() {
    const Link link = any_link();
    const int times = between(1, 3);
    log("reset " + link.first + " <-> " + link.second + " x" + std::to_string(times));
    for (int i = 0; i < times; ++i) {
        proxy(link, "reset");
        sleep_ms(between(50, 400));
    }
}

void Nemesis::refuse() {
    const Link link = any_link();
    const int hold = between(500, 3000);
    log("reset and refuse " + link.first + " <-> " + link.second + " for " + std::to_string(hold) +
        " ms");
    proxy(link, "refuse on");
    proxy(link, "reset");
    sleep_ms(hold);
    proxy(link, "refuse off");
}

void Nemesis::swizzle() {
    std::vector<Link> order = links_;
    std::shuffle(order.begin(), order.end(), rng_);
    std::string cut;
    for (const Link& link : order) {
        block(link, "both");
        cut += " " + link.first + "<->" + link.second;
        sleep_ms(between(200, 800));
    }
    const int hold = between(500, 2000);
    sleep_ms(hold);
    std::shuffle(order.begin(), order.end(), rng_);
    std::string restored;
    for (const Link& link : order) {
        block(link, "off");
        restored += " " + link.first + "<->" + link.second;
        sleep_ms(between(200, 800));
    }
    log("swizzle: cut" + cut + "; restored" + restored);
}

void Nemesis::kill_restart() {
    const std::string region = any_region();
    const int down = between(200, 3000);
    log("kill -9 " + region + ", restart after " + std::to_string(down) + " ms");
    cluster_.kill9(region);
    down_.insert(region);
    sleep_ms(down);
    restart(region);
}

std::optional<std::string> Nemesis::fail_over(const std::string& region, std::uint64_t from_ms,
                                              std::uint64_t to_ms) {
    std::vector<std::string> live;
    for (const std::string& r : regions_)
        if (r != region && cluster_.running(r) && !paused_.contains(r)) live.push_back(r);
    if (live.empty()) return std::nullopt;
    const std::string to =
        live[static_cast<std::size_t>(between(0, static_cast<int>(live.size()) - 1))];
    const std::string at =
        live[static_cast<std::size_t>(between(0, static_cast<int>(live.size()) - 1))];
    log("  MERIDIAN FAILOVER " + region + " " + to + " at " + at);
    // Refused (no majority, or the region owned no home any more) is a fine outcome too.
    test::RedisClient client = cluster_.client(at, 15000);
    const test::Reply reply = client.command({"MERIDIAN", "FAILOVER", region, to});
    log("  " + reply.describe());
    if (reply.is_error()) return std::nullopt;
    failovers_.push_back({region, from_ms, to_ms});  // committed, or maybe (no answer)
    if (!reply.is_string()) return std::nullopt;
    return to;
}

std::int64_t Nemesis::drain(const std::string& region, const std::string& key) {
    Recorder writer("nemesis", region, cluster_.client_port(region), options_.client_timeout_ms);
    std::int64_t took = 0;
    // A new owner serves once it holds the old owner's writes: -TRYAGAIN until then.
    for (int attempt = 0; attempt < 20 && took == 0; ++attempt) {
        const auto balance = writer.read_number(key);
        if (!balance || *balance <= 0) break;
        const auto outcome = writer.add(key, -*balance);
        if (outcome == Outcome::ok) took = *balance;
        if (outcome != Outcome::failed) break;
        sleep_ms(100);
    }
    for (Op& op : writer.history()) recorder_history_.push_back(std::move(op));
    return took;
}

void Nemesis::failover() {
    const std::string region = any_region();
    if (!cluster_.running(region)) return;
    log("kill -9 " + region + ", then fail it over");
    const std::uint64_t killed_ms = wall_ms();
    cluster_.kill9(region);
    down_.insert(region);
    fail_over(region, killed_ms - static_cast<std::uint64_t>(options_.home_lease_ms), killed_ms);
    sleep_ms(between(200, 2000));
    restart(region);
    close_bounded_window(region);
}

// The floor's window: a home cut off from every region still executes its writes until its
// lease runs out, and ships them only once healed; the new owner's seal must undo them.
void Nemesis::isolate_failover() {
    const std::string region = any_region();
    if (!cluster_.running(region) || paused_.contains(region)) return;
    const std::uint64_t cut_ms = wall_ms();
    for (const Link& link : links_of(region)) block(link, "both");
    // Within its lease the cut-off home still executes: take a whole balance there, which no
    // other region will see before the heal.
    const std::string key = "acct:{" + region + "}:" + std::to_string(between(0, 1));
    const bool home_keys = std::find(keys_.home.begin(), keys_.home.end(), key) != keys_.home.end();
    const std::int64_t late = home_keys ? drain(region, key) : 0;
    log("isolate " + region +
        (late ? ", withdraw " + std::to_string(late) + " from " + key + " there" : "") +
        ", then fail it over");
    sleep_ms(between(0, 300));
    const auto lease = static_cast<std::uint64_t>(options_.home_lease_ms);
    const auto to = fail_over(region, cut_ms - lease, cut_ms + lease + 100);
    // The new owner never saw that withdrawal: it may take the same balance again. Merged
    // without the seal, the two would leave the balance below its floor.
    if (late > 0 && to)
        log("  withdraw " + std::to_string(drain(*to, key)) + " from " + key + " at " + *to);
    sleep_ms(between(300, 2000));
    for (const Link& link : links_of(region)) block(link, "off");
    log("  " + region + " healed");
    close_bounded_window(region);
    if (late == 0) return;
    // Watch the two withdrawals meet: the checker flags any read below the floor.
    Recorder watcher("nemesis", region, cluster_.client_port(region), options_.client_timeout_ms);
    for (int i = 0; i < 10; ++i) {
        (void)watcher.read_number(key);
        sleep_ms(100);
    }
    for (Op& op : watcher.history()) recorder_history_.push_back(std::move(op));
}

// A region back from a failover learns of its retirement within a lease renewal or two of its
// links coming up; until then its bounded-counter writes may be undone (CheckOptions::Failover).
void Nemesis::close_bounded_window(const std::string& region) {
    for (auto& f : failovers_)
        if (f.home == region && f.bounded_to_ms == 0)
            f.bounded_to_ms = wall_ms() + 3 * static_cast<std::uint64_t>(options_.home_lease_ms) +
                              static_cast<std::uint64_t>(options_.peer_timeout_ms);
}

void Nemesis::pause_resume() {
    const std::string region = any_region();
    const int hold = options_.peer_timeout_ms + between(300, 3000);
    if (!cluster_.running(region)) return;  // one that would not restart
    log("SIGSTOP " + region + " for " + std::to_string(hold) + " ms");
    cluster_.pause(region);
    paused_.insert(region);
    sleep_ms(hold);
    cluster_.resume(region);
    paused_.erase(region);
}

void Nemesis::kill_after_ack() {
    const std::string region = any_region();
    // Cut the region off first, so what it acknowledges cannot have left it when it dies.
    for (const Link& link : links_of(region)) block(link, "both");
    sleep_ms(between(50, 300));
    Recorder writer("nemesis", region, cluster_.client_port(region), options_.client_timeout_ms);
    const int writes = between(3, 12);
    int acked = 0;
    for (int i = 0; i < writes; ++i) {
        const std::string name = "nemesis#" + std::to_string(nemesis_writes_++);
        std::optional<Outcome> outcome;
        switch (between(0, 2)) {
            case 0: {
                const auto& key =
                    keys_.counters[between(0, static_cast<int>(keys_.counters.size()) - 1)];
                outcome = writer.add(key, between(1, 9));
                break;
            }
            case 1: {
                const auto& key = keys_.sets[between(0, static_cast<int>(keys_.sets.size()) - 1)];
                outcome = writer.set_add(key, name);
                break;
            }
            default: {
                const auto& key =
                    keys_.registers[between(0, static_cast<int>(keys_.registers.size()) - 1)];
                outcome = writer.assign(key, name);
                break;
            }
        }
        acked += outcome == Outcome::ok ? 1 : 0;
    }
    cluster_.kill9(region);  // right after the last answer
    down_.insert(region);
    for (Op& op : writer.history()) recorder_history_.push_back(std::move(op));
    log("kill -9 " + region + " right after it acknowledged " + std::to_string(acked) + " of " +
        std::to_string(writes) + " writes while isolated");
    sleep_ms(between(200, 1000));
    restart(region);
    for (const Link& link : links_of(region)) block(link, "off");
}

}  // namespace meridian::chaos
