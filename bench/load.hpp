// Load generation: N client threads, each with its own connection, sending one write command
// (SET / INCRBY / SADD) over uniform, Zipf, sequential or single-key key choices, optionally
// pipelined, rate-limited, stopped from outside and timed command by command; plus the
// replication-lag probe. Called from the main thread; the functions start and join their own
// threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace meridian::bench {

enum class Op { set, incrby, sadd };
enum class Keys { uniform, zipf, sequential };

std::string op_name(Op op);
std::string keys_name(Keys keys);

struct LoadSpec {
    Op op = Op::set;
    Keys keys = Keys::uniform;
    std::uint64_t keyspace = 100000;  // uniform/zipf draw from [0, keyspace); 1 = one hot key
    int clients = 50;
    int pipeline = 1;
    double seconds = 2.0;          // stop after this long...
    std::uint64_t total_ops = 0;   // ...or after this many operations (0: time only)
    double rate = 0;               // operations per second over all clients (0: flat out)
    std::size_t value_bytes = 16;  // SET values: random [a-z0-9], fresh per write
    std::uint64_t members = 100;   // SADD members: "m<n>", n uniform in [0, members)
    std::uint64_t seed = 1;
    const std::atomic<bool>* stop = nullptr;  // when set, also stop once it turns true
    bool timeline = false;                    // keep every command's issue time and latency
};

// One command of a load with LoadSpec::timeline: when its batch was sent, and its latency.
struct TimedCommand {
    std::chrono::steady_clock::time_point sent;
    float latency_us = 0;
};

struct LoadResult {
    std::uint64_t ops = 0;
    std::uint64_t errors = 0;
    std::string first_error;
    double seconds = 0;
    double ops_per_sec = 0;
    double p50_us = 0, p99_us = 0;  // per command; a pipelined command counts its batch's time
    // With LoadSpec::timeline: every command of every client, unordered.
    std::vector<TimedCommand> timeline;
};

// Runs the load against 127.0.0.1:port. Throws BenchError if a client cannot connect.
LoadResult run_load(std::uint16_t port, const LoadSpec& spec);

// The key a command touches, e.g. "lww:42", "counter:42", "set:42".
std::string key_for(Op op, std::uint64_t index);

struct LagResult {
    std::vector<double> samples_ms;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    std::uint64_t timeouts = 0;
};

// Writes a fresh value at `writer_port` every `interval_ms` and times how long until a reader
// on `reader_port` sees it (write issued -> GET returns it); `probes` samples.
LagResult probe_lag(std::uint16_t writer_port, std::uint16_t reader_port, int probes,
                    int interval_ms);

// The q-quantile (0..1) of values (sorted in place).
double quantile(std::vector<double>& values, double q);
double median(std::vector<double> values);

}  // namespace meridian::bench
