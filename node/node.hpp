// Node: one region's meridian-node process. Recovers the region's data,
// serves clients (RESP) and operators (HTTP), replicates with its peers, and
// shuts down cleanly on SIGTERM or SIGINT (stop accepting, answer what is in
// flight, sync the WAL, snapshot, mark the shutdown clean).
//
// Everything runs on one io_context thread; fsync and snapshot writing run on
// worker threads owned by the log store and the snapshotter.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "node/admin_server.hpp"
#include "node/backup.hpp"
#include "node/client_server.hpp"
#include "node/cluster_config.hpp"
#include "storage/data_dir_lock.hpp"
#include "node/database.hpp"
#include "node/home_router.hpp"
#include "node/rights_broker.hpp"
#include "node/keyspace.hpp"
#include "node/log_store.hpp"
#include "node/node_context.hpp"
#include "node/snapshotter.hpp"
#include "node/wal_archiver.hpp"
#include "replication/core.hpp"
#include "replication/transport.hpp"

namespace meridian::node {

struct NodeOptions {
    ClusterConfig config;  // with command-line overrides applied
    std::string region;    // this node's region name
    bool repair_wal = false;
};

class Node final : public CommandHandler, public NodeContext, public replication::StateReader {
public:
    explicit Node(NodeOptions options);
    ~Node() override;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Starts, serves until a stop signal, shuts down. A failure to start is
    // returned (the caller prints it and exits non-zero).
    Expected<void, std::string> run();

    // CommandHandler
    void execute(ClientState& client, std::vector<std::string>& args, ReplySlot slot) override;
    void after_batch() override;

    // NodeContext
    Database& db() override { return *db_; }
    const ConflictTracker& conflicts() const override { return *conflicts_; }
    const ClusterConfig& config() const override { return options_.config; }
    const RegionConfig& region() const override { return region_; }
    std::uint64_t now_ms() const override;
    void complete_when_durable(std::uint64_t lsn, ReplySlot slot, std::string reply) override;
    void wait_for_regions(std::uint64_t seq, std::int64_t regions, std::uint64_t timeout_ms,
                          ReplySlot slot) override;
    std::string info(std::string_view section) override;
    std::string peers_reply() override;
    bool set_peer_paused(std::string_view name, bool paused) override;
    bool runs_here(std::span<const std::string> keys, const std::vector<std::string>& args,
                   ReplySlot& slot) override;
    std::optional<std::string> home_elsewhere(std::span<const std::string> keys) override;
    void decrement_with_rights(const std::string& key, std::uint64_t amount, ReplySlot slot,
                               ClientState& client) override;
    void backup(const std::string& dir, ReplySlot slot) override;
    void failover(std::string_view from, std::string_view to, ReplySlot slot) override;
    std::string homes_reply() override;

    // replication::StateReader
    std::uint64_t read_states(std::uint64_t cursor, std::size_t max_bytes,
                              std::vector<replication::KeyDelta>& out) override;

private:
    struct RegionWaiter;

    Expected<void, std::string> start();
    void shutdown();
    void on_core_action(replication::Action& action);
    void check_waiters();
    void release_replies(std::uint64_t acknowledged_end);
    void fail_replies(const std::string& error);
    std::int64_t regions_holding(std::uint64_t seq) const;
    void maintenance();
    void sweep_expired();
    void start_snapshot();
    void close_idle_segment();
    std::string metrics_text();
    std::string status_json();
    Expected<std::string, std::string> conflicts_json(std::string_view query);

    NodeOptions options_;
    const RegionConfig& region_;
    boost::asio::io_context io_;
    std::optional<DataDirLock> lock_;
    Keyspace keyspace_;
    std::unique_ptr<LogStore> log_;
    std::unique_ptr<ConflictTracker> conflicts_;
    std::unique_ptr<Database> db_;
    std::unique_ptr<replication::ReplicationCore> core_;
    std::unique_ptr<replication::PeerTransport> transport_;
    std::unique_ptr<ClientServer> clients_;
    std::unique_ptr<AdminServer> admin_;
    std::unique_ptr<Snapshotter> snapshotter_;
    std::unique_ptr<WalArchiver> archiver_;
    std::unique_ptr<Backups> backups_;
    std::unique_ptr<HomeOwners> owners_;
    std::unique_ptr<HomeRouter> home_;
    std::unique_ptr<RightsBroker> rights_;
    boost::asio::signal_set signals_{io_};
    boost::asio::steady_timer maintenance_timer_{io_};
    boost::asio::steady_timer expiry_timer_{io_};
    std::list<std::unique_ptr<RegionWaiter>> waiters_;
    // Writes answered once the log acknowledges them, in lsn order.
    struct PendingReply {
        std::uint64_t lsn;
        ReplySlot slot;
        std::string reply;
    };
    std::deque<PendingReply> pending_replies_;

    crdt::ReplicaId self_;
    std::uint64_t started_ms_ = 0;
    std::uint64_t started_unix_ = 0;
    std::uint64_t last_snapshot_lsn_ = 1;
    std::uint64_t last_snapshot_ms_ = 0;
    std::uint64_t open_segment_ = 0;     // the WAL segment being written, as last seen
    std::uint64_t open_segment_ms_ = 0;  // when it was first seen
    bool stopping_ = false;
    std::string incarnation_reason_;
    std::uint64_t records_replayed_ = 0;
};

}  // namespace meridian::node
