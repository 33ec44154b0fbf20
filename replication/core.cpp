#include "replication/core.hpp"

#include <algorithm>

#include "replication/auth.hpp"
#include "replication/batch_builder.hpp"
#include "replication/record_format.hpp"

namespace meridian::replication {

namespace {

// How many log records one pump may examine before yielding to other work
// when none of them needed sending (catch-up over records the peer holds).
constexpr std::size_t max_records_scanned_per_pump = 100'000;

std::string describe(crdt::ReplicaId r) {
    return std::to_string(r.region) + "." + std::to_string(r.epoch);
}

Digest proof(const std::string& secret, const std::string& message) {
    return hmac_sha256(secret, message);
}

std::uint64_t age(std::uint64_t now_ms, std::uint64_t then_ms) {
    return now_ms > then_ms ? now_ms - then_ms : 0;
}

}  // namespace

ReplicationCore::ReplicationCore(CoreOptions options, LogReader& log, StateReader& state)
    : options_(std::move(options)), log_(log), state_(state) {
    if (!options_.make_nonce) options_.make_nonce = [] { return random_nonce(); };
    for (crdt::RegionId region : options_.peers) peers_[region].region = region;
}

// ---- links and handshake ---------------------------------------------------

void ReplicationCore::on_connected(LinkId id, std::optional<crdt::RegionId> dialed,
                                   std::uint64_t now_ms) {
    Link& link = links_[id];
    link.dialed = dialed;
    link.nonce = options_.make_nonce();
    link.opened_ms = link.last_received_ms = link.last_sent_ms = now_ms;
    Hello hello;
    hello.cluster = options_.cluster;
    hello.replica = options_.self;
    hello.fingerprint = options_.fingerprint;
    hello.nonce = link.nonce;
    link.own_hello = encode(hello);
    send(id, FrameType::hello, link.own_hello);
}

void ReplicationCore::on_frame(LinkId id, FrameType type, std::string payload,
                               std::uint64_t now_ms) {
    auto it = links_.find(id);
    if (it == links_.end()) return;  // closed already
    Link& link = it->second;
    link.last_received_ms = now_ms;
    switch (link.phase) {
        case Link::Phase::hello:
            if (type != FrameType::hello) return refuse(id, link.dialed, "expected a Hello frame first");
            return handle_hello(id, link, payload, now_ms);
        case Link::Phase::auth:
            if (type != FrameType::auth) return refuse(id, link.peer_hello.replica.region, "expected an Auth frame");
            return handle_auth(id, link, payload, now_ms);
        case Link::Phase::established:
            if (Peer* peer = peer_of_link(id)) handle_established(*peer, link, type, std::move(payload), now_ms);
            return;
    }
}

void ReplicationCore::handle_hello(LinkId id, Link& link, std::string_view payload,
                                   std::uint64_t now_ms) {
    auto hello = decode_hello(payload);
    if (!hello) return refuse(id, link.dialed, "malformed Hello: " + hello.error());
    if (hello->magic != protocol_magic) return refuse(id, link.dialed, "not a Meridian peer (bad magic)");
    if (hello->version != protocol_version) {
        // Counted against the region the Hello names (unverified, as for a fingerprint mismatch),
        // so INFO shows the operator which region still runs the other version.
        const std::optional<crdt::RegionId> claimed =
            peers_.contains(hello->replica.region) ? std::optional(hello->replica.region) : link.dialed;
        return refuse(id, claimed,
                      "peer speaks protocol version " + std::to_string(hello->version) +
                          ", this node speaks " + std::to_string(protocol_version));
    }
    if (hello->cluster != options_.cluster)
        return refuse(id, link.dialed,
                      "peer belongs to cluster '" + hello->cluster + "', not '" + options_.cluster + "'");
    const crdt::RegionId region = hello->replica.region;
    if (region == options_.self.region)
        return refuse(id, link.dialed, "peer claims to be this node's own region " + std::to_string(region));
    if (!peers_.contains(region))
        return refuse(id, link.dialed, "peer claims region id " + std::to_string(region) +
                                           ", which is not in the cluster file");
    if (link.dialed && *link.dialed != region)
        return refuse(id, link.dialed, "dialed region " + std::to_string(*link.dialed) +
                                           " but region " + std::to_string(region) + " answered");
    if (hello->fingerprint != options_.fingerprint)
        return refuse(id, region,
                      "policy fingerprint differs (peer " + std::to_string(hello->fingerprint) +
                          ", ours " + std::to_string(options_.fingerprint) +
                          "): the cluster files disagree on regions or policies");
    link.peer_hello = *hello;
    link.phase = Link::Phase::auth;
    // Everything after the Hellos is tagged, our Auth first: its version vector steers what the
    // peer sends us, so it must not be alterable either.
    actions_.push_back(
        AuthenticateLink{id, derive_link_keys(options_.secret, link.own_hello, payload)});
    link.own_hello.clear();
    Auth auth;
    auth.proof = proof(options_.secret, proof_message(options_.cluster, options_.self, hello->replica,
                                                      link.nonce, hello->nonce));
    auth.vv = log_.version_vector();
    send(id, FrameType::auth, encode(auth));
    link.last_sent_ms = now_ms;
}

void ReplicationCore::handle_auth(LinkId id, Link& link, std::string_view payload,
                                  std::uint64_t now_ms) {
    const crdt::RegionId region = link.peer_hello.replica.region;
    auto auth = decode_auth(payload);
    if (!auth) return refuse(id, region, "malformed Auth: " + auth.error());
    const Digest expected =
        proof(options_.secret, proof_message(options_.cluster, link.peer_hello.replica, options_.self,
                                             link.peer_hello.nonce, link.nonce));
    if (!digests_equal(expected, auth->proof))
        return refuse(id, region, "authentication failed: the peer does not know the cluster secret");
    establish(id, link, auth->vv, now_ms);
}

void ReplicationCore::refuse(LinkId id, std::optional<crdt::RegionId> region, const std::string& reason) {
    if (region && peers_.contains(*region)) {
        Peer& peer = peers_[*region];
        ++peer.stats.refused_handshakes;
        peer.stats.last_error = "handshake refused: " + reason;
    } else {
        ++refused_unknown_;
    }
    links_.erase(id);
    actions_.push_back(CloseLink{id, "handshake refused: " + reason});
}

void ReplicationCore::establish(LinkId id, Link& link, const crdt::VersionVector& peer_vv,
                                std::uint64_t now_ms) {
    Peer& peer = peers_[link.peer_hello.replica.region];
    if (peer.link && *peer.link != id) {
        // Both sides may hold a half-dead connection after a network fault;
        // the newest authenticated one wins.
        const LinkId old = *peer.link;
        end_session(peer);
        links_.erase(old);
        actions_.push_back(CloseLink{old, "replaced by a newer connection"});
    }
    link.phase = Link::Phase::established;
    peer.link = id;
    peer.replica = link.peer_hello.replica;
    peer.acked = peer_vv;
    peer.sent = peer_vv;
    peer.last_ack_sent = log_.version_vector();  // sent with our Auth
    peer.last_ack_ms = now_ms;
    peer.in_flight = false;
    peer.scan_pending = false;
    peer.deferred.clear();
    peer.full_sync.reset();
    peer.owed = {};
    ++peer.stats.links_established;
    if (auto start = log_.start_for(peer_vv)) {
        peer.cursor = *start;
    } else {
        start_full_sync(peer);
    }
    actions_.push_back(PeerUp{peer.region, id});
    actions_.push_back(PeerAcked{peer.region});
    pump(peer, now_ms);
}

void ReplicationCore::on_disconnected(LinkId id, std::uint64_t /*now_ms*/) {
    if (Peer* peer = peer_of_link(id)) end_session(*peer);
    links_.erase(id);
}

void ReplicationCore::on_frame_refused(LinkId id, const std::string& why,
                                       std::uint64_t /*now_ms*/) {
    auto it = links_.find(id);
    if (it == links_.end()) return;
    if (it->second.phase != Link::Phase::established) {
        // The first tagged frame is the peer's Auth: a wrong tag there means its keys differ.
        const std::optional<crdt::RegionId> region =
            it->second.phase == Link::Phase::auth
                ? std::optional<crdt::RegionId>(it->second.peer_hello.replica.region)
                : it->second.dialed;
        return refuse(id, region,
                      "authentication failed: the peer does not know the cluster secret, or the "
                      "Hellos were altered on the way (" +
                          why + ")");
    }
    if (Peer* peer = peer_of_link(id)) {
        ++peer->stats.frames_refused;
        peer->stats.last_error = why;
        end_session(*peer);
    }
    links_.erase(id);
}

void ReplicationCore::end_session(Peer& peer) {
    if (!peer.link) return;
    peer.link.reset();
    peer.in_flight = false;
    peer.scan_pending = false;
    peer.deferred.clear();
    peer.full_sync.reset();
    actions_.push_back(PeerDown{peer.region});
}

void ReplicationCore::drop(Peer& peer, const std::string& reason) {
    if (!peer.link) return;
    const LinkId id = *peer.link;
    peer.stats.last_error = reason;
    end_session(peer);
    links_.erase(id);
    actions_.push_back(CloseLink{id, reason});
}

ReplicationCore::Peer* ReplicationCore::peer_of_link(LinkId link) {
    for (auto& [region, peer] : peers_)
        if (peer.link == link) return &peer;
    return nullptr;
}

// ---- receiving -------------------------------------------------------------

void ReplicationCore::handle_established(Peer& peer, Link& /*link*/, FrameType type,
                                         std::string payload, std::uint64_t now_ms) {
    switch (type) {
        case FrameType::records:
            return handle_records(peer, payload, now_ms);
        case FrameType::ack: {
            auto ack = decode_ack(payload);
            if (!ack) return drop(peer, "malformed Ack: " + ack.error());
            peer.acked.merge(ack->vv);
            peer.sent.merge(ack->vv);
            actions_.push_back(PeerAcked{peer.region});
            return;
        }
        case FrameType::ping:
            return;
        case FrameType::snapshot_chunk: {
            auto states = crdt::decode<std::vector<KeyDelta>>(payload);
            if (!states) return drop(peer, "malformed SnapshotChunk: " + states.error());
            actions_.push_back(ApplyStates{peer.region, std::move(*states)});
            return;
        }
        case FrameType::snapshot_done: {
            auto done = decode_snapshot_done(payload);
            if (!done) return drop(peer, "malformed SnapshotDone: " + done.error());
            ++peer.stats.full_syncs_received;
            actions_.push_back(MergeVersionVector{peer.region, std::move(done->vv)});
            send_ack(peer, now_ms);
            return;
        }
        case FrameType::forward:
        case FrameType::forward_reply:
        case FrameType::rights_request:
        case FrameType::rights_reply:
        case FrameType::homes:
            actions_.push_back(PeerMessage{peer.region, type, std::move(payload)});
            return;
        case FrameType::hello:
        case FrameType::auth:
            return drop(peer, "unexpected handshake frame on an established link");
    }
    drop(peer, "unknown frame type " + std::to_string(static_cast<int>(type)));
}

void ReplicationCore::handle_records(Peer& peer, std::string_view payload, std::uint64_t now_ms) {
    auto records = decode_records(payload);
    if (!records) return drop(peer, "malformed Records: " + records.error());
    ++peer.stats.batches_received;
    // Decide against the version vector as it will be once the records
    // before each one are applied (the driver applies them in order).
    crdt::VersionVector held = log_.version_vector();
    ApplyRecords apply{peer.region, {}};
    for (LogRecord& record : *records) {
        if (record.kind != LogRecord::Kind::deltas)
            return drop(peer, "peer sent a non-delta record in a Records frame");
        ++peer.stats.records_received;
        const std::uint64_t have = held.get(record.origin);
        if (record.hi <= have) {
            ++peer.stats.records_duplicate;
            continue;
        }
        if (record.lo > have + 1) {
            // A sender ships each origin's records contiguously, so a gap means
            // its idea of what we hold is wrong: reconnecting resynchronises.
            if (!apply.records.empty()) actions_.push_back(std::move(apply));
            return drop(peer, "records of origin " + describe(record.origin) + " start at " +
                                  std::to_string(record.lo) + " but this node holds only up to " +
                                  std::to_string(have) + "; reconnecting to resynchronise");
        }
        held.advance(record.origin, record.hi);
        apply.records.push_back(std::move(record));
    }
    if (!apply.records.empty()) actions_.push_back(std::move(apply));
    // Acknowledge right away: the sender's WAIT and relay decisions depend on it.
    Ack ack{held};
    send(*peer.link, FrameType::ack, encode(ack));
    peer.last_ack_sent = held;
    peer.last_ack_ms = now_ms;
}

// ---- sending ---------------------------------------------------------------

void ReplicationCore::on_drained(LinkId id, std::uint64_t now_ms) {
    if (Peer* peer = peer_of_link(id)) {
        peer->in_flight = false;
        pump(*peer, now_ms);
    }
}

void ReplicationCore::on_appended(const LoggedRecord& entry, std::uint64_t now_ms) {
    const LogRecord& record = *entry.record;
    if (record.kind == LogRecord::Kind::deltas && record.origin == options_.self)
        own_writes_.emplace_back(record.hi, entry.appended_ms);
    for (auto& [region, peer] : peers_) pump(peer, now_ms);
}

void ReplicationCore::pump(Peer& peer, std::uint64_t now_ms) {
    if (!peer.link || peer.paused || peer.in_flight) return;
    if (peer.full_sync) return pump_full_sync(peer);
    if (owes_full_sync(peer, now_ms)) {
        start_full_sync(peer);
        return pump_full_sync(peer);
    }

    BatchBuilder batch;
    peer.scan_pending = false;
    // Relayed records that have waited long enough go first: they precede
    // anything of the same origin further along the log.
    while (!peer.deferred.empty() && batch.bytes() < options_.batch_bytes) {
        LoggedRecord entry = peer.deferred.front();
        if (age(now_ms, entry.appended_ms) < options_.relay_delay_ms) break;
        peer.deferred.pop_front();
        if (consider(peer, entry, batch, now_ms, /*may_defer=*/false) == Verdict::gap) {
            start_full_sync(peer);
            return pump_full_sync(peer);
        }
    }

    std::vector<LoggedRecord> entries;
    std::size_t scanned = 0;
    while (batch.bytes() < options_.batch_bytes && peer.cursor < log_.next_lsn()) {
        if (scanned >= max_records_scanned_per_pump) {
            peer.scan_pending = true;  // resumed on the next tick
            break;
        }
        entries.clear();
        if (!log_.read(peer.cursor, options_.batch_bytes, entries) || entries.empty())
            return drop(peer, "cannot read the log at lsn " + std::to_string(peer.cursor));
        for (const LoggedRecord& entry : entries) {
            if (batch.bytes() >= options_.batch_bytes) break;
            ++scanned;
            peer.cursor = entry.lsn + 1;
            if (consider(peer, entry, batch, now_ms, /*may_defer=*/true) == Verdict::gap) {
                start_full_sync(peer);
                return pump_full_sync(peer);
            }
        }
    }

    if (batch.empty()) return;
    peer.stats.records_sent += batch.records_added();
    ++peer.stats.batches_sent;
    send(*peer.link, FrameType::records, batch.encode_and_clear());
    peer.in_flight = true;
}

ReplicationCore::Verdict ReplicationCore::consider(Peer& peer, const LoggedRecord& entry,
                                                   BatchBuilder& batch, std::uint64_t now_ms,
                                                   bool may_defer) {
    const LogRecord& record = *entry.record;
    if (record.kind == LogRecord::Kind::vv_merge) note_owed(peer, record.merged, now_ms);
    if (record.kind != LogRecord::Kind::deltas) return Verdict::skipped;  // local bookkeeping only
    if (record.hi <= peer.sent.get(record.origin)) return Verdict::skipped;
    if (may_defer && delay_relay(peer, record) &&
        (age(now_ms, entry.appended_ms) < options_.relay_delay_ms || !peer.deferred.empty())) {
        // Anything queued behind an earlier deferred record waits with it, so
        // each origin's records still go out in order.
        peer.deferred.push_back(entry);
        return Verdict::deferred;
    }
    if (record.lo > peer.sent.get(record.origin) + 1) return Verdict::gap;
    batch.add(entry.record, entry.bytes);
    peer.sent.advance(record.origin, record.hi);
    return Verdict::taken;
}

bool ReplicationCore::delay_relay(const Peer& peer, const LogRecord& record) const {
    // Our own region's records (any epoch) ship at once, and so do the
    // peer's own records that it lacks (it lost them in a crash). A third
    // region's records normally reach the peer directly.
    return record.origin.region != options_.self.region && record.origin.region != peer.region;
}

// A full sync delivered records to this node as state, so the log skips from before them to
// after them. A peer that lacks some may still get them as records from another region (their
// origin, or one that logged them); failing that, only a full sync of its own brings them.
void ReplicationCore::note_owed(Peer& peer, const crdt::VersionVector& merged,
                                std::uint64_t now_ms) {
    if (peer.sent.includes(merged)) return;
    if (peer.owed.empty()) peer.owed_since_ms = now_ms;
    peer.owed.merge(merged);
}

bool ReplicationCore::owes_full_sync(Peer& peer, std::uint64_t now_ms) {
    if (peer.owed.empty()) return false;
    if (peer.sent.includes(peer.owed)) {
        peer.owed = {};
        return false;
    }
    // Wait for relayed records still queued here, and give other regions time to relay theirs.
    return peer.deferred.empty() && age(now_ms, peer.owed_since_ms) >= options_.peer_timeout_ms;
}

void ReplicationCore::start_full_sync(Peer& peer) {
    FullSync sync;
    sync.vv = log_.version_vector();
    sync.resume_lsn = log_.appended_lsn();
    peer.full_sync = std::move(sync);
    peer.deferred.clear();
    peer.owed = {};
}

void ReplicationCore::pump_full_sync(Peer& peer) {
    if (!peer.link || peer.paused || peer.in_flight) return;
    FullSync& sync = *peer.full_sync;
    if (!sync.chunk) {
        std::vector<KeyDelta> states;
        sync.chunk_needs_lsn = log_.appended_lsn();
        sync.scan_cursor = state_.read_states(sync.scan_cursor, options_.batch_bytes, states);
        sync.last_chunk = sync.scan_cursor == 0;
        sync.chunk = crdt::encode(states);
    }
    // The chunk reflects every record appended so far; it waits until they
    // may all leave the node (under fsync = always: until they are durable).
    if (log_.next_lsn() < sync.chunk_needs_lsn) return;
    send(*peer.link, FrameType::snapshot_chunk, std::move(*sync.chunk));
    sync.chunk.reset();
    peer.in_flight = true;
    if (!sync.last_chunk) return;

    send(*peer.link, FrameType::snapshot_done, encode(SnapshotDone{sync.vv}));
    ++peer.stats.full_syncs_sent;
    peer.sent.merge(sync.vv);
    peer.cursor = sync.resume_lsn;
    peer.full_sync.reset();
}

void ReplicationCore::send_ack(Peer& peer, std::uint64_t now_ms) {
    if (!peer.link) return;
    const crdt::VersionVector& vv = log_.version_vector();
    send(*peer.link, FrameType::ack, encode(Ack{vv}));
    peer.last_ack_sent = vv;
    peer.last_ack_ms = now_ms;
}

void ReplicationCore::send(LinkId link, FrameType type, std::string payload) {
    actions_.push_back(SendFrame{link, type, std::move(payload)});
}

bool ReplicationCore::send_message(crdt::RegionId region, FrameType type, std::string payload) {
    auto it = peers_.find(region);
    if (it == peers_.end() || !it->second.link) return false;
    send(*it->second.link, type, std::move(payload));
    return true;
}

// ---- timers and operator controls -----------------------------------------

void ReplicationCore::on_tick(std::uint64_t now_ms) {
    std::vector<LinkId> stale;
    std::vector<std::pair<Peer*, std::uint64_t>> silent;  // dropped after the loop
    for (auto& [id, link] : links_) {
        if (link.phase != Link::Phase::established) {
            if (age(now_ms, link.opened_ms) > options_.peer_timeout_ms) stale.push_back(id);
            continue;
        }
        Peer* peer = peer_of_link(id);
        if (!peer) continue;
        if (age(now_ms, link.last_received_ms) > options_.peer_timeout_ms) {
            silent.emplace_back(peer, age(now_ms, link.last_received_ms));
            continue;
        }
        if (peer->last_ack_sent != log_.version_vector() &&
            now_ms - peer->last_ack_ms >= options_.ack_interval_ms)
            send_ack(*peer, now_ms);
        if (age(now_ms, link.last_sent_ms) >= options_.heartbeat_ms) {
            send(id, FrameType::ping, {});
            link.last_sent_ms = now_ms;
        }
    }
    for (auto [peer, quiet_ms] : silent)
        drop(*peer, "no frame from the peer for " + std::to_string(quiet_ms) + " ms (timeout " +
                        std::to_string(options_.peer_timeout_ms) + " ms)");
    for (LinkId id : stale) {
        const Link& link = links_[id];
        refuse(id, link.phase == Link::Phase::auth ? std::optional(link.peer_hello.replica.region) : link.dialed,
               "handshake not completed within " + std::to_string(options_.peer_timeout_ms) + " ms");
    }
    for (auto& [region, peer] : peers_) pump(peer, now_ms);

    // Forget own-write times every established peer has acknowledged.
    std::uint64_t lowest = UINT64_MAX;
    for (const auto& [region, peer] : peers_) lowest = std::min(lowest, peer.acked.get(options_.self));
    while (!own_writes_.empty() && own_writes_.front().first <= lowest) own_writes_.pop_front();
    while (own_writes_.size() > 1'000'000) own_writes_.pop_front();
}

void ReplicationCore::pause(crdt::RegionId region) {
    if (auto it = peers_.find(region); it != peers_.end()) it->second.paused = true;
}

void ReplicationCore::resume(crdt::RegionId region, std::uint64_t now_ms) {
    if (auto it = peers_.find(region); it != peers_.end()) {
        it->second.paused = false;
        pump(it->second, now_ms);
    }
}

std::vector<Action> ReplicationCore::take_actions() { return std::exchange(actions_, {}); }

// ---- queries ---------------------------------------------------------------

bool ReplicationCore::established(crdt::RegionId region) const {
    auto it = peers_.find(region);
    return it != peers_.end() && it->second.link.has_value();
}

bool ReplicationCore::reachable(crdt::RegionId region) const {
    auto it = peers_.find(region);
    return it != peers_.end() && it->second.link.has_value() && !it->second.paused;
}

const crdt::VersionVector* ReplicationCore::acked(crdt::RegionId region) const {
    auto it = peers_.find(region);
    if (it == peers_.end() || it->second.stats.links_established == 0) return nullptr;
    return &it->second.acked;
}

PeerStatus ReplicationCore::status(crdt::RegionId region, std::uint64_t now_ms) const {
    PeerStatus s;
    s.region = region;
    auto it = peers_.find(region);
    if (it == peers_.end()) return s;
    const Peer& peer = it->second;
    s.paused = peer.paused;
    s.replica = peer.replica;
    s.acked = peer.acked;
    s.stats = peer.stats;
    if (peer.link) {
        s.state = peer.full_sync ? "full-sync" : "connected";
    } else {
        bool handshaking = false;
        for (const auto& [id, link] : links_)
            handshaking |= link.phase != Link::Phase::established &&
                           (link.dialed == region || link.peer_hello.replica.region == region);
        s.state = handshaking ? "handshaking" : "disconnected";
    }
    for (const auto& e : log_.version_vector().entries()) {
        const std::uint64_t theirs = peer.acked.get(e.replica);
        if (e.seq > theirs) s.lag_records += e.seq - theirs;
    }
    const std::uint64_t acked_own = peer.acked.get(options_.self);
    auto first_unacked = std::upper_bound(own_writes_.begin(), own_writes_.end(), acked_own,
                                          [](std::uint64_t seq, const auto& w) { return seq < w.first; });
    if (first_unacked != own_writes_.end() && now_ms > first_unacked->second)
        s.lag_ms = now_ms - first_unacked->second;
    return s;
}

std::optional<std::uint64_t> ReplicationCore::lowest_needed_lsn() const {
    std::optional<std::uint64_t> lowest;
    auto consider_lsn = [&](std::uint64_t lsn) { lowest = lowest ? std::min(*lowest, lsn) : lsn; };
    for (const auto& [region, peer] : peers_) {
        if (!peer.link) continue;
        if (peer.full_sync) consider_lsn(peer.full_sync->resume_lsn);
        else if (!peer.deferred.empty()) consider_lsn(peer.deferred.front().lsn);
        else consider_lsn(peer.cursor);
    }
    return lowest;
}

}  // namespace meridian::replication
