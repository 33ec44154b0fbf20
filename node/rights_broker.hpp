// RightsBroker: moves bounded-counter rights to where they are spent. A
// region decrements within the rights it holds with no coordination; when it
// holds too few, it asks the peer that holds the most (as far as it can see)
// for a transfer, waits for the transfer's delta to arrive, and retries --
// until rights_timeout_ms, after which the decrement is refused. A holder
// grants what was asked or half its rights, whichever is more (but never more
// than it holds), so rights follow demand: a region that keeps spending
// receives more each time. Event-loop thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "node/client_server.hpp"
#include "node/cluster_config.hpp"
#include "node/database.hpp"
#include "node/peer_messages.hpp"
#include "replication/core.hpp"

namespace meridian::node {

struct RightsStats {
    std::uint64_t transfers_requested = 0;  // requests sent
    std::uint64_t transfers_granted = 0;    // requests answered with rights (as holder)
    std::uint64_t transfers_refused = 0;    // requests answered with none (as holder)
    std::uint64_t rights_granted = 0;       // total rights given away
    std::uint64_t decrements_waited = 0;    // decrements that needed a transfer
    std::uint64_t decrements_refused = 0;   // decrements refused: not enough rights in time
};

class RightsBroker {
public:
    RightsBroker(boost::asio::io_context& io, const ClusterConfig& config, Database& db,
                 replication::ReplicationCore& core, std::function<void(std::uint64_t lsn, ReplySlot, std::string)> reply_when_durable);
    ~RightsBroker();

    // A decrement of `amount` on bounded counter `key` that local rights did
    // not cover: gets rights and retries; answers `slot` with the new value or
    // an insufficient-balance error.
    void decrement(const std::string& key, std::uint64_t amount, ReplySlot slot, ClientState& client);

    void on_message(crdt::RegionId from, replication::FrameType type, std::string_view payload);
    void on_applied();

    const RightsStats& stats() const { return stats_; }

private:
    struct Waiting;
    void ask(Waiting& w);
    void retry(std::uint64_t id);
    void refuse(std::uint64_t id, const std::string& why);
    void grant(crdt::RegionId from, const RightsRequest& request);

    boost::asio::io_context& io_;
    const ClusterConfig& config_;
    Database& db_;
    replication::ReplicationCore& core_;
    std::function<void(std::uint64_t, ReplySlot, std::string)> reply_when_durable_;
    std::map<std::uint64_t, std::unique_ptr<Waiting>> waiting_;
    std::uint64_t next_id_ = 1;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    RightsStats stats_;
};

// The rights each replica holds on a bounded counter key, as this region sees them.
std::vector<std::pair<crdt::ReplicaId, std::int64_t>> rights_by_replica(const crdt::BoundedCounter& counter,
                                                                         const crdt::BoundedCounter::Floor& floor);

}  // namespace meridian::node
