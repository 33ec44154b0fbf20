// ReplicationCore: the sans-I/O replication protocol of one node. The driver
// (the Asio transport in production, a simulated network in tests) feeds it
// events -- a link connected, a frame arrived, a link drained its send queue or
// went down, the log grew, a timer ticked -- and after each event executes the
// actions it queued (take_actions()), in order, before feeding the next event.
// Single-threaded: everything runs on the node's one executor.
//
// Per peer region it keeps the peer's acknowledged version vector, what was
// sent, and a log cursor. Own records ship as soon as the link is idle
// (batching happens naturally while a batch is in flight); records of a third
// region are relayed only once older than relay_delay_ms and still not
// acknowledged by the peer, so in a healthy mesh each record crosses each link
// once, while a region cut off from one peer still converges through another.
// A peer behind what the log retains gets a full-state sync, then the stream.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crdt/version_vector.hpp"
#include "replication/frame.hpp"
#include "replication/log_reader.hpp"
#include "replication/messages.hpp"

namespace meridian::replication {

using LinkId = std::uint64_t;

struct CoreOptions {
    crdt::ReplicaId self;
    std::string cluster;
    std::string secret;
    std::uint64_t fingerprint = 0;
    std::vector<crdt::RegionId> peers;  // every other region of the cluster
    std::size_t batch_bytes = 256 << 10;
    std::uint32_t heartbeat_ms = 500;
    std::uint32_t peer_timeout_ms = 3000;
    std::uint32_t relay_delay_ms = 200;
    std::uint32_t ack_interval_ms = 10;
    // Fresh nonces for handshakes: random by default; seeded in simulations.
    std::function<Nonce()> make_nonce;
};

// Actions for the driver.
struct SendFrame {
    LinkId link;
    FrameType type;
    std::string payload;
};
struct CloseLink {
    LinkId link;
    std::string reason;
};
// From now on tag what is sent on the link with keys.send, and require every frame the peer sends
// after its Hello to carry a valid tag under keys.receive (frame_mac.hpp). Comes before the
// link's Auth frame is sent.
struct AuthenticateLink {
    LinkId link;
    LinkKeys keys;
};
// Join these records' deltas into the keyspace and append them to the log, in order.
struct ApplyRecords {
    crdt::RegionId from;
    std::vector<LogRecord> records;
};
// Full-state sync chunk: join these key states and log them (as a state record).
struct ApplyStates {
    crdt::RegionId from;
    std::vector<KeyDelta> states;
};
// Full-state sync done: log a vv_merge record so the log's version vector includes `vv`.
struct MergeVersionVector {
    crdt::RegionId from;
    crdt::VersionVector vv;
};
struct PeerUp {
    crdt::RegionId peer;
    LinkId link;
};
struct PeerDown {
    crdt::RegionId peer;
};
// The peer acknowledged more (WAIT may be satisfied).
struct PeerAcked {
    crdt::RegionId peer;
};
// A message for the node layer (Forward, ForwardReply, RightsRequest, RightsReply).
struct PeerMessage {
    crdt::RegionId from;
    FrameType type;
    std::string payload;
};
using Action = std::variant<SendFrame, CloseLink, AuthenticateLink, ApplyRecords, ApplyStates, MergeVersionVector,
                            PeerUp, PeerDown, PeerAcked, PeerMessage>;

// Counters per peer region, kept across reconnects.
struct PeerStats {
    std::uint64_t links_established = 0;
    std::uint64_t refused_handshakes = 0;
    // Links dropped because a frame failed authentication after the handshake: injected, altered,
    // replayed or spliced frames on the path between the regions.
    std::uint64_t frames_refused = 0;
    std::uint64_t batches_sent = 0;
    std::uint64_t records_sent = 0;  // log records put into batches (before joining)
    std::uint64_t batches_received = 0;
    std::uint64_t records_received = 0;
    std::uint64_t records_duplicate = 0;  // received but already held
    std::uint64_t full_syncs_sent = 0;
    std::uint64_t full_syncs_received = 0;
    std::string last_error;
};

struct PeerStatus {
    crdt::RegionId region = 0;
    std::string state;  // "disconnected", "handshaking", "connected", "full-sync"
    bool paused = false;
    crdt::ReplicaId replica;      // the peer's current incarnation, once known
    crdt::VersionVector acked;    // what the peer last acknowledged holding
    std::uint64_t lag_records = 0;  // records we hold that the peer has not acknowledged
    std::uint64_t lag_ms = 0;       // age of our oldest own write the peer has not acknowledged
    PeerStats stats;
};

class ReplicationCore {
public:
    ReplicationCore(CoreOptions options, LogReader& log, StateReader& state);

    // Events. `now_ms` is a steady clock in milliseconds.
    void on_connected(LinkId link, std::optional<crdt::RegionId> dialed, std::uint64_t now_ms);
    void on_frame(LinkId link, FrameType type, std::string payload, std::uint64_t now_ms);
    void on_drained(LinkId link, std::uint64_t now_ms);
    void on_disconnected(LinkId link, std::uint64_t now_ms);
    // The driver dropped the link because a frame failed authentication (`why` says which):
    // during the handshake the peer does not know the secret or the Hellos were altered on the
    // way; afterwards someone on the path tampered with the stream. Nothing of that frame was
    // delivered.
    void on_frame_refused(LinkId link, const std::string& why, std::uint64_t now_ms);
    // The node appended `record` to its log (a local write or an applied remote record).
    void on_appended(const LoggedRecord& record, std::uint64_t now_ms);
    void on_tick(std::uint64_t now_ms);

    // Sends a node-level message (Forward, RightsRequest, ...). False when the
    // peer has no established link: nothing was queued.
    bool send_message(crdt::RegionId peer, FrameType type, std::string payload);

    // Operator controls: stop and restart shipping to a peer (the link stays up).
    void pause(crdt::RegionId peer);
    void resume(crdt::RegionId peer, std::uint64_t now_ms);

    std::vector<Action> take_actions();

    bool established(crdt::RegionId peer) const;
    // Established and not paused by the operator: a link that carries forwarded writes and the
    // home owners' messages (MERIDIAN PAUSE cuts those too).
    bool reachable(crdt::RegionId peer) const;
    const crdt::VersionVector* acked(crdt::RegionId peer) const;  // null when never connected
    PeerStatus status(crdt::RegionId peer, std::uint64_t now_ms) const;
    const std::vector<crdt::RegionId>& peers() const { return options_.peers; }
    // Handshakes refused before the peer's region was known (bad magic, cluster...).
    std::uint64_t refused_unknown() const { return refused_unknown_; }
    // The lowest LSN an established peer still needs (for log retention).
    std::optional<std::uint64_t> lowest_needed_lsn() const;

private:
    struct Link {
        std::optional<crdt::RegionId> dialed;
        enum class Phase { hello, auth, established } phase = Phase::hello;
        Nonce nonce{};
        std::string own_hello;  // our Hello as sent: the link's keys are derived from both
        Hello peer_hello;
        std::uint64_t opened_ms = 0;
        std::uint64_t last_received_ms = 0;
        std::uint64_t last_sent_ms = 0;
    };

    struct FullSync {
        std::uint64_t scan_cursor = 0;
        crdt::VersionVector vv;        // the log's version vector when it began
        std::uint64_t resume_lsn = 0;  // the stream resumes here afterwards
        // A chunk read but held until the log may ship what it reflects.
        std::optional<std::string> chunk;
        std::uint64_t chunk_needs_lsn = 0;
        bool last_chunk = false;
    };

    struct Peer {
        crdt::RegionId region = 0;
        bool paused = false;
        PeerStats stats;
        // The established session, if any.
        std::optional<LinkId> link;
        crdt::ReplicaId replica;
        crdt::VersionVector acked;  // the peer's holdings as last reported
        crdt::VersionVector sent;   // acked, plus what we sent since
        crdt::VersionVector last_ack_sent;
        std::uint64_t last_ack_ms = 0;
        std::uint64_t cursor = 0;                 // next LSN to examine
        std::deque<LoggedRecord> deferred;        // third-party records waiting out relay_delay
        bool in_flight = false;                   // a batch is queued in the transport
        bool scan_pending = false;                // the last pump stopped early
        std::optional<FullSync> full_sync;
        // What vv_merge records the scan passed brought as state that the peer had not been
        // sent: no record of it will ever be in the log. If the peer has not acknowledged it
        // from elsewhere by owed_since_ms + peer_timeout_ms, it gets a full sync.
        crdt::VersionVector owed;
        std::uint64_t owed_since_ms = 0;
    };

    void handle_hello(LinkId id, Link& link, std::string_view payload, std::uint64_t now_ms);
    void handle_auth(LinkId id, Link& link, std::string_view payload, std::uint64_t now_ms);
    void handle_established(Peer& peer, Link& link, FrameType type, std::string payload,
                            std::uint64_t now_ms);
    void handle_records(Peer& peer, std::string_view payload, std::uint64_t now_ms);
    void establish(LinkId id, Link& link, const crdt::VersionVector& peer_vv, std::uint64_t now_ms);
    void refuse(LinkId id, std::optional<crdt::RegionId> peer, const std::string& reason);
    void drop(Peer& peer, const std::string& reason);
    void end_session(Peer& peer);

    void pump(Peer& peer, std::uint64_t now_ms);
    void pump_full_sync(Peer& peer);
    void start_full_sync(Peer& peer);
    void note_owed(Peer& peer, const crdt::VersionVector& merged, std::uint64_t now_ms);
    bool owes_full_sync(Peer& peer, std::uint64_t now_ms);
    // Puts `entry` into `batch` if the peer needs it; false when the pump must stop.
    enum class Verdict { taken, skipped, deferred, gap };
    Verdict consider(Peer& peer, const LoggedRecord& entry, class BatchBuilder& batch,
                     std::uint64_t now_ms, bool may_defer);
    bool delay_relay(const Peer& peer, const LogRecord& record) const;
    void send_ack(Peer& peer, std::uint64_t now_ms);
    void send(LinkId link, FrameType type, std::string payload);

    Peer* peer_of_link(LinkId link);

    CoreOptions options_;
    LogReader& log_;
    StateReader& state_;
    std::map<LinkId, Link> links_;
    std::map<crdt::RegionId, Peer> peers_;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> own_writes_;  // (seq, appended_ms), for lag
    std::uint64_t refused_unknown_ = 0;
    std::vector<Action> actions_;
};

}  // namespace meridian::replication
