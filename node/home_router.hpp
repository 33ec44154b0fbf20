// HomeRouter: route = "home" writes. A write to a home-routed key executes at
// the region that owns the key's home (the home region itself until a
// MERIDIAN FAILOVER moves it: node/home_owners.hpp), which serialises every
// write of that key (so a floor holds exactly), and only while it holds its
// lease. Elsewhere the node forwards the command over the peer link, with the
// owner's epoch, and answers only once the resulting delta is applied here
// (read your writes). An owner refuses a write routed by another epoch.
//
// Guarantees: a request forwarded while the home is unreachable (link down or
// paused) fails at once with -TRYAGAIN and is applied nowhere. Once sent, a
// request is identified by a RequestId the home remembers -- in its log, so
// across its restarts too -- and a request retransmitted after a lost link is
// answered again, never re-applied. A request with no answer within
// forward_timeout_ms is answered -TIMEOUT: its outcome is unknown, and the
// answer says so. Event-loop thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "node/client_server.hpp"
#include "node/cluster_config.hpp"
#include "node/database.hpp"
#include "node/home_owners.hpp"
#include "node/peer_messages.hpp"
#include "replication/core.hpp"

namespace meridian::node {

struct HomeRouterStats {
    std::uint64_t forwarded = 0;        // requests sent to a home
    std::uint64_t retransmitted = 0;    // resent after a link came back
    std::uint64_t unreachable = 0;      // -TRYAGAIN: the home could not be reached
    std::uint64_t timed_out = 0;        // -TIMEOUT: no answer in time
    std::uint64_t executed_for_peers = 0;
    std::uint64_t duplicates_answered = 0;  // retransmissions answered from memory
};

class HomeRouter {
public:
    using Execute = std::function<void(ClientState&, std::vector<std::string>&, ReplySlot)>;

    HomeRouter(boost::asio::io_context& io, const ClusterConfig& config, Database& db,
               replication::ReplicationCore& core, HomeOwners& owners, Execute execute);
    ~HomeRouter();

    // For a write on `keys`: true when it runs here. Otherwise the request is
    // taken care of -- forwarded to the keys' home, or refused -- and `slot` was used.
    bool runs_here(std::span<const std::string> keys, const std::vector<std::string>& args, ReplySlot& slot);
    // For a write that cannot be forwarded (inside a transaction): the error to answer when
    // `keys` have their home at another region or cannot be routed, else nullopt.
    std::optional<std::string> home_elsewhere(std::span<const std::string> keys) const;

    // A Forward or ForwardReply message from a peer region.
    void on_message(crdt::RegionId from, replication::FrameType type, std::string_view payload);
    // Records were applied here: forwarded writes waiting for their delta may answer.
    void on_applied();
    void on_peer_up(crdt::RegionId peer);

    // A forwarded request executed before (found in the log at start-up).
    void remember(const replication::RequestStamp& stamp, crdt::Dot dot);

    const HomeRouterStats& stats() const { return stats_; }

private:
    struct Pending;
    struct Executed {
        bool done = false;
        std::string reply;
        std::optional<crdt::Dot> dot;
    };

    // The home region of a write on `keys`: none when no key is home-routed; an error when
    // the keys have different homes, or some have one and some not.
    Expected<std::optional<crdt::RegionId>, std::string> home_of(std::span<const std::string> keys) const;
    void send(Pending& pending);
    void finish(std::uint64_t counter, std::string reply);
    void execute_for(crdt::RegionId from, ForwardRequest request);
    // Fencing: why this region must not execute a forwarded write (counted), or nullopt.
    std::optional<std::string> fenced(const ForwardRequest& request);
    void answer(crdt::RegionId to, const RequestId& id, const Executed& executed);
    void forget_old();

    boost::asio::io_context& io_;
    const ClusterConfig& config_;
    Database& db_;
    replication::ReplicationCore& core_;
    HomeOwners& owners_;
    Execute execute_;
    std::uint64_t nonce_;
    std::uint64_t next_counter_ = 1;
    std::map<std::uint64_t, std::unique_ptr<Pending>> pending_;  // requester side, by counter
    std::map<RequestId, Executed> executed_;                     // home side
    std::deque<RequestId> executed_order_;                       // oldest first, to bound memory
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    HomeRouterStats stats_;
};

}  // namespace meridian::node
