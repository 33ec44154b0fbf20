// A client of one region that records every operation it issues into its own History, with the
// outcome a Jepsen-style checker needs: ok, failed (the node said no) or unknown (no answer).
// One Recorder per thread; it reconnects on the next operation after losing its connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "history.hpp"
#include "integration/harness.hpp"

namespace meridian::chaos {

// Wall-clock milliseconds: the clock the nodes stamp LWW writes with.
std::uint64_t wall_ms();

// How an answer to a write reads: ok for any non-error reply; unknown for no answer or an error
// that leaves the effect open (WAL failure, a dropped reply, an outcome the node calls unknown);
// failed for every other error (refused, -TRYAGAIN: not applied anywhere).
Outcome classify(const test::Reply& reply);

class Recorder {
public:
    Recorder(std::string client, std::string region, std::uint16_t port, int timeout_ms);

    // Writes, recorded. Empty when no connection could be made: nothing was sent, nothing recorded.
    std::optional<Outcome> add(const std::string& key, std::int64_t amount);
    std::optional<Outcome> field_add(const std::string& key, const std::string& field,
                                     std::int64_t amount);
    std::optional<Outcome> field_assign(const std::string& key, const std::string& field,
                                        const std::string& value);
    std::optional<Outcome> set_add(const std::string& key, const std::string& element);
    std::optional<Outcome> set_remove(const std::string& key, const std::string& element);
    std::optional<Outcome> assign(const std::string& key, const std::string& value);
    std::optional<Outcome> assign_expiring(const std::string& key, const std::string& value,
                                           std::uint64_t ttl_ms);
    // Reads: GET on a counter and SMEMBERS are recorded (the checker judges what they saw);
    // SISMEMBER is not. Empty when the read got no good answer.
    std::optional<std::int64_t> read_number(const std::string& key);
    std::optional<std::vector<std::string>> read_set(const std::string& key);
    std::optional<bool> is_member(const std::string& key, const std::string& element);

    const std::string& client() const { return client_; }
    const std::string& region() const { return region_; }
    History& history() { return history_; }
    std::uint64_t unsent() const { return unsent_; }

private:
    bool ensure_connected();
    std::optional<test::Reply> run(std::vector<std::string> argv, Op& op);
    std::optional<Outcome> write(Op op, std::vector<std::string> argv);

    std::string client_;
    std::string region_;
    std::uint16_t port_;
    int timeout_ms_;
    std::optional<test::RedisClient> connection_;
    History history_;
    std::uint64_t unsent_ = 0;  // operations skipped because the region could not be reached
};

}  // namespace meridian::chaos
