// What the node tells operators: INFO sections, MERIDIAN PEERS, and the admin
// endpoints /metrics (Prometheus text) and /status (JSON).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "node/conflict_report.hpp"
#include "node/json_text.hpp"
#include "node/node.hpp"
#include "node/prometheus.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

const char* fsync_name(FsyncMode mode) {
    return mode == FsyncMode::always ? "always" : mode == FsyncMode::everysec ? "everysec" : "no";
}

std::uint64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "K", "M", "G", "T"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) value /= 1024, ++unit;
    std::ostringstream out;
    out.precision(2);
    out << std::fixed << value << units[unit];
    return out.str();
}

// INFO values may not contain CR/LF or commas inside one field.
std::string info_safe(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c == '\r' || c == '\n' || c == ',') c = ' ';
    return out;
}

}  // namespace

std::string Node::info(std::string_view section) {
    const bool all = section == "default" || section == "all" || section == "everything";
    const ClusterConfig& config = options_.config;
    const std::uint64_t now = now_ms();
    std::ostringstream out;
    auto wants = [&](std::string_view name) { return all || section == name; };

    if (wants("server")) {
        out << "# Server\r\n"
            << "redis_version:7.0.0\r\n"
            << "meridian_version:0.1.0\r\n"
            << "cluster:" << info_safe(config.cluster) << "\r\n"
            << "region:" << region_.name << "\r\n"
            << "region_id:" << region_.id << "\r\n"
            << "epoch:" << self_.epoch << "\r\n"
            << "process_id:" << getpid() << "\r\n"
            << "client_listen:" << region_.client_listen << "\r\n"
            << "peer_listen:" << region_.peer_listen << "\r\n"
            << "uptime_in_seconds:" << (now - started_ms_) / 1000 << "\r\n"
            << "policy_fingerprint:" << config.fingerprint() << "\r\n\r\n";
    }
    if (wants("clients")) {
        out << "# Clients\r\n"
            << "connected_clients:" << clients_->connected_clients() << "\r\n"
            << "maxclients:" << config.max_clients << "\r\n"
            << "blocked_clients:" << waiters_.size() << "\r\n"
            << "writes_awaiting_durability:" << pending_replies_.size() << "\r\n\r\n";
    }
    if (wants("memory")) {
        // Estimated heap (crdt/heap_bytes.hpp): the keys and their states, and the recent log
        // records kept decoded for peers. Buffers, indexes and allocator slack show in RSS only.
        const std::uint64_t dataset = keyspace_.memory_bytes();
        const std::uint64_t tail = log_->tail_memory_bytes();
        const std::uint64_t used = dataset + tail;
        out << "# Memory\r\n"
            << "used_memory:" << used << "\r\n"
            << "used_memory_human:" << human_bytes(used) << "\r\n"
            << "used_memory_dataset:" << dataset << "\r\n"
            << "used_memory_log_tail:" << tail << "\r\n"
            << "used_memory_rss:" << resident_bytes() << "\r\n"
            << "used_memory_rss_human:" << human_bytes(resident_bytes()) << "\r\n\r\n";
    }
    if (wants("persistence")) {
        const LogStats& log = log_->stats();
        const SnapshotStats& snap = snapshotter_->stats();
        out << "# Persistence\r\n"
            << "fsync:" << fsync_name(config.fsync) << "\r\n"
            << "wal_bytes:" << log_->wal_bytes() << "\r\n"
            << "wal_first_lsn:" << log_->first_retained_lsn() << "\r\n"
            << "wal_appended_lsn:" << log_->appended_lsn() - 1 << "\r\n"
            << "wal_durable_lsn:" << log_->durable_lsn() << "\r\n"
            << "wal_records_appended:" << log.records_appended << "\r\n"
            << "wal_fsyncs:" << log.fsyncs << "\r\n"
            << "wal_last_fsync_us:" << log.last_fsync_us << "\r\n"
            << "wal_failed:" << (log_->broken() ? 1 : 0) << "\r\n"
            << "snapshot_in_progress:" << (snapshotter_->running() ? 1 : 0) << "\r\n"
            << "snapshots_taken:" << snap.taken << "\r\n"
            << "snapshots_failed:" << snap.failed << "\r\n"
            << "last_snapshot_lsn:" << snap.last_lsn << "\r\n"
            << "last_snapshot_bytes:" << snap.last_bytes << "\r\n"
            << "records_replayed_at_start:" << records_replayed_ << "\r\n";
        const ArchiveStats& archive = archiver_->stats();
        out << "archive_enabled:" << (archiver_->enabled() ? 1 : 0) << "\r\n";
        if (archiver_->enabled())
            out << "archived_lsn:" << archiver_->archived_end() - 1 << "\r\n"
                << "archive_pending_segments:" << archive.pending_segments << "\r\n"
                << "archive_segments:" << archive.segments_archived << "\r\n"
                << "archive_bytes:" << archive.bytes_archived << "\r\n"
                << "archive_failures:" << archive.failures << "\r\n"
                << "archive_last_error:" << archive.last_error << "\r\n";
        const BackupStats& backup = backups_->stats();
        out << "backup_in_progress:" << (backups_->running() ? 1 : 0) << "\r\n"
            << "backups_completed:" << backup.completed << "\r\n"
            << "backups_failed:" << backup.failed << "\r\n"
            << "last_backup_bytes:" << backup.last_bytes << "\r\n"
            << "last_backup_duration_ms:" << backup.last_duration_ms << "\r\n"
            << "last_backup_error:" << backup.last_error << "\r\n\r\n";
    }
    if (wants("stats")) {
        const ClientServerStats& s = clients_->stats();
        out << "# Stats\r\n"
            << "total_connections_received:" << s.total_connections_received << "\r\n"
            << "rejected_connections:" << s.rejected_connections << "\r\n"
            << "total_commands_processed:" << s.total_commands_processed << "\r\n"
            << "total_net_input_bytes:" << s.total_net_input_bytes << "\r\n"
            << "total_net_output_bytes:" << s.total_net_output_bytes << "\r\n"
            << "protocol_errors:" << s.protocol_errors << "\r\n"
            << "limit_errors:" << s.limit_errors << "\r\n"
            << "replicated_deltas_refused:" << db_->deltas_refused() << "\r\n"
            << "expired_keys:" << db_->keys_reclaimed() << "\r\n";
        const HomeRouterStats& h = home_->stats();
        const RightsStats& b = rights_->stats();
        out << "forwarded_writes:" << h.forwarded << "\r\n"
            << "forwarded_retransmissions:" << h.retransmitted << "\r\n"
            << "forwarded_unreachable:" << h.unreachable << "\r\n"
            << "forwarded_timed_out:" << h.timed_out << "\r\n"
            << "forwarded_executed_for_peers:" << h.executed_for_peers << "\r\n"
            << "forwarded_duplicates_answered:" << h.duplicates_answered << "\r\n"
            << "rights_transfers_requested:" << b.transfers_requested << "\r\n"
            << "rights_transfers_granted:" << b.transfers_granted << "\r\n"
            << "rights_transfers_refused:" << b.transfers_refused << "\r\n"
            << "rights_granted_total:" << b.rights_granted << "\r\n"
            << "decrements_waiting_for_rights:" << b.decrements_waited << "\r\n"
            << "decrements_refused:" << b.decrements_refused << "\r\n\r\n";
    }
    if (wants("replication")) {
        std::size_t connected = 0;
        for (crdt::RegionId peer : core_->peers()) connected += core_->established(peer) ? 1 : 0;
        out << "# Replication\r\n"
            << "role:master\r\n"
            << "peer_regions:" << core_->peers().size() << "\r\n"
            << "connected_regions:" << connected << "\r\n"
            << "version_vector:" << log_->version_vector().to_string() << "\r\n"
            << "refused_handshakes_unknown:" << core_->refused_unknown() << "\r\n";
        for (crdt::RegionId peer : core_->peers()) {
            const replication::PeerStatus st = core_->status(peer, now);
            const replication::PeerIo io = transport_->io(peer);
            out << "region_" << config.directory.name_of(peer) << ":state=" << st.state
                << ",paused=" << (st.paused ? 1 : 0) << ",lag_ms=" << st.lag_ms << ",lag_records=" << st.lag_records
                << ",bytes_sent_raw=" << io.bytes_sent_raw << ",bytes_sent=" << io.bytes_sent_wire
                << ",bytes_received_raw=" << io.bytes_received_raw << ",bytes_received=" << io.bytes_received_wire
                << ",batches_sent=" << st.stats.batches_sent << ",records_sent=" << st.stats.records_sent
                << ",records_received=" << st.stats.records_received
                << ",full_syncs_sent=" << st.stats.full_syncs_sent
                << ",full_syncs_received=" << st.stats.full_syncs_received
                << ",links_established=" << st.stats.links_established
                << ",refused_handshakes=" << st.stats.refused_handshakes
                << ",frames_refused=" << st.stats.frames_refused
                << ",last_error=" << info_safe(st.stats.last_error.empty() ? io.last_error : st.stats.last_error)
                << "\r\n";
        }
        out << "\r\n";
    }
    if (wants("homes")) {
        // route = "home": who owns each home, and what this region does with its writes.
        const HomeOwnerStats& o = owners_->stats();
        out << "# Homes\r\n"
            << "home_lease_ms:" << config.home_lease_ms << "\r\n"
            << "homes_served:" << owners_->homes_served() << "\r\n"
            << "failovers:" << o.failovers << "\r\n"
            << "failovers_run:" << o.failovers_run << "\r\n"
            << "failovers_failed:" << o.failovers_failed << "\r\n"
            << "fenced_writes:" << o.fenced_writes << "\r\n"
            << "homes_file_write_errors:" << o.persist_errors << "\r\n"
            << "retired_replicas:" << owners_->retirements().size() << "\r\n"
            << "rights_keys_handed_over:" << owners_->keys_handed_over() << "\r\n";
        for (const RegionConfig& r : config.regions) {
            const conflict::HomeEntry& e = owners_->entry(r.id);
            out << "home_" << r.name << ":owner=" << config.directory.name_of(e.owner)
                << ",epoch=" << e.epoch << ",here=" << conflict::describe(owners_->serving(r.id))
                << "\r\n";
        }
        out << "\r\n";
    }
    if (wants("conflicts")) {
        // Per policy: where two regions' writes met without either having observed the other.
        const ConflictCounts& c = conflicts_->counts();
        const ConflictLog& feed = conflicts_->log();
        const HomeRouterStats& h = home_->stats();
        const RightsStats& b = rights_->stats();
        out << "# Conflicts\r\n"
            << "lww_overwritten:" << c.lww_overwritten << "\r\n"
            << "set_adds_kept:" << c.set_adds_kept << "\r\n"
            << "counter_merges:" << c.counter_merges << "\r\n"
            << "counter_writes_undone:" << c.counter_writes_undone << "\r\n"
            << "bounded_decrements_refused:" << b.decrements_refused << "\r\n"
            << "bounded_rights_transfers:" << b.transfers_granted << "\r\n"
            << "home_writes_forwarded:" << h.forwarded << "\r\n"
            << "home_writes_refused:" << h.unreachable << "\r\n"
            << "conflict_log_entries:" << feed.entries().size() << "\r\n"
            << "conflict_log_capacity:" << feed.options().capacity << "\r\n"
            << "conflict_log_write_errors:" << conflicts_->log_write_errors() << "\r\n"
            << "conflict_log_problem:" << info_safe(feed.problem()) << "\r\n\r\n";
    }
    if (wants("keyspace")) {
        out << "# Keyspace\r\n";
        if (keyspace_.visible_size() > 0)
            out << "db0:keys=" << keyspace_.visible_size()
                << ",expires=" << keyspace_.expiring_size() << "\r\n";
        out << "tombstones:" << keyspace_.size() - keyspace_.visible_size() << "\r\n\r\n";
    }
    return out.str();
}

std::string Node::peers_reply() {
    std::string out;
    const std::uint64_t now = now_ms();
    resp::array(out, core_->peers().size());
    for (crdt::RegionId peer : core_->peers()) {
        const replication::PeerStatus st = core_->status(peer, now);
        resp::array(out, 10);
        resp::bulk(out, "region");
        resp::bulk(out, options_.config.directory.name_of(peer));
        resp::bulk(out, "state");
        resp::bulk(out, st.paused ? st.state + " (paused)" : st.state);
        resp::bulk(out, "lag_ms");
        resp::integer(out, static_cast<std::int64_t>(st.lag_ms));
        resp::bulk(out, "lag_records");
        resp::integer(out, static_cast<std::int64_t>(st.lag_records));
        resp::bulk(out, "last_error");
        resp::bulk(out, st.stats.last_error);
    }
    return out;
}

bool Node::set_peer_paused(std::string_view name, bool paused) {
    auto id = options_.config.directory.id_of(name);
    if (!id || *id == region_.id) return false;
    if (paused) core_->pause(*id);
    else core_->resume(*id, now_ms());
    transport_->drain();
    spdlog::info("shipping to region {} {} by an operator", name, paused ? "paused" : "resumed");
    return true;
}

std::string Node::metrics_text() {
    PrometheusText t;
    const std::string region = region_.name;
    const std::uint64_t now = now_ms();
    const ClientServerStats& s = clients_->stats();
    t.gauge("meridian_keys", "Keys that exist for clients", {{"region", region}}, keyspace_.visible_size());
    t.gauge("meridian_expiring_keys", "Keys with a TTL, not yet reclaimed", {{"region", region}},
            keyspace_.expiring_size());
    t.counter("meridian_expired_keys_total", "Expired keys this region reclaimed",
              {{"region", region}}, db_->keys_reclaimed());
    t.gauge("meridian_tombstones", "Deleted registers kept so the delete keeps winning",
            {{"region", region}}, keyspace_.size() - keyspace_.visible_size());
    t.gauge("meridian_connected_clients", "Client connections", {{"region", region}}, clients_->connected_clients());
    t.counter("meridian_commands_total", "Commands processed", {{"region", region}}, s.total_commands_processed);
    t.counter("meridian_connections_total", "Client connections accepted", {{"region", region}},
              s.total_connections_received);
    t.counter("meridian_protocol_errors_total", "Client connections closed for protocol errors",
              {{"region", region}}, s.protocol_errors);
    t.gauge("meridian_keyspace_bytes", "Approximate heap bytes held by the keyspace", {{"region", region}},
            keyspace_.memory_bytes());
    t.gauge("meridian_log_tail_bytes", "Approximate heap bytes of the log records kept in memory",
            {{"region", region}}, log_->tail_memory_bytes());
    t.gauge("meridian_wal_bytes", "Bytes in WAL segments", {{"region", region}}, log_->wal_bytes());
    t.counter("meridian_wal_records_total", "Records appended to the WAL", {{"region", region}},
              log_->stats().records_appended);
    t.counter("meridian_wal_fsyncs_total", "WAL fsyncs", {{"region", region}}, log_->stats().fsyncs);
    t.gauge("meridian_wal_failed", "1 when the WAL failed and writes are refused", {{"region", region}},
            log_->broken() ? 1 : 0);
    t.counter("meridian_snapshots_total", "Snapshots written", {{"region", region}}, snapshotter_->stats().taken);
    t.counter("meridian_backups_total", "Backups completed and verified", {{"region", region}},
              backups_->stats().completed);
    t.counter("meridian_backup_failures_total", "Backups that failed", {{"region", region}}, backups_->stats().failed);
    {
        const ConflictCounts& c = conflicts_->counts();
        const std::string_view help =
            "Writes that met a concurrent write of another region, by policy and outcome";
        t.counter("meridian_conflicts_total", help,
                  {{"region", region}, {"policy", "lww"}, {"outcome", "overwritten"}},
                  c.lww_overwritten);
        t.counter("meridian_conflicts_total", help,
                  {{"region", region}, {"policy", "set"}, {"outcome", "add_kept"}},
                  c.set_adds_kept);
        t.counter("meridian_conflicts_total", help,
                  {{"region", region}, {"policy", "counter"}, {"outcome", "merged"}},
                  c.counter_merges);
        t.counter("meridian_conflicts_total", help,
                  {{"region", region}, {"policy", "counter"}, {"outcome", "undone_by_seal"}},
                  c.counter_writes_undone);
        t.gauge("meridian_conflict_log_entries", "LWW losses kept in the conflict feed",
                {{"region", region}}, conflicts_->log().entries().size());
        t.counter("meridian_conflict_log_write_errors_total",
                  "Failed appends to the conflict log file", {{"region", region}},
                  conflicts_->log_write_errors());
    }
    if (archiver_->enabled()) {
        t.counter("meridian_wal_segments_archived_total", "WAL segments copied to the archive",
                  {{"region", region}}, archiver_->stats().segments_archived);
        t.counter("meridian_wal_archive_failures_total", "Failed attempts to archive a WAL segment",
                  {{"region", region}}, archiver_->stats().failures);
        t.gauge("meridian_wal_archive_pending_segments", "Closed WAL segments not archived yet",
                {{"region", region}}, archiver_->stats().pending_segments);
    }
    const HomeRouterStats& h = home_->stats();
    const RightsStats& b = rights_->stats();
    const HomeOwnerStats& o = owners_->stats();
    t.counter("meridian_home_failovers_total", "Commits that gave a home a new owner, seen here",
              {{"region", region}}, o.failovers);
    t.counter("meridian_home_failovers_failed_total",
              "MERIDIAN FAILOVER commands here that did not commit", {{"region", region}},
              o.failovers_failed);
    t.counter("meridian_home_fenced_writes_total",
              "Home writes refused: not serving the home, or routed by another epoch",
              {{"region", region}}, o.fenced_writes);
    t.counter("meridian_rights_keys_handed_over_total",
              "Bounded counters whose retired replicas' rights this region took over",
              {{"region", region}}, owners_->keys_handed_over());
    t.gauge("meridian_homes_served", "Homes whose writes this region executes now",
            {{"region", region}}, owners_->homes_served());
    t.counter("meridian_forwarded_writes_total", "Writes forwarded to their key's home region", {{"region", region}},
              h.forwarded);
    t.counter("meridian_forwarded_unreachable_total", "Forwarded writes refused: the home was unreachable",
              {{"region", region}}, h.unreachable);
    t.counter("meridian_forwarded_timeouts_total", "Forwarded writes with no answer in time (outcome unknown)",
              {{"region", region}}, h.timed_out);
    t.counter("meridian_forwarded_executed_total", "Writes executed here for other regions", {{"region", region}},
              h.executed_for_peers);
    t.counter("meridian_rights_transfers_requested_total", "Bounded-counter rights transfers requested",
              {{"region", region}}, b.transfers_requested);
    t.counter("meridian_rights_transfers_granted_total", "Rights transfers granted to other regions",
              {{"region", region}}, b.transfers_granted);
    t.counter("meridian_rights_transfers_refused_total", "Rights transfers refused to other regions",
              {{"region", region}}, b.transfers_refused);
    t.counter("meridian_decrements_waited_total", "Bounded-counter decrements that needed a transfer",
              {{"region", region}}, b.decrements_waited);
    t.counter("meridian_decrements_refused_total", "Bounded-counter decrements refused for lack of rights",
              {{"region", region}}, b.decrements_refused);
    t.counter("meridian_handshakes_refused_unknown_total",
              "Peer handshakes refused before the peer's region was known", {{"region", region}},
              core_->refused_unknown());
    for (crdt::RegionId peer_id : core_->peers()) {
        const std::string peer(options_.config.directory.name_of(peer_id));
        const replication::PeerStatus st = core_->status(peer_id, now);
        const replication::PeerIo io = transport_->io(peer_id);
        t.gauge("meridian_peer_connected", "1 while the link to the peer is up", {{"region", region}, {"peer", peer}}, st.state == "connected" ? 1 : 0);
        t.gauge("meridian_peer_paused", "1 while an operator paused shipping", {{"region", region}, {"peer", peer}}, st.paused ? 1 : 0);
        t.gauge("meridian_peer_lag_ms", "Age of the oldest own write the peer has not acknowledged", {{"region", region}, {"peer", peer}}, st.lag_ms);
        t.gauge("meridian_peer_lag_records", "Records held here that the peer has not acknowledged", {{"region", region}, {"peer", peer}},
                st.lag_records);
        t.counter("meridian_peer_bytes_sent_total", "Bytes sent on the wire (compressed)", {{"region", region}, {"peer", peer}}, io.bytes_sent_wire);
        t.counter("meridian_peer_bytes_sent_raw_total", "Bytes sent before compression", {{"region", region}, {"peer", peer}}, io.bytes_sent_raw);
        t.counter("meridian_peer_bytes_received_total", "Bytes received on the wire", {{"region", region}, {"peer", peer}}, io.bytes_received_wire);
        t.counter("meridian_peer_bytes_received_raw_total", "Bytes received after decompression", {{"region", region}, {"peer", peer}},
                  io.bytes_received_raw);
        t.counter("meridian_peer_batches_sent_total", "Record batches sent", {{"region", region}, {"peer", peer}}, st.stats.batches_sent);
        t.counter("meridian_peer_records_sent_total", "Log records shipped (before joining)", {{"region", region}, {"peer", peer}},
                  st.stats.records_sent);
        t.counter("meridian_peer_records_received_total", "Records received", {{"region", region}, {"peer", peer}}, st.stats.records_received);
        t.counter("meridian_peer_full_syncs_sent_total", "Full-state syncs sent", {{"region", region}, {"peer", peer}}, st.stats.full_syncs_sent);
        t.counter("meridian_peer_full_syncs_received_total", "Full-state syncs received", {{"region", region}, {"peer", peer}},
                  st.stats.full_syncs_received);
        t.counter("meridian_peer_links_total", "Links established", {{"region", region}, {"peer", peer}}, st.stats.links_established);
        t.counter("meridian_peer_handshakes_refused_total", "Handshakes refused", {{"region", region}, {"peer", peer}},
                  st.stats.refused_handshakes);
        t.counter("meridian_peer_frames_refused_total", "Links dropped for a frame that failed authentication",
                  {{"region", region}, {"peer", peer}}, st.stats.frames_refused);
    }
    return t.str();
}

std::string Node::status_json() {
    // Counters, not rates: the status page (node/status_page.html) works rates out between polls
    // with now_ms, this node's steady clock.
    const std::uint64_t now = now_ms();
    const ClientServerStats& s = clients_->stats();
    const HomeRouterStats& h = home_->stats();
    const RightsStats& b = rights_->stats();
    std::ostringstream out;
    out << "{\"cluster\":\"" << json_escape(options_.config.cluster) << "\",\"region\":\""
        << json_escape(region_.name) << "\",\"region_id\":" << region_.id
        << ",\"epoch\":" << self_.epoch << ",\"now_ms\":" << now
        << ",\"uptime_seconds\":" << (now - started_ms_) / 1000
        << ",\"keys\":" << keyspace_.visible_size()
        << ",\"keyspace_bytes\":" << keyspace_.memory_bytes()
        << ",\"connected_clients\":" << clients_->connected_clients()
        << ",\"commands_total\":" << s.total_commands_processed
        << ",\"wal_failed\":" << (log_->broken() ? "true" : "false")
        << ",\"wal\":{\"records_total\":" << log_->stats().records_appended
        << ",\"bytes\":" << log_->wal_bytes() << ",\"fsyncs_total\":" << log_->stats().fsyncs
        << ",\"tail_bytes\":" << log_->tail_memory_bytes()
        << "},\"snapshots_total\":" << snapshotter_->stats().taken
        << ",\"backups_total\":" << backups_->stats().completed
        << ",\"coordination\":{\"forwarded_writes\":" << h.forwarded
        << ",\"forwarded_unreachable\":" << h.unreachable
        << ",\"forwarded_timeouts\":" << h.timed_out
        << ",\"executed_for_peers\":" << h.executed_for_peers
        << ",\"rights_transfers_requested\":" << b.transfers_requested
        << ",\"rights_transfers_granted\":" << b.transfers_granted
        << ",\"rights_transfers_refused\":" << b.transfers_refused
        << ",\"decrements_waited\":" << b.decrements_waited
        << ",\"decrements_refused\":" << b.decrements_refused << "}";
    const ConflictCounts& c = conflicts_->counts();
    out << ",\"conflicts\":{\"lww_overwritten\":" << c.lww_overwritten
        << ",\"set_adds_kept\":" << c.set_adds_kept << ",\"counter_merges\":" << c.counter_merges
        << ",\"counter_writes_undone\":" << c.counter_writes_undone
        << ",\"bounded_decrements_refused\":" << b.decrements_refused
        << ",\"bounded_rights_transfers\":" << b.transfers_granted
        << ",\"home_writes_forwarded\":" << h.forwarded
        << ",\"home_writes_refused\":" << h.unreachable
        << ",\"feed_entries\":" << conflicts_->log().entries().size() << ",\"feed_problem\":\""
        << json_escape(conflicts_->log().problem()) << "\"},\"homes\":[";
    bool first = true;
    for (const conflict::Policy& policy : options_.config.policies.rules()) {
        if (!policy.home_routed) continue;
        const std::string home =
            policy.home.kind == conflict::HomeRule::Kind::fixed
                ? std::string(options_.config.directory.name_of(policy.home.region))
                : std::string("the {tag} in the key");
        out << (first ? "" : ",") << "{\"match\":\"" << json_escape(policy.match)
            << "\",\"home\":\"" << json_escape(home) << "\",\"type\":\""
            << crdt::name_of(policy.type) << "\"}";
        first = false;
    }
    const HomeOwnerStats& o = owners_->stats();
    out << "],\"failovers\":" << o.failovers << ",\"fenced_writes\":" << o.fenced_writes
        << ",\"home_owners\":[";
    first = true;
    for (const RegionConfig& r : options_.config.regions) {
        const conflict::HomeEntry& e = owners_->entry(r.id);
        out << (first ? "" : ",") << "{\"home\":\"" << json_escape(r.name) << "\",\"owner\":\""
            << json_escape(options_.config.directory.name_of(e.owner)) << "\",\"epoch\":" << e.epoch
            << ",\"here\":\"" << conflict::describe(owners_->serving(r.id)) << "\"}";
        first = false;
    }
    out << "],\"version_vector\":\"" << log_->version_vector().to_string() << "\",\"peers\":[";
    first = true;
    for (crdt::RegionId peer : core_->peers()) {
        const replication::PeerStatus st = core_->status(peer, now);
        const replication::PeerIo io = transport_->io(peer);
        out << (first ? "" : ",") << "{\"region\":\""
            << json_escape(options_.config.directory.name_of(peer)) << "\",\"state\":\"" << st.state
            << "\",\"paused\":" << (st.paused ? "true" : "false") << ",\"lag_ms\":" << st.lag_ms
            << ",\"lag_records\":" << st.lag_records << ",\"bytes_sent_raw\":" << io.bytes_sent_raw
            << ",\"bytes_sent_wire\":" << io.bytes_sent_wire
            << ",\"bytes_received_raw\":" << io.bytes_received_raw
            << ",\"bytes_received_wire\":" << io.bytes_received_wire
            << ",\"records_sent\":" << st.stats.records_sent
            << ",\"records_received\":" << st.stats.records_received
            << ",\"full_syncs_sent\":" << st.stats.full_syncs_sent
            << ",\"full_syncs_received\":" << st.stats.full_syncs_received
            << ",\"links_established\":" << st.stats.links_established
            << ",\"refused_handshakes\":" << st.stats.refused_handshakes
            << ",\"frames_refused\":" << st.stats.frames_refused << ",\"last_error\":\""
            << json_escape(st.stats.last_error) << "\"}";
        first = false;
    }
    out << "]}";
    return out.str();
}

Expected<std::string, std::string> Node::conflicts_json(std::string_view query) {
    auto q = parse_conflict_query_string(query);
    if (!q) return unexpected(q.error());
    const auto entries = select_conflicts(conflicts_->log(), *q);
    return node::conflicts_json(entries, options_.config.directory, region_.name, *conflicts_);
}

}  // namespace meridian::node
