#include "node/node.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "node/commands.hpp"
#include "node/incarnation.hpp"
#include "node/recovery.hpp"
#include "node/resp_reply.hpp"
#include "node/restore.hpp"
#include "node/status_page.hpp"  // generated from node/status_page.html
#include "storage/snapshot_file.hpp"

namespace meridian::node {

namespace {

// A region reclaims the expired keys whose TTL it wrote; another region's, only once they have
// been expired this long (their writer may be down), so a key is normally reclaimed once.
constexpr std::uint64_t kExpiryTakeoverMs = 30'000;

std::uint64_t steady_ms() {
    static const auto origin = std::chrono::steady_clock::now();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - origin)
                                          .count());
}

std::uint64_t unix_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

std::string misconf(const std::string& error) {
    std::string out;
    resp::error(out, "MISCONF the write-ahead log failed (" + error +
                         "); this node refuses writes until it is restarted");
    return out;
}

}  // namespace

struct Node::RegionWaiter {
    std::uint64_t seq = 0;
    std::int64_t regions = 0;
    ReplySlot slot;
    boost::asio::steady_timer timer;
    explicit RegionWaiter(boost::asio::io_context& io) : timer(io) {}
};

Node::Node(NodeOptions options)
    : options_(std::move(options)), region_(*options_.config.find_region(options_.region)) {}

Node::~Node() = default;

std::uint64_t Node::now_ms() const {
    return steady_ms();
}

Expected<void, std::string> Node::run() {
    if (auto started = start(); !started) return started;
    io_.run();
    return {};
}

Expected<void, std::string> Node::start() {
    Env& env = default_env();
    const ClusterConfig& config = options_.config;
    started_ms_ = now_ms();
    started_unix_ = unix_ms() / 1000;

    if (auto made = env.create_dirs(region_.data_dir); !made) return unexpected(made.error());
    auto lock = DataDirLock::acquire(region_.data_dir);
    if (!lock) return unexpected(lock.error());
    lock_.emplace(std::move(*lock));
    if (auto restored = check_restored_data_dir(env, region_.data_dir, config.cluster); !restored)
        return unexpected(restored.error());

    auto recovered = recover(env, region_.data_dir, options_.repair_wal, unix_ms());
    if (!recovered) return unexpected(recovered.error());
    for (const std::string& warning : recovered->warnings) spdlog::warn("recovery: {}", warning);
    keyspace_ = std::move(recovered->keyspace);
    keyspace_.set_expiry_owner(region_.id, kExpiryTakeoverMs);
    records_replayed_ = recovered->records_replayed;
    last_snapshot_lsn_ = std::max<std::uint64_t>(recovered->snapshot_lsn, 1);
    last_snapshot_ms_ = now_ms();

    auto retired_below = retired_epochs_below(env, region_.data_dir, region_.id);
    if (!retired_below) return unexpected(retired_below.error());
    auto incarnation =
        begin_incarnation(env, region_.data_dir, region_.id, config.fsync, recovered->log.vv,
                          recovered->wal_repaired, *retired_below);
    if (!incarnation) return unexpected(incarnation.error());
    self_ = crdt::ReplicaId{region_.id, incarnation->epoch};
    incarnation_reason_ = incarnation->reason;

    LogStoreOptions log_options;
    log_options.wal_dir = join_path(region_.data_dir, "wal");
    log_options.fsync = config.fsync;
    log_options.segment_bytes = config.wal_segment_bytes;
    log_options.retention_bytes = config.wal_retention_bytes;
    log_options.tail_bytes = config.log_tail_bytes;
    log_options.unix_ms = unix_ms;
    auto log = LogStore::open(env, io_, log_options, std::move(recovered->log));
    if (!log) return unexpected(log.error());
    log_ = std::move(*log);
    log_->on_visible = [this](const replication::LoggedRecord& entry) {
        core_->on_appended(entry, now_ms());
    };
    log_->on_acknowledged = [this](std::uint64_t end) { release_replies(end); };
    log_->on_failure = [this](const std::string& error) { fail_replies(error); };

    // The initial rights of a bounded counter with a negative floor belong to
    // the lowest region, in its first epoch (see crdt/bounded_counter.hpp).
    const crdt::ReplicaId floor_holder{config.directory.entries().front().id, 0};
    db_ = std::make_unique<Database>(keyspace_, config.policies, *log_, self_, floor_holder,
                                     recovered->clock, unix_ms, steady_ms);

    ConflictLog::Options feed;
    feed.capacity = config.conflict_log_entries;
    feed.value_bytes = config.conflict_log_value_bytes;
    auto conflict_log = ConflictLog::open(env, join_path(region_.data_dir, "conflicts.log"), feed);
    if (!conflict_log) return unexpected("conflict log: " + conflict_log.error());
    if (!conflict_log->problem().empty())
        spdlog::error("conflict log: {}", conflict_log->problem());
    conflicts_ = std::make_unique<ConflictTracker>(region_.id, std::move(*conflict_log));
    db_->track_conflicts(conflicts_.get());

    replication::CoreOptions core;
    core.self = self_;
    core.cluster = config.cluster;
    core.secret = config.secret;
    core.fingerprint = config.fingerprint();
    for (const RegionConfig& r : config.regions)
        if (r.id != region_.id) core.peers.push_back(r.id);
    core.batch_bytes = config.batch_bytes;
    core.heartbeat_ms = config.heartbeat_ms;
    core.peer_timeout_ms = config.peer_timeout_ms;
    core.relay_delay_ms = config.relay_delay_ms;
    core_ = std::make_unique<replication::ReplicationCore>(core, *log_, *this);

    replication::TransportOptions transport;
    transport.listen = region_.peer_listen;
    for (const RegionConfig& r : config.regions)
        if (r.id > region_.id) transport.dial[r.id] = r.peer_listen;  // the lower id dials
    transport.reconnect_min_ms = config.reconnect_min_ms;
    transport.reconnect_max_ms = config.reconnect_max_ms;
    if (config.tls.enabled())
        transport.tls = replication::TransportOptions::Tls{config.tls.cert_file,
                                                           config.tls.key_file, config.tls.ca_file};
    transport_ = std::make_unique<replication::PeerTransport>(
        io_, transport, *core_, [this](replication::Action& action) { on_core_action(action); },
        [this] { return now_ms(); });
    if (auto started = transport_->start(); !started)
        return unexpected("peer_listen " + region_.peer_listen + ": " + started.error());

    ClientServerOptions client_options;
    client_options.listen = region_.client_listen;
    client_options.limits.max_bulk_bytes = config.max_bulk_bytes;
    client_options.limits.max_args = config.max_args;
    client_options.max_clients = config.max_clients;
    client_options.client_timeout_ms = config.client_timeout_ms;
    client_options.requirepass = config.requirepass;
    clients_ =
        std::make_unique<ClientServer>(io_, client_options, *this, [this] { return now_ms(); });
    if (auto started = clients_->start(); !started)
        return unexpected("client_listen " + region_.client_listen + ": " + started.error());

    if (!region_.admin_listen.empty()) {
        admin_ = std::make_unique<AdminServer>(
            io_, region_.admin_listen,
            AdminHandlers{[this] { return metrics_text(); }, [this] { return status_json(); },
                          [] { return std::string(status_page_html); },
                          [this](std::string_view query) { return conflicts_json(query); }});
        if (auto started = admin_->start(); !started)
            return unexpected("admin_listen " + region_.admin_listen + ": " + started.error());
    }

    auto owners = HomeOwners::open(env, io_, config, region_.id, region_.data_dir, *db_, *core_,
                                   [this] { return now_ms(); });
    if (!owners) return unexpected(owners.error());
    owners_ = std::move(*owners);
    owners_->start();
    db_->set_home_epoch([this](std::string_view key, const conflict::Policy& policy) {
        return owners_->writing_epoch(key, policy);
    });
    home_ = std::make_unique<HomeRouter>(
        io_, config, *db_, *core_, *owners_,
        [this](ClientState& client, std::vector<std::string>& args, ReplySlot slot) {
            dispatch(*this, client, args, std::move(slot));
        });
    for (const auto& [stamp, dot] : recovered->executed_requests) home_->remember(stamp, dot);
    rights_ = std::make_unique<RightsBroker>(
        io_, config, *db_, *core_, [this](std::uint64_t lsn, ReplySlot slot, std::string reply) {
            complete_when_durable(lsn, std::move(slot), std::move(reply));
        });

    snapshotter_ = std::make_unique<Snapshotter>(env, io_, join_path(region_.data_dir, "snapshot"),
                                                 keyspace_, *log_, steady_ms);
    archiver_ = std::make_unique<WalArchiver>(env, io_, log_options.wal_dir, region_.archive_dir);
    backups_ = std::make_unique<Backups>(env, io_, config, region_, keyspace_, *log_, steady_ms, unix_ms);

    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const boost::system::error_code& error, int signal) {
        if (error) return;
        spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
        shutdown();
    });
    maintenance();
    sweep_expired();

    spdlog::info(
        "region {} (id {}, epoch {}: {}) serving clients on {}, peers on {}{}; {} keys, {} records "
        "replayed, fsync {}",
        region_.name, region_.id, self_.epoch, incarnation_reason_, region_.client_listen,
        region_.peer_listen,
        region_.admin_listen.empty() ? "" : ", admin on " + region_.admin_listen,
        keyspace_.visible_size(), records_replayed_,
        config.fsync == FsyncMode::always     ? "always"
        : config.fsync == FsyncMode::everysec ? "everysec"
                                              : "no");
    return {};
}

// ---- commands ----------------------------------------------------------------

void Node::execute(ClientState& client, std::vector<std::string>& args, ReplySlot slot) {
    dispatch(*this, client, args, std::move(slot));
}

void Node::after_batch() {
    log_->flush();
    transport_->drain();
}

void Node::complete_when_durable(std::uint64_t lsn, ReplySlot slot, std::string reply) {
    if (log_->broken()) return slot.complete(misconf(log_->error()));
    if (lsn < log_->acknowledged_end()) return slot.complete(std::move(reply));
    pending_replies_.push_back(PendingReply{lsn, std::move(slot), std::move(reply)});
}

void Node::release_replies(std::uint64_t acknowledged_end) {
    while (!pending_replies_.empty() && pending_replies_.front().lsn < acknowledged_end) {
        PendingReply& pending = pending_replies_.front();
        pending.slot.complete(std::move(pending.reply));
        pending_replies_.pop_front();
    }
}

void Node::fail_replies(const std::string& error) {
    for (PendingReply& pending : pending_replies_) pending.slot.complete(misconf(error));
    pending_replies_.clear();
}

std::int64_t Node::regions_holding(std::uint64_t seq) const {
    std::int64_t count = 0;
    for (crdt::RegionId peer : core_->peers()) {
        const crdt::VersionVector* acked = core_->acked(peer);
        count += acked && acked->get(self_) >= seq ? 1 : 0;
    }
    return count;
}

void Node::wait_for_regions(std::uint64_t seq, std::int64_t regions, std::uint64_t timeout_ms,
                            ReplySlot slot) {
    const std::int64_t holding = regions_holding(seq);
    if (holding >= regions || stopping_) {
        std::string out;
        resp::integer(out, holding);
        return slot.complete(std::move(out));
    }
    auto waiter = std::make_unique<RegionWaiter>(io_);
    waiter->seq = seq;
    waiter->regions = regions;
    waiter->slot = std::move(slot);
    RegionWaiter* raw = waiter.get();
    waiters_.push_back(std::move(waiter));
    if (timeout_ms > 0) {
        raw->timer.expires_after(std::chrono::milliseconds(timeout_ms));
        raw->timer.async_wait([this, raw](const boost::system::error_code& error) {
            if (error) return;
            std::string out;
            resp::integer(out, regions_holding(raw->seq));
            raw->slot.complete(std::move(out));
            waiters_.remove_if([raw](const auto& w) { return w.get() == raw; });
        });
    }
}

void Node::check_waiters() {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        RegionWaiter& waiter = **it;
        const std::int64_t holding = regions_holding(waiter.seq);
        if (holding >= waiter.regions || stopping_) {
            std::string out;
            resp::integer(out, holding);
            waiter.slot.complete(std::move(out));
            waiter.timer.cancel();
            it = waiters_.erase(it);
        } else {
            ++it;
        }
    }
}

bool Node::runs_here(std::span<const std::string> keys, const std::vector<std::string>& args,
                     ReplySlot& slot) {
    return home_->runs_here(keys, args, slot);
}

std::optional<std::string> Node::home_elsewhere(std::span<const std::string> keys) {
    return home_->home_elsewhere(keys);
}

void Node::failover(std::string_view from, std::string_view to, ReplySlot slot) {
    if (stopping_) return slot.complete(resp::error_reply("ERR the node is shutting down"));
    owners_->failover(from, to, std::move(slot));
}

std::string Node::homes_reply() {
    return owners_->homes_reply();
}

void Node::decrement_with_rights(const std::string& key, std::uint64_t amount, ReplySlot slot,
                                 ClientState& client) {
    rights_->decrement(key, amount, std::move(slot), client);
}

// ---- replication -------------------------------------------------------------

void Node::on_core_action(replication::Action& action) {
    using namespace replication;
    if (auto* apply = std::get_if<ApplyRecords>(&action)) {
        for (LogRecord& record : apply->records)
            db_->apply(std::make_shared<const LogRecord>(std::move(record)));
        // Forwarded writes and rights transfers waiting for these deltas; a
        // decrement retried now writes too, so the flush comes after them.
        home_->on_applied();
        rights_->on_applied();
        log_->flush();
    } else if (auto* states = std::get_if<ApplyStates>(&action)) {
        auto record = std::make_shared<LogRecord>();
        record->kind = LogRecord::Kind::state;
        record->deltas = std::move(states->states);
        db_->apply(std::move(record));
        rights_->on_applied();
        log_->flush();
    } else if (auto* merge = std::get_if<MergeVersionVector>(&action)) {
        auto record = std::make_shared<LogRecord>();
        record->kind = LogRecord::Kind::vv_merge;
        record->merged = std::move(merge->vv);
        db_->apply(std::move(record));
        home_->on_applied();
        rights_->on_applied();
        log_->flush();
        spdlog::info("full-state sync from region {} complete",
                     options_.config.directory.name_of(merge->from));
    } else if (auto* up = std::get_if<PeerUp>(&action)) {
        spdlog::info("replicating with region {}", options_.config.directory.name_of(up->peer));
        owners_->on_peer_up(up->peer);
        home_->on_peer_up(up->peer);
    } else if (auto* down = std::get_if<PeerDown>(&action)) {
        spdlog::info("lost the link to region {}", options_.config.directory.name_of(down->peer));
    } else if (std::get_if<PeerAcked>(&action)) {
        check_waiters();
    } else if (auto* message = std::get_if<PeerMessage>(&action)) {
        if (message->type == FrameType::forward || message->type == FrameType::forward_reply)
            home_->on_message(message->from, message->type, message->payload);
        else if (message->type == FrameType::homes)
            owners_->on_message(message->from, message->payload);
        else
            rights_->on_message(message->from, message->type, message->payload);
        log_->flush();  // what a peer's request wrote here
    }
}

std::uint64_t Node::read_states(std::uint64_t cursor, std::size_t max_bytes,
                                std::vector<replication::KeyDelta>& out) {
    std::size_t bytes = 0;
    do {
        // Tombstones too: a deleted register must keep winning over older writes.
        cursor = keyspace_.scan(cursor, 256, [&](std::string_view key, const crdt::Value& value) {
            out.push_back(replication::KeyDelta{std::string(key), value});
            bytes += key.size() + 32;
        });
    } while (cursor != 0 && bytes < max_bytes);
    return cursor;
}

// ---- housekeeping --------------------------------------------------------------

void Node::maintenance() {
    const ClusterConfig& config = options_.config;
    if (config.fsync == FsyncMode::everysec) log_->sync_in_background();
    const std::uint64_t appended = log_->appended_lsn();
    const bool due =
        appended - last_snapshot_lsn_ >= config.snapshot_every_records ||
        (appended > last_snapshot_lsn_ &&
         now_ms() - last_snapshot_ms_ >= std::uint64_t{config.snapshot_every_seconds} * 1000);
    if (due && !snapshotter_->running() && !stopping_) start_snapshot();
    close_idle_segment();
    archiver_->poll();
    keyspace_.rehash(65536);  // finish a resize even when no writes come
    maintenance_timer_.expires_after(std::chrono::seconds(1));
    maintenance_timer_.async_wait([this](const boost::system::error_code& error) {
        if (!error && !stopping_) maintenance();
    });
}

// The active expiry sweep: reclaims the keys due (Keyspace::due_for_reclaim), a batch of
// kSweepBatch keys per write, a few batches per turn so a burst of expiries never holds the
// event loop for long; it comes back at once while more are due, else every kSweepEveryMs.
void Node::sweep_expired() {
    constexpr std::size_t kSweepBatch = 256;
    constexpr int kBatchesPerTurn = 4;
    constexpr int kSweepEveryMs = 100;
    bool more = false;
    for (int i = 0; i < kBatchesPerTurn && !log_->broken(); ++i) {
        auto reclaimed = db_->reclaim_due(kSweepBatch);
        more = reclaimed && *reclaimed == kSweepBatch;
        if (!more) break;
    }
    log_->flush();
    expiry_timer_.expires_after(std::chrono::milliseconds(more ? 1 : kSweepEveryMs));
    expiry_timer_.async_wait([this](const boost::system::error_code& error) {
        if (!error && !stopping_) sweep_expired();
    });
}

// With archiving on, a segment is closed (and archived) within
// archive_timeout_ms of being opened, so a quiet region's recent writes do not
// sit unarchived in a half-empty segment for days.
void Node::close_idle_segment() {
    const std::uint64_t timeout = options_.config.archive_timeout_ms;
    if (!archiver_->enabled() || timeout == 0 || stopping_) return;
    if (log_->segment_first_lsn() != open_segment_) {
        open_segment_ = log_->segment_first_lsn();
        open_segment_ms_ = now_ms();
        return;
    }
    if (now_ms() - open_segment_ms_ < timeout || log_->appended_lsn() == open_segment_) return;
    if (auto rolled = log_->roll_segment(); !rolled) spdlog::error("closing the WAL segment: {}", rolled.error());
}

void Node::backup(const std::string& dir, ReplySlot slot) {
    if (stopping_) return slot.complete(resp::error_reply("ERR the node is shutting down"));
    auto waiting = std::make_shared<ReplySlot>(std::move(slot));  // std::function needs a copyable callback
    backups_->start(dir, [waiting](Expected<BackupManifest, std::string> result) {
        if (!result)
            return waiting->complete(resp::error_reply("ERR backup failed: " + result.error()));
        std::uint64_t bytes = 0;
        for (const BackupFile& f : result->files) bytes += f.bytes;
        std::string out;
        resp::simple(out, "OK backup verified: lsn " + std::to_string(result->snapshot_lsn) + " to " +
                              std::to_string(result->end_lsn) + ", " + std::to_string(result->files.size()) +
                              " files, " + std::to_string(bytes) + " bytes");
        waiting->complete(std::move(out));
    });
}

void Node::start_snapshot() {
    snapshotter_->start([this](Expected<std::uint64_t, std::string> result) {
        last_snapshot_ms_ = now_ms();
        if (!result) {
            spdlog::error("snapshot failed: {}", result.error());
            return;
        }
        last_snapshot_lsn_ = *result;
        Env& env = default_env();
        const std::string dir = join_path(region_.data_dir, "snapshot");
        if (auto removed = remove_old_snapshots(env, dir, 2); !removed)
            spdlog::warn("removing old snapshots: {}", removed.error());
        std::uint64_t keep_from = std::min(*result, archiver_->archived_end());
        if (auto needed = core_->lowest_needed_lsn()) keep_from = std::min(keep_from, *needed);
        if (auto pinned = backups_->pinned_lsn()) keep_from = std::min(keep_from, *pinned);
        log_->collect(keep_from);
        spdlog::info("snapshot at lsn {} written", *result);
    });
}

void Node::shutdown() {
    if (stopping_) return;
    stopping_ = true;
    clients_->stop_accepting();
    if (admin_) admin_->stop();
    maintenance_timer_.cancel();
    expiry_timer_.cancel();
    // Writes in flight are answered once synced; WAITs answer with what is known.
    if (auto synced = log_->sync_now(); !synced)
        spdlog::error("final WAL sync failed: {}", synced.error());
    check_waiters();
    transport_->stop();
    // Give the answers a moment to reach their sockets, then close and finish.
    auto grace = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
    grace->async_wait([this, grace](const boost::system::error_code&) {
        clients_->close_all();
        bool clean = !log_->broken();
        if (clean) {
            if (auto snapshot = snapshotter_->take_now(); !snapshot) {
                spdlog::error("shutdown snapshot failed: {}", snapshot.error());
            } else {
                spdlog::info("shutdown snapshot at lsn {} written", *snapshot);
            }
            if (auto marked = mark_clean_shutdown(default_env(), region_.data_dir); !marked) {
                spdlog::error("cannot mark the shutdown clean: {}", marked.error());
                clean = false;
            }
        }
        spdlog::info("region {} stopped{}", region_.name,
                     clean ? " cleanly" : " (the next start recovers)");
        io_.stop();
    });
}

}  // namespace meridian::node
