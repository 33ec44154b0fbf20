// What command handlers may ask of the node beyond its data: acknowledging
// writes per the fsync mode, WAIT, peers, INFO. Implemented by Node; a narrow
// interface so the commands do not depend on how the node is wired.
// Event-loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "node/client_server.hpp"
#include "node/cluster_config.hpp"
#include "node/database.hpp"

namespace meridian::node {

class NodeContext {
public:
    virtual ~NodeContext() = default;

    virtual Database& db() = 0;
    virtual const ClusterConfig& config() const = 0;
    virtual const RegionConfig& region() const = 0;
    virtual std::uint64_t now_ms() const = 0;

    // Completes `slot` with `reply` once the write at `lsn` is as durable as
    // the fsync mode promises (or with -MISCONF if the log fails first).
    virtual void complete_when_durable(std::uint64_t lsn, ReplySlot slot, std::string reply) = 0;
    // WAIT: completes `slot` with how many peer regions hold this replica's
    // write `seq`, once `regions` do or `timeout_ms` passes (0: no timeout).
    virtual void wait_for_regions(std::uint64_t seq, std::int64_t regions, std::uint64_t timeout_ms,
                                  ReplySlot slot) = 0;

    // Home routing: true when a write on `keys` runs here; otherwise the
    // request was forwarded to the keys' home region or refused, and `slot` used.
    virtual bool runs_here(std::span<const std::string> keys, const std::vector<std::string>& args,
                           ReplySlot& slot) = 0;
    // For a write inside a transaction, which is never forwarded: the error to answer when
    // `keys` have their home at another region (or cannot be routed), else nullopt.
    virtual std::optional<std::string> home_elsewhere(std::span<const std::string> keys) = 0;
    // A bounded-counter decrement that local rights did not cover: obtains
    // rights from a peer and retries, or answers an insufficient balance.
    virtual void decrement_with_rights(const std::string& key, std::uint64_t amount, ReplySlot slot,
                                       ClientState& client) = 0;

    // MERIDIAN BACKUP: completes `slot` once the backup is written and verified.
    virtual void backup(const std::string& dir, ReplySlot slot) = 0;
    // MERIDIAN FAILOVER: completes `slot` once the homes of `from` moved to `to`, or could not.
    virtual void failover(std::string_view from, std::string_view to, ReplySlot slot) = 0;
    virtual std::string homes_reply() = 0;  // MERIDIAN HOMES, a RESP array

    // INFO, MERIDIAN PEERS / PAUSE / RESUME.
    virtual std::string info(std::string_view section) = 0;
    virtual std::string peers_reply() = 0;                       // RESP array
    virtual const ConflictTracker& conflicts() const = 0;        // counts and the conflict feed
    virtual bool set_peer_paused(std::string_view name, bool paused) = 0;  // false: no such peer
};

}  // namespace meridian::node
