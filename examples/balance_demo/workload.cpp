#include "workload.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>
#include <thread>

#include "resp_client.hpp"

namespace meridian::demo {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int command_timeout_ms = 5000;
constexpr double deposit_probability =
    0.45;  // withdrawals a little more often: the balance hugs zero
constexpr auto sample_period = 10ms;
constexpr auto final_convergence_limit = 30s;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- What a register holds ------------------------------------------------
// The lww row stores "<balance> <operation id>", the way an application that
// keeps a balance in a plain value would, plus the id of the write, so the
// demo can tell afterwards which acknowledged writes the final value reflects.

struct LwwValue {
    std::int64_t balance = 0;
    std::string op;  // "" for a missing key
};

std::optional<LwwValue> parse_lww(const Reply& reply) {
    if (reply.kind == Reply::Kind::nil) return LwwValue{};
    if (reply.kind != Reply::Kind::string) return std::nullopt;
    const std::string& text = reply.text;
    LwwValue value;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value.balance);
    if (ec != std::errc()) return std::nullopt;
    if (end != text.data() + text.size() && *end == ' ')
        value.op.assign(end + 1, text.data() + text.size());
    return value;
}

// A counter's value as GET answers it: a missing key is 0.
std::optional<std::int64_t> parse_counter(const Reply& reply) {
    if (reply.kind == Reply::Kind::nil) return 0;
    return reply.as_number();
}

std::optional<std::int64_t> read_balance(RespClient& client, const Account& account) {
    const Reply reply = client.command({"GET", account.key});
    if (account.kind != PolicyKind::lww) return parse_counter(reply);
    auto value = parse_lww(reply);
    return value ? std::optional(value->balance) : std::nullopt;
}

// --- Version vectors ------------------------------------------------------
// MERIDIAN VV answers "us-east.0:12 eu-west.0:7": origin.epoch -> highest seq.

using VersionVector = std::map<std::string, std::uint64_t>;

std::optional<VersionVector> read_vv(RespClient& client) {
    const Reply reply = client.command({"MERIDIAN", "VV"});
    if (reply.kind != Reply::Kind::string) return std::nullopt;
    VersionVector vv;
    std::size_t at = 0;
    const std::string& text = reply.text;
    while (at < text.size()) {
        std::size_t end = text.find(' ', at);
        if (end == std::string::npos) end = text.size();
        const std::string entry = text.substr(at, end - at);
        const auto colon = entry.rfind(':');
        if (colon != std::string::npos)
            vv[entry.substr(0, colon)] = std::stoull(entry.substr(colon + 1));
        at = end + 1;
    }
    return vv;
}

bool covers(const VersionVector& have, const VersionVector& need) {
    return std::all_of(need.begin(), need.end(), [&](const auto& entry) {
        auto it = have.find(entry.first);
        return it != have.end() && it->second >= entry.second;
    });
}

// --- One client -----------------------------------------------------------

struct LwwWrite {
    std::string parent;  // the operation whose value this write read
    bool acknowledged = false;
};

struct ClientLog {
    std::int64_t implied = 0;
    std::int64_t acknowledged = 0, declined = 0, refused = 0, unknown = 0, read_errors = 0;
    std::map<std::string, std::int64_t> refusals;
    std::vector<double> latencies_ms;
    std::map<std::string, LwwWrite> lww_writes;  // by operation id
};

// How a refusal reads in the table's notes: the error's first word, or the
// phrase that says why a balance write was refused.
std::string refusal_reason(const Reply& reply) {
    if (reply.error_starts_with("ERR insufficient balance")) return "insufficient balance";
    return reply.text.substr(0, reply.text.find(' '));
}

struct ClientSpec {
    std::size_t region;  // index into the cluster's regions
    int number;          // within its region, from 1
    std::string region_name;
    std::uint16_t port;
    bool measure_latency;
};

void run_client(const ClientSpec& spec, const Account& account, const WorkloadOptions& options,
                const std::atomic<bool>& done, std::atomic<std::int64_t>& operations,
                ClientLog& log) {
    // Every row replays the same intentions: the generator depends on the seed
    // and the client, not on the policy.
    std::seed_seq seeds{options.seed, static_cast<std::uint64_t>(spec.region),
                        static_cast<std::uint64_t>(spec.number)};
    std::mt19937_64 random(seeds);
    std::bernoulli_distribution is_deposit(deposit_probability);
    std::uniform_int_distribution<std::int64_t> amount_of(1, options.max_amount);
    std::exponential_distribution<double> pause_ms(1.0 / std::max(1, options.think_ms));

    RespClient client("127.0.0.1", spec.port, command_timeout_ms);
    const std::string op_prefix = spec.region_name + "." + std::to_string(spec.number) + ".";
    std::int64_t sequence = 0;

    while (!done.load(std::memory_order_relaxed)) {
        const bool deposit = is_deposit(random);
        const std::int64_t amount = amount_of(random);
        const std::int64_t delta = deposit ? amount : -amount;
        const auto pause = std::chrono::duration<double, std::milli>(pause_ms(random));

        std::vector<std::string> write;
        std::string op;
        std::string parent;
        if (account.kind == PolicyKind::lww || (account.kind == PolicyKind::counter && !deposit)) {
            // Without a floor in the store, the application guards it: read,
            // check, then write -- and races with every other region doing the same.
            const Reply read = client.command({"GET", account.key});
            std::optional<std::int64_t> balance;
            if (account.kind == PolicyKind::lww) {
                auto value = parse_lww(read);
                if (value) balance = value->balance, parent = value->op;
            } else {
                balance = parse_counter(read);
            }
            if (!balance) {
                ++log.read_errors;  // nothing written
                std::this_thread::sleep_for(pause);
                continue;
            }
            if (!deposit && *balance < amount) {
                ++log.declined;
                ++operations;
                std::this_thread::sleep_for(pause);
                continue;
            }
            if (account.kind == PolicyKind::lww) {
                op = op_prefix + std::to_string(++sequence);
                write = {"SET", account.key, std::to_string(*balance + delta) + " " + op};
            }
        }
        if (write.empty()) {
            write = {deposit ? "INCRBY" : "DECRBY", account.key, std::to_string(amount)};
        }

        const auto sent = Clock::now();
        const Reply reply = client.command(write);
        const double latency_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        ++operations;
        if (reply.is_io_error() || reply.error_starts_with("TIMEOUT")) {
            ++log.unknown;  // it may or may not have been applied
        } else if (reply.is_error()) {
            ++log.refused;
            ++log.refusals[refusal_reason(reply)];
        } else {
            ++log.acknowledged;
            log.implied += delta;
        }
        if (spec.measure_latency && !reply.is_io_error()) log.latencies_ms.push_back(latency_ms);
        if (!op.empty())
            log.lww_writes[op] = LwwWrite{parent, !reply.is_error() && !reply.is_io_error()};
        std::this_thread::sleep_for(pause);
    }
}

// --- The sampler ------------------------------------------------------------

struct SamplerLog {
    std::int64_t samples = 0, below_zero = 0, lowest = 0;
};

void run_sampler(const LocalCluster& cluster, const Account& account, const std::atomic<bool>& done,
                 std::vector<std::atomic<std::int64_t>>& latest, SamplerLog& log) {
    std::vector<RespClient> clients;
    for (const RegionEndpoint& region : cluster.regions()) {
        clients.emplace_back("127.0.0.1", region.client_port, command_timeout_ms);
    }
    while (!done.load(std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            auto balance = read_balance(clients[i], account);
            if (!balance) continue;
            ++log.samples;
            if (*balance < 0) ++log.below_zero;
            log.lowest = std::min(log.lowest, *balance);
            latest[i] = *balance;
        }
        std::this_thread::sleep_for(sample_period);
    }
}

// --- Partition and heal -------------------------------------------------------

// Sends MERIDIAN PAUSE/RESUME on both sides of every link of `isolated`.
std::string set_partition(std::vector<RespClient>& control, const LocalCluster& cluster,
                          std::size_t isolated, bool cut) {
    const char* verb = cut ? "PAUSE" : "RESUME";
    const auto& regions = cluster.regions();
    std::string problems;
    auto send = [&](std::size_t at, const std::string& peer) {
        const Reply reply = control[at].command({"MERIDIAN", verb, peer});
        if (reply.is_error() || reply.is_io_error()) {
            problems +=
                regions[at].name + ": MERIDIAN " + verb + " " + peer + ": " + reply.text + "\n";
        }
    };
    for (std::size_t other = 0; other < regions.size(); ++other) {
        if (other == isolated) continue;
        send(isolated, regions[other].name);
        send(other, regions[isolated].name);
    }
    return problems;
}

double percentile(std::vector<double>& values, double p) {
    const std::size_t at = std::min(values.size() - 1, static_cast<std::size_t>(p * values.size()));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at),
                     values.end());
    return values[at];
}

// How many acknowledged lww writes the final value reflects: the chain of
// writes, each of which read the value the one before it wrote.
std::int64_t surviving_lww_writes(const std::map<std::string, LwwWrite>& writes, std::string op) {
    std::int64_t surviving = 0;
    for (std::size_t steps = 0; !op.empty() && steps <= writes.size(); ++steps) {
        auto it = writes.find(op);
        if (it == writes.end()) break;
        if (it->second.acknowledged) ++surviving;
        op = it->second.parent;
    }
    return surviving;
}

}  // namespace

std::vector<Account> demo_accounts(const std::string& home_region) {
    return {
        {PolicyKind::lww, "lww", "lww:acct1"},
        {PolicyKind::counter, "counter", "counter:acct1"},
        {PolicyKind::home, "home", "home:{" + home_region + "}:acct1"},
        {PolicyKind::bounded, "bounded", "bounded:acct1"},
    };
}

RowResult run_row(const LocalCluster& cluster, const Account& account,
                  const WorkloadOptions& options, const std::atomic<bool>& stop,
                  const ProgressFn& progress) {
    const auto& regions = cluster.regions();
    RowResult result;
    result.account = account;

    std::vector<RespClient> control;
    for (const RegionEndpoint& region : regions) {
        control.emplace_back("127.0.0.1", region.client_port, command_timeout_ms);
    }

    // Clients and the sampler.
    std::atomic<bool> done{false};
    std::atomic<std::int64_t> operations{0};
    std::vector<ClientSpec> specs;
    for (std::size_t r = 0; r < regions.size(); ++r) {
        for (int n = 1; n <= options.clients_per_region; ++n) {
            specs.push_back(
                {r, n, regions[r].name, regions[r].client_port, r == options.latency_region});
        }
    }
    std::vector<ClientLog> logs(specs.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        threads.emplace_back(run_client, std::cref(specs[i]), std::cref(account),
                             std::cref(options), std::cref(done), std::ref(operations),
                             std::ref(logs[i]));
    }
    std::vector<std::atomic<std::int64_t>> latest(regions.size());
    SamplerLog sampled;
    std::thread sampler(run_sampler, std::cref(cluster), std::cref(account), std::cref(done),
                        std::ref(latest), std::ref(sampled));

    // The schedule: linked, partitioned (the middle third), healed.
    const auto start = Clock::now();
    const double cut_at = options.seconds / 3, heal_at = 2 * options.seconds / 3;
    const std::string isolated = regions[options.isolated_region].name;
    enum class Phase { linked, partitioned, healed } phase = Phase::linked;
    std::vector<VersionVector> before_heal;
    std::optional<Clock::time_point> healed_at;
    auto last_report = Clock::now() - 1s;
    auto report = [&](const std::string& what) {
        RowResult so_far;  // what the progress line shows: operations so far, balances sampled
        so_far.account = account;
        so_far.acknowledged = operations;
        for (const auto& balance : latest) so_far.final_balance.push_back(balance.load());
        progress(what, seconds_since(start), so_far);
    };

    while (seconds_since(start) < options.seconds && !stop) {
        const double now = seconds_since(start);
        if (phase == Phase::linked && now >= cut_at) {
            result.problem += set_partition(control, cluster, options.isolated_region, true);
            phase = Phase::partitioned;
        } else if (phase == Phase::partitioned && now >= heal_at) {
            for (RespClient& c : control)
                before_heal.push_back(read_vv(c).value_or(VersionVector{}));
            result.problem += set_partition(control, cluster, options.isolated_region, false);
            healed_at = Clock::now();
            phase = Phase::healed;
        }
        if (healed_at && !result.converge_ms) {
            // Converged once every region holds every write made before the heal.
            VersionVector needed;
            for (const VersionVector& vv : before_heal) {
                for (const auto& [origin, seq] : vv) needed[origin] = std::max(needed[origin], seq);
            }
            bool all = true;
            for (RespClient& c : control) {
                auto vv = read_vv(c);
                all = all && vv && covers(*vv, needed);
            }
            if (all)
                result.converge_ms =
                    std::chrono::duration<double, std::milli>(Clock::now() - *healed_at).count();
        }
        if (Clock::now() - last_report >= 250ms) {
            last_report = Clock::now();
            report(phase == Phase::linked        ? "linked"
                   : phase == Phase::partitioned ? isolated + " cut off"
                                                 : "healed");
        }
        std::this_thread::sleep_for(healed_at && !result.converge_ms ? 2ms : 20ms);
    }
    if (phase == Phase::partitioned) {  // stopped early: never leave the cluster split
        result.problem += set_partition(control, cluster, options.isolated_region, false);
    }
    done = true;
    for (std::thread& t : threads) t.join();
    sampler.join();

    // Totals.
    result.acknowledged = 0;
    std::vector<double> latencies;
    std::map<std::string, LwwWrite> lww_writes;
    for (ClientLog& log : logs) {
        result.implied += log.implied;
        result.acknowledged += log.acknowledged;
        result.declined += log.declined;
        result.refused += log.refused;
        result.unknown += log.unknown;
        result.read_errors += log.read_errors;
        for (const auto& [reason, count] : log.refusals) result.refusals[reason] += count;
        latencies.insert(latencies.end(), log.latencies_ms.begin(), log.latencies_ms.end());
        lww_writes.merge(log.lww_writes);
    }
    result.samples = sampled.samples;
    result.below_zero = sampled.below_zero;
    result.lowest = sampled.lowest;
    if (!latencies.empty()) {
        result.p50_ms = percentile(latencies, 0.50);
        result.p99_ms = percentile(latencies, 0.99);
    }

    // Wait until every region holds the same writes and shows the same balance.
    const auto converging = Clock::now();
    std::optional<LwwValue> final_lww;
    while (true) {
        std::vector<std::optional<VersionVector>> vvs;
        for (RespClient& c : control) vvs.push_back(read_vv(c));
        result.final_balance.assign(regions.size(), std::nullopt);
        for (std::size_t i = 0; i < regions.size(); ++i)
            result.final_balance[i] = read_balance(control[i], account);
        const bool same_writes = std::all_of(vvs.begin(), vvs.end(),
                                             [&](const auto& vv) { return vv && *vv == *vvs[0]; });
        const bool same_balance =
            std::all_of(result.final_balance.begin(), result.final_balance.end(),
                        [&](const auto& b) { return b && *b == *result.final_balance[0]; });
        if (same_writes && same_balance) {
            result.converged = true;
            if (account.kind == PolicyKind::lww)
                final_lww = parse_lww(control[0].command({"GET", account.key}));
            break;
        }
        if (stop) {
            result.problem += "interrupted before the regions converged\n";
            break;
        }
        if (Clock::now() - converging > final_convergence_limit) {
            result.problem += "the regions did not converge within " +
                              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                 final_convergence_limit)
                                                 .count()) +
                              " s after the writes stopped\n";
            break;
        }
        report("converging");
        std::this_thread::sleep_for(20ms);
    }

    if (result.converged) {
        const std::int64_t final = *result.final_balance[0];
        if (account.kind == PolicyKind::lww) {
            if (final_lww)
                result.lost = result.acknowledged - surviving_lww_writes(lww_writes, final_lww->op);
        } else if (final == result.implied) {
            result.lost = 0;
        }
    }
    return result;
}

}  // namespace meridian::demo
