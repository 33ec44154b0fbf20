#include "load.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "support.hpp"

namespace meridian::bench {

std::string op_name(Op op) {
    switch (op) {
        case Op::set:
            return "SET";
        case Op::incrby:
            return "INCRBY";
        case Op::sadd:
            return "SADD";
    }
    return "?";
}

std::string keys_name(Keys keys) {
    switch (keys) {
        case Keys::uniform:
            return "uniform";
        case Keys::zipf:
            return "zipf";
        case Keys::sequential:
            return "sequential";
    }
    return "?";
}

std::string key_for(Op op, std::uint64_t index) {
    switch (op) {
        case Op::set:
            return "lww:" + std::to_string(index);
        case Op::incrby:
            return "counter:" + std::to_string(index);
        case Op::sadd:
            return "set:" + std::to_string(index);
    }
    return "";
}

namespace {

// Zipf(s = 0.99) over [0, n) by inverting a cumulative table: rank 0 is the hottest key.
class ZipfTable {
public:
    explicit ZipfTable(std::uint64_t n) : cdf_(n) {
        double sum = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            sum += 1.0 / std::pow(static_cast<double>(i + 1), 0.99);
            cdf_[i] = sum;
        }
        for (double& c : cdf_) c /= sum;
    }
    std::uint64_t draw(double u) const {
        auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
        return it == cdf_.end() ? cdf_.size() - 1 : static_cast<std::uint64_t>(it - cdf_.begin());
    }

private:
    std::vector<double> cdf_;
};

const ZipfTable& zipf_table(std::uint64_t n) {
    static std::mutex mutex;
    static std::map<std::uint64_t, std::unique_ptr<ZipfTable>> tables;
    std::lock_guard<std::mutex> lock(mutex);
    auto& t = tables[n];
    if (!t) t = std::make_unique<ZipfTable>(n);
    return *t;
}

std::vector<std::string> make_command(Op op, const std::string& key, const std::string& value,
                                      std::uint64_t member) {
    switch (op) {
        case Op::set:
            return {"SET", key, value};
        case Op::incrby:
            return {"INCRBY", key, "1"};
        case Op::sadd:
            return {"SADD", key, "m" + std::to_string(member)};
    }
    return {};
}

struct ThreadResult {
    std::uint64_t ops = 0, errors = 0;
    std::string first_error;
    std::vector<float> latencies_us;
    std::vector<TimedCommand> timeline;
};

}  // namespace

double quantile(std::vector<double>& values, double q) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(std::ceil(q * values.size())) - (q > 0 ? 1 : 0);
    return values[std::min(index, values.size() - 1)];
}

double median(std::vector<double> values) {
    return quantile(values, 0.5);
}

LoadResult run_load(std::uint16_t port, const LoadSpec& spec) {
    const int clients = std::max(1, spec.clients);
    const int pipeline = std::max(1, spec.pipeline);
    const ZipfTable* zipf = spec.keys == Keys::zipf ? &zipf_table(spec.keyspace) : nullptr;
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

    std::vector<std::unique_ptr<Client>> connections;
    for (int i = 0; i < clients; ++i) connections.push_back(std::make_unique<Client>(port));

    std::atomic<std::uint64_t> claimed{0};
    std::atomic<bool> go{false};
    std::vector<ThreadResult> results(clients);
    Clock::time_point start, end;
    const double max_seconds = spec.total_ops > 0 ? 600.0 : spec.seconds;

    auto worker = [&](int t) {
        Client& c = *connections[t];
        ThreadResult& out = results[t];
        std::string value(spec.value_bytes, 'v');
        std::mt19937_64 rng(spec.seed * 7919 + static_cast<std::uint64_t>(t));
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        const double per_thread_rate = spec.rate > 0 ? spec.rate / clients : 0;
        const auto batch_gap = per_thread_rate > 0
                                   ? std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(pipeline / per_thread_rate))
                                   : Clock::duration::zero();
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        // Spread the rate-limited clients over one gap so they do not fire in step.
        auto next = start + (per_thread_rate > 0 ? batch_gap * t / clients : Clock::duration{});
        while (true) {
            std::uint64_t first = 0;
            int batch = pipeline;
            if (spec.total_ops > 0) {
                first = claimed.fetch_add(pipeline);
                if (first >= spec.total_ops) break;
                batch = static_cast<int>(std::min<std::uint64_t>(pipeline, spec.total_ops - first));
            }
            if (Clock::now() >= end) break;
            if (spec.stop && spec.stop->load(std::memory_order_relaxed)) break;
            if (per_thread_rate > 0) {
                std::this_thread::sleep_until(next);
                next += batch_gap;
            }
            for (int j = 0; j < batch; ++j) {
                std::uint64_t index = 0;
                switch (spec.keys) {
                    case Keys::uniform:
                        index = rng() % spec.keyspace;
                        break;
                    case Keys::zipf:
                        index = zipf->draw(unit(rng));
                        break;
                    case Keys::sequential:
                        index = first + j;
                        break;
                }
                if (spec.op == Op::set) {
                    // Fresh bytes per write: a constant value would flatter LZ4 on the links.
                    for (char& ch : value) ch = alphabet[rng() % (sizeof alphabet - 1)];
                }
                c.append(make_command(spec.op, key_for(spec.op, index), value,
                                      rng() % std::max<std::uint64_t>(1, spec.members)));
            }
            const auto t0 = Clock::now();
            for (int j = 0; j < batch; ++j) {
                Reply r = c.read_reply();
                if (r.is_error()) {
                    if (out.errors++ == 0) out.first_error = r.str;
                    if (r.str.rfind("I/O error", 0) == 0) return;
                }
            }
            const float us = std::chrono::duration<float, std::micro>(Clock::now() - t0).count();
            out.ops += batch;
            for (int j = 0; j < batch; ++j) out.latencies_us.push_back(us);
            if (spec.timeline) out.timeline.insert(out.timeline.end(), batch, TimedCommand{t0, us});
        }
    };

    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) threads.emplace_back(worker, t);
    start = Clock::now();
    end = start +
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds));
    go.store(true, std::memory_order_release);
    for (auto& th : threads) th.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

    LoadResult result;
    std::vector<double> all;
    for (auto& r : results) {
        result.ops += r.ops;
        if (r.errors > 0 && result.errors == 0) result.first_error = r.first_error;
        result.errors += r.errors;
        all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
        result.timeline.insert(result.timeline.end(), r.timeline.begin(), r.timeline.end());
    }
    result.seconds = elapsed;
    result.ops_per_sec = elapsed > 0 ? result.ops / elapsed : 0;
    result.p50_us = quantile(all, 0.50);
    result.p99_us = quantile(all, 0.99);
    return result;
}

LagResult probe_lag(std::uint16_t writer_port, std::uint16_t reader_port, int probes,
                    int interval_ms) {
    Client writer(writer_port), reader(reader_port);
    LagResult result;
    const std::string nonce = std::to_string(Clock::now().time_since_epoch().count());
    const auto timeout = std::chrono::seconds(5);
    for (int i = 0; i < probes; ++i) {
        const std::string value = "probe-" + nonce + "-" + std::to_string(i);
        const auto t0 = Clock::now();
        Reply w = writer.command({"SET", "lww:lag-probe", value});
        if (w.is_error()) throw BenchError("probe write failed: " + w.str);
        bool seen = false;
        while (Clock::now() - t0 < timeout) {
            Reply r = reader.command({"GET", "lww:lag-probe"});
            if (r.str == value) {
                seen = true;
                break;
            }
            // Poll tightly for the first 2 ms (the loopback target), then gently.
            if (Clock::now() - t0 > std::chrono::milliseconds(2)) {
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        }
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (seen) {
            result.samples_ms.push_back(ms);
        } else {
            ++result.timeouts;
        }
        std::this_thread::sleep_until(t0 + std::chrono::milliseconds(interval_ms));
    }
    std::vector<double> s = result.samples_ms;
    result.p50_ms = quantile(s, 0.50);
    result.p99_ms = quantile(s, 0.99);
    result.max_ms = s.empty() ? 0 : s.back();
    return result;
}

}  // namespace meridian::bench
