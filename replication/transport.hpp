// PeerTransport: the production driver of a node's ReplicationCore over TCP (optionally mutual
// TLS) with Boost.Asio: it accepts peer connections, dials the regions it is told to (redialing
// with capped, jittered backoff), ticks the core, and executes the actions the core queues.
// Single-threaded: construct, call and destroy it on the thread that runs `io`, with the core.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "crdt/expected.hpp"
#include "replication/core.hpp"

namespace meridian::replication {

struct TransportOptions {
    std::string listen;                          // "host:port" peers connect to (port 0: any)
    std::map<crdt::RegionId, std::string> dial;  // regions this node dials, "host:port"
                                                 // (the node passes the regions with a HIGHER id
                                                 // than its own: the lower id dials)
    std::uint32_t reconnect_min_ms = 50, reconnect_max_ms = 5000;
    std::uint32_t tick_ms = 10;  // core.on_tick period
    // TCP connect, and TLS handshake, each give up after this long.
    std::uint32_t connect_timeout_ms = 5000;
    std::size_t max_frame_bytes = 256u << 20;
    std::size_t compress_threshold = 64;
    struct Tls {
        std::string cert_file, key_file, ca_file;  // PEM
    };
    std::optional<Tls> tls;  // mutual TLS on every peer link when set
};

// Per peer region, summed across reconnects. Raw bytes are what the frames would take
// uncompressed, wire bytes what crossed the socket (before TLS), headers included.
struct PeerIo {
    std::uint64_t bytes_sent_raw = 0, bytes_sent_wire = 0;
    std::uint64_t bytes_received_raw = 0, bytes_received_wire = 0;
    std::uint64_t frames_sent = 0, frames_received = 0;
    // connects: outbound connections that came up (TCP, and TLS when set); inbound ones once
    // the handshake named the region. connect_failures: outbound attempts that failed before
    // the peer sent a frame (resolve, connect, TLS, a peer that is not a Meridian node).
    std::uint64_t connects = 0, connect_failures = 0;
    std::string last_error;  // transport level: connect refused, TLS failure, malformed frame...
};

class PeerTransport {
public:
    // `on_action` receives every core action the transport does not execute itself
    // (ApplyRecords, ApplyStates, MergeVersionVector, PeerUp, PeerDown, PeerAcked, PeerMessage).
    // It runs inside drain(); it may call core methods (e.g. core.on_appended) but must not call
    // drain() itself: the drain loop picks up the actions those calls queue. It may call stop(),
    // but must not destroy the transport (post that instead).
    PeerTransport(boost::asio::io_context& io, TransportOptions options, ReplicationCore& core,
                  std::function<void(Action&)> on_action, std::function<std::uint64_t()> now_ms);
    ~PeerTransport();  // stop()s
    PeerTransport(const PeerTransport&) = delete;
    PeerTransport& operator=(const PeerTransport&) = delete;

    // Binds and listens (an error if the address is taken, malformed, or a TLS file does not
    // load), then starts dialing and ticking. Once only.
    Expected<void, std::string> start();
    // Closes the listener and every link, for shutdown: the core hears of none of it (no
    // on_disconnected), and nothing is called on it or on `on_action` afterwards.
    void stop();
    // Executes queued core actions: SendFrame and CloseLink here, the rest via on_action.
    // The node calls this after it calls the core directly (on_appended, send_message, pause...).
    void drain();

    PeerIo io(crdt::RegionId peer) const;
    // The port the listener is bound to (the one chosen when `listen` asked for port 0).
    std::uint16_t bound_port() const;
    // Inbound connections dropped before the core saw them (failed TLS handshakes): their
    // region is unknown, so no PeerIo counts them.
    std::uint64_t inbound_failures() const;

private:
    class Impl;
    std::shared_ptr<Impl> impl_;  // shared with pending handlers, which outlive stop()
};

}  // namespace meridian::replication
