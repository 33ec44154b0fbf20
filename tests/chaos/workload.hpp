// The chaos run's workload: the keys (and the cluster-file policies that type them) and the
// client threads that hammer every region with INCRBY/DECRBY, HINCRBY, HSET, SADD of unique
// elements, SREM of elements the region showed, SET of unique values (some with a short TTL), and
// reads. A Worker runs on its own thread and touches only its Recorder and the shared element
// registry (locked).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "history.hpp"
#include "recorder.hpp"

namespace meridian::chaos {

struct WorkloadKeys {
    std::vector<std::string> counters;   // cnt:*   counter
    std::vector<std::string> bounded;    // bc:*    bounded_counter, min 0
    std::vector<std::string> sets;       // set:*   set
    std::vector<std::string> registers;  // reg:*   lww (the default policy)
    std::vector<std::string> expiring;   // tmp:*   lww, every SET with a TTL of at most 1.5 s
    std::vector<std::string> hashes;     // obj:*   hash: number_fields by HINCRBY,
    static const std::vector<std::string> number_fields;  // text_fields by HSET of unique values
    static const std::vector<std::string> text_fields;
    std::vector<std::string> home;  // acct:{region}:*  counter, route home, min 0 (may be empty)

    // `regions` name the home tags; `with_home` false leaves `home` empty.
    static WorkloadKeys make(const std::vector<std::string>& regions, bool with_home);
    // The [[policy]] tables typing these keys.
    static std::string policy_toml();
    static KeyPolicy policy_of(const std::string& key);

    std::vector<std::string> numbers() const;  // counters, bounded and home keys
};

// Elements acknowledged as added, per set key, so removers pick real ones. Thread-safe.
class AddedElements {
public:
    void add(const std::string& key, const std::string& element);
    std::optional<std::string> pick(const std::string& key, std::mt19937_64& rng);
    void forget(const std::string& key, const std::string& element);

private:
    std::mutex mutex_;
    std::map<std::string, std::vector<std::string>> added_;
};

struct WorkerOptions {
    std::string client;  // "us-east/1"
    std::string region;
    std::uint16_t port = 0;
    std::uint64_t seed = 0;
    int timeout_ms = 1500;
    double ops_per_second = 150;  // a ceiling; a slow node makes it lower
};

class Worker {
public:
    Worker(WorkerOptions options, const WorkloadKeys& keys, AddedElements& added);
    // Issues operations until `stop` is set.
    void run(const std::atomic<bool>& stop);
    Recorder& recorder() { return recorder_; }

private:
    void step();
    const std::string& any(const std::vector<std::string>& keys);
    std::string fresh_name();

    WorkerOptions options_;
    const WorkloadKeys& keys_;
    AddedElements& added_;
    Recorder recorder_;
    std::mt19937_64 rng_;
    std::uint64_t next_name_ = 0;
};

}  // namespace meridian::chaos
