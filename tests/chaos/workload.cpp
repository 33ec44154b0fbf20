#include "workload.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace meridian::chaos {

namespace {

constexpr std::int64_t kMaxTtlMs = 1500;  // tmp:* keys: SET ... PX of 100 to this many ms

std::vector<std::string> numbered(const std::string& prefix, int count) {
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) keys.push_back(prefix + std::to_string(i));
    return keys;
}

}  // namespace

const std::vector<std::string> WorkloadKeys::number_fields = {"n0", "n1", "n2", "n3"};
const std::vector<std::string> WorkloadKeys::text_fields = {"t0", "t1"};

WorkloadKeys WorkloadKeys::make(const std::vector<std::string>& regions, bool with_home) {
    WorkloadKeys keys;
    keys.counters = numbered("cnt:", 6);
    keys.bounded = numbered("bc:", 3);
    keys.sets = numbered("set:", 6);
    keys.registers = numbered("reg:", 6);
    keys.expiring = numbered("tmp:", 4);
    keys.hashes = numbered("obj:", 3);
    if (with_home) {
        for (const std::string& region : regions) {
            for (int i = 0; i < 2; ++i)
                keys.home.push_back("acct:{" + region + "}:" + std::to_string(i));
        }
    }
    return keys;
}

std::string WorkloadKeys::policy_toml() {
    // The acct policy is written even when the run leaves home keys out, so every run of a seed
    // uses the same cluster file.
    return "[[policy]]\nmatch = \"cnt:*\"\ntype = \"counter\"\n\n"
           "[[policy]]\nmatch = \"bc:*\"\ntype = \"bounded_counter\"\nmin = 0\n\n"
           "[[policy]]\nmatch = \"set:*\"\ntype = \"set\"\n\n"
           "[[policy]]\nmatch = \"obj:*\"\ntype = \"hash\"\n\n"
           "[[policy]]\nmatch = \"acct:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = "
           "\"{tag}\"\nmin = 0\n";
}

KeyPolicy WorkloadKeys::policy_of(const std::string& key) {
    // A hash field's field_number: HINCRBYs of a number field add up as a counter's do; HSETs
    // of a text field resolve as an LWW register's SETs do.
    if (key.starts_with("obj:") && key.find("/t") != std::string::npos)
        return {KeyPolicy::Type::lww, 0};
    if (key.starts_with("cnt:") || key.starts_with("obj:")) return {KeyPolicy::Type::counter, 0};
    if (key.starts_with("bc:") || key.starts_with("acct:"))
        return {KeyPolicy::Type::bounded_counter, 0};
    if (key.starts_with("set:")) return {KeyPolicy::Type::set, 0};
    if (key.starts_with("tmp:")) return {KeyPolicy::Type::lww, 0, true};
    return {KeyPolicy::Type::lww, 0};
}

std::vector<std::string> WorkloadKeys::numbers() const {
    std::vector<std::string> all = counters;
    all.insert(all.end(), bounded.begin(), bounded.end());
    all.insert(all.end(), home.begin(), home.end());
    return all;
}

void AddedElements::add(const std::string& key, const std::string& element) {
    std::lock_guard lock(mutex_);
    added_[key].push_back(element);
}

std::optional<std::string> AddedElements::pick(const std::string& key, std::mt19937_64& rng) {
    std::lock_guard lock(mutex_);
    auto it = added_.find(key);
    if (it == added_.end() || it->second.empty()) return std::nullopt;
    // Mostly recent elements: those are the ones still likely to be present.
    const std::size_t n = it->second.size();
    const std::size_t window = std::min<std::size_t>(n, 64);
    const std::size_t index =
        n - 1 - std::uniform_int_distribution<std::size_t>(0, window - 1)(rng);
    return it->second[index];
}

void AddedElements::forget(const std::string& key, const std::string& element) {
    std::lock_guard lock(mutex_);
    auto it = added_.find(key);
    if (it == added_.end()) return;
    std::erase(it->second, element);
}

Worker::Worker(WorkerOptions options, const WorkloadKeys& keys, AddedElements& added)
    : options_(std::move(options)),
      keys_(keys),
      added_(added),
      recorder_(options_.client, options_.region, options_.port, options_.timeout_ms),
      rng_(options_.seed) {}

void Worker::run(const std::atomic<bool>& stop) {
    using Clock = std::chrono::steady_clock;
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / std::max(options_.ops_per_second, 0.1)));
    auto next = Clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t unsent = recorder_.unsent();
        step();
        // A region that cannot be reached (killed, restarting): do not spin on connect.
        if (recorder_.unsent() != unsent)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        next += interval;
        const auto now = Clock::now();
        if (next > now) {
            std::this_thread::sleep_until(next);
        } else if (now - next > std::chrono::seconds(1)) {
            next = now;  // fell behind (a stalled node): do not burst afterwards
        }
    }
}

const std::string& Worker::any(const std::vector<std::string>& keys) {
    return keys[std::uniform_int_distribution<std::size_t>(0, keys.size() - 1)(rng_)];
}

std::string Worker::fresh_name() {
    return options_.client + "#" + std::to_string(next_name_++);
}

void Worker::step() {
    auto percent = std::uniform_int_distribution<int>(0, 99)(rng_);
    auto between = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
    };
    if (percent < 26) {
        // Increments and decrements, so an unknown one widens the bound both ways.
        const std::int64_t amount = between(0, 2) == 0 ? -between(1, 5) : between(1, 10);
        if (percent < 20)
            recorder_.add(any(keys_.counters), amount);
        else
            recorder_.field_add(any(keys_.hashes), any(WorkloadKeys::number_fields), amount);
    } else if (percent < 44) {
        const std::string& key = any(keys_.sets);
        const std::string element = fresh_name();
        if (recorder_.set_add(key, element) == Outcome::ok) added_.add(key, element);
    } else if (percent < 54) {
        // Remove only what this region shows: the remove then observed the element's add.
        const std::string& key = any(keys_.sets);
        auto element = added_.pick(key, rng_);
        if (!element) return;
        if (recorder_.is_member(key, *element) != true) return;
        if (recorder_.set_remove(key, *element) == Outcome::ok) added_.forget(key, *element);
    } else if (percent < 63) {
        recorder_.assign(any(keys_.registers), fresh_name());
    } else if (percent < 66) {
        recorder_.field_assign(any(keys_.hashes), any(WorkloadKeys::text_fields), fresh_name());
    } else if (percent < 72) {
        recorder_.assign_expiring(any(keys_.expiring), fresh_name(),
                                  static_cast<std::uint64_t>(between(100, kMaxTtlMs)));
    } else if (percent < 92) {
        // Bounded counters: decrements a little more often than increments, so balances hover
        // near the floor and refusals (and, with issue 5, rights transfers) happen.
        const bool home = percent >= 84 && !keys_.home.empty();
        const std::string& key = any(home ? keys_.home : keys_.bounded);
        const std::int64_t amount = between(0, 99) < 55 ? -between(1, 5) : between(1, 5);
        recorder_.add(key, amount);
    } else if (percent < 96) {
        recorder_.read_number(any(keys_.numbers()));
    } else {
        recorder_.read_set(any(keys_.sets));
    }
}

}  // namespace meridian::chaos
