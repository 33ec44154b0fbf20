// HomeOwners: the home owners' protocol (conflict/home_table.hpp) at a running region. It keeps
// the table's votes and commits in <data_dir>/homes (written before any vote is answered),
// renews the leases of the homes this region owns every lease/3, spreads commits to every
// region that comes up, and runs MERIDIAN FAILOVER: votes from every region, a commit once a
// majority accepted and the old owner's leases have run out, or an error that says who refused
// and why. Event-loop thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "conflict/home_table.hpp"
#include "node/client_server.hpp"
#include "node/cluster_config.hpp"
#include "node/database.hpp"
#include "node/peer_messages.hpp"
#include "node/rights_handover.hpp"
#include "replication/core.hpp"
#include "storage/env.hpp"

namespace meridian::node {

struct HomeOwnerStats {
    std::uint64_t failovers = 0;      // commits that gave a home a new owner, learned or made here
    std::uint64_t failovers_run = 0;  // MERIDIAN FAILOVER commands here that committed
    std::uint64_t failovers_failed = 0;  // ... that did not
    std::uint64_t fenced_writes =
        0;  // home writes refused: not serving, or routed by another epoch
    std::uint64_t persist_errors = 0;  // the homes file could not be written
};

// The epoch below which this region's replicas were retired (conflict::Retirement) according to
// the homes file in `data_dir`, 0 if none: a region restarts above it (node/incarnation.hpp).
Expected<std::uint16_t, std::string> retired_epochs_below(Env& env, const std::string& data_dir,
                                                          crdt::RegionId self);

// Why the owner of a home does not execute its writes, as a -TRYAGAIN line.
std::string not_serving_error(const ClusterConfig& config, const conflict::HomeEntry& entry,
                              conflict::Serving serving);

class HomeOwners {
public:
    using Clock = std::function<std::uint64_t()>;  // steady milliseconds

    // Reads <data_dir>/homes. A damaged file is an error: it holds this region's votes, and a
    // region that forgot one could vote twice in an epoch.
    static Expected<std::unique_ptr<HomeOwners>, std::string> open(
        Env& env, boost::asio::io_context& io, const ClusterConfig& config, crdt::RegionId self,
        const std::string& data_dir, Database& db, replication::ReplicationCore& core, Clock clock);
    ~HomeOwners();

    void start();  // lease renewals

    const conflict::HomeEntry& entry(crdt::RegionId home) const { return table_.entry(home); }
    conflict::Serving serving(crdt::RegionId home) const;
    // For a write of `home`, which this region owns: why it may not execute it now (a -TRYAGAIN
    // line, counted in fenced_writes), or nullopt.
    std::optional<std::string> refuse_write(crdt::RegionId home);
    void count_fenced() { ++stats_.fenced_writes; }
    // The fencing epoch this region writes the home-routed `key` in, as the owner of its home;
    // 0 when it does not own it (Database::set_home_epoch).
    std::uint64_t writing_epoch(std::string_view key, const conflict::Policy& policy) const;

    // MERIDIAN FAILOVER from to: moves every home `from` owns to `to`.
    void failover(std::string_view from, std::string_view to, ReplySlot slot);
    // failover_after_ms: fails over the owners this region and a majority have lost for that
    // long, when this is the lowest region that can reach a majority. Called every renewal.
    void fail_over_lost_owners();
    // MERIDIAN HOMES: per home, its owner, epoch and what this region does with its writes.
    std::string homes_reply() const;

    void on_message(crdt::RegionId from, std::string_view payload);
    void on_peer_up(crdt::RegionId peer);

    const HomeOwnerStats& stats() const { return stats_; }
    std::size_t homes_served() const;
    const std::vector<conflict::Retirement>& retirements() const { return table_.retirements(); }
    std::uint64_t keys_handed_over() const { return handover_.keys_handed_over(); }

private:
    struct Running;

    HomeOwners(Env& env, boost::asio::io_context& io, const ClusterConfig& config,
               crdt::RegionId self, std::string path, const conflict::HomeDurable& durable,
               Database& db, replication::ReplicationCore& core, Clock clock);

    bool persist();
    void send(crdt::RegionId to, const HomeMessage& message);
    void broadcast(const HomeMessage& message);
    void renew();
    void ask_lease(std::optional<crdt::RegionId> peer);  // of `peer`, or of every region
    void adopt(const std::vector<conflict::HomeEntry>& entries);
    // Learns retirements, reports them to their heirs and updates what the database spends.
    void retire(const std::vector<conflict::Retirement>& retirements);
    void report(const conflict::Retirement& retirement);
    // Which retired replicas this region may hand over now; starts the sweep for new ones.
    void update_retirements();
    // Why this region cannot hand `retirement` over yet, or "" when it can (MERIDIAN HOMES).
    std::string handover_wait(const conflict::Retirement& retirement) const;
    void start_failover(crdt::RegionId from, crdt::RegionId to, bool automatic, ReplySlot slot);
    void propose(std::uint64_t epoch);
    std::optional<std::string> automatic_refusal(const conflict::FailoverProposal& proposal) const;
    void ask();
    void drive();
    void wake_at(std::uint64_t when_ms);
    void await_serving(std::string ok, crdt::RegionId home, std::uint64_t until_ms);
    void finish(std::string reply);
    std::string name(crdt::RegionId region) const;

    Env& env_;
    boost::asio::io_context& io_;
    const ClusterConfig& config_;
    crdt::RegionId self_;
    std::string path_;
    Database& db_;
    replication::ReplicationCore& core_;
    Clock clock_;
    conflict::HomeTable table_;
    std::uint64_t next_round_ = 1;
    std::map<std::uint64_t, std::pair<conflict::LeaseRequest, std::uint64_t>> asked_;  // by round
    std::unique_ptr<Running> running_;  // the failover this region runs, if any
    std::map<crdt::RegionId, std::uint64_t>
        lost_since_;                       // peers unreachable since (failover_after_ms)
    std::uint64_t next_automatic_ms_ = 0;  // after one failed, wait before the next
    boost::asio::steady_timer renew_timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    HomeOwnerStats stats_;
    conflict::HandoverTally tally_;
    std::vector<crdt::ReplicaId> ready_;  // retired replicas this region has begun to hand over
    RightsHandover handover_;
};

}  // namespace meridian::node
